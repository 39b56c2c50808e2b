//! Views and actions over a live deployment, shared by the `clock` commands
//! and the web dashboard so both say the same thing: what runs next, what
//! ran, what is dead; trigger, pause, resume, retry and delete.
//!
//! Views are JSON values because that is what both front ends show: the CLI
//! prints them with `--json` (a public contract) or as tables, the dashboard
//! renders them as HTML and serves them from its API.

mod dead_page;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::clock::ClockInfo;
use crate::config::{Config, Job, QueueName};
use crate::payload::Payload;
use crate::run::{DeadLetter, HistoryEntry, dead_letter_id};
use crate::store::{self, Store};
use crate::text;

pub use dead_page::{DeadPage, JOB_SCAN, dead_page};

/// A job's definition and next run, as `check --json` shows it.
///
/// A job of another format also has `format` and the Redis `list` it
/// pushes to.
pub fn job_json(job: &Job, now: DateTime<Utc>) -> Value {
    let mut out = json!({
        "name": job.name,
        "schedule": job.schedule.to_string(),
        "schedule_text": job.schedule.describe(),
        "description": job.description,
        "timezone": job.timezone.name(),
        "queue": job.queue,
        "enabled": job.enabled,
        "next_run": next_run(job, now).map(text::utc),
    });
    if !job.format.is_campanile() {
        // Other formats' keys carry no campanile prefix: any `Keys` builds them.
        let list = crate::store::Keys::default().destination(&job.queue, &job.format).list;
        out["format"] = json!(job.format.kind().as_str());
        out["list"] = json!(list);
    }
    out
}

/// The job's next tick after `now`, if it is enabled and has one.
pub fn next_run(job: &Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    job.enabled.then(|| job.schedule.next_after(now)).flatten()
}

/// The next `n` ticks after `now` (none for a disabled job).
pub fn upcoming(job: &Job, now: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    std::iter::successors(next_run(job, now), |t| job.schedule.next_after(*t)).take(n).collect()
}

/// The deployment at `now`: the leading clock (with its lease's age) and
/// standbys, every job of the config with its live state, every queue's
/// depths, and the current problems ([`crate::health`]). The shape is
/// `clock status --json` (docs/operations.md).
pub async fn status(config: &Config, store: &Store, now: DateTime<Utc>) -> store::Result<Value> {
    let health = crate::health::assess(config, store).await?;
    let leader = health.leader.as_ref().map(|l| l.id.clone());
    let mut clocks: Vec<ClockInfo> = crate::clock::registry::live_clocks(store).await?;
    clocks.sort_by(|a, b| a.id.cmp(&b.id));

    let queues = config.queues_all();
    let mut paused = std::collections::HashMap::new();
    let mut queue_list = Vec::new();
    for queue in &queues {
        paused.insert(queue.clone(), store.paused(queue).await?);
        let counts = store.queue_counts(queue).await?;
        queue_list.push(json!({
            "name": queue, "pending": counts.pending, "in_progress": counts.in_progress,
            "retry": counts.retry, "dead": counts.dead,
        }));
    }
    let refs: Vec<(&QueueName, &str)> = config.jobs.iter().map(|j| (&j.queue, j.name.as_str())).collect();
    let states = store.job_states(&refs, now.timestamp_millis()).await?;
    let jobs: Vec<Value> = config
        .jobs
        .iter()
        .zip(states)
        .map(|(job, (last, in_flight))| {
            let last: Option<HistoryEntry> = last.and_then(|raw| serde_json::from_str(&raw).ok());
            let paused_since = paused.get(&job.queue).and_then(|p| p.get(job.name.as_str())).cloned();
            let mut entry = job_json(job, now);
            let live = json!({
                "paused": paused_since.is_some(),
                "paused_since": paused_since,
                "in_flight": in_flight,
                "next_run_local": next_run(job, now).map(|t| text::local(t, job.timezone)),
                "last_run": last.map(|e| json!({
                    "id": e.id, "outcome": e.outcome, "finished_at": text::utc(e.finished_at),
                    "attempt": e.attempt, "exit_code": e.exit_code, "manual": e.manual,
                })),
            });
            if let (Some(entry), Value::Object(live)) = (entry.as_object_mut(), live) {
                entry.extend(live);
            }
            entry
        })
        .collect();

    let leader_info = health.leader.as_ref().map(|l| {
        let info = clocks.iter().find(|c| c.id == l.id);
        json!({
            "id": l.id,
            "age_secs": l.age_secs(),
            "host": info.map(|c| c.host.clone()),
            "pid": info.map(|c| c.pid),
            "since": info.and_then(|c| c.leading_since).map(text::utc),
            "offset_ms": info.map(|c| c.offset_ms),
        })
    });
    let clock_list: Vec<_> = clocks
        .iter()
        .map(|c| {
            let role = if leader.as_deref() == Some(c.id.as_str()) { "leader" } else { "standby" };
            json!({ "id": c.id, "host": c.host, "pid": c.pid, "role": role,
                    "started_at": text::utc(c.started_at), "seen_at": text::utc(c.seen_at),
                    "offset_ms": c.offset_ms })
        })
        .collect();
    Ok(json!({
        "leader": leader_info, "clocks": clock_list, "jobs": jobs, "queues": queue_list,
        "tool_queues": tool_queues(config, store).await?.iter().map(ToolQueue::to_json).collect::<Vec<_>>(),
        "problems": health.problems_json(),
    }))
}

