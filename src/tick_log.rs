//! What the clock decided about each tick of a job, as its tick log
//! (`P{Q}:tick_log:<job>`) holds it: a public contract (docs/redis.md).
//! The run history says how runs went; this says which ticks got no run
//! (missed, skipped for overlap, skipped while paused) and which runs were
//! started by hand.

use serde::{Deserialize, Serialize};

/// What became of a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TickOutcome {
    /// Its payload was pushed.
    Pushed,
    /// Not run: the clock was down past the job's catch-up window.
    Missed,
    /// Not run: the job's previous payload was still queued or running
    /// (`overlap = "skip"`), or a newer tick was pushed in its place.
    Overlap,
    /// Not run: the job was paused.
    Paused,
    /// A run pushed by hand (`clock trigger`, the dashboard's Run now),
    /// outside the schedule.
    Manual,
}

impl TickOutcome {
    /// The word the JSON uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TickOutcome::Pushed => "pushed",
            TickOutcome::Missed => "missed",
            TickOutcome::Overlap => "overlap",
            TickOutcome::Paused => "paused",
            TickOutcome::Manual => "manual",
        }
    }
}

/// One entry of a tick log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickEntry {
    /// The tick, Unix seconds: the newest of the ticks it stands for; for a
    /// manual run, the instant it was asked for.
    pub tick: i64,
    pub outcome: TickOutcome,
    /// When the decision was made, Unix ms.
    pub at: i64,
    /// How many ticks it stands for, when more than one (ticks missed or
    /// skipped together); absent for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The pushed payload's id, for a manual run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl TickEntry {
    /// How many ticks it stands for.
    pub fn ticks(&self) -> u64 {
        self.count.unwrap_or(1)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a tick entry always serialises")
    }
}
