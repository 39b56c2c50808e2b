//! The worker: takes payloads off its queues and runs their jobs, losing
//! nothing and running nothing it was not configured to run.
//!
//! - **Take** ([`crate::store::Taker::take`]): `BLMOVE` from the pending list
//!   into this worker's in-progress list, so a payload is always in Redis;
//!   only with a free slot, shared fairly between queues (`fetch.rs`). A busy
//!   worker's finish takes the next payload in the same step.
//! - **Run** ([`execute`]): the job's command from *this worker's* config.
//!   A payload naming an unknown job, or not parsing, is never run: it goes
//!   to the dead letters with the reason.
//! - **Finish**: history entry, in-flight marker cleared, payload off the
//!   in-progress list, atomically; a failure is retried with backoff
//!   ([`retry`]) until the job's `retries` are used up, then dead-lettered.
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
//! | `heartbeat` | `heartbeat.rs` | renews this worker's lease on each queue every 5 s | restarted |
//! | `depths` | `heartbeat.rs` | refreshes the queue-depth gauges (with metrics only) | restarted |
//! | `reaper` | `reaper.rs` | puts back the payloads of workers whose lease lapsed | restarted |
//! | `retries` | `retry.rs` | moves due retries back onto the pending list | restarted |
//! | `drain` | `drain.rs` | on stop, lets running jobs finish within the grace period, then stops them | stops the worker (it holds no state to restart from) |
//! | `stranded` | `reaper.rs` | gives back this worker's payloads taken without its knowing | restarted (it looks afresh) |
//! | `fetch` | `fetch.rs` | one per queue: takes payloads while a slot is free | restarted (it reconnects) |
//!
//! A loop restarts after a backoff (100 ms doubling to 5 s); one that fails
//! [`supervisor::RESTART_LIMIT`] times within a minute stops the worker
//! (drained like a SIGTERM), which then exits 1. Runs of jobs are not
//! loops: a [`TaskTracker`] owns them and `drain` waits for it. The loops
//! stop in the reverse order of the table: the fetchers first, so nothing
//! new is taken; then the drain; the heartbeat last, so the leases of
//! running jobs stay alive until they are over. All of it within the grace
//! period plus [`STOP_MARGIN`]; then what the worker took but never started
//! goes back on the pending list and its leases are dropped.

mod drain;
pub mod execute;
mod fetch;
mod heartbeat;
mod ledger;
pub mod reaper;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::Backoff;
use crate::config::{Config, Job, QueueName};
use crate::error_chain::error_chain;
use crate::metrics::{METRICS, labels};
use crate::notify::{self, Event, Notifier};
use crate::output;
use crate::payload::Payload;
use crate::run::{DeadLetter, HistoryEntry, Outcome};
use crate::shutdown::Shutdown;
use crate::store::INFLIGHT_MARGIN;
use crate::store::{Finish, Requeue, Store};
use crate::supervisor::{self, Policy, Supervisor};
use crate::time::TimeSource;
use ledger::Held;

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
    /// Cancelled when the worker stops taking payloads (told to stop, or a
    /// loop failed for good): a run's finish then takes no next payload.
    stopping: CancellationToken,
    /// The concurrency slots every queue's fetcher shares.
    slots: fetch::Slots,
    /// Whether this worker serves more than one queue.
    several_queues: bool,
    /// What this worker holds of its in-progress lists.
    ledger: Arc<ledger::Ledger>,
}

