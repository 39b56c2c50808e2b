//! `clock check`: validate clock.toml and show what each job will do next.

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::json;

use crate::config::{Config, Format, Job};
use crate::schedule::Schedule;
use crate::text;
use crate::time::TimeSource;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Show next runs after this instant (RFC 3339) instead of now.
    #[arg(long, value_parser = super::parse_instant)]
    pub after: Option<DateTime<Utc>>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(path: &Path, args: &CheckArgs, time: &dyn TimeSource) -> ExitCode {
    let now = args.after.unwrap_or_else(|| time.now());
    let config = match super::load_config(path, now) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if args.json {
        println!("{}", render_json(&config, now));
    } else {
        print!("{}", render_table(&config, now));
    }
    ExitCode::SUCCESS
}

fn schedule_text(job: &Job) -> String {
    match (&job.schedule, job.schedule.describe()) {
        (Schedule::Cron { .. }, Some(words)) => format!("{} ({words})", job.schedule),
        _ => job.schedule.to_string(),
    }
}

/// The queue, and for a job another tool runs, its format: `default
/// (sidekiq)`, or the list of a `json` job.
fn queue_text(job: &Job) -> String {
    match &job.format {
        Format::Campanile => job.queue.to_string(),
        Format::Json { list } => format!("{list} (json)"),
        other => format!("{} ({})", job.queue, other.kind()),
    }
}

/// The human form: a summary line, then one row per job.
pub fn render_table(config: &Config, now: DateTime<Utc>) -> String {
    let n = config.jobs.len();
    let mut out = format!("{}: ok, {n} job{}\n", config.path.display(), if n == 1 { "" } else { "s" });
    if n == 0 {
        return out;
    }
    let rows: Vec<Vec<String>> = config
        .jobs
        .iter()
        .map(|job| {
            let (local, utc) = match crate::control::next_run(job, now) {
                Some(t) => (text::local(t, job.timezone), text::utc(t)),
                None if !job.enabled => ("disabled".into(), "-".into()),
                None => ("never".into(), "-".into()),
            };
            vec![
                job.name.to_string(),
                schedule_text(job),
                job.timezone.name().into(),
                queue_text(job),
                local,
                utc,
                text::description_cell(&job.description.as_deref().into()),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&text::table(
        &["JOB", "SCHEDULE", "ZONE", "QUEUE", "NEXT RUN (LOCAL)", "NEXT RUN (UTC)", "DESCRIPTION"],
        &rows,
    ));
    out
}

/// The `--json` form.
pub fn render_json(config: &Config, now: DateTime<Utc>) -> serde_json::Value {
    let jobs: Vec<_> = config.jobs.iter().map(|job| crate::control::job_json(job, now)).collect();
    let warnings: Vec<String> = config.warnings.iter().map(|w| w.to_string()).collect();
    json!({ "file": config.path.display().to_string(), "jobs": jobs, "warnings": warnings })
}
