//! Two clocks and a worker as real processes, with one job per queue that
//! runs every second and appends its payload id to a file: the file is the
//! record of what ran, for the exactly-once checks of the Redis topology
//! tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{bin, stop};

/// A clock and a worker (and a standby clock), with the file the jobs
/// write.
pub struct Deployment {
    dir: tempfile::TempDir,
    ran: PathBuf,
    clock: Option<Child>,
    standby: Option<Child>,
    worker: Option<Child>,
    queues: Vec<String>,
}

impl Deployment {
    /// One job per queue, every second; `redis` is the `[redis]` table.
    pub fn start(queues: Vec<String>, redis: &str, env_url: Option<String>) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let ran = dir.path().join("ran.log");
        let mut toml = format!("[redis]\n{redis}\n");
        for q in &queues {
            toml.push_str(&format!(
                "[jobs.tick-{q}]\nevery = \"1s\"\nqueue = \"{q}\"\noverlap = \"allow\"\n\
                 command = 'echo \"$CAMPANILE_JOB_ID\" >> {}'\n\n",
                ran.display()
            ));
        }
        let config = dir.path().join("clock.toml");
        std::fs::write(&config, toml).unwrap();
        let spawn = |program: &str, log: &str| {
            let mut cmd = Command::new(bin(program));
            cmd.arg("--config").arg(&config).env("RUST_LOG", "info").env_remove("CAMPANILE_CONFIG");
            match &env_url {
                Some(url) => cmd.env("REDIS_URL", url),
                None => cmd.env_remove("REDIS_URL"),
            };
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join(log)).unwrap())
                .spawn()
                .unwrap()
        };
        let clock = spawn("clock", "clock.log");
        // A second clock: it must stand by, or be fenced, never push twice.
        let standby = spawn("clock", "standby.log");
        let worker = spawn("worker", "worker.log");
        Deployment {
            ran: ran.clone(),
            clock: Some(clock),
            standby: Some(standby),
            worker: Some(worker),
            queues,
            dir,
        }
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Run ticks per job: payload id `tick-<q>@<RFC 3339>` → Unix seconds.
    pub fn runs(&self) -> BTreeMap<String, Vec<i64>> {
        let text = std::fs::read_to_string(&self.ran).unwrap_or_default();
        let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for line in text.lines() {
            let (job, at) = line.split_once('@').unwrap_or_else(|| panic!("odd run line {line:?}"));
            let tick = chrono::DateTime::parse_from_rfc3339(at).unwrap().timestamp();
            out.entry(job.to_owned()).or_default().push(tick);
        }
        out
    }

    /// Waits until every job has run a tick at or after `t` (Unix seconds).
    pub fn wait_runs_past(&self, t: i64, within: Duration) {
        let ok = super::poll_until(within, || {
            let runs = self.runs();
            self.queues
                .iter()
                .all(|q| runs.get(&format!("tick-{q}")).and_then(|r| r.iter().max()).is_some_and(|&m| m >= t))
        });
        if !ok {
            panic!("not every job ran past {t}: {:?}\n{}", self.runs(), self.logs());
        }
    }

    /// The tail of every process's log, for failure reports.
    pub fn logs(&self) -> String {
        ["clock.log", "standby.log", "worker.log"]
            .map(|name| format!("--- {name}:\n{}", super::tail(&self.log(name), 40)))
            .join("\n")
    }

    /// Stops every process (SIGTERM) and checks the record: per job, every
    /// tick from its first to its last ran exactly once. Returns the number
    /// of runs checked.
    pub fn stop_and_check(self) -> usize {
        self.stop_and_check_allowing(&[])
    }

    /// [`Deployment::stop_and_check`], except that ticks in `may_double`
    /// (inclusive ranges of Unix seconds) may have run twice.
    pub fn stop_and_check_allowing(mut self, may_double: &[(i64, i64)]) -> usize {
        stop(self.clock.take().unwrap());
        stop(self.standby.take().unwrap());
        stop(self.worker.take().unwrap());
        let runs = self.runs();
        let mut checked = 0;
        for q in &self.queues {
            let job = format!("tick-{q}");
            let mut ticks = runs.get(&job).cloned().unwrap_or_default();
            ticks.sort();
            let (allowed, doubled): (Vec<i64>, Vec<i64>) = ticks
                .windows(2)
                .filter(|w| w[0] == w[1])
                .map(|w| w[0])
                .partition(|t| may_double.iter().any(|(from, to)| (from..=to).contains(&t)));
            if !allowed.is_empty() {
                eprintln!("{job}: ran twice, within the documented window: {allowed:?}");
            }
            ticks.dedup();
            let gaps: Vec<_> = ticks.windows(2).filter(|w| w[1] > w[0] + 1).map(|w| (w[0], w[1])).collect();
            assert!(
                doubled.is_empty() && gaps.is_empty() && ticks.len() >= 3,
                "{job}: doubled {doubled:?}, gaps {gaps:?}, {} runs\n{}",
                ticks.len(),
                self.logs()
            );
            checked += ticks.len();
        }
        checked
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for child in [self.clock.take(), self.standby.take(), self.worker.take()].into_iter().flatten() {
            stop(child);
        }
    }
}
