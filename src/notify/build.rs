//! Builds notifications with their chat text.

use super::{Event, Notification};

#[allow(clippy::too_many_arguments)]
pub fn run(
    event: Event,
    job: &str,
    queue: &str,
    id: &str,
    scheduled_at: &str,
    attempt: u32,
    reason: Option<String>,
    exit_code: Option<i32>,
    at: &str,
    will_retry: bool,
) -> Notification {
    let why = reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    let text = match event {
        Event::Failed if will_retry => {
            format!(":warning: campanile: `{job}` failed{why}, attempt {attempt}; will retry")
        }
        Event::Failed => format!(":x: campanile: `{job}` failed{why}, attempt {attempt}"),
        Event::Dead => {
            format!(":skull: campanile: `{job}` dead-lettered{why} after {attempt} attempt(s)")
        }
        Event::Recovered => {
            format!(":white_check_mark: campanile: `{job}` succeeded again (attempt {attempt})")
        }
        _ => format!("campanile: `{job}` {}{why}", event.name()),
    };
    Notification {
        event,
        job: job.to_owned(),
        queue: queue.to_owned(),
        id: Some(id.to_owned()),
        scheduled_at: Some(scheduled_at.to_owned()),
        attempt: Some(attempt),
        reason,
        exit_code,
        count: None,
        elapsed_secs: None,
        depth: None,
        workers: None,
        at: at.to_owned(),
        text,
        job_configured: true,
    }
}

pub fn tick(
    event: Event,
    job: &str,
    queue: &str,
    tick: &str,
    count: u64,
    reason: &str,
    at: &str,
) -> Notification {
    let text = match event {
        Event::Missed => {
            format!(":hourglass: campanile: `{job}` missed {count} tick(s), newest {tick} ({reason})")
        }
        _ => format!(":fast_forward: campanile: `{job}` skipped the tick at {tick} ({reason})"),
    };
    Notification {
        event,
        job: job.to_owned(),
        queue: queue.to_owned(),
        id: None,
        scheduled_at: Some(tick.to_owned()),
        attempt: None,
        reason: Some(reason.to_owned()),
        exit_code: None,
        count: Some(count),
        elapsed_secs: None,
        depth: None,
        workers: None,
        at: at.to_owned(),
        text,
        job_configured: true,
    }
}

/// `late`: the payload `id` of `job`'s tick at `tick` had not started
/// `waited` seconds after it, with `depth` payloads pending and
/// `workers` live workers on its queue.
#[allow(clippy::too_many_arguments)]
pub fn late(
    job: &str,
    queue: &str,
    id: &str,
    tick: &str,
    waited: u64,
    depth: u64,
    workers: u64,
    at: &str,
) -> Notification {
    let text = format!(
        ":alarm_clock: campanile: `{job}` has not started: its tick at {tick} has waited {} \
         ({depth} pending on `{queue}`, {workers} live worker(s))",
        crate::duration::Span::from_secs(waited)
    );
    Notification {
        event: Event::Late,
        id: Some(id.to_owned()),
        scheduled_at: Some(tick.to_owned()),
        elapsed_secs: Some(waited),
        depth: Some(depth),
        workers: Some(workers),
        ..blank(Event::Late, job, queue, at, text)
    }
}

/// `long_running`: run `id` (attempt `attempt`) of `job` has run for
/// `elapsed` seconds.
#[allow(clippy::too_many_arguments)]
pub fn long_running(
    job: &str,
    queue: &str,
    id: &str,
    tick: &str,
    attempt: u32,
    elapsed: u64,
    at: &str,
) -> Notification {
    let text = format!(
        ":turtle: campanile: `{job}` is still running after {} (attempt {attempt})",
        crate::duration::Span::from_secs(elapsed)
    );
    Notification {
        id: Some(id.to_owned()),
        scheduled_at: Some(tick.to_owned()),
        attempt: Some(attempt),
        elapsed_secs: Some(elapsed),
        ..blank(Event::LongRunning, job, queue, at, text)
    }
}

/// `unserved` or `served`: `queue` has had no live worker for
/// `elapsed` seconds (`unserved`), or has `workers` again after that
/// long (`served`).
pub fn queue(event: Event, queue: &str, elapsed: u64, depth: u64, workers: u64, at: &str) -> Notification {
    let gap = crate::duration::Span::from_secs(elapsed);
    let text = match event {
        Event::Served => format!(
            ":white_check_mark: campanile: queue `{queue}` has {workers} live worker(s) again after {gap}"
        ),
        _ => format!(
            ":rotating_light: campanile: queue `{queue}` has had no live worker for {gap}; \
             {depth} payload(s) waiting"
        ),
    };
    Notification {
        elapsed_secs: Some(elapsed),
        depth: Some(depth),
        workers: Some(workers),
        ..blank(event, super::ANY_JOB, queue, at, text)
    }
}

/// `no_leader` or `leader_back`: no clock has held the lease for
/// `elapsed` seconds, or one holds it again after that long.
pub fn leader(event: Event, elapsed: u64, at: &str) -> Notification {
    let gap = crate::duration::Span::from_secs(elapsed);
    let text = match event {
        Event::LeaderBack => {
            format!(":white_check_mark: campanile: a clock leads again after {gap} without one")
        }
        _ => format!(":rotating_light: campanile: no clock has led for {gap}; no ticks are being pushed"),
    };
    Notification { elapsed_secs: Some(elapsed), ..blank(event, super::ANY_JOB, "", at, text) }
}

/// A notification with only its event, job, queue, time and text set.
fn blank(event: Event, job: &str, queue: &str, at: &str, text: String) -> Notification {
    Notification {
        event,
        job: job.to_owned(),
        queue: queue.to_owned(),
        id: None,
        scheduled_at: None,
        attempt: None,
        reason: None,
        exit_code: None,
        count: None,
        elapsed_secs: None,
        depth: None,
        workers: None,
        at: at.to_owned(),
        text,
        job_configured: true,
    }
}
