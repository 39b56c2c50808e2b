//! The worker: takes payloads off its queues and runs their jobs, losing
//! nothing and running nothing it was not configured to run.
//!
//! - **Take** ([`crate::store::Taker::take`]): `BLMOVE` from the pending list
//!   into this worker's in-progress list, so a payload is always in Redis;
//!   only with a free permit, shared fairly between queues (`fetch.rs`). A busy
//!   worker's finish takes the next payload in the same step.
//! - **Run** (`process.rs`, [`execute`]): the job's command from *this
//!   worker's* config.
//!   A payload naming an unknown job, or not parsing, is never run: it goes
//!   to the dead letters with the reason.
//! - **Finish** (`outcome.rs`): history entry, in-flight marker cleared, payload off the
//!   in-progress list, atomically; a failure is retried with backoff
//!   ([`retry`]) until the job's `retries` are used up, then dead-lettered.
//!   With `[redis] wait_replicas`, each of these is sent again until the
//!   replicas of the primary acknowledge it, the payload held meanwhile, so
//!   one that a failover took back is never taken for a payload that never
//!   ran.
//! - **Leases**: a heartbeat keeps this worker's lease on each queue alive;
//!   when a worker dies, another one's [`reaper`] puts its payloads back.
//!   A live worker's own in-progress payloads that it does not hold (a take
//!   whose reply was lost) go back too (`ledger.rs`).
//! - **Shutdown**: stop taking at once, let running jobs finish within the
//!   grace period, then stop them and put their payloads back.
//!
//! [`run`] owns its loops under one [`Supervisor`], each `run(deps, stop)`:
//!
//! | loop | file | does | when it fails |
//! |---|---|---|---|
//! | `recorder` | `notify/recorder.rs` | with alerts configured only: writes the deliveries of this worker's alerts and pings to the log the dashboard shows | restarted (entries are dropped meanwhile, never alerts) |
//! | `heartbeat` | `heartbeat.rs` | renews this worker's lease on each queue every 5 s | restarted |
//! | `depths` | `heartbeat.rs` | refreshes the queue-depth gauges (with metrics only) | restarted |
//! | `leader_watch` | `leader_watch.rs` | looks at the clocks' leader lease every second: `no_leader`, `leader_back`, `campanile_leader_age_seconds` | restarted |
//! | `reaper` | `reaper.rs` | puts back the payloads of workers whose lease lapsed | restarted |
//! | `retries` | `retry.rs` | moves due retries back onto the pending list | restarted |
//! | `drain` | `drain.rs` | on stop, lets running jobs finish within the grace period, then stops them | stops the worker (it holds no state to restart from) |
//! | `stranded` | `reaper.rs` | gives back this worker's payloads taken without its knowing | restarted (it looks afresh) |
//! | `fetch` | `fetch.rs` | one per queue: takes payloads while a permit is free | restarted (it reconnects) |
//!
//! A loop restarts after a backoff (100 ms doubling to 5 s); one that fails
//! [`supervisor::RESTART_LIMIT`] times within a minute stops the worker
//! (drained like a SIGTERM), which then exits 1. Runs of jobs are not
//! loops: a [`TaskTracker`] owns them and `drain` waits for it. The loops
//! stop in the reverse order of the table: the fetchers first, so nothing
//! new is taken; then the drain; the heartbeat last, so the leases of
//! running jobs stay alive until they are over. All of it within the grace
//! period plus [`STOP_MARGIN`]; then what the worker took but never started
//! goes back on the pending list and its leases are dropped. Last, side
//! by side, the runs' last pings get up to [`crate::notify::ping::TIMEOUT`]
//! to go out and the alerts still queued up to
//! [`notify::STOP_DEADLINE`](crate::notify::STOP_DEADLINE): the
//! [`Notifier`] owns its delivery tasks (see its module docs), which are
//! not restarted.

mod drain;
mod error;
pub mod execute;
mod fetch;
mod heartbeat;
pub mod leader_watch;
mod ledger;
mod outcome;
mod parse;
mod process;
pub mod reaper;
pub mod retry;

pub use error::Error;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::Backoff;
use crate::config::{Config, QueueName};
use crate::error_chain::error_chain;
use crate::notify::Notifier;
use crate::notify::ping::Pinger;
use crate::shutdown::Shutdown;
use crate::store::{Requeue, Store};
use crate::supervisor::{Policy, Supervisor};
use crate::time::TimeSource;

