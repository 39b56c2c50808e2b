//! The clock daemon: lead (or stand by), and while leading push every due
//! tick exactly once.
//!
//! [`run`] owns these loops under one [`Supervisor`], each in its own file,
//! each `run(deps, stop)`:
//!
//! | loop | file | does | when it fails |
//! |---|---|---|---|
//! | `recorder` | `notify/recorder.rs` | with alerts configured only: writes the deliveries of this clock's alerts and heartbeats to the log the dashboard shows | restarted (entries are dropped meanwhile, never alerts) |
//! | `lease` | `lease.rs` | takes and renews the leader lease, on a thread and connection of its own | restarted (this clock stands by meanwhile) |
//! | `registry` | `registry.rs` | announces this clock every second; the leader prunes stale entries | restarted |
//! | `offset` | `offset.rs` | measures Redis time minus system time every 30 s | restarted |
//! | `heartbeat` | `heartbeat.rs` | with `[monitor] heartbeat_url` only: requests it every `heartbeat_every` while this clock leads | restarted |
//! | `leader` | `leader.rs` | while the lease is held, pushes due ticks | restarted (it reloads its state from Redis) |
//! | `monitor` | `monitor.rs` | while the lease is held, every second reports payloads that missed their start deadline (`late`) and queues without a live worker (`unserved`, `served`), and sets the queue gauges | restarted (what to report is decided in Redis) |
//!
//! A loop restarts after a backoff (100 ms doubling to 5 s); one that fails
//! [`supervisor::RESTART_LIMIT`] times within a minute stops the clock,
//! which then exits 1 for the platform to restart it. On SIGTERM the loops
//! stop in reverse order: the leader first, so that the lease keeper
//! releases the lease only once nothing pushes any more; all within
//! [`STOP_DEADLINE`]. Then the alerts still queued go out within
//! [`notify::STOP_DEADLINE`](crate::notify::STOP_DEADLINE): the
//! [`Notifier`](crate::notify::Notifier) owns its delivery tasks (see its
//! module docs), which are not restarted.
//!
//! State lives in Redis, not in the process (see `leader.rs`), so a
//! restart, a deploy, a failover and a Redis outage are the same path.

pub mod due;
mod heartbeat;
mod leader;
mod leadership;
mod lease;
mod monitor;
pub mod offset;
pub mod registry;
pub mod ticker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use leadership::Leadership;
pub use lease::{INTERVAL as LEASE_INTERVAL, TTL as LEASE_TTL};
pub use registry::{ClockInfo, STALE_AFTER};
pub use ticker::{Fired, Ticker};

use crate::config::Config;
use crate::memory;
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::supervisor::{self, Policy, Supervisor};
use crate::time::TimeSource;

/// How long a stopping clock takes at most: the leader's current push, the
/// registry's goodbye and the lease's release, each bounded by its own
/// timeout, all well inside Heroku's 30 s.
pub const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// Runs the clock until `shutdown` is cancelled, then stops its loops and
/// releases the lease. Returns the failure if it stopped because a loop
/// kept failing.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    time: Arc<dyn TimeSource>,
    shutdown: Shutdown,
) -> Result<(), supervisor::Failure> {
    let id = crate::identity::process_id();
    tracing::info!(clock = %id, jobs = config.jobs.len(), "clock starting");
    if let Some(calibrated) = time.calibration() {
        let _ = offset::measure(&store, calibrated).await;
    }
    let registry = registry::Registry {
        store: store.clone(),
        id: id.clone(),
        time: time.clone(),
        started_at: time.now(),
        config: crate::deploy::fingerprint(&config),
    };
    let me = registry.info(None);
    let notifier = crate::notify::Notifier::start(config.webhooks.clone(), config.email.clone());
    let leadership = Arc::new(watch::Sender::new(Leadership::Standby));

    let mut loops = Supervisor::new();
    if config.has_alerts() {
        let store = store.clone();
        loops.spawn("recorder", Policy::Restart, move |stop| {
            crate::notify::recorder::run(store.clone(), stop)
        });
    }
    loops.spawn("lease", Policy::Restart, {
        let (leadership, store, id, time) = (leadership.clone(), store.clone(), id.clone(), time.clone());
        move |stop| {
            let keeper =
                lease::Keeper { store: store.clone(), id: id.clone(), time: time.clone(), me: me.clone() };
            keeper.run(leadership.clone(), stop)
        }
    });
    loops.spawn("offset", Policy::Restart, {
        let (store, time) = (store.clone(), time.clone());
        move |stop| offset::run(store.clone(), time.clone(), stop)
    });
    let registry = Arc::new(registry);
    loops.spawn("registry", Policy::Restart, {
        let (registry, leadership) = (registry.clone(), leadership.clone());
        move |stop| {
            let (registry, leadership) = (registry.clone(), leadership.subscribe());
            async move { registry.run(leadership, stop).await }
        }
    });
    loops.spawn("monitor", Policy::Restart, {
        let (config, store, notifier, leadership) =
            (config.clone(), store.clone(), notifier.clone(), leadership.clone());
        move |stop| {
            let monitor =
                monitor::Monitor { config: config.clone(), store: store.clone(), notifier: notifier.clone() };
            monitor.run(leadership.subscribe(), stop)
        }
    });
    if let Some(url) = config.monitor.heartbeat_url.clone() {
        let every = config.monitor.heartbeat_every.as_duration();
        loops.spawn("heartbeat", Policy::Restart, {
            let leadership = leadership.clone();
            move |stop| heartbeat::run(url.clone(), every, leadership.subscribe(), stop)
        });
    }
    loops.spawn("leader", Policy::Restart, {
        let (leadership, notifier) = (leadership.clone(), notifier.clone());
        let memory = ticker::Memory::default();
        move |stop| {
            let leader = leader::Leader {
                config: config.clone(),
                store: store.clone(),
                time: time.clone(),
                id: id.clone(),
                notifier: notifier.clone(),
                memory: memory.clone(),
            };
            leader.run(leadership.subscribe(), stop)
        }
    });
    // A standby may wait for days: what parsing the config and connecting
    // touched need not stay resident meanwhile.
    memory::release_startup_code();

    let failed = loops.failed();
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = failed.cancelled() => {}
    }
    let stopped = loops.stop(STOP_DEADLINE).await;
    // Nothing sends any more: what is queued (a tick skipped as it
    // stopped) gets its chance to go out.
    notifier.stop(crate::notify::STOP_DEADLINE).await;
    tracing::info!(clock = %registry.id, "clock stopped");
    stopped
}
