//! The leader lease: one clock leads, the others stand by. The lease only
//! keeps clocks from doing the same work; correctness does not depend on it,
//! since the enqueue script pushes each tick at most once whoever calls it,
//! and fences out a leader whose term is over.
//!
//! The keeper ([`Keeper::run`]) takes and renews the lease on a thread and
//! a Redis connection of its own, and says through a [`watch`] channel
//! whether this clock leads. The leader loop may be busy for seconds (a
//! push of 100,000 ticks, publishing a large job table, a precise sleep on
//! its thread, a slow Redis): none of that delays a renewal, and a renewal
//! never waits behind the leader's traffic. Its replies time out after
//! [`TIMEOUT`], well inside [`TTL`], so a renewal that cannot get through is
//! retried while the lease still holds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::leadership::Leadership;
use super::registry::{ClockInfo, live_clocks};
use crate::error_chain::error_chain;
use crate::store::Store;
use crate::time::TimeSource;

/// How long a lease lives without renewal. A standby takes over at most
/// this long (plus one retry interval) after a leader dies without
/// releasing it; a leader that stops cleanly releases it at once.
pub const TTL: Duration = Duration::from_secs(3);

/// Renewals and standby retries happen this often: three chances to renew
/// before the lease lapses.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Connects and replies on the keeper's connection time out after this:
/// a renewal that hangs is retried while the lease still holds.
pub const TIMEOUT: Duration = Duration::from_millis(800);

/// How long a stopping keeper waits for Redis to take the lease back; with
/// Redis unreachable, the lease then lapses by itself.
const GOODBYE: Duration = Duration::from_millis(500);

/// After a failed renewal, the next try comes this soon.
const RETRY: Duration = Duration::from_millis(100);

/// Takes and keeps the lease.
pub struct Keeper {
    /// The clock's shared store; the keeper opens its own connection from
    /// it.
    pub store: Store,
    pub id: String,
    pub time: Arc<dyn TimeSource>,
    /// Identifies this clock in the registry, to find clocks with a newer
    /// job table.
    pub me: ClockInfo,
}

impl Keeper {
    /// Runs the keeper on a thread of its own until `stop`, then releases
    /// the lease if it holds it. A panic on that thread is this task's
    /// panic, for the supervisor to see.
    pub async fn run(self, leadership: Arc<watch::Sender<Leadership>>, stop: CancellationToken) {
        let thread = tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let runtime = runtime.expect("a runtime for the lease keeper");
            runtime.block_on(self.keep(&leadership, &stop));
        });
        if let Err(e) = thread.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    async fn keep(&self, leadership: &watch::Sender<Leadership>, stop: &CancellationToken) {
        // Whatever ends this function (a stop, a panic), this clock no
        // longer knows that it leads.
        struct StandBy<'a>(&'a watch::Sender<Leadership>);
        impl Drop for StandBy<'_> {
            fn drop(&mut self) {
                self.0.send_replace(Leadership::Standby);
            }
        }
        let _standby = StandBy(leadership);
        let Some(store) = self.connect(stop).await else { return };
        let lease = Lease { store: &store, id: &self.id };
        let mut leases = 0;
        loop {
            if !lease.acquire(self, stop).await {
                break;
            }
            leases += 1;
            leadership.send_replace(Leadership::Leading { lease: leases, since: self.time.now() });
            tracing::info!(clock = %self.id, "leading");
            let kept = lease.renew_until_lost(self, stop).await;
            leadership.send_replace(Leadership::Standby);
            if !kept {
                break;
            }
        }
        // The leader loop has stopped by now (it is stopped before the
        // keeper): hand the lease on at once rather than let it lapse.
        if tokio::time::timeout(GOODBYE, lease.release()).await.is_err() {
            tracing::warn!(clock = %self.id, "redis did not answer while stopping; the lease lapses by itself");
        }
    }

    /// The keeper's own connection, retried every [`INTERVAL`] until `stop`.
    async fn connect(&self, stop: &CancellationToken) -> Option<Store> {
        loop {
            match self.store.dedicated(TIMEOUT).await {
                Ok(store) => return Some(store),
                Err(e) => {
                    tracing::warn!(clock = %self.id, error = %error_chain(&e), "lease keeper cannot reach redis; retrying")
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return None,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
        }
    }

    /// A live clock whose config supersedes this one's (the newest of them).
    async fn newer_config(&self, store: &Store) -> Option<ClockInfo> {
        live_clocks(store)
            .await
            .ok()?
            .into_iter()
            .filter(|c| c.supersedes(&self.me))
            .max_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)))
    }
}

