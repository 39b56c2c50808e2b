//! Watching the leader lease from outside every clock: a dead clock cannot
//! report itself, so workers and dashboards do, through one hash (`Pmonitor`)
//! that makes their reports one per episode. Single-key operations: the
//! leader key and the monitor hash sit outside every queue's hash tag.

use std::time::Duration;

use super::{Result, Store, scripts};

/// What one look at the leader lease found, after [`Store::watch_leader`]
/// recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaderWatch {
    /// A clock holds the lease (and no episode was reported).
    Present,
    /// No clock has held it for this long (as first seen by any watcher);
    /// already reported, or not yet long enough.
    Absent(Duration),
    /// No clock has held it for this long, and this caller is the one to
    /// report `no_leader`.
    NoLeader(Duration),
    /// A clock holds it again after this long without one, and this caller
    /// is the one to report `leader_back`.
    LeaderBack(Duration),
}

impl Store {
    /// Records that this caller found the leader lease `present` or not, and
    /// says whether it is the one to report `no_leader` (absent for
    /// `no_leader_after` and not yet reported) or `leader_back` (present
    /// after a reported episode). `keep`: how long the episode's state
    /// outlives the last call, so an episode nobody watched to its end does
    /// not date a later one.
    pub async fn watch_leader(
        &self,
        present: bool,
        no_leader_after: Duration,
        keep: Duration,
    ) -> Result<LeaderWatch> {
        let args = [
            if present { "present" } else { "absent" }.to_owned(),
            no_leader_after.as_millis().to_string(),
            keep.as_millis().max(1).to_string(),
        ];
        let (verdict, ms): (String, i64) =
            self.run_script(&scripts::WATCH_LEADER, &[self.keys.leader_monitor()], &args).await?;
        let elapsed = Duration::from_millis(ms.max(0) as u64);
        Ok(match verdict.as_str() {
            "no_leader" => LeaderWatch::NoLeader(elapsed),
            "leader_back" => LeaderWatch::LeaderBack(elapsed),
            "absent" => LeaderWatch::Absent(elapsed),
            _ => LeaderWatch::Present,
        })
    }
}
