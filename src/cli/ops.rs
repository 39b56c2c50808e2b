//! Operator commands that read or change a live deployment through Redis:
//! `pause`, `resume`, `trigger`, `history`, `dead`, `retry-dead`,
//! `purge-dead`. Each takes `--json`; human output is aligned tables.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use super::{EXIT_FAILURE, EXIT_INVALID};
use crate::config::{Config, Job, QueueName};
use crate::run::HistoryEntry;
use crate::store::{self, Store};
use crate::text;
use crate::time::{SystemTime, TimeSource};

#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job's name in clock.toml.
    pub job: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The job's name in clock.toml.
    pub job: String,
    /// Args for this run (JSON) instead of the job's own.
    #[arg(long, value_name = "JSON", value_parser = parse_json)]
    pub args: Option<serde_json::Value>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this job; default: every job in the config.
    pub job: Option<String>,
    /// How many runs to show.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: usize,
    /// Show the output tail of the run with this id.
    #[arg(long, value_name = "ID")]
    pub output: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeadArgs {
    /// Only this queue; default: every queue in the config.
    pub queue: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").args(["id", "all"]).required(true))]
pub struct RetryDeadArgs {
    /// The dead letter's id (as `clock dead` shows it).
    pub id: Option<String>,
    /// Every dead letter.
    #[arg(long)]
    pub all: bool,
    /// Only this queue; default: every queue in the config.
    #[arg(long)]
    pub queue: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PurgeDeadArgs {
    /// Only this queue; default: every queue in the config.
    #[arg(long)]
    pub queue: Option<String>,
    /// Delete without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_json(s: &str) -> Result<serde_json::Value, super::Error> {
    serde_json::from_str(s).map_err(super::Error::Json)
}

/// The job named on the command line, or exit 2.
fn find_job<'a>(config: &'a Config, name: &str) -> Result<&'a Job, ExitCode> {
    config.job(name).ok_or_else(|| {
        eprintln!("error: {}: no job named {name:?}", config.path.display());
        ExitCode::from(EXIT_INVALID)
    })
}

/// The queues named on the command line, else every queue of the config.
fn queues(config: &Config, only: Option<&str>) -> Result<Vec<QueueName>, ExitCode> {
    match only {
        Some(name) => QueueName::new(name).map(|q| vec![q]).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_INVALID)
        }),
        None => Ok(config.queues_all()),
    }
}

/// Loads the config (exit 2 if invalid), connects (exit 1 if Redis does not
/// answer) and runs `body`.
pub(super) fn with_store<F, Fut>(path: &std::path::Path, body: F) -> ExitCode
where
    F: FnOnce(Arc<Config>, Store) -> Fut,
    Fut: Future<Output = Result<ExitCode, store::Error>>,
{
    let config = match super::load_config(path, SystemTime.now()) {
        Ok(config) => Arc::new(config),
        Err(code) => return code,
    };
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let store = match Store::connect(&config.redis).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!(
                    "error: cannot connect to {}: {}",
                    config.redis.redacted_url(),
                    crate::error_chain::error_chain(&e)
                );
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        body(config, store).await.unwrap_or_else(|e| {
            eprintln!("error: {}", crate::error_chain::error_chain(&e));
            ExitCode::from(EXIT_FAILURE)
        })
    })
}