/// The lease operations on the keeper's connection.
struct Lease<'a> {
    store: &'a Store,
    id: &'a str,
}

impl Lease<'_> {
    /// Waits until this clock holds the lease; `false` if told to stop
    /// first.
    async fn acquire(&self, keeper: &Keeper, stop: &CancellationToken) -> bool {
        let mut announced = false;
        let mut deferring = false;
        loop {
            // A clock with a newer config is taking over: do not compete.
            let newer = keeper.newer_config(self.store).await;
            if let Some(newer) = &newer
                && !deferring
            {
                tracing::info!(clock = %self.id, newer = %newer.id, "standing by for a clock with a newer config");
            }
            deferring = newer.is_some();
            let attempt =
                if deferring { Ok(false) } else { self.store.try_acquire_lease(self.id, TTL).await };
            match attempt {
                Ok(true) => return true,
                Ok(false) if !announced => {
                    let leader = self.store.leader().await.ok().flatten().unwrap_or_default();
                    tracing::info!(clock = %self.id, leader = %leader, "standing by");
                    announced = true;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(clock = %self.id, error = %error_chain(&e), "cannot reach redis; retrying")
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return false,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
        }
    }

    /// Renews the lease every [`INTERVAL`] until it is lost (`true`: stand
    /// by and try again) or `stop` (`false`): taken by another clock,
    /// handed to a clock with a newer config, or not renewed in time.
    async fn renew_until_lost(&self, keeper: &Keeper, stop: &CancellationToken) -> bool {
        let mut renewed_at = Instant::now();
        let mut next = renewed_at + INTERVAL;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return false,
                _ = tokio::time::sleep_until(next) => {}
            }
            let renewed = tokio::select! {
                _ = stop.cancelled() => return false,
                renewed = self.store.renew_lease(self.id, TTL) => renewed,
            };
            match renewed {
                Ok(true) => {
                    renewed_at = Instant::now();
                    next = renewed_at + INTERVAL;
                    if let Some(newer) = keeper.newer_config(self.store).await
                        && self.store.handover_lease(self.id, &newer.id, TTL).await.unwrap_or(false)
                    {
                        tracing::info!(clock = %self.id, to = %newer.id, "leader lease handed to a clock with a newer config");
                        return true;
                    }
                }
                Ok(false) => {
                    tracing::warn!(clock = %self.id, "leader lease taken by another clock");
                    return true;
                }
                Err(e) if renewed_at.elapsed() + TIMEOUT >= TTL => {
                    tracing::warn!(clock = %self.id, error = %error_chain(&e), "cannot renew leader lease; standing down");
                    return true;
                }
                Err(e) => {
                    tracing::warn!(clock = %self.id, error = %error_chain(&e), "lease renewal failed; retrying");
                    // Retry soon: a whole interval may be too late.
                    next = Instant::now() + RETRY;
                }
            }
        }
    }

    /// Gives the lease up (a no-op unless this clock holds it) so a standby
    /// takes over at once.
    async fn release(&self) {
        match self.store.release_lease(self.id).await {
            Ok(true) => tracing::info!(clock = %self.id, "leader lease released"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(clock = %self.id, error = %error_chain(&e), "cannot release leader lease")
            }
        }
    }
}
