//! `clock status`: the leading clock and standbys, each job's next and last
//! run, and queue depths, read from a live deployment.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use crate::clock::{ClockInfo, STALE_AFTER};
use crate::config::Config;
use crate::output;
use crate::run::HistoryEntry;
use crate::store::{self, Store};
use crate::time::{SystemTime, TimeSource};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run(config: Arc<Config>, store: Store, args: StatusArgs) -> store::Result<ExitCode> {
    let now = SystemTime.now();
    let leader = store.leader().await?;
    let mut clocks: Vec<ClockInfo> = store
        .clocks()
        .await?
        .values()
        .filter_map(|json| serde_json::from_str::<ClockInfo>(json).ok())
        .filter(|c| (now - c.seen_at).to_std().map_or(true, |age| age <= STALE_AFTER))
        .collect();
    clocks.sort_by(|a, b| a.id.cmp(&b.id));

    let mut jobs = Vec::new();
    let mut paused_by_queue = std::collections::HashMap::new();
    for queue in config.queues_all() {
        paused_by_queue.insert(queue.clone(), store.paused(&queue).await?);
    }
    for job in &config.jobs {
        let last: Option<HistoryEntry> = store
            .history(&job.queue, job.name.as_str(), 1)
            .await?
            .first()
            .and_then(|raw| serde_json::from_str(raw).ok());
        let paused_since = paused_by_queue.get(&job.queue).and_then(|p| p.get(job.name.as_str())).cloned();
        let next = job.enabled.then(|| job.schedule.next_after(now)).flatten();
        let mut entry = super::check::job_json(job, now);
        let live = json!({
            "paused": paused_since.is_some(),
            "paused_since": paused_since,
            "in_flight": store.in_flight(&job.queue, job.name.as_str()).await?,
            "next_run_local": next.map(|t| output::local(t, job.timezone)),
            "last_run": last.map(|e| json!({
                "id": e.id, "outcome": e.outcome, "finished_at": output::utc(e.finished_at),
                "attempt": e.attempt, "exit_code": e.exit_code,
            })),
        });
        if let (Some(entry), serde_json::Value::Object(live)) = (entry.as_object_mut(), live) {
            entry.extend(live);
        }
        jobs.push(entry);
    }
    let mut queues = Vec::new();
    for queue in config.queues_all() {
        let counts = store.queue_counts(&queue).await?;
        queues.push(json!({
            "name": queue, "pending": counts.pending, "in_progress": counts.in_progress,
            "retry": counts.retry, "dead": counts.dead,
        }));
    }
    let leader_info = leader.as_ref().map(|id| {
        let info = clocks.iter().find(|c| &c.id == id);
        json!({
            "id": id,
            "host": info.map(|c| c.host.clone()),
            "pid": info.map(|c| c.pid),
            "since": info.and_then(|c| c.leading_since).map(output::utc),
            "offset_ms": info.map(|c| c.offset_ms),
        })
    });
    let clock_list: Vec<_> = clocks
        .iter()
        .map(|c| {
            let role = if leader.as_deref() == Some(c.id.as_str()) { "leader" } else { "standby" };
            json!({ "id": c.id, "host": c.host, "pid": c.pid, "role": role,
                    "started_at": output::utc(c.started_at), "seen_at": output::utc(c.seen_at),
                    "offset_ms": c.offset_ms })
        })
        .collect();
    let status = json!({ "leader": leader_info, "clocks": clock_list, "jobs": jobs, "queues": queues });
    if args.json {
        println!("{status}");
    } else {
        print!("{}", render(&status));
    }
    Ok(ExitCode::SUCCESS)
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The human form of the status JSON.
fn render(status: &serde_json::Value) -> String {
    let mut out = String::new();
    let standbys =
        status["clocks"].as_array().map_or(0, |c| c.iter().filter(|c| c["role"] == "standby").count());
    match status["leader"].as_object() {
        Some(l) => out.push_str(&format!(
            "leader: {} (host {}, pid {}) since {}, clock offset {} ms; standbys: {standbys}\n\n",
            text(&l["id"]),
            text(&l["host"]),
            text(&l["pid"]),
            text(&l["since"]),
            text(&l["offset_ms"])
        )),
        None => out.push_str(&format!("leader: none (no clock is running); standbys: {standbys}\n\n")),
    }
    let rows: Vec<Vec<String>> = status["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|j| {
            let last = match j["last_run"].as_object() {
                Some(l) => format!("{} {}", text(&l["outcome"]), text(&l["finished_at"])),
                None => "-".into(),
            };
            let mut state = Vec::new();
            if j["enabled"] == false {
                state.push("disabled");
            }
            if j["paused"] == true {
                state.push("paused");
            }
            if j["in_flight"] == true {
                state.push("in flight");
            }
            vec![
                text(&j["name"]),
                text(&j["schedule"]),
                text(&j["timezone"]),
                text(&j["next_run_local"]),
                text(&j["next_run"]),
                last,
                if state.is_empty() { "-".into() } else { state.join(", ") },
            ]
        })
        .collect();
    out.push_str(&output::table(
        &["JOB", "SCHEDULE", "ZONE", "NEXT RUN (LOCAL)", "NEXT RUN (UTC)", "LAST RUN", "STATE"],
        &rows,
    ));
    out.push('\n');
    let rows: Vec<Vec<String>> = status["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| ["name", "pending", "in_progress", "retry", "dead"].iter().map(|k| text(&q[*k])).collect())
        .collect();
    out.push_str(&output::table(&["QUEUE", "PENDING", "IN PROGRESS", "RETRY", "DEAD"], &rows));
    out
}
