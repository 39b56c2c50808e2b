//! Watching the leader lease from outside the clocks: a dead clock cannot
//! report itself, so every worker and `clock web` looks at the lease every
//! [`EVERY`] and reports `no_leader` when no clock has held it for
//! `[monitor] no_leader_after`, then `leader_back` when one does again.
//! Redis decides which watcher reports (`Pmonitor`, see
//! [`Store::watch_leader`]), so a deployment with many workers and
//! dashboards sends one notice per episode. The same look sets
//! `campanile_leader_age_seconds`.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::LEASE_TTL;
use crate::config::Event;
use crate::error_chain::error_chain;
use crate::metrics::METRICS;
use crate::notify::{Notifier, build};
use crate::store::{LeaderWatch, Store};
use crate::time::TimeSource;

/// How often the lease is looked at: as often as a leader renews it.
pub const EVERY: Duration = crate::clock::LEASE_INTERVAL;

/// How long an episode's state outlives the last watcher that saw no
/// leader, beyond `no_leader_after`: long enough to ride out a watcher's
/// restart, short enough that an episode nobody watched to its end does
/// not date a later one.
const KEEP: Duration = Duration::from_secs(60);

/// What the watch needs.
#[derive(Clone)]
pub struct LeaderWatcher {
    pub store: Store,
    pub notifier: Notifier,
    pub time: Arc<dyn TimeSource>,
    pub no_leader_after: Duration,
}

impl LeaderWatcher {
    /// Looks at the lease every [`EVERY`] until `stop`; a Redis error is
    /// logged and the next look tries again.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(e) = self.look().await {
                METRICS.redis_errors.inc();
                tracing::debug!(error = %error_chain(&e), "cannot look at the leader lease");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(EVERY) => {}
            }
        }
    }

    /// One look: the lease and its time left, then the shared verdict on it.
    async fn look(&self) -> crate::store::Result<()> {
        let lease = self.store.leader_lease().await?;
        let keep = self.no_leader_after + KEEP;
        let seen = self.store.watch_leader(lease.is_some(), self.no_leader_after, keep).await?;
        // The lease is renewed to LEASE_TTL, so what it has left says when
        // it was last renewed (a lease without an expiry, set by hand, as
        // if it had none left); without one, the episode's length.
        let age = match (lease, seen) {
            (Some(lease), _) => LEASE_TTL.saturating_sub(lease.ttl.unwrap_or_default()),
            (None, LeaderWatch::Absent(d) | LeaderWatch::NoLeader(d)) => d,
            (None, _) => Duration::ZERO,
        };
        METRICS.leader_age.set(age.as_secs_f64());
        let at = crate::text::utc(self.time.now());
        match seen {
            LeaderWatch::NoLeader(elapsed) => {
                tracing::error!(elapsed_secs = elapsed.as_secs(), "no clock holds the leader lease");
                self.notifier.send(build::leader(Event::NoLeader, elapsed.as_secs(), &at));
            }
            LeaderWatch::LeaderBack(elapsed) => {
                tracing::info!(elapsed_secs = elapsed.as_secs(), "a clock holds the leader lease again");
                self.notifier.send(build::leader(Event::LeaderBack, elapsed.as_secs(), &at));
            }
            LeaderWatch::Present | LeaderWatch::Absent(_) => {}
        }
        Ok(())
    }
}