/// A list a job of another format pushes to: another tool's own queue,
/// which campanile's workers do not take from.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolQueue {
    /// The campanile queue of the jobs that push to it.
    pub queue: QueueName,
    pub list: String,
    /// The format's name (`sidekiq`, `rq`, …).
    pub format: &'static str,
    /// Entries waiting on it: the other tool's own queue length (for RQ,
    /// the ids of its queued jobs; for kombu, the messages at priority 0).
    pub waiting: u64,
}

impl ToolQueue {
    /// As `tool_queues` of `clock status --json` lists it.
    pub fn to_json(&self) -> Value {
        json!({ "list": self.list, "format": self.format, "waiting": self.waiting })
    }
}

/// The lists the jobs of other formats push to, each once (one LLEN each).
pub async fn tool_queues(config: &Config, store: &Store) -> store::Result<Vec<ToolQueue>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for job in config.jobs.iter().filter(|j| !j.format.is_campanile()) {
        // Other formats' keys carry no campanile prefix: any `Keys` builds them.
        let list = crate::store::Keys::default().destination(&job.queue, &job.format).list;
        if seen.insert(list.clone()) {
            let waiting = store.list_len(&list).await?;
            out.push(ToolQueue {
                queue: job.queue.clone(),
                list,
                format: job.format.kind().as_str(),
                waiting,
            });
        }
    }
    Ok(out)
}

/// A job's newest `limit` runs, newest first; entries that do not parse are
/// left out.
pub async fn history(store: &Store, job: &Job, limit: usize) -> store::Result<Vec<HistoryEntry>> {
    if limit == 0 {
        // LRANGE 0 -1 would be every entry.
        return Ok(Vec::new());
    }
    Ok(store
        .history(&job.queue, job.name.as_str(), limit)
        .await?
        .iter()
        .filter_map(|raw| serde_json::from_str(raw).ok())
        .collect())
}

/// Enqueues a run of `job` now, outside its schedule, with `args` or the
/// job's own, in the job's enqueue format.
pub async fn trigger(
    store: &Store,
    job: &Job,
    args: Option<&Value>,
    now: DateTime<Utc>,
) -> store::Result<crate::formats::Pushed> {
    let pushed = crate::formats::for_manual(job, now, args.unwrap_or(&job.args));
    let deadline = job.start_deadline(now.timestamp_millis());
    let log = crate::tick_log::TickEntry {
        tick: now.timestamp(),
        outcome: crate::tick_log::TickOutcome::Manual,
        at: now.timestamp_millis(),
        count: None,
        id: Some(pushed.id.clone()),
    };
    let watch = deadline.map(|d| (pushed.id.as_str(), d));
    store.push(&job.queue, &job.format, job.name.as_str(), &pushed.json, watch, &log.to_json()).await?;
    Ok(pushed)
}

