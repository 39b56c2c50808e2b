//! clock.toml: parsed once, at load, into types later code can trust.
//!
//! [`Config::load`] returns every problem in the file at once, each located
//! to the line and column and naming the job and field. See docs/configuration.md
//! for the format; this module is its reference implementation.

mod alerts;
mod bullmq;
mod celery;
mod error;
pub mod format;
mod names;
mod redact;
mod redis;
mod rq;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use alerts::{ANY_JOB, EmailSettings, Event, Webhook};
pub use error::{Diagnostic, Error};
pub use format::Format;
pub use names::{InvalidName, JobName, QueueName};
pub use redact::host_only;
pub use redis::{DEFAULT_PREFIX, DEFAULT_URL, RedisSettings, SentinelSettings, Topology, UrlError};
pub use validate::MAX_RETRIES;

use crate::duration::Span;
use crate::schedule::Schedule;

/// Where `clock` and `worker` look for their config when `--config` and
/// `CAMPANILE_CONFIG` are not given.
pub const DEFAULT_PATH: &str = "clock.toml";

/// Settings applied to a job that does not set them itself.
pub mod defaults {
    use crate::duration::Span;

    pub const QUEUE: &str = "default";
    pub const TIMEOUT: Span = Span::from_secs(30 * 60);
    pub const RETRIES: u32 = 3;
    pub const RETRY_DELAY: Span = Span::from_secs(10);
    pub const CATCH_UP_WINDOW: Span = Span::from_secs(24 * 3600);
    /// The longest automatic `start_within`.
    pub const START_WITHIN: Span = Span::from_secs(10 * 60);
}

/// What the clock does with ticks that fell due while no clock was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Enqueue only the most recent missed tick.
    #[default]
    Latest,
    /// Enqueue every missed tick, oldest first.
    All,
    /// Enqueue none; resume with the next tick.
    None,
}

/// Whether a tick is enqueued while an earlier run of the job is still
/// pending or running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// Skip the tick (and record it as skipped).
    #[default]
    Skip,
    /// Enqueue it anyway.
    Allow,
}

/// `[worker]`: how workers treat what they take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// A payload larger than this is dead-lettered unparsed.
    pub max_payload_bytes: usize,
}

/// The default `[worker] max_payload_bytes`: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// The largest `[worker] max_payload_bytes`: 64 MiB.
pub const MAX_PAYLOAD_BYTES_LIMIT: i64 = 64 << 20;

impl Default for WorkerSettings {
    fn default() -> WorkerSettings {
        WorkerSettings { max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES }
    }
}

/// How long a tick's payload may wait to start before `late` fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartWithin {
    /// The smaller of [`defaults::START_WITHIN`] and the time to the job's
    /// next tick: a tick not started when the next one falls due is late
    /// for any schedule, and ten minutes bounds the wait of a daily job.
    #[default]
    Auto,
    /// `start_within = "off"`: never late.
    Off,
    /// A set duration.
    Within(Span),
}

impl StartWithin {
    /// The deadline after a tick, given the time to the job's next tick
    /// (`None` for a job with no next tick); `None` when off.
    pub fn after(self, to_next: Option<Span>) -> Option<Span> {
        match self {
            StartWithin::Off => None,
            StartWithin::Within(span) => Some(span),
            StartWithin::Auto => {
                Some(to_next.map_or(defaults::START_WITHIN, |n| n.min(defaults::START_WITHIN)))
            }
        }
    }
}

/// Where a job's runs are reported to an outside monitor: each URL is
/// requested (GET) when a run starts, succeeds or fails. The URLs carry the
/// check's secret: `Debug` shows their hosts only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PingUrls {
    pub start: Option<String>,
    pub success: Option<String>,
    pub fail: Option<String>,
}

impl std::fmt::Debug for PingUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = |url: &Option<String>| url.as_deref().map(host_only);
        f.debug_struct("PingUrls")
            .field("start", &host(&self.start))
            .field("success", &host(&self.success))
            .field("fail", &host(&self.fail))
            .finish()
    }
}