pub(super) async fn pause(
    config: Arc<Config>,
    store: Store,
    args: JobArgs,
    pause: bool,
) -> store::Result<ExitCode> {
    let job = match find_job(&config, &args.job) {
        Ok(job) => job,
        Err(code) => return Ok(code),
    };
    let changed = crate::control::set_paused(&store, job, pause, SystemTime.now()).await?;
    if args.json {
        println!("{}", json!({ "job": job.name, "paused": pause, "changed": changed }));
    } else {
        let state = if pause { "paused" } else { "resumed" };
        let note = if changed { "" } else { " (it already was)" };
        println!("{}: {state}{note}", job.name);
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn trigger(config: Arc<Config>, store: Store, args: TriggerArgs) -> store::Result<ExitCode> {
    let job = match find_job(&config, &args.job) {
        Ok(job) => job,
        Err(code) => return Ok(code),
    };
    let pushed = crate::control::trigger(&store, job, args.args.as_ref(), SystemTime.now()).await?;
    if args.json {
        println!("{}", json!({ "id": pushed.id, "job": job.name, "queue": job.queue }));
    } else {
        println!("{}: enqueued {} on queue {}", job.name, pushed.id, job.queue);
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn history(config: Arc<Config>, store: Store, args: HistoryArgs) -> store::Result<ExitCode> {
    let jobs: Vec<&Job> = match &args.job {
        Some(name) => match find_job(&config, name) {
            Ok(job) => vec![job],
            Err(code) => return Ok(code),
        },
        None => config.jobs.iter().collect(),
    };
    let limit = if args.output.is_some() { crate::store::HISTORY_CAP } else { args.limit };
    let mut entries: Vec<HistoryEntry> = Vec::new();
    for job in jobs {
        entries.extend(crate::control::history(&store, job, limit).await?);
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.finished_at));
    if let Some(id) = &args.output {
        let Some(entry) = entries.iter().find(|e| &e.id == id) else {
            eprintln!("error: no run with id {id:?} in the history");
            return Ok(ExitCode::from(EXIT_FAILURE));
        };
        if args.json {
            println!("{}", json!({ "id": entry.id, "output": entry.output }));
        } else {
            print!("{}", entry.output);
        }
        return Ok(ExitCode::SUCCESS);
    }
    entries.truncate(args.limit);
    if args.json {
        println!("{}", serde_json::to_string(&entries).expect("history serialises"));
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                text::utc(e.finished_at),
                e.job.clone(),
                outcome_text(e),
                format!("{:.1}s", e.duration_ms as f64 / 1000.0),
                e.attempt.to_string(),
                e.exit_code.map_or("-".into(), |c| c.to_string()),
                e.id.clone(),
            ]
        })
        .collect();
    print!("{}", text::table(&["FINISHED", "JOB", "OUTCOME", "DURATION", "ATTEMPT", "EXIT", "ID"], &rows));
    Ok(ExitCode::SUCCESS)
}

fn outcome_text(e: &HistoryEntry) -> String {
    let base =
        serde_json::to_value(e.outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    match (e.retry, e.manual) {
        (true, _) => format!("{base} (will retry)"),
        (false, true) => format!("{base} (manual)"),
        _ => base,
    }
}

pub(super) async fn dead(config: Arc<Config>, store: Store, args: DeadArgs) -> store::Result<ExitCode> {
    let queues = match queues(&config, args.queue.as_deref()) {
        Ok(q) => q,
        Err(code) => return Ok(code),
    };
    let letters = crate::control::dead_letters(&store, &queues).await?;
    if args.json {
        let list: Vec<_> = letters.iter().map(crate::control::Dead::to_json).collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|d| {
            vec![
                text::utc(d.letter.failed_at),
                d.queue.to_string(),
                d.letter.job.clone().unwrap_or_else(|| "-".into()),
                d.letter.attempts.to_string(),
                d.letter.reason.clone(),
                d.id.clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("no dead letters");
    } else {
        print!("{}", text::table(&["FAILED", "QUEUE", "JOB", "ATTEMPTS", "REASON", "ID"], &rows));
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn retry_dead(
    config: Arc<Config>,
    store: Store,
    args: RetryDeadArgs,
) -> store::Result<ExitCode> {
    let queues = match queues(&config, args.queue.as_deref()) {
        Ok(q) => q,
        Err(code) => return Ok(code),
    };
    let letters = crate::control::dead_letters(&store, &queues).await?;
    let chosen: Vec<_> =
        letters.into_iter().filter(|d| args.all || args.id.as_deref() == Some(d.id.as_str())).collect();
    if chosen.is_empty() && !args.all {
        eprintln!("error: no dead letter with id {:?}", args.id.unwrap_or_default());
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    let moved = crate::control::retry_dead(&store, &chosen).await?;
    if args.json {
        println!("{}", json!({ "requeued": moved }));
    } else {
        println!("requeued {moved} dead letter{}", if moved == 1 { "" } else { "s" });
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn purge_dead(
    config: Arc<Config>,
    store: Store,
    args: PurgeDeadArgs,
) -> store::Result<ExitCode> {
    let queues = match queues(&config, args.queue.as_deref()) {
        Ok(q) => q,
        Err(code) => return Ok(code),
    };
    if !args.yes {
        let letters = crate::control::dead_letters(&store, &queues).await?;
        if !letters.is_empty() && !confirm_purge(letters.len(), &queues) {
            println!("nothing deleted");
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    }
    let mut purged = 0;
    for queue in &queues {
        purged += store.purge_dead(queue).await?;
    }
    if args.json {
        println!("{}", json!({ "purged": purged }));
    } else {
        println!("purged {purged} dead letter{}", if purged == 1 { "" } else { "s" });
    }
    Ok(ExitCode::SUCCESS)
}

/// `purge-dead` without `--yes` and without a terminal to ask on: refuses
/// (exit 2) before touching Redis.
pub(super) fn refuse_unconfirmed_purge(args: &PurgeDeadArgs) -> Option<ExitCode> {
    if args.yes || std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return None;
    }
    eprintln!(
        "error: purge-dead deletes dead letters for good; pass --yes to confirm (stdin is not a terminal to ask on)"
    );
    Some(ExitCode::from(EXIT_INVALID))
}

/// Asks on the terminal whether to delete `n` dead letters; only `y` or
/// `yes` agrees.
fn confirm_purge(n: usize, queues: &[QueueName]) -> bool {
    let names: Vec<&str> = queues.iter().map(|q| q.as_str()).collect();
    print!(
        "delete {n} dead letter{} from queue{} {}? [y/N] ",
        if n == 1 { "" } else { "s" },
        if queues.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let mut answer = String::new();
    // One short line is all an answer needs.
    let read =
        std::io::BufRead::read_line(&mut std::io::Read::take(std::io::stdin().lock(), 64), &mut answer);
    read.is_ok() && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