/// Runs until `shutdown`, then drains as documented and returns; returns
/// the failure if it stopped because a loop kept failing.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    time: Arc<dyn TimeSource>,
    options: Options,
    shutdown: Shutdown,
) -> Result<(), supervisor::Failure> {
    let me = WorkerId(crate::identity::process_id());
    tracing::info!(worker = %me.0, queues = ?options.queues.iter().map(|q| q.as_str()).collect::<Vec<_>>(), concurrency = options.concurrency, "worker starting");
    let mut backoff = BACKOFF;
    while let Err(e) = store.heartbeat(&options.queues, &me.0, LEASE_TTL).await {
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
        stopping: CancellationToken::new(),
        slots: fetch::Slots::new(options.concurrency),
        several_queues: options.queues.len() > 1,
        ledger: Arc::default(),
    });
    let queues = options.queues.clone();
    let runs = TaskTracker::new();
    // Stopped in reverse order: the fetchers first, so nothing new is
    // taken; then the running jobs drain; the heartbeat last, so their
    // leases stay alive until they are over.
    let mut loops = Supervisor::new();
    loops.spawn("heartbeat", Policy::Restart, {
        let (store, queues, me) = (store.clone(), queues.clone(), me.clone());
        move |stop| heartbeat::run(store.clone(), queues.clone(), me.clone(), stop)
    });
    if options.queue_depths {
        loops.spawn("depths", Policy::Restart, {
            let (store, queues) = (store.clone(), queues.clone());
            move |stop| heartbeat::depths(store.clone(), queues.clone(), stop)
        });
    }
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
    tracing::info!(worker = %me.0, "worker stopped");
    stopped
}

/// Runs taken payloads one after another on one concurrency slot: the one
/// the fetcher took, then each one that the previous run's finish took.
async fn process(ctx: Arc<Ctx>, queue: QueueName, held: Held, _slot: OwnedSemaphorePermit) {
    let mut next = Some(held);
    while let Some(held) = next {
        // Taken as the worker was told to stop: it stays in the in-progress
        // list and goes back to pending, unrun, before the worker exits.
        if ctx.stopping.is_cancelled() {
            return;
        }
        if held.raw().len() > ctx.config.worker.max_payload_bytes {
            drop_too_large(&ctx, &queue, held).await;
            return;
        }
        next = process_one(&ctx, &queue, held.raw()).await;
    }
}

/// Dead-letters a payload over `[worker] max_payload_bytes` unparsed,
/// keeping its start and size, and lets go of it at once.
async fn drop_too_large(ctx: &Arc<Ctx>, queue: &QueueName, held: Held) {
    let size = held.raw().len();
    let reason = format!("payload too large: {size} bytes");
    tracing::error!(queue = %queue, reason = %reason, "payload dead-lettered");
    notify_unrunnable(ctx, queue, "-", "", &reason);
    let start = &held.raw()[..size.min(crate::run::DEAD_PAYLOAD_KEPT)];
    let dead = letter(ctx, queue, crate::run::kept_payload(held.raw(), true), reason).to_json();
    record(ctx, |store| {
        let (queue, me, start, dead) = (queue.clone(), ctx.me.0.clone(), start.to_vec(), dead.clone());
        async move { store.drop_taken(&queue, &me, size, &start, &dead).await }
    })
    .await;
    drop(held);
    crate::memory::release_freed_heap();
}

