//! The leader loop: while the keeper says this clock holds the lease, lead
//! under a new term and push every due tick at its instant, exactly once.
//!
//! State lives in Redis, not in the process: whenever the clock starts
//! leading (at start-up, after a standby takes over, after an error or
//! after Redis comes back) [`Ticker::resume`] reloads each job's last
//! handled tick (restoring what Redis lost from [`Memory`]) and applies the
//! job's catch-up policy to what it missed.
//! So a restart, a deploy, a failover and a Redis outage are all the same,
//! well-tested path. When the lease is lost, the leading in progress is
//! dropped at its next await: every push already made is recorded in
//! Redis, and the enqueue script fences out a term that is over.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::leadership::Leadership;
use super::lease::TTL as LEASE_TTL;
use super::ticker::{Memory, Ticker};
use crate::backoff::Backoff;
use crate::config::Config;
use crate::error_chain::error_chain;
use crate::memory;
use crate::metrics::METRICS;
use crate::notify::Notifier;
use crate::store::{self, Store};
use crate::time::TimeSource;

/// The longest the clock sleeps before looking at the time again, so a wall
/// clock that jumps (NTP, a suspended VM) is noticed promptly.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The final stretch before a due instant that is slept precisely (see
/// [`Leader::lead`]).
const PRECISE_SLEEP: Duration = Duration::from_millis(3);

/// How long before a due instant its batch is built, at least: twice the
/// time the last batch took to build, so that a large batch is ready too.
const PREPARE_AHEAD: Duration = Duration::from_millis(200);

/// The first batch's build lead per job in clock.toml: twice the few
/// microseconds a tick takes to decide and build.
const PREPARE_PER_JOB: Duration = Duration::from_micros(5);

/// Backoff after a Redis error while leading.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

/// What the leader loop needs.
pub struct Leader {
    pub config: Arc<Config>,
    pub store: Store,
    pub time: Arc<dyn TimeSource>,
    /// This clock's id.
    pub id: String,
    pub notifier: Notifier,
    /// What this clock pushed, kept across its terms (and restarts of this
    /// loop): see [`Memory`].
    pub memory: Memory,
}

