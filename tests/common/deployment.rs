//! A clock and a worker as real processes, with one job per queue that
//! runs every second and appends its payload id to a file: the file is the
//! record of what ran, for the exactly-once checks of the Redis topology
//! tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{bin, stop};

/// A clock and a worker, with the file the jobs write.
pub struct Deployment {
    dir: tempfile::TempDir,
    ran: PathBuf,
    clock: Option<Child>,
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
        let worker = spawn("worker", "worker.log");
        Deployment { ran: ran.clone(), clock: Some(clock), worker: Some(worker), queues, dir }
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
            panic!(
                "not every job ran past {t}: {:?}\n--- clock log:\n{}\n--- worker log:\n{}",
                self.runs(),
                super::tail(&self.log("clock.log"), 40),
                super::tail(&self.log("worker.log"), 40)
            );
        }
    }

    /// Stops both processes (SIGTERM) and checks the record: per job, every
    /// tick from its first to its last ran exactly once. Returns the number
    /// of runs checked.
    pub fn stop_and_check(mut self) -> usize {
        stop(self.clock.take().unwrap());
        stop(self.worker.take().unwrap());
        let runs = self.runs();
        let mut checked = 0;
        for q in &self.queues {
            let job = format!("tick-{q}");
            let mut ticks = runs.get(&job).cloned().unwrap_or_default();
            ticks.sort();
            let doubled: Vec<_> = ticks.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
            let gaps: Vec<_> = ticks.windows(2).filter(|w| w[1] > w[0] + 1).map(|w| (w[0], w[1])).collect();
            assert!(
                doubled.is_empty() && gaps.is_empty() && ticks.len() >= 3,
                "{job}: doubled {doubled:?}, gaps {gaps:?}, {} runs\n--- clock log:\n{}\n--- worker log:\n{}",
                ticks.len(),
                super::tail(&self.log("clock.log"), 40),
                super::tail(&self.log("worker.log"), 40)
            );
            checked += ticks.len();
        }
        checked
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for child in [self.clock.take(), self.worker.take()].into_iter().flatten() {
            stop(child);
        }
    }
}
