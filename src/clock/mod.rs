//! The clock daemon: lead (or stand by), and while leading push every due
//! tick exactly once.
//!
//! State lives in Redis, not in the process: whenever a clock starts
//! leading (at start-up, after a standby takes over, or after Redis comes
//! back) it reloads each job's last handled tick and applies the job's
//! catch-up policy to what it missed. So a restart, a deploy, a failover and
//! a Redis outage are all the same, well-tested path.

mod lease;
pub mod offset;
pub mod plan;
pub mod ticker;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use lease::{ClockInfo, INTERVAL as LEASE_INTERVAL, STALE_AFTER, TTL as LEASE_TTL, error_chain};
pub use ticker::{Fired, Ticker};

use crate::config::Config;
use crate::memory;
use crate::shutdown::Shutdown;
use crate::store::{self, Store};
use crate::time::TimeSource;

/// The longest the clock sleeps before looking at the time again, so a wall
/// clock that jumps (NTP, a suspended VM) is noticed promptly.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The final stretch before a due instant that is slept precisely (see
/// [`lead`]).
const PRECISE_SLEEP: Duration = Duration::from_millis(3);

/// How long before a due instant its batch is built, at least: twice the
/// time the last batch took to build, so that a large batch is ready too.
const PREPARE_AHEAD: Duration = Duration::from_millis(200);

/// The first batch's build lead per job in clock.toml: twice the few
/// microseconds a tick takes to plan and build.
const PREPARE_PER_JOB: Duration = Duration::from_micros(5);

/// How long a stopping clock waits for Redis to take its goodbye.
const STOP_BUDGET: Duration = Duration::from_millis(500);

/// Backoff after a Redis error while leading: doubles from the first value
/// up to the cap.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

enum Stop {
    Shutdown,
    LeaseLost,
}

/// Runs the clock until `shutdown` is cancelled, then releases the lease.
pub async fn run(config: Arc<Config>, store: Store, time: Arc<dyn TimeSource>, shutdown: Shutdown) {
    let fingerprint = crate::deploy::fingerprint(&config);
    let lease = lease::Lease::new(store.clone(), process_id(), time.clone(), fingerprint);
    let notifier = crate::notify::Notifier::start(config.webhooks.clone(), config.email.clone());
    let mut backoff = BACKOFF.0;
    tracing::info!(clock = %lease.id(), jobs = config.jobs.len(), "clock starting");
    // A standby may wait for days: what parsing the config and connecting
    // touched need not stay resident meanwhile.
    memory::release_startup_code();
    loop {
        // A stop must not wait for a Redis call stuck in its retries.
        let acquired = tokio::select! {
            acquired = lease.acquire(&shutdown) => acquired,
            _ = shutdown.cancelled() => false,
        };
        if !acquired {
            break;
        }
        tracing::info!(clock = %lease.id(), "leading");
        crate::metrics::METRICS.clock_leader.set(1);
        lease.prune_registry().await;
        let led = lead(&config, &store, time.as_ref(), &lease, &notifier, &shutdown).await;
        crate::metrics::METRICS.clock_leader.set(0);
        match led {
            Ok(Stop::Shutdown) => break,
            Ok(Stop::LeaseLost) => backoff = BACKOFF.0,
            Err(store::Error::Fenced) => {
                tracing::warn!(clock = %lease.id(), "fenced: a clock with a newer leadership term leads; standing by");
                backoff = BACKOFF.0;
            }
            // Leading again reloads the tick state and catches the lost
            // ticks up, as after a restart.
            Err(e @ store::Error::RolledBack(_)) => {
                crate::metrics::METRICS.redis_errors.inc();
                tracing::warn!(clock = %lease.id(), error = %e, "tick state went back; leading again from it");
                backoff = BACKOFF.0;
            }
            Err(e) => {
                crate::metrics::METRICS.redis_errors.inc();
                tracing::warn!(clock = %lease.id(), error = %error_chain(&e), "redis error while leading; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
    // Give the lease up (a no-op unless this clock holds it) so a standby
    // takes over at once, and leave the registry; with Redis unreachable,
    // give up after half a second: the lease then lapses on its own.
    let farewell = async {
        lease.release().await;
        lease.forget().await;
    };
    if tokio::time::timeout(STOP_BUDGET, farewell).await.is_err() {
        tracing::warn!(clock = %lease.id(), "redis did not answer while stopping; the lease lapses by itself");
    }
    tracing::info!(clock = %lease.id(), "clock stopped");
}

async fn lead(
    config: &Arc<Config>,
    store: &Store,
    time: &dyn TimeSource,
    lease: &lease::Lease,
    notifier: &crate::notify::Notifier,
    shutdown: &Shutdown,
) -> Result<Stop, store::Error> {
    let (lost, done) = (CancellationToken::new(), CancellationToken::new());
    let _stop_keeping = done.clone().drop_guard();
    let keeper = lease.keep(lost.clone(), done);
    tokio::pin!(keeper);
    let term = store.next_term().await?;
    tracing::info!(clock = %lease.id(), term, "leadership term");
    let mut ticker =
        Ticker::start(config.clone(), store.clone(), term, time.now()).await?.with_notifier(notifier.clone());
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
            publish_config(config, store, lease.id(), time.now()).await;
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
        tokio::select! {
            // Biased: once `keeper` finishes it has cancelled `lost`, which is
            // then seen first, so the finished future is never polled again.
            biased;
            _ = shutdown.cancelled() => return Ok(Stop::Shutdown),
            _ = lost.cancelled() => return Ok(Stop::LeaseLost),
            _ = &mut keeper => {}
            _ = tokio::time::sleep(nap(wait, prepared, prepare_ahead)) => {}
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

/// `host:pid:nonce`: unique per process, readable in status output; names
/// clocks and workers.
pub fn process_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into());
    let random = RandomState::new().hash_one(std::process::id()) & 0xffff;
    format!("{host}:{}:{random:04x}", std::process::id())
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
