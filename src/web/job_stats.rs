//! One job's record, for its page and `/api/jobs/<name>`: how its kept
//! runs went, what the clock decided about its ticks, and its dead letters.
//! Every read is bounded: the history and the tick log are capped lists,
//! the dead-letter count one `HGET`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::trouble::Trouble;
use crate::config::Job;
use crate::run::{HistoryEntry, Outcome};
use crate::store::{self, Store, TICK_LOG_CAP};
use crate::tick_log::{TickEntry, TickOutcome};

/// A job's stats over the runs and tick decisions kept (the newest 100 of
/// each). `stats` of `/api/jobs/<name>` (docs/dashboard.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobStats {
    /// Runs kept in the history; each attempt is a run.
    pub runs: usize,
    /// Those runs by outcome.
    pub success: usize,
    pub failed: usize,
    pub timed_out: usize,
    /// `success / runs`, from 0 to 1; `null` with no runs.
    pub success_rate: Option<f64>,
    /// When the newest successful run kept finished.
    #[serde(serialize_with = "utc_opt")]
    pub last_success: Option<DateTime<Utc>>,
    /// Final failures in a row since the last success (attempts that were
    /// retried do not count); see [`Trouble`].
    pub failure_streak: usize,
    /// Ticks kept in the tick log by what the clock did with them: pushed,
    /// missed, skipped for overlap, skipped while paused, and runs pushed
    /// by hand.
    pub ticks: TickCounts,
    /// The job's letters in its queue's dead-letter list.
    pub dead_letters: u64,
}

/// Ticks of the tick log by outcome (an entry may stand for several).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TickCounts {
    pub pushed: u64,
    pub missed: u64,
    pub overlap: u64,
    pub paused: u64,
    pub manual: u64,
}

fn utc_opt<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&crate::text::utc(*t)),
        None => s.serialize_none(),
    }
}

impl JobStats {
    /// From the job's runs and tick log, each newest first.
    pub fn of(runs: &[HistoryEntry], ticks: &[TickEntry], dead_letters: u64) -> JobStats {
        let count = |o: Outcome| runs.iter().filter(|e| e.outcome == o).count();
        let success = count(Outcome::Success);
        let trouble = Trouble::of_runs(runs);
        let mut tick_counts = TickCounts::default();
        for t in ticks {
            let slot = match t.outcome {
                TickOutcome::Pushed => &mut tick_counts.pushed,
                TickOutcome::Missed => &mut tick_counts.missed,
                TickOutcome::Overlap => &mut tick_counts.overlap,
                TickOutcome::Paused => &mut tick_counts.paused,
                TickOutcome::Manual => &mut tick_counts.manual,
            };
            *slot += t.ticks();
        }
        JobStats {
            runs: runs.len(),
            success,
            failed: count(Outcome::Failed),
            timed_out: count(Outcome::TimedOut),
            success_rate: (!runs.is_empty()).then(|| success as f64 / runs.len() as f64),
            last_success: trouble.last_success,
            failure_streak: trouble.streak,
            ticks: tick_counts,
            dead_letters,
        }
    }
}

/// A job's tick log, newest first; entries that do not parse are left out.
pub async fn tick_log(store: &Store, job: &Job) -> store::Result<Vec<TickEntry>> {
    Ok(store
        .tick_log(&job.queue, job.name.as_str(), TICK_LOG_CAP)
        .await?
        .iter()
        .filter_map(|raw| serde_json::from_str(raw).ok())
        .collect())
}

/// A job's tick log and stats, given its runs (newest first).
pub async fn read(
    store: &Store,
    job: &Job,
    runs: &[HistoryEntry],
) -> store::Result<(Vec<TickEntry>, JobStats)> {
    let ticks = tick_log(store, job).await?;
    let dead = store.dead_count(&job.queue, job.name.as_str()).await?;
    let stats = JobStats::of(runs, &ticks, dead);
    Ok((ticks, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::trouble::tests::run;

    fn tick(outcome: TickOutcome, count: Option<u64>) -> TickEntry {
        TickEntry { tick: 1_764_000_000, outcome, at: 1_764_000_000_000, count, id: None }
    }

    #[test]
    fn stats_count_runs_by_outcome_and_the_streak_since_the_last_success() {
        let runs = [
            run(Outcome::TimedOut, false, 6),
            run(Outcome::Failed, false, 5),
            run(Outcome::Failed, true, 4),
            run(Outcome::Success, false, 3),
            run(Outcome::Success, false, 2),
            run(Outcome::Failed, false, 1),
        ];
        let ticks = [
            tick(TickOutcome::Missed, Some(3)),
            tick(TickOutcome::Paused, None),
            tick(TickOutcome::Overlap, None),
            tick(TickOutcome::Manual, None),
            tick(TickOutcome::Pushed, None),
            tick(TickOutcome::Pushed, None),
        ];
        let stats = JobStats::of(&runs, &ticks, 7);
        assert_eq!((stats.runs, stats.success, stats.failed, stats.timed_out), (6, 2, 3, 1));
        assert_eq!(stats.success_rate, Some(2.0 / 6.0));
        assert_eq!(stats.last_success, Some(runs[3].finished_at));
        assert_eq!(stats.failure_streak, 2, "the retried attempt neither adds nor breaks");
        assert_eq!(stats.ticks, TickCounts { pushed: 2, missed: 3, overlap: 1, paused: 1, manual: 1 });
        assert_eq!(stats.dead_letters, 7);
    }

    #[test]
    fn a_job_without_runs_has_no_rate_and_no_last_success() {
        let stats = JobStats::of(&[], &[], 0);
        assert_eq!(stats.success_rate, None);
        assert_eq!(stats.last_success, None);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["success_rate"], serde_json::Value::Null);
        assert_eq!(json["last_success"], serde_json::Value::Null);
    }
}
