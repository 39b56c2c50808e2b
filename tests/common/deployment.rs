//! Two clocks and a worker (or more) as real processes, with a job per
//! queue (or more) that runs every second and appends its payload id to a
//! file as it starts: the file is the record of what ran, for the
//! exactly-once checks of the Redis topology tests.

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
    workers: Vec<Child>,
    jobs: Vec<String>,
}

/// What [`Deployment::start_with`] starts.
pub struct Setup {
    pub queues: Vec<String>,
    /// Jobs per queue: `tick-<q>`, or `tick-<q>-<n>` if more than one.
    pub jobs_per_queue: usize,
    /// Worker processes.
    pub workers: usize,
    /// Each worker's `--concurrency`, if set.
    pub concurrency: Option<u32>,
    /// How long each run lasts after recording its start (`sleep`'s
    /// argument), if at all.
    pub run: Option<&'static str>,
    /// The `[redis]` table.
    pub redis: String,
    /// `REDIS_URL`, if any.
    pub env_url: Option<String>,
}

impl Deployment {
    /// One job per queue, every second; `redis` is the `[redis]` table.
    pub fn start(queues: Vec<String>, redis: &str, env_url: Option<String>) -> Deployment {
        Self::start_with(Setup {
            queues,
            jobs_per_queue: 1,
            workers: 1,
            concurrency: None,
            run: None,
            redis: redis.into(),
            env_url,
        })
    }

    /// Every job every second.
    pub fn start_with(setup: Setup) -> Deployment {
        let Setup { queues, jobs_per_queue, workers, concurrency, run, redis, env_url } = setup;
        let dir = tempfile::tempdir().unwrap();
        let ran = dir.path().join("ran.log");
        let mut toml = format!("[redis]\n{redis}\n");
        let mut jobs = Vec::new();
        let sleep = run.map(|secs| format!("; sleep {secs}")).unwrap_or_default();
        for q in &queues {
            for n in 1..=jobs_per_queue {
                let job = if jobs_per_queue == 1 { format!("tick-{q}") } else { format!("tick-{q}-{n}") };
                toml.push_str(&format!(
                    "[jobs.{job}]\nevery = \"1s\"\nqueue = \"{q}\"\noverlap = \"allow\"\n\
                     command = 'echo \"$CAMPANILE_JOB_ID\" >> {}{sleep}'\n\n",
                    ran.display()
                ));
                jobs.push(job);
            }
        }
        let config = dir.path().join("clock.toml");
        std::fs::write(&config, toml).unwrap();
        let spawn = |program: &str, log: &str| {
            let mut cmd = Command::new(bin(program));
            cmd.arg("--config").arg(&config).env("RUST_LOG", "info").env_remove("CAMPANILE_CONFIG");
            if let (Some(n), "worker") = (concurrency, program) {
                cmd.arg("--concurrency").arg(n.to_string());
            }
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
        let workers = (0..workers).map(|n| spawn("worker", &worker_log(n))).collect();
        Deployment { ran: ran.clone(), clock: Some(clock), standby: Some(standby), workers, jobs, dir }
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
            self.jobs.iter().all(|job| runs.get(job).and_then(|r| r.iter().max()).is_some_and(|&m| m >= t))
        });
        if !ok {
            panic!("not every job ran past {t}: {:?}\n{}", self.runs(), self.logs());
        }
    }

    /// Waits until every job's ticks from its first run to its last have
    /// all run (a payload held up by a failover may run seconds late);
    /// the check after stopping reports what is still missing.
    pub fn wait_no_gaps(&self, within: Duration) {
        super::poll_until(within, || {
            self.runs().values().all(|ticks| {
                let mut ticks = ticks.clone();
                ticks.sort();
                ticks.dedup();
                ticks.windows(2).all(|w| w[1] == w[0] + 1)
            })
        });
    }

    /// The tail of every process's log, for failure reports.
    pub fn logs(&self) -> String {
        let names = ["clock.log".to_owned(), "standby.log".to_owned()];
        names
            .into_iter()
            .chain((0..self.workers.len()).map(worker_log))
            .map(|name| format!("--- {name}:\n{}", super::tail(&self.log(&name), 40)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every process's log: the clocks' then the workers'.
    pub fn all_logs(&self) -> Vec<String> {
        let names = ["clock.log".to_owned(), "standby.log".to_owned()];
        names.into_iter().chain((0..self.workers.len()).map(worker_log)).map(|n| self.log(&n)).collect()
    }

    /// Stops every process (SIGTERM) and checks the record: per job, every
    /// tick from its first to its last ran exactly once. Returns the number
    /// of runs checked.
    pub fn stop_and_check(self) -> usize {
        self.stop_and_check_allowing(&[])
    }

    /// [`Deployment::stop_and_check`], except that ticks in `may_double`
    /// (inclusive ranges of Unix seconds) may have run twice.
    pub fn stop_and_check_allowing(self, may_double: &[(i64, i64)]) -> usize {
        self.stop_and_count(may_double).0
    }

    /// [`Deployment::stop_and_check_allowing`], returning the runs checked
    /// and the ticks that ran twice within `may_double`, as `(job, tick)`.
    pub fn stop_and_count(mut self, may_double: &[(i64, i64)]) -> (usize, Vec<(String, i64)>) {
        stop(self.clock.take().unwrap());
        stop(self.standby.take().unwrap());
        for worker in std::mem::take(&mut self.workers) {
            stop(worker);
        }
        let runs = self.runs();
        let mut checked = 0;
        let mut doubles = Vec::new();
        for job in &self.jobs {
            let mut ticks = runs.get(job).cloned().unwrap_or_default();
            ticks.sort();
            let (allowed, doubled): (Vec<i64>, Vec<i64>) = ticks
                .windows(2)
                .filter(|w| w[0] == w[1])
                .map(|w| w[0])
                .partition(|t| may_double.iter().any(|(from, to)| (from..=to).contains(&t)));
            if !allowed.is_empty() {
                eprintln!("{job}: ran twice, within the documented window: {allowed:?}");
            }
            doubles.extend(allowed.iter().map(|&t| (job.clone(), t)));
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
        (checked, doubles)
    }
}

fn worker_log(n: usize) -> String {
    if n == 0 { "worker.log".into() } else { format!("worker-{n}.log") }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for child in [self.clock.take(), self.standby.take()].into_iter().flatten() {
            stop(child);
        }
        for worker in std::mem::take(&mut self.workers) {
            stop(worker);
        }
    }
}
