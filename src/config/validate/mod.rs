//! Walks the TOML document with its spans and turns it into [`Job`]s,
//! collecting every problem rather than stopping at the first.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{Diagnostic, LineIndex};
use super::format::{self, Format, FormatKind, Timestamps};
use super::{
    CatchUp, EmailSettings, Event, FormatAt, Job, JobName, MAX_PAYLOAD_BYTES_LIMIT, MonitorSettings, Overlap,
    PingUrls, QueueName, RedisSettings, StartWithin, Webhook, WorkerSettings, defaults,
};
use crate::cron::Cron;
use crate::duration::Span;
use crate::schedule::Schedule;

mod invalid;
mod jobs;
mod monitor;
mod notify;
mod redis;
mod values;
mod worker;

use invalid::{Invalid, invalid};
use jobs::*;
use monitor::*;
use notify::*;
use redis::*;
use values::*;
use worker::*;

const TOP_KEYS: &[&str] = &["defaults", "jobs", "redis", "notify", "worker", "monitor"];

/// Where a job-table key may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// In `[defaults]` and in `[jobs.NAME]`.
    Defaults,
    /// Only in `[jobs.NAME]`.
    Job,
}

/// Every key of a job table: where it may be written and the enqueue
/// formats that read it (empty: every format). The one list the
/// unknown-key hints, `[defaults]` and the other-format check read, so a
/// new key is added here once.
const JOB_TABLE_KEYS: &[(&str, Scope, &[FormatKind])] = {
    use FormatKind::{Bullmq, Campanile, Celery, Json, Resque, Rq, Sidekiq};
    use Scope::{Defaults, Job};
    &[
        ("timezone", Defaults, &[]),
        ("queue", Defaults, &[]),
        ("timeout", Defaults, &[Campanile]),
        ("retries", Defaults, &[Campanile]),
        ("retry_delay", Defaults, &[Campanile]),
        ("catch_up", Defaults, &[]),
        ("catch_up_window", Defaults, &[]),
        ("overlap", Defaults, &[]),
        ("jitter", Defaults, &[]),
        ("format", Defaults, &[]),
        ("namespace", Defaults, &[Sidekiq, Resque]),
        ("timestamps", Defaults, &[Sidekiq]),
        ("prefix", Defaults, &[Bullmq]),
        ("start_within", Defaults, &[Campanile]),
        ("warn_after", Defaults, &[Campanile]),
        ("ping_url", Defaults, &[Campanile]),
        ("cron", Job, &[]),
        ("every", Job, &[]),
        ("offset", Job, &[]),
        ("at", Job, &[]),
        ("command", Job, &[Campanile]),
        ("args", Job, &[]),
        ("env", Job, &[Campanile]),
        ("enabled", Job, &[]),
        ("description", Job, &[]),
        ("class", Job, &[Sidekiq, Resque]),
        ("list", Job, &[Json]),
        ("retry", Job, &[Sidekiq]),
        ("task", Job, &[Celery]),
        ("kwargs", Job, &[Celery, Rq]),
        ("function", Job, &[Rq]),
        ("job_timeout", Job, &[Rq]),
        ("name", Job, &[Bullmq]),
        ("data", Job, &[Bullmq]),
        ("attempts", Job, &[Bullmq]),
        ("backoff", Job, &[Bullmq]),
    ]
};

/// The keys `[defaults]` takes (`Scope::Defaults`), or every key of a job:
/// its own first, then those it shares with `[defaults]`.
fn job_table_keys(scope: Scope) -> Vec<&'static str> {
    let of = |wanted: Scope| JOB_TABLE_KEYS.iter().filter(move |(_, s, _)| *s == wanted).map(|(k, ..)| *k);
    match scope {
        Scope::Defaults => of(Scope::Defaults).collect(),
        Scope::Job => of(Scope::Job).chain(of(Scope::Defaults)).collect(),
    }
}

/// The formats that read a job-table key; empty when every format does or
/// the key is unknown.
fn formats_reading(key: &str) -> &'static [FormatKind] {
    JOB_TABLE_KEYS.iter().find(|(k, ..)| *k == key).map_or(&[], |(.., formats)| formats)
}

