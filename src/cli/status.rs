//! `clock status`: the leading clock and standbys, each job's next and last
//! run, and queue depths, read from a live deployment.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::config::Config;
use crate::output;
use crate::output::cell;
use crate::store::{self, Store};
use crate::time::{SystemTime, TimeSource};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run(config: Arc<Config>, store: Store, args: StatusArgs) -> store::Result<ExitCode> {
    let status = crate::control::status(&config, &store, SystemTime.now()).await?;
    if args.json {
        println!("{status}");
    } else {
        print!("{}", render(&status));
    }
    Ok(ExitCode::SUCCESS)
}

/// The human form of the status JSON.
fn render(status: &serde_json::Value) -> String {
    let mut out = String::new();
    let standbys =
        status["clocks"].as_array().map_or(0, |c| c.iter().filter(|c| c["role"] == "standby").count());
    match status["leader"].as_object() {
        Some(l) => out.push_str(&format!(
            "leader: {} (host {}, pid {}) since {}, clock offset {} ms; standbys: {standbys}\n\n",
            cell(&l["id"]),
            cell(&l["host"]),
            cell(&l["pid"]),
            cell(&l["since"]),
            cell(&l["offset_ms"])
        )),
        None => out.push_str(&format!("leader: none (no clock is running); standbys: {standbys}\n\n")),
    }
    let rows: Vec<Vec<String>> = status["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|j| {
            let last = match j["last_run"].as_object() {
                Some(l) => format!("{} {}", cell(&l["outcome"]), cell(&l["finished_at"])),
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
                cell(&j["name"]),
                cell(&j["schedule"]),
                cell(&j["timezone"]),
                cell(&j["next_run_local"]),
                cell(&j["next_run"]),
                last,
                if state.is_empty() { "-".into() } else { state.join(", ") },
                output::description_cell(&j["description"]),
            ]
        })
        .collect();
    out.push_str(&output::table(
        &[
            "JOB",
            "SCHEDULE",
            "ZONE",
            "NEXT RUN (LOCAL)",
            "NEXT RUN (UTC)",
            "LAST RUN",
            "STATE",
            "DESCRIPTION",
        ],
        &rows,
    ));
    out.push('\n');
    let rows: Vec<Vec<String>> = status["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| ["name", "pending", "in_progress", "retry", "dead"].iter().map(|k| cell(&q[*k])).collect())
        .collect();
    out.push_str(&output::table(&["QUEUE", "PENDING", "IN PROGRESS", "RETRY", "DEAD"], &rows));
    out
}