/// A worker's lease on a queue lives this long without a heartbeat: its
/// payloads are recovered at most this long (plus one reaper pass) after it
/// dies.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// Heartbeats happen this often: three chances before the lease lapses.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// The largest `attempt` a payload can have: the first run and a job's
/// most retries. A payload claiming more (or 0) is malformed.
pub const MAX_ATTEMPT: u32 = crate::config::MAX_RETRIES + 1;
/// Backoff for Redis errors: doubles up to the cap.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
/// How much longer than the shutdown grace period stopping may take: the
/// fetchers' abandoned takes, the interrupted runs' records (each retried
/// a few times), the other loops' current pass.
pub const STOP_MARGIN: Duration = Duration::from_secs(10);
/// The worker exits within the shutdown grace period plus this, whatever
/// is still queued: the last runs' alerts and pings get what is left of it
/// (at most their own deadlines), and what has not gone out by then is
/// dropped and logged. 25 s of grace plus 4 s fits inside the 30 s Heroku
/// waits between SIGTERM and SIGKILL.
pub const EXIT_MARGIN: Duration = Duration::from_secs(4);

/// `host:pid:nonce`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerId(pub String);

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub queues: Vec<QueueName>,
    pub concurrency: usize,
    /// After SIGTERM, how long running jobs may take to finish.
    pub shutdown_timeout: Duration,
    /// Refresh the queue-depth gauges (when metrics are exported).
    pub queue_depths: bool,
}

struct Ctx {
    config: Arc<Config>,
    store: Store,
    time: Arc<dyn TimeSource>,
    me: WorkerId,
    /// Interrupts running jobs when the shutdown grace period is over.
    stop_runs: CancellationToken,
    notifier: Notifier,
    /// Tells the jobs' outside monitors (`ping_url`) about runs.
    pinger: Pinger,
    /// Cancelled when the worker stops taking payloads (told to stop, or a
    /// loop failed for good): a run's finish then takes no next payload.
    stopping: CancellationToken,
    /// The concurrency permits every queue's fetcher shares.
    permits: fetch::Permits,
    /// Whether this worker serves more than one queue.
    several_queues: bool,
    /// What this worker holds of its in-progress lists.
    ledger: Arc<ledger::Ledger>,
}

