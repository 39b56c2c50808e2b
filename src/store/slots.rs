//! On a Redis Cluster, a job's push and its tick state must share a hash
//! slot. This check runs on a loaded config, before anything touches Redis;
//! its problems are located in the config file like any other.

use redis::cluster_routing::Slot;

use super::Keys;
use crate::config::{self, Config, Diagnostic, Format, Job, QueueName};

/// Every job whose push could not be exactly-once on the configured Redis
/// Cluster; `Ok` when Redis is not a cluster.
pub fn check_cluster_slots(config: &Config) -> Result<(), config::Error> {
    if !config.redis.is_cluster() {
        return Ok(());
    }
    let file = config.path.display().to_string();
    let mut errors: Vec<Diagnostic> = config
        .jobs
        .iter()
        .filter_map(|job| {
            let (field, message) = same_slot(&job.format, &job.queue).err()?;
            Some(diagnostic(&file, job, field, message))
        })
        .collect();
    // In file order, as the loader reports.
    errors.sort_by_key(|d| (d.line, d.column));
    if errors.is_empty() { Ok(()) } else { Err(config::Error::Invalid { file, errors }) }
}

/// Located at the field to blame, else the job's `format`, else its header.
fn diagnostic(file: &str, job: &Job, field: &'static str, message: String) -> Diagnostic {
    let at = &job.format_at;
    let located = if field == "list" { at.list.or(at.format) } else { at.format };
    let (line, column) = located.unwrap_or(at.key);
    Diagnostic {
        file: file.to_owned(),
        line,
        column,
        job: Some(job.name.as_str().to_owned()),
        field: Some(field.to_owned()),
        message,
    }
}

/// On a Redis Cluster, a push is exactly-once only when the tick state and
/// every key the push writes share a hash slot (one script, one node).
/// Campanile's own lists always do, and a json job's list does when its name
/// carries the queue's hash tag; Sidekiq's, Resque's and Celery's keys cannot
/// (their names have no braces). Errs with the field to blame.
fn same_slot(format: &Format, queue: &QueueName) -> Result<(), (&'static str, String)> {
    let runner = match format {
        Format::Campanile => return Ok(()),
        Format::Json { list } => {
            let ticks = Keys::new("").ticks(queue);
            if Slot::for_key(list) == Slot::for_key(ticks) {
                return Ok(());
            }
            return Err((
                "list",
                format!(
                    "on a Redis Cluster the list must hash to the queue's slot, so that the push and the \
                     tick state change in one step: name it with the queue's hash tag, e.g. \"{{{queue}}}:{list}\""
                ),
            ));
        }
        Format::Sidekiq(_) => "Sidekiq",
        Format::Resque(_) => "Resque",
        Format::Celery(_) => "Celery",
        Format::Rq(_) => "RQ",
        Format::Bullmq(_) => "BullMQ",
    };
    // BullMQ itself runs on a cluster (with a hash-tagged prefix); the
    // others do not.
    let own = match format {
        Format::Bullmq(_) => String::new(),
        _ => format!(" ({runner} does not support Redis Cluster either)"),
    };
    Err((
        "format",
        format!(
            "{runner}'s keys hash to other Redis Cluster slots than the job's tick state, so the push \
             could not be exactly-once{own}; use a single Redis or Sentinel"
        ),
    ))
}
