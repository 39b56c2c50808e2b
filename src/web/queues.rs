//! `/queues` and `/api/queues`: per queue, what Sidekiq's dashboard shows
//! of its queues: the first pending payloads, the scheduled retries with
//! their last error, the live workers with what each runs and since when,
//! and how many payloads were processed and failed each minute of the
//! last hour; for jobs of another tool's format, the tool's lists they
//! push to. The page renders the same JSON the API returns.

use axum::extract::State;
use axum::response::{Html, Json};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::AppState;
use super::failure::{Failure, Result};
use super::pages;
use crate::config::QueueName;
use crate::control::ToolQueue;
use crate::payload::Payload;
use crate::run::HistoryEntry;
use crate::store::{QueueView, WorkerView, per_minute};
use crate::text;

/// Pending payloads and retries listed per queue: the first page.
pub const QUEUE_PAGE: usize = 25;
/// The most characters of a payload that is not campanile's JSON, or of
/// a last error, shown.
const SHOWN_CHARS: usize = 200;

pub(super) async fn queues_page(State(state): State<AppState>) -> Result<Html<String>> {
    let view = view(&state).await?;
    let csrf = state.csrf_token().await?;
    Ok(Html(pages::queues(&view, &state.ctx(&csrf, None))))
}

pub(super) async fn api_queues(State(state): State<AppState>) -> Result<Json<Value>> {
    Ok(Json(view(&state).await.map_err(Failure::json)?))
}

/// Every queue of the config, each read in one look.
async fn view(state: &AppState) -> Result<Value> {
    let store = state.store()?;
    let now = state.now();
    let tools = crate::control::tool_queues(&state.0.config, store).await?;
    let mut queues = Vec::new();
    for queue in state.0.config.queues_all() {
        let look = store.queue_view(&queue, QUEUE_PAGE).await?;
        let mut q = queue_json(queue.as_str(), &look, now);
        q["tool_lists"] = tool_lists(&queue, &tools);
        queues.push(q);
    }
    Ok(json!({ "as_of": text::utc(now), "page": QUEUE_PAGE, "queues": queues }))
}

/// One queue's entry of the view, at `now` (the dashboard's clock; the
/// per-minute counters go by Redis's, as they were written).
pub fn queue_json(name: &str, look: &QueueView, now: DateTime<Utc>) -> Value {
    let minutes = per_minute(&look.minutes, look.now_ms);
    let workers: Vec<Value> = look.workers_seen.iter().filter_map(worker_json).collect();
    let busy: usize = workers.iter().map(|w| w["running"].as_array().map_or(0, Vec::len)).sum();
    json!({
        "name": name,
        "pending": look.pending,
        "pending_first": look.pending_first.iter().map(|raw| pending_json(raw, now)).collect::<Vec<_>>(),
        "retries": look.retries,
        "retries_first": look.retries_first.iter().map(|(raw, at)| retry_json(raw, *at, look)).collect::<Vec<_>>(),
        "workers_registered": look.workers,
        "workers": workers.len(),
        "busy": busy,
        "worker_list": workers,
        "processed_last_hour": minutes.iter().map(|m| m.processed).sum::<u64>(),
        "failed_last_hour": minutes.iter().map(|m| m.failed).sum::<u64>(),
        "minutes": minutes.iter().map(|m| json!({
            "at": ms_utc(m.start_ms),
            "processed": m.processed,
            "failed": m.failed,
        })).collect::<Vec<_>>(),
    })
}

/// The lists of other tools that jobs of `queue` push to, as `tool_queues`
/// of the status lists them: their payloads wait there for the tool's own
/// workers, never on the queue's pending list.
pub fn tool_lists(queue: &QueueName, tools: &[ToolQueue]) -> Value {
    tools.iter().filter(|t| t.queue == *queue).map(ToolQueue::to_json).collect()
}

/// A pending payload: campanile's, or another's shown as text, cut.
fn pending_json(raw: &[u8], now: DateTime<Utc>) -> Value {
    let Ok(p) = serde_json::from_slice::<Payload>(raw) else {
        return json!({ "raw": cut(&String::from_utf8_lossy(raw)) });
    };
    json!({
        "id": p.id,
        "job": p.job,
        "tick": text::utc(p.scheduled_at),
        "attempt": p.attempt,
        "enqueued_at": text::utc_millis(p.enqueued_at),
        "waiting_secs": (now - p.enqueued_at).num_seconds().max(0),
        "manual": p.manual,
    })
}

/// A scheduled retry with the error of the run it follows, found among
/// its job's newest runs.
fn retry_json(raw: &[u8], due_ms: i64, look: &QueueView) -> Value {
    let Ok(p) = serde_json::from_slice::<Payload>(raw) else {
        return json!({ "raw": cut(&String::from_utf8_lossy(raw)), "retry_at": ms_utc(due_ms) });
    };
    let runs = look.recent_runs.iter().find(|(job, _)| *job == p.job).map(|(_, runs)| runs.as_slice());
    let failed = runs
        .unwrap_or_default()
        .iter()
        .filter_map(|r| serde_json::from_slice::<HistoryEntry>(r).ok())
        .find(|r| r.id == p.id && r.attempt + 1 == p.attempt);
    json!({
        "id": p.id,
        "job": p.job,
        "tick": text::utc(p.scheduled_at),
        "attempt": p.attempt,
        "retry_at": ms_utc(due_ms),
        "last_error": failed.as_ref().map(last_error),
    })
}

/// `timed_out, exit 1: <the output's last line>`.
fn last_error(run: &HistoryEntry) -> String {
    let outcome = serde_json::to_value(run.outcome).ok();
    let mut out = outcome.as_ref().and_then(Value::as_str).unwrap_or("failed").to_owned();
    if let Some(code) = run.exit_code {
        out.push_str(&format!(", exit {code}"));
    } else if let Some(signal) = run.signal {
        out.push_str(&format!(", signal {signal}"));
    }
    if let Some(line) = run.output.lines().rev().find(|l| !l.trim().is_empty()) {
        out.push_str(": ");
        out.push_str(line.trim());
    }
    cut(&out)
}

/// A live worker (its lease alive) and its runs, oldest first; `None` for
/// one whose lease has lapsed (the reaper recovers its payloads).
fn worker_json(w: &WorkerView) -> Option<Value> {
    let lease = w.lease.as_deref()?;
    let about: Value = serde_json::from_str(lease).unwrap_or(Value::Null);
    // `host:pid:nonce`; a host name holds no colon.
    let mut parts = w.id.splitn(3, ':');
    let (host, pid) = (parts.next(), parts.next().and_then(|p| p.parse::<u32>().ok()));
    let mut running: Vec<(i64, &str, &str)> = w
        .busy
        .iter()
        .filter_map(|(id, v)| {
            let (since, job) = v.split_once('|')?;
            Some((since.parse().ok()?, job, id.as_str()))
        })
        .collect();
    running.sort();
    Some(json!({
        "id": w.id,
        "host": host,
        "pid": pid,
        "concurrency": about["concurrency"],
        "started_at": about["started_at"],
        "in_progress": w.in_progress,
        "running": running.iter().map(|(since, job, id)| json!({
            "job": job, "id": id, "since": ms_utc(*since),
        })).collect::<Vec<_>>(),
    }))
}

fn ms_utc(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(text::utc).unwrap_or_default()
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}