/// Runs one taken payload and records how it went; returns the next
/// payload, if recording it took one.
async fn process_one(ctx: &Arc<Ctx>, queue: &QueueName, raw: &[u8]) -> Option<Held> {
    let payload = match parse(raw) {
        Ok(payload) => payload,
        Err(reason) => {
            tracing::error!(queue = %queue, reason = %reason, "payload dead-lettered");
            notify_unrunnable(ctx, queue, "-", "", &reason);
            let dead = dead_letter(ctx, queue, raw, reason, None, 0, None);
            return finish(ctx, queue, raw, "", "", None, Some(dead)).await.and_then(|f| f.next);
        }
    };
    let (job, script) = match runnable(&ctx.config, &payload.job) {
        Ok(found) => found,
        Err(reason) => return dead_letter_unrunnable(ctx, queue, raw, &payload, reason).await,
    };
    tracing::info!(job = %job.name, id = %payload.id, attempt = payload.attempt, queue = %queue, "run started");
    METRICS.runs_started.get_or_create(&labels(&[("job", job.name.as_str())])).inc();
    // The marker is extended while the command starts, not before: a run
    // does not wait a round trip for it. A touch that lands after the run's
    // finish finds the marker gone (or another payload's) and does nothing.
    let touch = async {
        let marker_ttl = job.timeout.as_duration() + INFLIGHT_MARGIN;
        if let Err(e) = ctx.store.touch_inflight(queue, job.name.as_str(), &payload.id, marker_ttl).await {
            tracing::warn!(job = %job.name, id = %payload.id, error = %error_chain(&e), "cannot extend in-flight marker");
        }
    };
    let run = execute::execute(job, script, &payload, &ctx.stop_runs, ctx.time.as_ref());
    let ((), finished) = tokio::join!(touch, run);
    let duration_ms = (finished.finished_at - finished.started_at).num_milliseconds();
    tracing::info!(
        job = %job.name, id = %payload.id, attempt = payload.attempt, outcome = finished.outcome.as_str(),
        exit_code = finished.exit_code, duration_ms, "run finished"
    );
    conclude(ctx, queue, job, &payload, raw, finished).await
}

/// The payload in `raw`, or why it is malformed (the reason a dead letter
/// gives).
fn parse(raw: &[u8]) -> Result<Payload, String> {
    let text = std::str::from_utf8(raw)
        .map_err(|e| format!("malformed payload: not UTF-8 (invalid byte at offset {})", e.valid_up_to()))?;
    let payload = serde_json::from_str::<Payload>(text).map_err(|e| format!("malformed payload: {e}"))?;
    // Each reaches the command's environment, which cannot hold a nul.
    for (field, value) in [("id", &payload.id), ("job", &payload.job), ("queue", &payload.queue)] {
        if value.contains('\0') {
            return Err(format!("malformed payload: nul byte in {field}"));
        }
    }
    if !(1..=MAX_ATTEMPT).contains(&payload.attempt) {
        return Err(format!(
            "malformed payload: attempt {} is not between 1 and {MAX_ATTEMPT}",
            payload.attempt
        ));
    }
    Ok(payload)
}

/// The job a payload names and its command, or why this worker cannot run
/// it.
fn runnable<'a>(config: &'a Config, name: &str) -> Result<(&'a Job, &'a str), String> {
    let job =
        config.job(name).ok_or_else(|| format!("job {name:?} is not defined in this worker's clock.toml"))?;
    match &job.command {
        Some(script) => Ok((job, script)),
        None => Err(format!(
            "job {name:?} has format {:?}: its own workers run it, not campanile's",
            job.format.kind().as_str()
        )),
    }
}

async fn dead_letter_unrunnable(
    ctx: &Arc<Ctx>,
    queue: &QueueName,
    raw: &[u8],
    payload: &Payload,
    reason: String,
) -> Option<Held> {
    tracing::error!(queue = %queue, job = %payload.job, id = %payload.id, reason = %reason, "payload dead-lettered");
    notify_unrunnable(ctx, queue, &payload.job, &payload.id, &reason);
    let dead = dead_letter(ctx, queue, raw, reason, Some(&payload.job), 0, None);
    finish(ctx, queue, raw, "", &payload.id, None, Some(dead)).await.and_then(|f| f.next)
}

