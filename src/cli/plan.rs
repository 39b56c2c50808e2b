//! `clock plan`: what deploying the local clock.toml would change, compared
//! with the job table the running deployment's leading clock published.
//! Exit 0: no difference; 1: differences; 2: invalid config.

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::{Value, json};

use crate::config::{Config, Job};
use crate::deploy::{self, Deployed, Diff};
use crate::store::Store;
use crate::text;
use crate::time::{SystemTime, TimeSource};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Do not contact Redis: show only the local schedule.
    #[arg(long)]
    pub offline: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// How many upcoming ticks to show per added or changed job.
const NEXT: usize = 3;

pub(super) fn run(path: &Path, args: &PlanArgs) -> ExitCode {
    let now = SystemTime.now();
    let config = match super::load_config(path, now) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let deployed = if args.offline { Ok(None) } else { fetch(&config) };
    let (deployed, offline_reason) = match deployed {
        Ok(d) => (d, args.offline.then(|| "--offline".to_owned())),
        Err(reason) => (None, Some(reason.to_string())),
    };
    let local = deploy::job_table(&config);
    let diff = match &deployed {
        Some(d) => deploy::diff(&local, &d.jobs),
        None => Diff { added: local.keys().cloned().collect(), ..Diff::default() },
    };
    let next = |name: &str| config.job(name).map(|job| upcoming(job, now)).unwrap_or_default();
    if args.json {
        let changed: Vec<Value> = diff
            .changed
            .iter()
            .map(|(name, fields)| json!({ "job": name, "fields": fields, "next": next(name) }))
            .collect();
        let added: Vec<Value> =
            diff.added.iter().map(|name| json!({ "job": name, "next": next(name) })).collect();
        println!(
            "{}",
            json!({
                "deployed": deployed.as_ref().map(|d| json!({
                    "fingerprint": d.fingerprint, "clock": d.clock, "published_at": text::utc(d.published_at),
                })),
                "offline": offline_reason,
                "local_fingerprint": deploy::fingerprint(&config),
                "added": added,
                "removed": diff.removed,
                "changed": changed,
                "unchanged": diff.unchanged,
            })
        );
    } else {
        print!("{}", render(&config, deployed.as_ref(), offline_reason.as_deref(), &diff, now));
    }
    if offline_reason.is_some() || diff.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// The deployed job table, `None` if no clock published one, or why Redis
/// could not be asked.
fn fetch(config: &Config) -> Result<Option<Deployed>, super::Error> {
    let runtime = super::runtime().map_err(|_| super::Error::NoRuntime)?;
    runtime.block_on(async {
        let store = Store::connect(&config.redis)
            .await
            .map_err(|reason| super::Error::Unreachable { url: config.redis.redacted_url(), reason })?;
        let raw = store.deployed_config().await.map_err(super::Error::Store)?;
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
    })
}

fn upcoming(job: &Job, now: DateTime<Utc>) -> Vec<Value> {
    if !job.enabled {
        return Vec::new();
    }
    job.schedule
        .ticks(now, DateTime::<Utc>::MAX_UTC)
        .take(NEXT)
        .map(|t| json!({ "utc": text::utc(t), "local": text::local(t, job.timezone) }))
        .collect()
}

fn render(
    config: &Config,
    deployed: Option<&Deployed>,
    offline: Option<&str>,
    diff: &Diff,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    match (deployed, offline) {
        (_, Some(reason)) => out.push_str(&format!("offline ({reason}): showing the local schedule only\n")),
        (None, None) => out.push_str("no clock has published a job table yet: every job is new\n"),
        (Some(d), None) => out.push_str(&format!(
            "{} against the deployment (jobs {}, published by {} at {})\n",
            config.path.display(),
            d.fingerprint,
            d.clock,
            text::utc(d.published_at)
        )),
    }
    if diff.is_empty() && offline.is_none() {
        out.push_str("no changes\n");
        return out;
    }
    let next = |name: &str, out: &mut String| {
        if let Some(job) = config.job(name) {
            for t in job.schedule.ticks(now, DateTime::<Utc>::MAX_UTC).take(NEXT) {
                out.push_str(&format!("    next {}  {}\n", text::utc(t), text::local(t, job.timezone)));
            }
        }
    };
    for name in &diff.added {
        let schedule =
            config.job(name).map(|j| format!("{}  {}", j.schedule, j.timezone.name())).unwrap_or_default();
        out.push_str(&format!("+ {name}  {schedule}\n"));
        next(name, &mut out);
    }
    for name in &diff.removed {
        out.push_str(&format!("- {name}\n"));
    }
    for (name, fields) in &diff.changed {
        out.push_str(&format!("~ {name}\n"));
        for (field, change) in fields {
            out.push_str(&format!("    {field}: {} -> {}\n", change["old"], change["new"]));
        }
        next(name, &mut out);
    }
    out
}
