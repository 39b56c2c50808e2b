//! Processing a taken payload: parse and validate it, find its job in this
//! worker's config, run the command; a payload that cannot run is
//! dead-lettered with the reason.

use std::sync::Arc;

use tracing::Instrument;

use tokio::sync::OwnedSemaphorePermit;

use super::execute::LongRunning;
use super::ledger::Held;
use super::outcome::{conclude, dead_letter, finish, letter, notify_unrunnable, record};
use super::parse::parse;
use super::{Ctx, Error, execute};
use crate::config::{Config, Job, QueueName};
use crate::error_chain::error_chain;
use crate::metrics::{METRICS, labels};
use crate::notify;
use crate::payload::Payload;
use crate::run::Outcome;
use crate::store::INFLIGHT_MARGIN;

/// Runs taken payloads one after another on one concurrency permit: the one
/// the fetcher took, then each one that the previous run's finish took.
pub(super) async fn process(ctx: Arc<Ctx>, queue: QueueName, held: Held, _permit: OwnedSemaphorePermit) {
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
    let reason = Error::TooLarge { size }.to_string();
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
        Err(e) => {
            let reason = e.to_string();
            tracing::error!(queue = %queue, reason = %reason, "payload dead-lettered");
            notify_unrunnable(ctx, queue, "-", "", &reason);
            let dead = dead_letter(ctx, queue, raw, reason, None, 0, None).to_json();
            return finish(ctx, queue, raw, "", "", None, Some(dead)).await.and_then(|f| f.next);
        }
    };
    let (job, script) = match runnable(&ctx.config, &payload.job) {
        Ok(found) => found,
        Err(e) => return dead_letter_unrunnable(ctx, queue, raw, &payload, e.to_string()).await,
    };
    // Every line of the run (its output, its outcome, retries and alerts)
    // carries the job, the payload's id and the attempt.
    let span = tracing::info_span!("run", job = %job.name, id = %payload.id, attempt = payload.attempt);
    run_job(ctx, queue, raw, job, script, &payload).instrument(span).await
}

/// Runs a payload's job and records how it went.
async fn run_job(
    ctx: &Arc<Ctx>,
    queue: &QueueName,
    raw: &[u8],
    job: &Job,
    script: &str,
    payload: &Payload,
) -> Option<Held> {
    tracing::info!(job = %job.name, id = %payload.id, attempt = payload.attempt, queue = %queue, "run started");
    METRICS.runs_started.get_or_create(&labels(&[("job", job.name.as_str())])).inc();
    // The start is recorded (the payload stops waiting, so it is not
    // reported late; the marker is extended) while the command starts, not
    // before: a run does not wait a round trip for it. One that lands after
    // the run's finish finds the marker gone (or another payload's) and
    // leaves it.
    let touch = async {
        let marker_ttl = job.timeout.as_duration() + INFLIGHT_MARGIN;
        if let Err(e) =
            ctx.store.start_run(queue, &ctx.me.0, job.name.as_str(), &payload.id, marker_ttl).await
        {
            tracing::warn!(job = %job.name, id = %payload.id, error = %error_chain(&e), "cannot record the run's start");
        }
    };
    let pings = ctx.pinger.run_started(job.name.as_str(), job.ping.as_ref());
    let long_running = long_running(ctx, queue, job, payload);
    let run = execute::execute(job, script, payload, &ctx.stop_runs, ctx.time.as_ref(), long_running);
    let ((), finished) = tokio::join!(touch, run);
    // A run interrupted by shutdown goes back on the pending list and runs
    // again: it neither succeeded nor failed.
    if finished.outcome != Outcome::Interrupted {
        pings.finished(finished.outcome == Outcome::Success);
    }
    let duration_ms = (finished.finished_at - finished.started_at).num_milliseconds();
    tracing::info!(
        job = %job.name, id = %payload.id, attempt = payload.attempt, outcome = finished.outcome.as_str(),
        exit_code = finished.exit_code, duration_ms, "run finished"
    );
    conclude(ctx, queue, job, payload, raw, finished).await
}

/// `long_running` for this run after the job's `warn_after`, if it has one.
fn long_running(ctx: &Arc<Ctx>, queue: &QueueName, job: &Job, payload: &Payload) -> Option<LongRunning> {
    let after = job.warn_after?.as_duration();
    let (notifier, time) = (ctx.notifier.clone(), ctx.time.clone());
    let (job, queue, payload) = (job.name.to_string(), queue.to_string(), payload.clone());
    let fire = move |elapsed: std::time::Duration| {
        tracing::warn!(job = %job, id = %payload.id, attempt = payload.attempt, elapsed_secs = elapsed.as_secs(), "run still going after warn_after");
        let tick = crate::text::utc(payload.scheduled_at);
        let at = crate::text::utc(time.now());
        notifier.send(notify::build::long_running(
            &job,
            &queue,
            &payload.id,
            &tick,
            payload.attempt,
            elapsed.as_secs(),
            &at,
        ));
    };
    Some(LongRunning { after, fire: Box::new(fire) })
}

/// The job a payload names and its command, or why this worker cannot run
/// it.
fn runnable<'a>(config: &'a Config, name: &str) -> Result<(&'a Job, &'a str), Error> {
    let job = config.job(name).ok_or_else(|| Error::UnknownJob { job: name.to_owned() })?;
    match &job.command {
        Some(script) => Ok((job, script)),
        None => Err(Error::ForeignFormat { job: name.to_owned(), format: job.format.kind().as_str() }),
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
    let dead = dead_letter(ctx, queue, raw, reason, Some(&payload.job), 0, None).to_json();
    finish(ctx, queue, raw, "", &payload.id, None, Some(dead)).await.and_then(|f| f.next)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    #[test]
    fn only_campanile_format_jobs_are_runnable() {
        let text = "[jobs.own]\nevery = \"1m\"\ncommand = \"bin/own\"\n\
                    [jobs.sk]\nevery = \"1m\"\nformat = \"sidekiq\"\nclass = \"A\"\n";
        let config = Config::parse(text, std::path::Path::new("t.toml"), DateTime::UNIX_EPOCH).unwrap();
        let (job, script) = runnable(&config, "own").unwrap();
        assert_eq!((job.name.as_str(), script), ("own", "bin/own"));
        assert_eq!(
            runnable(&config, "sk").unwrap_err().to_string(),
            r#"job "sk" has format "sidekiq": its own workers run it, not campanile's"#
        );
        assert_eq!(
            runnable(&config, "gone").unwrap_err().to_string(),
            r#"job "gone" is not defined in this worker's clock.toml"#
        );
    }
}