/// `[monitor]`. `Debug` shows `heartbeat_url`'s host only.
#[derive(Clone, PartialEq, Eq)]
pub struct MonitorSettings {
    /// A queue with enabled jobs and no live worker for this long is
    /// `unserved`.
    pub unserved_after: Span,
    /// No clock holding the lease for this long is `no_leader`.
    pub no_leader_after: Span,
    /// Requested by the leading clock every `heartbeat_every` while it leads.
    pub heartbeat_url: Option<String>,
    pub heartbeat_every: Span,
}

impl std::fmt::Debug for MonitorSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorSettings")
            .field("unserved_after", &self.unserved_after)
            .field("no_leader_after", &self.no_leader_after)
            .field("heartbeat_url", &self.heartbeat_url.as_deref().map(host_only))
            .field("heartbeat_every", &self.heartbeat_every)
            .finish()
    }
}

impl Default for MonitorSettings {
    fn default() -> MonitorSettings {
        MonitorSettings {
            unserved_after: Span::from_secs(60),
            no_leader_after: Span::from_secs(30),
            heartbeat_url: None,
            heartbeat_every: Span::from_secs(60),
        }
    }
}

/// A loaded, valid config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// Jobs in name order, including disabled ones.
    pub jobs: Vec<Job>,
    /// `[redis]`.
    pub redis: RedisSettings,
    /// `[worker]`.
    pub worker: WorkerSettings,
    /// `[monitor]`.
    pub monitor: MonitorSettings,
    /// `[[notify.webhooks]]`.
    pub webhooks: Vec<Webhook>,
    /// `[notify.email]`.
    pub email: Option<EmailSettings>,
    /// Problems that do not stop the clock (a one-off `at` in the past).
    pub warnings: Vec<Diagnostic>,
}

/// One `[jobs.NAME]` entry.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: JobName,
    pub schedule: Schedule,
    /// The zone the schedule is evaluated and shown in.
    pub timezone: Tz,
    pub queue: QueueName,
    /// Who runs the job, and what its ticks push where.
    pub format: Format,
    /// Run by a campanile worker with `sh -c`; `None` exactly when `format`
    /// is another tool's, whose workers run the job instead.
    pub command: Option<String>,
    pub timeout: Span,
    /// How many times a failed run is retried (so `retries + 1` attempts).
    pub retries: u32,
    /// Delay before the first retry; each later one waits three times
    /// longer (capped at an hour), plus up to 25% jitter.
    pub retry_delay: Span,
    pub catch_up: CatchUp,
    /// Missed ticks older than this are never enqueued.
    pub catch_up_window: Span,
    pub overlap: Overlap,
    /// Each tick is enqueued up to this much later, to spread load.
    pub jitter: Span,
    /// How long a tick's payload may wait to start before `late` fires.
    pub start_within: StartWithin,
    /// A run still going after this long fires `long_running` (once).
    pub warn_after: Option<Span>,
    /// The outside monitor told about each run's start and end.
    pub ping: Option<PingUrls>,
    /// Passed to the job as JSON; `null` when not set.
    pub args: serde_json::Value,
    /// Extra environment variables for the command.
    pub env: BTreeMap<String, String>,
    pub enabled: bool,
    pub description: Option<String>,
    /// 1-based line of the job's `[jobs.NAME]` header.
    pub line: usize,
    /// Where the job's enqueue format is written, for checks that run after
    /// loading (a Redis Cluster's hash slots).
    pub format_at: FormatAt,
}

/// 1-based line and column of a job's header and of its `format` and
/// `list` values, when set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatAt {
    pub key: (usize, usize),
    pub format: Option<(usize, usize)>,
    pub list: Option<(usize, usize)>,
}

