//! `clock status`: the leading clock and standbys, the deployment's
//! problems, each job's next and last run, and queue depths, read from a
//! live deployment; `--check` only judges its health, for uptime checks
//! and CI.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::EXIT_FAILURE;
use crate::config::Config;
use crate::health::{self, Problem};
use crate::store::{self, Store};
use crate::text;
use crate::text::cell;
use crate::time::{SystemTime, TimeSource};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print only the problems, one a line (`ok` when there are none), and
    /// exit 1 if there are any, including a Redis that cannot be reached.
    #[arg(long, conflicts_with = "json")]
    pub check: bool,
}

/// `clock status --check`: exit 0 and `ok` when healthy; exit 1 and one
/// `<kind>: <message>` line per problem on stdout otherwise. A Redis that
/// cannot be reached or read is the problem `redis_unreachable`, not an
/// error: a check exists to say the deployment is unwell. An invalid
/// config still exits 2, before Redis is touched.
pub(super) fn check(path: &std::path::Path) -> ExitCode {
    let config = match super::load_config(path, SystemTime.now()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let problems = runtime.block_on(async {
        let unreachable = |e: store::Error| vec![Problem::unreachable(&config.redis, &e)];
        match Store::connect(&config.redis).await {
            Ok(store) => health::assess(&config, &store).await.map_or_else(unreachable, |h| h.problems),
            Err(e) => unreachable(e),
        }
    });
    if problems.is_empty() {
        println!("ok");
        return ExitCode::SUCCESS;
    }
    for problem in &problems {
        println!("{}", problem.line());
    }
    ExitCode::from(EXIT_FAILURE)
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
            "leader: {} (host {}, pid {}) since {}, lease renewed {} s ago, clock offset {} ms; standbys: \
             {standbys}\n",
            cell(&l["id"]),
            cell(&l["host"]),
            cell(&l["pid"]),
            cell(&l["since"]),
            cell(&l["age_secs"]),
            cell(&l["offset_ms"])
        )),
        None => out.push_str(&format!("leader: none (no clock is running); standbys: {standbys}\n")),
    }
    out.push_str(&problems(&status["problems"]));
    out.push('\n');
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
                text::description_cell(&j["description"]),
            ]
        })
        .collect();
    out.push_str(&text::table(
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
    out.push_str(&text::table(&["QUEUE", "PENDING", "IN PROGRESS", "RETRY", "DEAD"], &rows));
    let rows: Vec<Vec<String>> = status["tool_queues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| ["list", "format", "waiting"].iter().map(|k| cell(&q[*k])).collect())
        .collect();
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&text::table(&["OTHER TOOL'S LIST", "FORMAT", "WAITING"], &rows));
    }
    out
}

/// `problems: none`, or their count and one `  <kind>: <message>` line
/// each, as `--check` prints them.
fn problems(problems: &serde_json::Value) -> String {
    let problems = problems.as_array().map(Vec::as_slice).unwrap_or_default();
    if problems.is_empty() {
        return "problems: none\n".into();
    }
    let mut out = format!("problems: {}\n", problems.len());
    for p in problems {
        out.push_str(&format!("  {}: {}\n", cell(&p["kind"]), cell(&p["message"])));
    }
    out
}