/// Runs until `shutdown`, then drains as documented and returns;
/// [`Error::Stopped`] if it stopped because a loop kept failing.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    time: Arc<dyn TimeSource>,
    options: Options,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let me = WorkerId(crate::identity::process_id());
    tracing::info!(worker = %me.0, queues = ?options.queues.iter().map(|q| q.as_str()).collect::<Vec<_>>(), concurrency = options.concurrency, "worker starting");
    // The lease's value: what the dashboard shows of this worker.
    let about = serde_json::json!({
        "concurrency": options.concurrency,
        "started_at": crate::text::utc(time.now()),
    })
    .to_string();
    let mut backoff = BACKOFF;
    while let Err(e) = store.heartbeat(&options.queues, &me.0, &about, LEASE_TTL).await {
        tracing::warn!(error = %error_chain(&e), "cannot register with redis; retrying");
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
    let ctx = Arc::new(Ctx {
        config: config.clone(),
        store: store.clone(),
        time: time.clone(),
        me: me.clone(),
        stop_runs: CancellationToken::new(),
        notifier: Notifier::start(config.webhooks.clone(), config.email.clone()),
        pinger: Pinger::start(config.jobs.iter().any(|j| j.ping.is_some())),
        stopping: CancellationToken::new(),
        permits: fetch::Permits::new(options.concurrency),
        several_queues: options.queues.len() > 1,
        ledger: Arc::default(),
    });
    let queues = options.queues.clone();
    let runs = TaskTracker::new();
    // Stopped in reverse order: the fetchers first, so nothing new is
    // taken; then the running jobs drain; the heartbeat last, so their
    // leases stay alive until they are over.
    let mut loops = Supervisor::new();
    if config.has_alerts() {
        let store = store.clone();
        loops.spawn("recorder", Policy::Restart, move |stop| {
            crate::notify::recorder::run(store.clone(), stop)
        });
    }
    loops.spawn("heartbeat", Policy::Restart, {
        let (store, queues, me) = (store.clone(), queues.clone(), me.clone());
        move |stop| heartbeat::run(store.clone(), queues.clone(), me.clone(), about.clone(), stop)
    });
    if options.queue_depths {
        loops.spawn("depths", Policy::Restart, {
            let (store, queues) = (store.clone(), queues.clone());
            move |stop| heartbeat::depths(store.clone(), queues.clone(), stop)
        });
    }
    loops.spawn("leader_watch", Policy::Restart, {
        let watcher = leader_watch::LeaderWatcher {
            store: store.clone(),
            notifier: ctx.notifier.clone(),
            time: time.clone(),
            no_leader_after: config.monitor.no_leader_after.as_duration(),
        };
        move |stop| watcher.clone().run(stop)
    });
    loops.spawn("reaper", Policy::Restart, {
        let (store, queues, me, time) = (store.clone(), queues.clone(), me.clone(), time.clone());
        move |stop| reaper::run(config.clone(), store.clone(), queues.clone(), me.clone(), time.clone(), stop)
    });
    loops.spawn("retries", Policy::Restart, {
        let (store, queues) = (store.clone(), queues.clone());
        move |stop| retry::run(store.clone(), queues.clone(), time.clone(), stop)
    });
    loops.spawn("drain", Policy::Fatal, {
        let (ctx, runs, grace) = (ctx.clone(), runs.clone(), options.shutdown_timeout);
        move |stop| drain::run(ctx.clone(), runs.clone(), grace, stop)
    });
    loops.spawn("stranded", Policy::Restart, {
        let (store, queues, me, ledger) = (store.clone(), queues.clone(), me.clone(), ctx.ledger.clone());
        move |stop| reaper::run_own(store.clone(), queues.clone(), me.clone(), ledger.clone(), stop)
    });
    for queue in &queues {
        loops.spawn("fetch", Policy::Restart, {
            let (ctx, queue, runs) = (ctx.clone(), queue.clone(), runs.clone());
            move |stop| fetch::run(ctx.clone(), queue.clone(), runs.clone(), stop)
        });
    }

    // An idle worker may wait for hours between runs: what parsing the
    // config and connecting touched need not stay resident meanwhile.
    crate::memory::release_freed_heap();
    crate::memory::release_startup_code();

    let failed = loops.failed();
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = failed.cancelled() => {}
    }
    ctx.stopping.cancel();
    let stop_began = tokio::time::Instant::now();
    let stopped = loops.stop(options.shutdown_timeout + STOP_MARGIN).await;
    // Only if the drain was cut off at the deadline: jobs stopped then are
    // still recording their payloads' return.
    runs.close();
    runs.wait().await;
    for queue in &queues {
        put_back_untouched(&ctx, queue).await;
    }
    if let Err(e) = store.retire(&queues, &me.0).await {
        tracing::warn!(error = %error_chain(&e), "cannot drop worker lease");
    }
    // Nothing sends any more: the last runs' pings and alerts get their
    // chance, within what is left of the exit budget.
    let left = (options.shutdown_timeout + EXIT_MARGIN).saturating_sub(stop_began.elapsed());
    tokio::join!(
        ctx.pinger.drain(left.min(crate::notify::ping::TIMEOUT)),
        ctx.notifier.stop(left.min(crate::notify::STOP_DEADLINE))
    );
    tracing::info!(worker = %me.0, "worker stopped");
    Ok(stopped?)
}

/// Puts back what this worker took but never started (a take that completed
/// as the worker was stopping), attempt unchanged.
async fn put_back_untouched(ctx: &Arc<Ctx>, queue: &QueueName) {
    let left = match ctx.store.in_progress(queue, &ctx.me.0).await {
        Ok(left) => left,
        Err(e) => {
            tracing::warn!(queue = %queue, error = %error_chain(&e), "cannot check for untouched payloads");
            return;
        }
    };
    if left.is_empty() {
        return;
    }
    let moves: Vec<_> = left.into_iter().map(|raw| (raw.clone(), Requeue::Pending, raw)).collect();
    match ctx.store.requeue(queue, &ctx.me.0, false, &moves).await {
        Ok(n) => {
            tracing::info!(queue = %queue, count = n.unwrap_or(0), "untouched payloads back on the pending list")
        }
        Err(e) => {
            tracing::warn!(queue = %queue, error = %error_chain(&e), "cannot put untouched payloads back")
        }
    }
}