/// A key only other runners' formats take (Sidekiq's `retry`): ranked
/// after the others in unknown-key hints.
fn is_foreign_format_key(key: &str) -> bool {
    let formats = formats_reading(key);
    !formats.is_empty() && !formats.contains(&FormatKind::Campanile)
}

/// The most `retries` a job can have.
pub const MAX_RETRIES: u32 = 100;

struct Ctx<'a> {
    file: &'a str,
    index: LineIndex<'a>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Every queue name seen, so jobs on one queue share its name.
    queues: std::collections::HashSet<QueueName>,
}

impl Ctx<'_> {
    fn diagnostic(
        &self,
        span: &Range<usize>,
        job: Option<&str>,
        field: Option<&str>,
        message: String,
    ) -> Diagnostic {
        let (line, column) = self.index.locate(span.start);
        Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            job: job.map(str::to_owned),
            field: field.map(str::to_owned),
            message,
        }
    }

    fn error(&mut self, span: &Range<usize>, job: Option<&str>, field: Option<&str>, message: String) {
        let d = self.diagnostic(span, job, field, message);
        self.errors.push(d);
    }

    fn warn(&mut self, span: &Range<usize>, job: Option<&str>, field: Option<&str>, message: String) {
        let d = self.diagnostic(span, job, field, message);
        self.warnings.push(d);
    }

    fn unknown_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        job: Option<&str>,
        known: &[&[&str]],
    ) {
        let name = key.get_ref().as_ref();
        let all: Vec<&str> = known.iter().flat_map(|k| k.iter().copied()).collect();
        // Keys of every format before those of one format (Sidekiq's
        // `retry`), then the nearest.
        let nearest = all
            .iter()
            .map(|k| (is_foreign_format_key(k), edit_distance(k, name), *k))
            .filter(|(_, distance, _)| *distance <= 2)
            .min()
            .map(|(.., k)| k);
        let hint = match nearest {
            Some(k) => format!(" (did you mean {k:?}?)"),
            None => format!(" (expected one of: {})", all.join(", ")),
        };
        self.error(&key.span(), job, None, format!("unknown key {name:?}{hint}"));
    }
}

/// The settings `[defaults]` and a job share; `None` where not set.
#[derive(Debug, Clone, Default)]
struct Common {
    timezone: Option<Tz>,
    queue: Option<QueueName>,
    timeout: Option<Span>,
    retries: Option<u32>,
    retry_delay: Option<Span>,
    catch_up: Option<CatchUp>,
    catch_up_window: Option<Span>,
    overlap: Option<Overlap>,
    jitter: Option<Span>,
    format: Option<FormatKind>,
    namespace: Option<String>,
    timestamps: Option<Timestamps>,
    prefix: Option<String>,
    start_within: Option<StartWithin>,
    warn_after: Option<Span>,
    ping: Option<PingUrls>,
}

impl Common {
    /// Sets `key` from `value`. `None` if `key` is not a common setting.
    fn set(&mut self, key: &str, value: &DeValue<'_>) -> Option<Result<(), Invalid>> {
        Some(match key {
            "timezone" => as_str(value).and_then(parse_zone).map(|v| self.timezone = Some(v)),
            "queue" => as_str(value).and_then(|s| Ok(QueueName::new(s)?)).map(|v| self.queue = Some(v)),
            "timeout" => positive_span(value).map(|v| self.timeout = Some(v)),
            "retries" => as_int(value).and_then(parse_retries).map(|v| self.retries = Some(v)),
            "retry_delay" => positive_span(value).map(|v| self.retry_delay = Some(v)),
            "catch_up" => as_str(value).and_then(parse_catch_up).map(|v| self.catch_up = Some(v)),
            "catch_up_window" => positive_span(value).map(|v| self.catch_up_window = Some(v)),
            "overlap" => as_str(value).and_then(parse_overlap).map(|v| self.overlap = Some(v)),
            "jitter" => as_span(value).map(|v| self.jitter = Some(v)),
            "format" => as_str(value).and_then(|s| Ok(FormatKind::parse(s)?)).map(|v| self.format = Some(v)),
            "namespace" => as_str(value)
                .and_then(|s| Ok(format::parse_namespace(s)?))
                .map(|v| self.namespace = Some(v.to_owned())),
            "timestamps" => as_str(value)
                .and_then(|s| Ok(format::parse_timestamps(s)?))
                .map(|v| self.timestamps = Some(v)),
            "prefix" => as_str(value)
                .and_then(|s| Ok(format::parse_prefix(s)?))
                .map(|v| self.prefix = Some(v.to_owned())),
            "start_within" => parse_start_within(value).map(|v| self.start_within = Some(v)),
            "warn_after" => positive_span(value).map(|v| self.warn_after = Some(v)),
            "ping_url" => parse_ping(value).map(|v| self.ping = Some(v)),
            _ => return None,
        })
    }