impl Leader {
    /// Leads whenever `leadership` says this clock holds the lease, until
    /// `stop`.
    pub async fn run(self, mut leadership: watch::Receiver<Leadership>, stop: CancellationToken) {
        let mut backoff = BACKOFF;
        loop {
            let lease = tokio::select! {
                _ = stop.cancelled() => return,
                lease = leading(&mut leadership) => lease,
            };
            METRICS.clock_leader.set(1);
            let error = tokio::select! {
                biased;
                _ = stop.cancelled() => None,
                _ = lost(&mut leadership, lease) => None,
                Err(e) = self.lead() => Some(e),
            };
            METRICS.clock_leader.set(0);
            match error {
                None => backoff.reset(),
                Some(store::Error::Fenced) => {
                    tracing::warn!(clock = %self.id, "fenced: a clock with a newer leadership term leads; standing by");
                    backoff.reset();
                    // The keeper learns within a renewal that the lease
                    // is gone; if it still holds it after a lease's
                    // lifetime, the newer term was an earlier leader's.
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = lost(&mut leadership, lease) => {}
                        _ = tokio::time::sleep(LEASE_TTL) => {}
                    }
                }
                // Leading again reloads the tick state and catches the lost
                // ticks up, as after a restart.
                Some(e @ store::Error::RolledBack(_)) => {
                    METRICS.redis_errors.inc();
                    tracing::warn!(clock = %self.id, error = %e, "tick state went back; leading again from it");
                    backoff.reset();
                }
                Some(e) => {
                    METRICS.redis_errors.inc();
                    tracing::warn!(clock = %self.id, error = %error_chain(&e), "redis error while leading; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
    }

    /// Leads under a new term until an error: pushes each due tick at its
    /// instant, and the job table once after the first push.
    async fn lead(&self) -> Result<Infallible, store::Error> {
        let (config, store, time) = (&self.config, &self.store, self.time.as_ref());
        let term = store.next_term().await?;
        tracing::info!(clock = %self.id, term, "leadership term");
        let (memory, notifier) = (self.memory.clone(), self.notifier.clone());
        let mut ticker =
            Ticker::resume(config.clone(), store.clone(), term, time.now(), memory, notifier).await?;
        let mut published = false;
        // Until a batch has been built, guess from the job count: building takes
        // a few microseconds a tick, and every job may fall due at once.
        let mut prepare_ahead = PREPARE_AHEAD.max(PREPARE_PER_JOB * config.jobs.len() as u32);
        precise_wake_ups();
        loop {
            let fired = ticker.fire_due(time.now()).await?;
            if !published {
                // After the catch-up push, not before: with many jobs the table
                // is large, and due ticks come first.
                publish_config(config, store, &self.id, time.now()).await;
                published = true;
                memory::release_freed_heap();
                memory::release_startup_code();
            } else if fired.ticks() >= TRIM_AFTER_TICKS {
                memory::release_freed_heap();
            }
            let until = |due: chrono::DateTime<chrono::Utc>| {
                (due - time.now()).to_std().unwrap_or(Duration::ZERO).min(MAX_SLEEP)
            };
            let due = ticker.next_due();
            let mut wait = due.map_or(MAX_SLEEP, until);
            if let Some(due) = due
                && wait <= prepare_ahead
                && !ticker.is_prepared(due)
            {
                let started = std::time::Instant::now();
                ticker.prepare(due);
                prepare_ahead = PREPARE_AHEAD.max(started.elapsed() * 2);
                wait = until(due);
            }
            if wait <= PRECISE_SLEEP {
                // The async timer has millisecond granularity and wakes late;
                // the last stretch is slept on the thread, which is precise to
                // tens of microseconds. Nothing else needs this thread meanwhile.
                std::thread::sleep(wait);
                continue;
            }
            let prepared = due.is_some_and(|due| ticker.is_prepared(due));
            tokio::time::sleep(nap(wait, prepared, prepare_ahead)).await;
        }
    }
}

/// Waits until the keeper says this clock leads; returns the lease's number.
async fn leading(leadership: &mut watch::Receiver<Leadership>) -> u64 {
    loop {
        if let Leadership::Leading { lease, .. } = *leadership.borrow_and_update() {
            return lease;
        }
        if leadership.changed().await.is_err() {
            // The keeper is gone for good: never lead again.
            std::future::pending::<()>().await;
        }
    }
}

/// Resolves once lease number `lease` is no longer held.
async fn lost(leadership: &mut watch::Receiver<Leadership>, lease: u64) {
    loop {
        match *leadership.borrow_and_update() {
            Leadership::Leading { lease: current, .. } if current == lease => {}
            _ => return,
        }
        if leadership.changed().await.is_err() {
            return;
        }
    }
}

/// How long the lead loop sleeps on the async timer when the next instant
/// is `wait` away: until its batch is due to be built (`prepare_ahead`
/// before it) if it is not built yet, else until the precise sleep.
fn nap(wait: Duration, prepared: bool, prepare_ahead: Duration) -> Duration {
    match wait.checked_sub(prepare_ahead) {
        Some(early) if !prepared && !early.is_zero() => early,
        _ => wait.saturating_sub(PRECISE_SLEEP),
    }
}

/// Lowers this thread's timer slack from the kernel's default 50 µs to
/// 1 µs, so the precise sleep before a due instant ends when asked.
fn precise_wake_ups() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK only sets a number on the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong);
    }
}

/// A push of at least this many ticks is followed by
/// [`memory::release_freed_heap`]; smaller ones free too little to be worth
/// it.
const TRIM_AFTER_TICKS: u64 = 1000;

/// Publishes this clock's job table for `clock plan`; failures only make
/// plan's comparison stale.
async fn publish_config(config: &Config, store: &Store, clock: &str, now: chrono::DateTime<chrono::Utc>) {
    let json = crate::deploy::published_json(config, clock, now);
    if let Err(e) = store.publish_config(&json).await {
        tracing::warn!(clock, error = %error_chain(&e), "cannot publish the job table");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn an_unbuilt_batch_wakes_the_loop_when_it_is_time_to_build_it() {
        assert_eq!(nap(30_000 * MS, false, 200 * MS), 29_800 * MS);
        // A large batch that took 150 ms to build last time is built 300 ms ahead.
        assert_eq!(nap(1_000 * MS, false, 300 * MS), 700 * MS);
    }

    #[test]
    fn within_the_build_lead_or_once_built_the_loop_naps_until_the_precise_sleep() {
        assert_eq!(nap(150 * MS, false, 200 * MS), 147 * MS);
        assert_eq!(nap(200 * MS, false, 200 * MS), 197 * MS);
        assert_eq!(nap(30_000 * MS, true, 200 * MS), 29_997 * MS);
        assert_eq!(nap(2 * MS, true, 200 * MS), Duration::ZERO);
    }
}