/// Pauses (or resumes) a job; `false` if it already was.
pub async fn set_paused(store: &Store, job: &Job, pause: bool, now: DateTime<Utc>) -> store::Result<bool> {
    if pause {
        store.pause(&job.queue, job.name.as_str(), &text::utc(now)).await
    } else {
        store.resume(&job.queue, job.name.as_str()).await
    }
}

/// One dead letter as stored, with its queue and id.
#[derive(Debug, Clone)]
pub struct Dead {
    pub queue: QueueName,
    /// The entry exactly as stored: what LREM needs to remove it.
    pub raw: String,
    pub letter: DeadLetter,
    /// What `clock dead` shows and `retry-dead` takes.
    pub id: String,
}

impl Dead {
    /// The letter's JSON with its id, as `clock dead --json` shows it.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(&self.letter).expect("dead letter serialises");
        v["id"] = json!(self.id);
        v
    }
}

/// Every dead letter of the queues, newest first within each queue.
pub async fn dead_letters(store: &Store, queues: &[QueueName]) -> store::Result<Vec<Dead>> {
    let mut out = Vec::new();
    for queue in queues {
        out.extend(parse_dead(queue, store.dead_letters(queue).await?));
    }
    Ok(out)
}

/// The letters of `queue` as stored, parsed; an entry that does not parse
/// is skipped.
fn parse_dead(queue: &QueueName, raws: Vec<String>) -> impl Iterator<Item = Dead> + '_ {
    raws.into_iter().filter_map(move |raw| {
        let letter = serde_json::from_str::<DeadLetter>(&raw).ok()?;
        let id = dead_letter_id(&letter);
        Some(Dead { queue: queue.clone(), raw, letter, id })
    })
}

/// Puts dead letters back on their queues, attempt reset to 1; returns how
/// many were still there to move.
pub async fn retry_dead(store: &Store, chosen: &[Dead]) -> store::Result<u64> {
    let mut moved = 0;
    for (queue, group) in by_queue(chosen) {
        let moves: Vec<(String, String)> =
            group.iter().map(|d| (d.raw.clone(), fresh_attempts(&d.letter.payload))).collect();
        moved += store.retry_dead(&queue, &moves).await?;
    }
    Ok(moved)
}

/// Deletes dead letters; returns how many were still there to delete.
pub async fn delete_dead(store: &Store, chosen: &[Dead]) -> store::Result<u64> {
    let mut deleted = 0;
    for (queue, group) in by_queue(chosen) {
        let raws: Vec<&str> = group.iter().map(|d| d.raw.as_str()).collect();
        deleted += store.delete_dead(&queue, &raws).await?;
    }
    Ok(deleted)
}

fn by_queue(letters: &[Dead]) -> Vec<(QueueName, Vec<&Dead>)> {
    let mut groups: Vec<(QueueName, Vec<&Dead>)> = Vec::new();
    for d in letters {
        match groups.iter_mut().find(|(q, _)| *q == d.queue) {
            Some((_, group)) => group.push(d),
            None => groups.push((d.queue.clone(), vec![d])),
        }
    }
    groups
}

/// A dead payload goes back with `attempt` reset to 1, so it gets the job's
/// full retries again; a payload that does not parse goes back as it was.
fn fresh_attempts(raw: &str) -> String {
    match serde_json::from_str::<Payload>(raw) {
        Ok(p) => Payload { attempt: 1, ..p }.to_json(),
        Err(_) => raw.to_owned(),
    }
}