    /// `self` where set, else `defaults`.
    fn or(self, defaults: &Common) -> Common {
        Common {
            timezone: self.timezone.or(defaults.timezone),
            queue: self.queue.or_else(|| defaults.queue.clone()),
            timeout: self.timeout.or(defaults.timeout),
            retries: self.retries.or(defaults.retries),
            retry_delay: self.retry_delay.or(defaults.retry_delay),
            catch_up: self.catch_up.or(defaults.catch_up),
            catch_up_window: self.catch_up_window.or(defaults.catch_up_window),
            overlap: self.overlap.or(defaults.overlap),
            jitter: self.jitter.or(defaults.jitter),
            format: self.format.or(defaults.format),
            namespace: self.namespace.or_else(|| defaults.namespace.clone()),
            timestamps: self.timestamps.or(defaults.timestamps),
            prefix: self.prefix.or_else(|| defaults.prefix.clone()),
            start_within: self.start_within.or(defaults.start_within),
            warn_after: self.warn_after.or(defaults.warn_after),
            ping: self.ping.or_else(|| defaults.ping.clone()),
        }
    }
}

/// What [`validate`] found.
pub(super) struct Validated {
    pub jobs: Vec<Job>,
    pub redis: RedisSettings,
    pub worker: WorkerSettings,
    pub monitor: MonitorSettings,
    pub webhooks: Vec<Webhook>,
    pub email: Option<EmailSettings>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

pub(super) fn validate(text: &str, file: &str, now: DateTime<Utc>) -> Validated {
    let mut ctx = Ctx {
        file,
        index: LineIndex::new(text),
        errors: Vec::new(),
        warnings: Vec::new(),
        queues: Default::default(),
    };
    let (root, parse_errors) = DeTable::parse_recoverable(text);
    // A `[jobs.NAME]` table given twice: one error naming the job, not one
    // more for every key it repeats.
    let mut repeated: Vec<Range<usize>> = Vec::new();
    for e in &parse_errors {
        let span = e.span().unwrap_or(0..0);
        if repeated.iter().any(|r| r.contains(&span.start)) {
            continue;
        }
        if let Some((job, table)) = repeated_job_table(text, &span, e.message()) {
            let message = format!("[jobs.{job}] appears twice (job names must be unique)");
            ctx.error(&span, Some(job), None, message);
            repeated.push(table);
            continue;
        }
        let mut message = format!("invalid TOML: {}", e.message().trim());
        if let Some(key) =
            text.get(span.clone()).filter(|k| message.ends_with("duplicate key") && k.len() < 80)
        {
            message.push_str(&format!(" {:?}", key.trim()));
        }
        ctx.error(&span, None, None, message);
    }
    let mut jobs = Vec::new();
    let mut redis = RedisSettings::default();
    let mut worker = WorkerSettings::default();
    let mut monitor = MonitorSettings::default();
    let mut webhooks = Vec::new();
    let mut email = None;
    if parse_errors.is_empty() {
        if let Some(value) = root.get_ref().get("redis") {
            redis = validate_redis(&mut ctx, value);
        }
        if let Some(value) = root.get_ref().get("worker") {
            worker = validate_worker(&mut ctx, value);
        }
        if let Some(value) = root.get_ref().get("monitor") {
            monitor = validate_monitor(&mut ctx, value);
        }
        jobs = validate_root(&mut ctx, root.get_ref(), now);
        if let Some(value) = root.get_ref().get("notify") {
            (webhooks, email) = validate_notify(&mut ctx, value, &jobs);
        }
    }
    let by_position = |d: &Diagnostic| (d.line, d.column);
    ctx.errors.sort_by_key(by_position);
    ctx.warnings.sort_by_key(by_position);
    Validated { jobs, redis, worker, monitor, webhooks, email, errors: ctx.errors, warnings: ctx.warnings }
}

fn validate_root(ctx: &mut Ctx<'_>, root: &DeTable<'_>, now: DateTime<Utc>) -> Vec<Job> {
    let mut common = Common::default();
    for (key, value) in root {
        if key.get_ref() == "defaults" {
            let Some(table) = table_of(ctx, value, None, "defaults") else { continue };
            for (k, v) in table {
                match common.set(k.get_ref(), v.get_ref()) {
                    Some(Ok(())) => {}
                    Some(Err(message)) => ctx.error(
                        &v.span(),
                        None,
                        Some(&format!("defaults.{}", k.get_ref())),
                        message.into_message(),
                    ),
                    None => ctx.unknown_key(k, None, &[&job_table_keys(Scope::Defaults)]),
                }
            }
        } else if !matches!(key.get_ref().as_ref(), "jobs" | "redis" | "notify" | "worker" | "monitor") {
            ctx.unknown_key(key, None, &[TOP_KEYS]);
        }
    }
    let mut jobs = Vec::new();
    let Some(value) = root.get("jobs") else {
        ctx.warn(&(0..0), None, None, "no jobs defined (add a [jobs.NAME] table)".into());
        return jobs;
    };
    let Some(table) = table_of(ctx, value, None, "jobs") else { return jobs };
    for (name, value) in table {
        if let Some(job) = validate_job(ctx, name, value, &common, now) {
            jobs.push(job);
        }
    }
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    // Pushed one by one, the list has up to twice the room it needs.
    jobs.shrink_to_fit();
    jobs
}

fn table_of<'a, 'i>(
    ctx: &mut Ctx<'_>,
    value: &'a Spanned<DeValue<'i>>,
    job: Option<&str>,
    what: &str,
) -> Option<&'a DeTable<'i>> {
    let table = value.get_ref().as_table();
    if table.is_none() {
        let found = value.get_ref().type_str();
        ctx.error(&value.span(), job, None, format!("{what} must be a table, found {found}"));
    }
    table
}

/// For a duplicate-key error at `span` on a `[jobs.NAME]` header: the job
/// name and the byte range of the repeated table (up to the next header).
fn repeated_job_table<'t>(
    text: &'t str,
    span: &Range<usize>,
    message: &str,
) -> Option<(&'t str, Range<usize>)> {
    if !message.trim().ends_with("duplicate key") {
        return None;
    }
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?.trim();
    let job = line.strip_prefix('[')?.strip_suffix(']')?.trim().strip_prefix("jobs.")?.trim();
    let name = text.get(span.clone())?.trim().trim_matches('"');
    if job.trim_matches('"') != name {
        return None;
    }
    let body = line_start + line.len();
    let end = text[body..]
        .match_indices('\n')
        .map(|(i, _)| body + i + 1)
        .find(|&start| text[start..].trim_start().starts_with('['))
        .unwrap_or(text.len());
    Some((name, span.start..end))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key in [`JOB_TABLE_KEYS`] that no match arm reads would be refused
    /// as unknown; one read but not listed would be missing from the hints.
    #[test]
    fn every_listed_job_table_key_is_read_where_it_is_allowed() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        for (key, scope, _) in JOB_TABLE_KEYS {
            let mut tables = vec![format!("[jobs.a]\n{key} = 0\n")];
            if *scope == Scope::Defaults {
                tables.push(format!("[defaults]\n{key} = 0\n"));
            }
            for text in tables {
                let found = validate(&text, "clock.toml", now);
                let unknown: Vec<_> =
                    found.errors.iter().filter(|d| d.message.starts_with("unknown key")).collect();
                assert!(unknown.is_empty(), "{text}: {unknown:?}");
            }
        }
        let defaults = validate("[defaults]\ncron = \"* * * * *\"\n", "clock.toml", now);
        assert!(defaults.errors.iter().any(|d| d.message.starts_with("unknown key \"cron\"")));
    }
}