/// Records a run's end: success, a scheduled retry, a dead letter, or (when
/// interrupted by shutdown) the payload back on the pending list. Returns
/// the next payload if recording a success or dead letter took one.
async fn conclude(
    ctx: &Arc<Ctx>,
    queue: &QueueName,
    job: &Job,
    payload: &Payload,
    raw: &[u8],
    run: execute::Finished,
) -> Option<Held> {
    let me = ctx.me.0.clone();
    if run.outcome == Outcome::Interrupted {
        record(ctx, |store| {
            let (queue, me, raw) = (queue.clone(), me.clone(), raw.to_vec());
            async move {
                store.requeue(&queue, &me, false, &[(raw.clone(), Requeue::Pending, raw)]).await.map(|_| true)
            }
        })
        .await;
        tracing::info!(job = %job.name, id = %payload.id, "interrupted by shutdown; back on the pending list");
        return None;
    }
    let outcome = serde_json::to_value(run.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    METRICS.runs_finished.get_or_create(&labels(&[("job", job.name.as_str()), ("outcome", &outcome)])).inc();
    let secs = (run.finished_at - run.started_at).num_milliseconds().max(0) as f64 / 1000.0;
    METRICS.run_duration.get_or_create(&labels(&[("job", job.name.as_str())])).observe(secs);
    let will_retry = run.outcome != Outcome::Success && payload.attempt <= job.retries;
    let entry = HistoryEntry {
        id: payload.id.clone(),
        job: payload.job.clone(),
        queue: queue.to_string(),
        scheduled_at: payload.scheduled_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
        duration_ms: (run.finished_at - run.started_at).num_milliseconds(),
        attempt: payload.attempt,
        outcome: run.outcome,
        exit_code: run.exit_code,
        signal: run.signal,
        output: run.output.clone(),
        worker: me.clone(),
        retry: will_retry,
        manual: payload.manual,
    }
    .to_json();
    let (job_name, id) = (job.name.to_string(), payload.id.clone());
    let event = |event: Event, reason: Option<String>| {
        notify::build::run(
            event,
            job.name.as_str(),
            queue.as_str(),
            &payload.id,
            &output::utc(payload.scheduled_at),
            payload.attempt,
            reason,
            run.exit_code,
            &output::utc(run.finished_at),
            will_retry,
        )
    };
    if run.outcome != Outcome::Success {
        ctx.notifier.send(event(Event::Failed, Some(failure_reason(job, &run))));
    }
    if will_retry {
        let delay = retry::backoff(job, &payload.id, payload.attempt);
        let next = Payload { attempt: payload.attempt + 1, ..payload.clone() }.to_json();
        let due_ms = run.finished_at.timestamp_millis() + delay.as_millis() as i64;
        let marker_ttl = delay + job.timeout.as_duration() + INFLIGHT_MARGIN;
        tracing::warn!(job = %job.name, id = %payload.id, attempt = payload.attempt, retry_in_ms = delay.as_millis() as u64, "run failed; will retry");
        record(ctx, |store| {
            let (queue, me, raw, job_name, id, next, entry) = (
                queue.clone(),
                me.clone(),
                raw.to_vec(),
                job_name.clone(),
                id.clone(),
                next.clone(),
                entry.clone(),
            );
            async move {
                store
                    .schedule_retry(&queue, &me, &raw, &job_name, &id, &next, due_ms, &entry, marker_ttl)
                    .await
            }
        })
        .await;
        return None;
    }
    let dead = (run.outcome != Outcome::Success).then(|| {
        let reason = failure_reason(job, &run);
        tracing::error!(job = %job.name, id = %payload.id, attempt = payload.attempt, reason = %reason, "run failed; no attempts left, dead-lettered");
        ctx.notifier.send(event(Event::Dead, Some(reason.clone())));
        METRICS.runs_dead.get_or_create(&labels(&[("job", job.name.as_str())])).inc();
        dead_letter(ctx, queue, raw, reason, Some(&payload.job), payload.attempt, run.exit_code)
    });
    let finished = finish(ctx, queue, raw, &job_name, &id, Some(entry), dead).await;
    // Recovered: this run succeeded and the job's previous recorded run had not.
    let previous_failed = finished
        .as_ref()
        .and_then(|f| f.previous.as_deref())
        .and_then(|p| serde_json::from_slice::<HistoryEntry>(p).ok())
        .is_some_and(|p| p.outcome != Outcome::Success);
    if run.outcome == Outcome::Success && previous_failed {
        ctx.notifier.send(event(Event::Recovered, None));
    }
    finished.and_then(|f| f.next)
}

/// What recording a finish found, and the payload it took.
struct Recorded {
    /// The job's newest history entry before this one.
    previous: Option<Vec<u8>>,
    next: Option<Held>,
}

/// Records a run's end with [`Store::finish`] (see [`record`]), taking the
/// next payload in the same step while this worker is taking payloads and
/// no other queue's fetcher waits for the slot. Only the first try takes:
/// a try whose reply was lost may have taken one already, which this
/// worker's ledger then finds stranded and gives back.
async fn finish(
    ctx: &Arc<Ctx>,
    queue: &QueueName,
    raw: &[u8],
    job: &str,
    id: &str,
    history: Option<String>,
    dead: Option<String>,
) -> Option<Recorded> {
    let another_queue_waits = ctx.several_queues && ctx.slots.contended();
    let mut take_next = !ctx.stopping.is_cancelled() && !another_queue_waits;
    let ticket = take_next.then(|| ctx.ledger.take());
    let finished =
        record(ctx, |store| {
            let (queue, me, raw, job, id) =
                (queue.clone(), ctx.me.0.clone(), raw.to_vec(), job.to_owned(), id.to_owned());
            let (history, dead, take) = (history.clone(), dead.clone(), std::mem::take(&mut take_next));
            async move {
                store.finish(&queue, &me, &raw, &job, &id, history.as_deref(), dead.as_deref(), take).await
            }
        })
        .await?;
    let Finish { previous, next, .. } = finished;
    let next = ticket.and_then(|ticket| ticket.replied(next));
    Some(Recorded { previous, next })
}

/// A dead letter for a payload that could not be run at all.
fn notify_unrunnable(ctx: &Ctx, queue: &QueueName, job: &str, id: &str, reason: &str) {
    // The name comes from the payload: only a configured one becomes a label.
    let configured = ctx.config.job(job).is_some();
    let label = if configured { job } else { crate::metrics::UNKNOWN_JOB };
    METRICS.runs_dead.get_or_create(&labels(&[("job", label)])).inc();
    let now = output::utc(ctx.time.now());
    let mut n = notify::build::run(
        Event::Dead,
        job,
        queue.as_str(),
        id,
        "",
        0,
        Some(reason.to_owned()),
        None,
        &now,
        false,
    );
    n.scheduled_at = None;
    n.attempt = None;
    n.job_configured = configured;
    ctx.notifier.send(n);
}

fn failure_reason(job: &Job, run: &execute::Finished) -> String {
    if let Some(e) = &run.start_error {
        return format!("cannot start the command: {e}");
    }
    match (run.outcome, run.exit_code, run.signal) {
        (Outcome::TimedOut, ..) => format!("timed out after {}", job.timeout),
        (_, Some(code), _) => format!("exit status {code}"),
        (_, None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "failed to run".into(),
    }
}

fn dead_letter(
    ctx: &Ctx,
    queue: &QueueName,
    raw: &[u8],
    reason: String,
    job: Option<&str>,
    attempts: u32,
    exit_code: Option<i32>,
) -> String {
    let kept = crate::run::kept_payload(raw, false);
    DeadLetter { job: job.map(str::to_owned), attempts, exit_code, ..letter(ctx, queue, kept, reason) }
        .to_json()
}

/// A dead letter of a payload that never named a job, from what is kept of
/// it ([`crate::run::kept_payload`]).
fn letter(
    ctx: &Ctx,
    queue: &QueueName,
    kept: (String, Option<String>, Option<u64>),
    reason: String,
) -> DeadLetter {
    let (payload, payload_base64, payload_bytes) = kept;
    let mut letter = DeadLetter {
        payload,
        payload_base64,
        payload_bytes,
        reason,
        queue: queue.to_string(),
        job: None,
        attempts: 0,
        exit_code: None,
        failed_at: ctx.time.now(),
        worker: ctx.me.0.clone(),
        id: None,
    };
    letter.id = Some(crate::run::new_dead_letter_id(&letter));
    letter
}

/// Retries a Redis write until it succeeds: a finished run's outcome is
/// recorded once Redis is back. Gives up only when the worker is being
/// stopped and Redis stays away; the payload then stays in this worker's
/// in-progress list and is recovered by another worker.
async fn record<F, Fut, T>(ctx: &Arc<Ctx>, mut write: F) -> Option<T>
where
    F: FnMut(Store) -> Fut,
    Fut: std::future::Future<Output = crate::store::Result<T>>,
{
    let mut backoff = BACKOFF;
    let mut attempts = 0;
    loop {
        match write(ctx.store.clone()).await {
            Ok(value) => return Some(value),
            Err(e) if ctx.stop_runs.is_cancelled() && attempts >= 3 => {
                tracing::error!(worker = %ctx.me.0, error = %error_chain(&e), "cannot record outcome; leaving it to recovery");
                return None;
            }
            Err(e) => {
                tracing::warn!(worker = %ctx.me.0, error = %error_chain(&e), "cannot record outcome; retrying")
            }
        }
        attempts += 1;
        tokio::time::sleep(backoff.next_delay()).await;
    }
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

/// What becomes of a payload whose worker died mid-run: back on the pending
/// list with `attempt` incremented, or a dead letter once the job has no
/// attempts left (or the payload is unreadable).
pub(crate) fn lost_run_replacement(
    config: &Config,
    queue: &QueueName,
    raw: &[u8],
    worker: &str,
    now: DateTime<Utc>,
) -> (Requeue, Vec<u8>) {
    let too_large = raw.len() > config.worker.max_payload_bytes;
    let dead = |reason: String, job: Option<String>, attempts: u32| {
        let (payload, payload_base64, payload_bytes) = crate::run::kept_payload(raw, too_large);
        let mut letter = DeadLetter {
            payload,
            payload_base64,
            payload_bytes,
            reason,
            queue: queue.to_string(),
            job,
            attempts,
            exit_code: None,
            failed_at: now,
            worker: worker.to_owned(),
            id: None,
        };
        letter.id = Some(crate::run::new_dead_letter_id(&letter));
        (Requeue::Dead, letter.to_json().into_bytes())
    };
    if too_large {
        return dead(format!("payload too large: {} bytes", raw.len()), None, 0);
    }
    let payload = match parse(raw) {
        Ok(payload) => payload,
        Err(reason) => return dead(reason, None, 0),
    };
    let retries = config.job(&payload.job).map_or(0, |j| j.retries);
    if payload.attempt > retries {
        let reason = format!("worker {worker} was lost during attempt {}; no attempts left", payload.attempt);
        return dead(reason, Some(payload.job.clone()), payload.attempt);
    }
    (Requeue::Pending, Payload { attempt: payload.attempt + 1, ..payload }.to_json().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_campanile_format_jobs_are_runnable() {
        let text = "[jobs.own]\nevery = \"1m\"\ncommand = \"bin/own\"\n\
                    [jobs.sk]\nevery = \"1m\"\nformat = \"sidekiq\"\nclass = \"A\"\n";
        let config = Config::parse(text, std::path::Path::new("t.toml"), DateTime::UNIX_EPOCH).unwrap();
        let (job, script) = runnable(&config, "own").unwrap();
        assert_eq!((job.name.as_str(), script), ("own", "bin/own"));
        assert_eq!(
            runnable(&config, "sk").unwrap_err(),
            r#"job "sk" has format "sidekiq": its own workers run it, not campanile's"#
        );
        assert_eq!(
            runnable(&config, "gone").unwrap_err(),
            r#"job "gone" is not defined in this worker's clock.toml"#
        );
    }
}
