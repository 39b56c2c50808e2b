//! Recording how a payload ended: finished (history, next take), retried
//! with backoff, dead-lettered or put back, with the notifications each
//! sends; every write retried until Redis takes it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ledger::Held;
use super::parse::parse;
use super::{BACKOFF, Ctx, Error, execute, retry};
use crate::config::{Config, Job, QueueName};
use crate::error_chain::error_chain;
use crate::metrics::{METRICS, labels};
use crate::notify::{self, Event};
use crate::payload::Payload;
use crate::run::{DeadLetter, HistoryEntry, Outcome};
use crate::store::{Finish, INFLIGHT_MARGIN, Requeue, Store};
use crate::text;

/// Records a run's end: success, a scheduled retry, a dead letter, or (when
/// interrupted by shutdown) the payload back on the pending list. Returns
/// the next payload if recording a success or dead letter took one.
pub(super) async fn conclude(
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
            &text::utc(payload.scheduled_at),
            payload.attempt,
            reason,
            run.exit_code,
            &text::utc(run.finished_at),
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
        let letter = dead_letter(ctx, queue, raw, reason, Some(&payload.job), payload.attempt, run.exit_code);
        DeadLetter { output: crate::run::output_tail(&run.output), ..letter }.to_json()
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
pub(super) struct Recorded {
    /// The job's newest history entry before this one.
    pub(super) previous: Option<Vec<u8>>,
    pub(super) next: Option<Held>,
}

/// Records a run's end with [`Store::finish`] (see [`record`]), taking the
/// next payload in the same step while this worker is taking payloads and
/// no other queue's fetcher waits for the permit. Only the first try takes:
/// a try whose reply was lost may have taken one already, which this
/// worker's ledger then finds stranded and gives back.
///
/// With `[redis] wait_replicas`, a finish the replicas did not acknowledge
/// is sent again until one is: a failover could otherwise take it back and
/// leave the payload in progress, where the stranded check would take it
/// for one that never ran and run it again. The caller holds the payload
/// (its [`Held`]) meanwhile, so that check never counts it as stranded; the
/// unacknowledged outcomes are thus bounded by the worker's concurrency.
pub(super) async fn finish(
    ctx: &Arc<Ctx>,
    queue: &QueueName,
    raw: &[u8],
    job: &str,
    id: &str,
    history: Option<String>,
    dead: Option<String>,
) -> Option<Recorded> {
    let another_queue_waits = ctx.several_queues && ctx.permits.contended();
    let mut take_next = !ctx.stopping.is_cancelled() && !another_queue_waits;
    let ticket = take_next.then(|| ctx.ledger.take());
    let send = |take: bool| {
        let (queue, me, raw, job, id) =
            (queue.clone(), ctx.me.0.clone(), raw.to_vec(), job.to_owned(), id.to_owned());
        let (history, dead) = (history.clone(), dead.clone());
        move |store: Store| async move {
            store.finish(&queue, &me, &raw, &job, &id, history.as_deref(), dead.as_deref(), take).await
        }
    };
    let finished = record(ctx, |store| send(std::mem::take(&mut take_next))(store)).await?;
    let Finish { previous, next, acknowledged, .. } = finished;
    let next = ticket.and_then(|ticket| ticket.replied(next));
    if !acknowledged {
        resend_finish(ctx, id, |store| send(false)(store)).await;
    }
    Some(Recorded { previous, next })
}

/// Sends an unacknowledged finish again until replicas of the primary the
/// sentinels name acknowledge it (the connection follows a switch within a
/// watch period, so a re-send lands on the new primary). A repeated finish
/// changes nothing where the first one landed.
async fn resend_finish<F, Fut>(ctx: &Arc<Ctx>, id: &str, mut send: F)
where
    F: FnMut(Store) -> Fut,
    Fut: std::future::Future<Output = crate::store::Result<Finish>>,
{
    tracing::warn!(worker = %ctx.me.0, id = %id, "a finish not acknowledged by replicas; sending it again until it is");
    let acknowledged = record(ctx, |store| {
        let sent = send(store);
        async move {
            match sent.await? {
                Finish { acknowledged: true, .. } => Ok(()),
                Finish { .. } => Err(crate::store::Error::Unacknowledged("a finish")),
            }
        }
    })
    .await;
    if acknowledged.is_some() {
        tracing::info!(worker = %ctx.me.0, id = %id, "finish acknowledged by replicas");
    }
}

/// A dead letter for a payload that could not be run at all.
pub(super) fn notify_unrunnable(ctx: &Ctx, queue: &QueueName, job: &str, id: &str, reason: &str) {
    // The name comes from the payload: only a configured one becomes a label.
    let configured = ctx.config.job(job).is_some();
    let label = if configured { job } else { crate::metrics::UNKNOWN_JOB };
    METRICS.runs_dead.get_or_create(&labels(&[("job", label)])).inc();
    let now = text::utc(ctx.time.now());
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

pub(super) fn dead_letter(
    ctx: &Ctx,
    queue: &QueueName,
    raw: &[u8],
    reason: String,
    job: Option<&str>,
    attempts: u32,
    exit_code: Option<i32>,
) -> DeadLetter {
    let kept = crate::run::kept_payload(raw, false);
    DeadLetter { job: job.map(str::to_owned), attempts, exit_code, ..letter(ctx, queue, kept, reason) }
}

/// A dead letter of a payload that never named a job, from what is kept of
/// it ([`crate::run::kept_payload`]).
pub(super) fn letter(
    ctx: &Ctx,
    queue: &QueueName,
    kept: (String, Option<String>, Option<u64>),
    reason: String,
) -> DeadLetter {
    new_letter(queue, kept, reason, None, 0, ctx.time.now(), ctx.me.0.clone())
}

/// A dead letter with its id, from what is kept of the payload.
fn new_letter(
    queue: &QueueName,
    kept: (String, Option<String>, Option<u64>),
    reason: String,
    job: Option<String>,
    attempts: u32,
    failed_at: DateTime<Utc>,
    worker: String,
) -> DeadLetter {
    let (payload, payload_base64, payload_bytes) = kept;
    let mut letter = DeadLetter {
        payload,
        payload_base64,
        payload_bytes,
        reason,
        queue: queue.to_string(),
        job,
        attempts,
        exit_code: None,
        failed_at,
        worker,
        output: None,
        id: None,
    };
    letter.id = Some(crate::run::new_dead_letter_id(&letter));
    letter
}

/// Retries a Redis write until it succeeds: a finished run's outcome is
/// recorded once Redis is back. Gives up only when the worker is being
/// stopped and Redis stays away; the payload then stays in this worker's
/// in-progress list and is recovered by another worker.
pub(super) async fn record<F, Fut, T>(ctx: &Arc<Ctx>, mut write: F) -> Option<T>
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
        let kept = crate::run::kept_payload(raw, too_large);
        let letter = new_letter(queue, kept, reason, job, attempts, now, worker.to_owned());
        (Requeue::Dead, letter.to_json().into_bytes())
    };
    if too_large {
        return dead(Error::TooLarge { size: raw.len() }.to_string(), None, 0);
    }
    let payload = match parse(raw) {
        Ok(payload) => payload,
        Err(e) => return dead(e.to_string(), None, 0),
    };
    let retries = config.job(&payload.job).map_or(0, |j| j.retries);
    if payload.attempt > retries {
        let reason = format!("worker {worker} was lost during attempt {}; no attempts left", payload.attempt);
        return dead(reason, Some(payload.job.clone()), payload.attempt);
    }
    (Requeue::Pending, Payload { attempt: payload.attempt + 1, ..payload }.to_json().into_bytes())
}
