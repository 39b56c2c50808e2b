//! `format`: what a job's tick pushes, and so who runs it. campanile's own
//! payload for its workers, or a job that a stock Sidekiq or Resque process,
//! a Celery, RQ or BullMQ worker, or any program reading a list of JSON values, runs
//! instead.

use std::fmt;

pub use super::bullmq::{BULLMQ_PREFIX, Bullmq, parse_backoff, parse_name, parse_prefix};
pub use super::celery::{CELERY_QUEUE, Celery, parse_task};
pub use super::rq::{RQ_QUEUE, RQ_TIMEOUT_SECS, Rq, parse_function};

/// Who runs a job, and the JSON and list its ticks are pushed as and to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Format {
    /// campanile's payload on the queue's pending list, run by a campanile
    /// worker (the job's `command`).
    #[default]
    Campanile,
    /// A Sidekiq job hash on Sidekiq's `queue:<queue>` list.
    Sidekiq(Sidekiq),
    /// A Resque job on Resque's `<namespace>:queue:<queue>` list.
    Resque(Resque),
    /// The job's `args`, as they are, on the list `list`.
    Json { list: String },
    /// A Celery task message on kombu's Redis list of the queue.
    Celery(Celery),
    /// An RQ job hash, its id on RQ's `rq:queue:<queue>` list.
    Rq(Rq),
    /// A BullMQ job hash, its id on BullMQ's `<prefix>:<queue>:wait` list.
    Bullmq(Bullmq),
}

/// `format = "sidekiq"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidekiq {
    /// The job class Sidekiq instantiates (`class = "NightlyReportJob"`).
    pub class: String,
    /// Sidekiq's own retry setting for the job.
    pub retry: SidekiqRetry,
    /// The redis-namespace of the Sidekiq app, if it uses one.
    pub namespace: Option<String>,
    pub timestamps: Timestamps,
}

/// Sidekiq's `retry`: `true` (its default of 25 retries), `false`, or a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum SidekiqRetry {
    Enabled(bool),
    Times(u32),
}

/// How `created_at` and `enqueued_at` are written. Sidekiq 6 and 7 write
/// and read float epoch seconds; Sidekiq 8 writes integer epoch
/// milliseconds (and still reads floats, the old form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Timestamps {
    #[default]
    Seconds,
    Milliseconds,
}

/// `format = "resque"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resque {
    /// The job class Resque calls `perform` on.
    pub class: String,
    /// The redis-namespace of the Resque app (Resque's default is `resque`).
    pub namespace: String,
}

/// Resque's default redis-namespace.
pub const RESQUE_NAMESPACE: &str = "resque";

/// The values `format` takes, without their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    Campanile,
    Sidekiq,
    Resque,
    Json,
    Celery,
    Rq,
    Bullmq,
}

impl FormatKind {
    pub const ALL: [FormatKind; 7] = [
        FormatKind::Campanile,
        FormatKind::Sidekiq,
        FormatKind::Resque,
        FormatKind::Json,
        FormatKind::Celery,
        FormatKind::Rq,
        FormatKind::Bullmq,
    ];

    pub fn parse(s: &str) -> Result<FormatKind, Invalid> {
        match s {
            "campanile" => Ok(FormatKind::Campanile),
            "sidekiq" => Ok(FormatKind::Sidekiq),
            "resque" => Ok(FormatKind::Resque),
            "json" => Ok(FormatKind::Json),
            "celery" => Ok(FormatKind::Celery),
            "rq" => Ok(FormatKind::Rq),
            "bullmq" => Ok(FormatKind::Bullmq),
            _ => Err(Invalid::Kind(s.to_owned())),
        }
    }

    /// Every format's name, quoted, for messages: `"campanile", "sidekiq", …`.
    pub fn names() -> String {
        FormatKind::ALL.iter().map(|k| format!("{:?}", k.as_str())).collect::<Vec<_>>().join(", ")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FormatKind::Campanile => "campanile",
            FormatKind::Sidekiq => "sidekiq",
            FormatKind::Resque => "resque",
            FormatKind::Json => "json",
            FormatKind::Celery => "celery",
            FormatKind::Rq => "rq",
            FormatKind::Bullmq => "bullmq",
        }
    }
}

impl fmt::Display for FormatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Format {
    pub fn kind(&self) -> FormatKind {
        match self {
            Format::Campanile => FormatKind::Campanile,
            Format::Sidekiq(_) => FormatKind::Sidekiq,
            Format::Resque(_) => FormatKind::Resque,
            Format::Json { .. } => FormatKind::Json,
            Format::Celery(_) => FormatKind::Celery,
            Format::Rq(_) => FormatKind::Rq,
            Format::Bullmq(_) => FormatKind::Bullmq,
        }
    }

    /// Whether a campanile worker runs the job; the other formats' ticks
    /// never reach campanile's pending lists.
    pub fn is_campanile(&self) -> bool {
        matches!(self, Format::Campanile)
    }
}

/// Why a format setting is not valid; the message quotes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("{0:?} is not one of {names}", names = FormatKind::names())]
    Kind(String),
    #[error("{0:?} is not one of \"seconds\" (Sidekiq 6 and 7), \"milliseconds\" (Sidekiq 8)")]
    Timestamps(String),
    #[error("{0:?} must be non-empty, without braces or whitespace")]
    Namespace(String),
    #[error("{0:?}: write the namespace without the trailing ':' (keys are <namespace>:queue:<queue>)")]
    NamespaceColon(String),
    #[error("{0:?} must be a non-empty class name without whitespace")]
    Class(String),
    #[error("{0:?} must be a non-empty Redis key without whitespace")]
    List(String),
    #[error("{0:?} must be a non-empty task name without whitespace")]
    Task(String),
    #[error("{0:?} must be the dotted path of a function, e.g. \"tasks.record\"")]
    Function(String),
    #[error("a job name must be non-empty")]
    JobName,
    #[error(
        "{0:?} must be non-empty, without whitespace or the trailing ':' (keys are <prefix>:<queue>:...)"
    )]
    Prefix(String),
    #[error(
        "{0} is not a backoff: give a delay in ms, or a table with type (e.g. \"exponential\"), optional delay (ms) and jitter (0 to 1)"
    )]
    Backoff(String),
}

pub fn parse_timestamps(s: &str) -> Result<Timestamps, Invalid> {
    match s {
        "seconds" => Ok(Timestamps::Seconds),
        "milliseconds" => Ok(Timestamps::Milliseconds),
        _ => Err(Invalid::Timestamps(s.to_owned())),
    }
}

/// A redis-namespace as the Ruby gem takes it: keys become `<ns>:<key>`.
pub fn parse_namespace(s: &str) -> Result<&str, Invalid> {
    if s.is_empty() || s.chars().any(char::is_whitespace) || s.contains(['{', '}']) {
        return Err(Invalid::Namespace(s.to_owned()));
    }
    if s.ends_with(':') {
        return Err(Invalid::NamespaceColon(s.to_owned()));
    }
    Ok(s)
}

/// A job class name. Not checked against Ruby's constant grammar: workers in
/// other languages that speak Sidekiq's or Resque's protocol name jobs freely.
pub fn parse_class(s: &str) -> Result<&str, Invalid> {
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(Invalid::Class(s.to_owned()));
    }
    Ok(s)
}

pub fn parse_list(s: &str) -> Result<&str, Invalid> {
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(Invalid::List(s.to_owned()));
    }
    Ok(s)
}
