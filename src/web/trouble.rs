//! What is wrong with each job, for the overview to show and sort by: its
//! failure streak and last success (from its newest runs), and whether a
//! tick of it is late ([`crate::health`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::Config;
use crate::control;
use crate::run::{HistoryEntry, Outcome};
use crate::store::{self, Store};

/// Runs read per job: enough to see a streak and a recent success, few
/// enough that an overview polled every few seconds stays cheap (each entry
/// carries an output tail of a few KB).
pub const RUNS_READ: usize = 20;

/// One job's trouble, from its newest [`RUNS_READ`] runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trouble {
    /// Runs in a row, newest first, that ended without success and were
    /// not retried; each of them went to the dead letters.
    pub streak: usize,
    /// When the newest successful run finished, if one was read.
    pub last_success: Option<DateTime<Utc>>,
    /// How many runs were read: a streak of all of them may be longer.
    pub runs_read: usize,
    /// A tick of the job is late (a problem of the status view).
    pub late: bool,
    /// The job's letters in its queue's dead-letter list (the counts kept
    /// with it: one read per queue).
    pub dead_letters: u64,
}

impl Trouble {
    /// From a job's runs, newest first. A run that will be retried is an
    /// attempt, not the end of a run: it neither adds to nor breaks a
    /// streak.
    pub fn of_runs(runs: &[HistoryEntry]) -> Trouble {
        let finals = runs.iter().filter(|e| !e.retry);
        let streak = finals.take_while(|e| e.outcome != Outcome::Success).count();
        let last_success = runs.iter().find(|e| e.outcome == Outcome::Success).map(|e| e.finished_at);
        Trouble { streak, last_success, runs_read: runs.len(), late: false, dead_letters: 0 }
    }

    /// Whether the streak may go back further than the runs read: every
    /// run read failed, and as many were read as are ever read. With fewer,
    /// they were all the runs the job has kept, and the streak is exact.
    pub fn streak_may_be_longer(&self) -> bool {
        self.streak > 0 && self.streak == self.runs_read && self.runs_read >= RUNS_READ
    }

    /// Whether the job belongs at the top of the overview.
    pub fn is_trouble(&self) -> bool {
        self.streak > 0 || self.late
    }
}

/// Every job's trouble, by job name; `status` is the status view, whose
/// problems say which jobs are late.
pub async fn read(config: &Config, store: &Store, status: &Value) -> store::Result<HashMap<String, Trouble>> {
    let late: Vec<&str> = status["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["kind"] == "late")
        .filter_map(|p| p["job"].as_str())
        .collect();
    let mut dead = HashMap::new();
    for queue in config.queues_all() {
        dead.insert(queue.clone(), store.dead_counts(&queue).await?);
    }
    let mut out = HashMap::with_capacity(config.jobs.len());
    for job in &config.jobs {
        let runs = control::history(store, job, RUNS_READ).await?;
        let mut trouble = Trouble::of_runs(&runs);
        trouble.late = late.contains(&job.name.as_str());
        trouble.dead_letters =
            dead.get(&job.queue).and_then(|d| d.get(job.name.as_str())).copied().unwrap_or(0);
        out.insert(job.name.as_str().to_owned(), trouble);
    }
    Ok(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A run of `job` finished at 08:`minute` UTC.
    pub(in crate::web) fn run(outcome: Outcome, retry: bool, minute: u32) -> HistoryEntry {
        let t = DateTime::parse_from_rfc3339(&format!("2026-11-23T08:{minute:02}:00Z")).unwrap().to_utc();
        HistoryEntry {
            id: format!("job@{minute}"),
            job: "job".into(),
            queue: "default".into(),
            scheduled_at: t,
            started_at: t,
            finished_at: t,
            duration_ms: 1,
            attempt: 1,
            outcome,
            exit_code: None,
            signal: None,
            output: String::new(),
            worker: "w".into(),
            retry,
            manual: false,
        }
    }

    #[test]
    fn a_streak_counts_final_failures_since_the_last_success() {
        let runs = [
            run(Outcome::Failed, false, 5),
            run(Outcome::TimedOut, false, 4),
            run(Outcome::Failed, true, 3),
            run(Outcome::Success, false, 2),
            run(Outcome::Failed, false, 1),
        ];
        let trouble = Trouble::of_runs(&runs);
        assert_eq!(trouble.streak, 2);
        assert_eq!(trouble.last_success, Some(runs[3].finished_at));
        assert_eq!(trouble.runs_read, 5);
        assert!(trouble.is_trouble());
    }

    #[test]
    fn a_streak_is_open_ended_only_when_a_full_read_found_no_success() {
        let failed = |n: usize| (0..n).map(|m| run(Outcome::Failed, false, m as u32)).collect::<Vec<_>>();
        let one = Trouble::of_runs(&failed(1));
        assert_eq!((one.streak, one.streak_may_be_longer()), (1, false), "its only run: exactly 1");
        let full = Trouble::of_runs(&failed(RUNS_READ));
        assert_eq!((full.streak, full.streak_may_be_longer()), (RUNS_READ, true));
        let mut broken = failed(RUNS_READ);
        broken[RUNS_READ - 1] = run(Outcome::Success, false, 0);
        assert!(!Trouble::of_runs(&broken).streak_may_be_longer());
    }

    #[test]
    fn a_job_that_last_succeeded_or_never_ran_has_no_trouble() {
        let ok = Trouble::of_runs(&[run(Outcome::Success, false, 2), run(Outcome::Failed, false, 1)]);
        assert_eq!(ok.streak, 0);
        assert!(!ok.is_trouble());
        assert!(!Trouble::of_runs(&[]).is_trouble());
        assert!(Trouble { late: true, ..Trouble::default() }.is_trouble());
    }
}