impl Config {
    /// Reads and validates a config file. `now` decides which one-off jobs
    /// are already in the past (a warning).
    pub fn load(path: &Path, now: DateTime<Utc>) -> Result<Config, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
        let text = String::from_utf8(bytes).map_err(|e| not_utf8(path, e))?;
        Config::parse(&text, path, now)
    }

    /// Validates config text; `path` is used in messages.
    pub fn parse(text: &str, path: &Path, now: DateTime<Utc>) -> Result<Config, Error> {
        let file = path.display().to_string();
        let v = validate::validate(text, &file, now);
        if !v.errors.is_empty() {
            return Err(Error::Invalid { file, errors: v.errors });
        }
        Ok(Config {
            path: path.to_owned(),
            jobs: v.jobs,
            redis: v.redis,
            worker: v.worker,
            monitor: v.monitor,
            webhooks: v.webhooks,
            email: v.email,
            warnings: v.warnings,
        })
    }

    /// The config path: `--config`, else `CAMPANILE_CONFIG`, else
    /// `./clock.toml`.
    pub fn resolve_path(flag: Option<PathBuf>) -> PathBuf {
        flag.or_else(|| std::env::var_os("CAMPANILE_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
    }

    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name.as_str() == name)
    }

    /// Whether anything is told about runs: webhooks, email, a job's
    /// `ping_url` or the heartbeat URL.
    pub fn has_alerts(&self) -> bool {
        !self.webhooks.is_empty()
            || self.email.is_some()
            || self.monitor.heartbeat_url.is_some()
            || self.jobs.iter().any(|j| j.ping.is_some())
    }

    /// Every queue a job of the config uses, enabled or not, sorted.
    pub fn queues_all(&self) -> Vec<QueueName> {
        let mut queues: Vec<QueueName> = self.jobs.iter().map(|j| j.queue.clone()).collect();
        queues.sort();
        queues.dedup();
        queues
    }

    /// The queues enabled jobs push to, sorted and without duplicates.
    pub fn queues(&self) -> Vec<QueueName> {
        let mut queues: Vec<QueueName> =
            self.jobs.iter().filter(|j| j.enabled).map(|j| j.queue.clone()).collect();
        queues.sort();
        queues.dedup();
        queues
    }

    /// The queues campanile's workers must serve: those of enabled jobs of
    /// campanile's own format, sorted and without duplicates. The others'
    /// workers are another tool's, which campanile cannot see.
    pub fn served_queues(&self) -> Vec<QueueName> {
        let mut queues: Vec<QueueName> = self
            .jobs
            .iter()
            .filter(|j| j.enabled && j.format == Format::Campanile)
            .map(|j| j.queue.clone())
            .collect();
        queues.sort();
        queues.dedup();
        queues
    }
}

impl Job {
    /// When a payload of this job pushed for `at_ms` (its tick, or a manual
    /// run's instant; Unix ms) is late if it has not started: `at_ms` plus
    /// `start_within`, whose default is the smaller of 10 minutes and the
    /// time to the job's next tick after `at_ms`. The deadline runs from the
    /// tick, not from the push, so the job's `jitter` counts against it.
    /// `None` when not watched: `start_within = "off"`, or another tool's
    /// format, whose workers campanile does not see start.
    pub fn start_deadline(&self, at_ms: i64) -> Option<i64> {
        let next = match self.start_within {
            StartWithin::Auto => self.schedule.next_after_secs(at_ms.div_euclid(1000)),
            _ => None,
        };
        self.start_deadline_given(at_ms, next)
    }

    /// [`Job::start_deadline`] when the caller knows the job's next tick
    /// after `at_ms` (Unix seconds; `None` if it has none): the clock's
    /// plan does, and spares a schedule lookup per push.
    pub fn start_deadline_given(&self, at_ms: i64, next_tick: Option<i64>) -> Option<i64> {
        if self.format != Format::Campanile {
            return None;
        }
        let to_next =
            next_tick.map(|next| Span::from_secs(((next * 1000 - at_ms).max(0) as u64).div_ceil(1000)));
        let within = self.start_within.after(to_next)?;
        Some(at_ms.saturating_add(within.as_secs() as i64 * 1000))
    }
}

/// A file that is not UTF-8, located at its first bad byte.
fn not_utf8(path: &Path, e: std::string::FromUtf8Error) -> Error {
    let bytes = e.as_bytes();
    let valid = e.utf8_error().valid_up_to();
    // The prefix up to the bad byte is valid UTF-8 by definition.
    let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
    let (line, column) = error::LineIndex::new(prefix).locate(valid);
    let file = path.display().to_string();
    let message = format!("not valid UTF-8: byte 0x{:02x}", bytes[valid]);
    let diagnostic = Diagnostic { file: file.clone(), line, column, job: None, field: None, message };
    Error::Invalid { file, errors: vec![diagnostic] }
}
