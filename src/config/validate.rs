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
    CatchUp, EmailSettings, Event, FormatAt, Job, JobName, MAX_PAYLOAD_BYTES_LIMIT, Overlap, QueueName,
    RedisSettings, Webhook, WorkerSettings, defaults,
};
use crate::cron::Cron;
use crate::duration::Span;
use crate::schedule::Schedule;

const TOP_KEYS: &[&str] = &["defaults", "jobs", "redis", "notify", "worker"];
const WORKER_KEYS: &[&str] = &["max_payload_bytes"];
const NOTIFY_KEYS: &[&str] = &["webhooks", "email"];
const EMAIL_KEYS: &[&str] = &["to", "from", "events", "jobs", "smtp_url", "rate_limit"];
const WEBHOOK_KEYS: &[&str] = &["url", "events", "jobs"];
const REDIS_KEYS: &[&str] = &["url", "prefix", "tls_insecure", "cluster", "wait_replicas", "wait_timeout_ms"];
const COMMON_KEYS: &[&str] = &[
    "timezone",
    "queue",
    "timeout",
    "retries",
    "retry_delay",
    "catch_up",
    "catch_up_window",
    "overlap",
    "jitter",
    "format",
    "namespace",
    "timestamps",
];
const JOB_KEYS: &[&str] = &[
    "cron",
    "every",
    "offset",
    "at",
    "command",
    "args",
    "env",
    "enabled",
    "description",
    "class",
    "list",
    "retry",
];
/// The most `retries` a job can have.
pub const MAX_RETRIES: u32 = 100;
/// Keys that only some enqueue formats take.
const FORMAT_KEYS: &[&str] = &["class", "list", "retry", "namespace", "timestamps"];

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
            .map(|k| (FORMAT_KEYS.contains(k), edit_distance(k, name), *k))
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
}

impl Common {
    /// Sets `key` from `value`. `None` if `key` is not a common setting.
    fn set(&mut self, key: &str, value: &DeValue<'_>) -> Option<Result<(), String>> {
        Some(match key {
            "timezone" => as_str(value).and_then(parse_zone).map(|v| self.timezone = Some(v)),
            "queue" => as_str(value).and_then(QueueName::new).map(|v| self.queue = Some(v)),
            "timeout" => positive_span(value).map(|v| self.timeout = Some(v)),
            "retries" => as_int(value).and_then(parse_retries).map(|v| self.retries = Some(v)),
            "retry_delay" => positive_span(value).map(|v| self.retry_delay = Some(v)),
            "catch_up" => as_str(value).and_then(parse_catch_up).map(|v| self.catch_up = Some(v)),
            "catch_up_window" => positive_span(value).map(|v| self.catch_up_window = Some(v)),
            "overlap" => as_str(value).and_then(parse_overlap).map(|v| self.overlap = Some(v)),
            "jitter" => as_span(value).map(|v| self.jitter = Some(v)),
            "format" => as_str(value).and_then(FormatKind::parse).map(|v| self.format = Some(v)),
            "namespace" => {
                as_str(value).and_then(format::parse_namespace).map(|v| self.namespace = Some(v.to_owned()))
            }
            "timestamps" => {
                as_str(value).and_then(format::parse_timestamps).map(|v| self.timestamps = Some(v))
            }
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
        }
    }
}

/// What [`validate`] found.
pub(super) struct Validated {
    pub jobs: Vec<Job>,
    pub redis: RedisSettings,
    pub worker: WorkerSettings,
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
    let mut webhooks = Vec::new();
    let mut email = None;
    if parse_errors.is_empty() {
        if let Some(value) = root.get_ref().get("redis") {
            redis = validate_redis(&mut ctx, value);
        }
        if let Some(value) = root.get_ref().get("worker") {
            worker = validate_worker(&mut ctx, value);
        }
        jobs = validate_root(&mut ctx, root.get_ref(), now);
        if let Some(value) = root.get_ref().get("notify") {
            (webhooks, email) = validate_notify(&mut ctx, value, &jobs);
        }
    }
    let by_position = |d: &Diagnostic| (d.line, d.column);
    ctx.errors.sort_by_key(by_position);
    ctx.warnings.sort_by_key(by_position);
    Validated { jobs, redis, worker, webhooks, email, errors: ctx.errors, warnings: ctx.warnings }
}

fn validate_root(ctx: &mut Ctx<'_>, root: &DeTable<'_>, now: DateTime<Utc>) -> Vec<Job> {
    let mut common = Common::default();
    for (key, value) in root {
        if key.get_ref() == "defaults" {
            let Some(table) = table_of(ctx, value, None, "defaults") else { continue };
            for (k, v) in table {
                match common.set(k.get_ref(), v.get_ref()) {
                    Some(Ok(())) => {}
                    Some(Err(message)) => {
                        ctx.error(&v.span(), None, Some(&format!("defaults.{}", k.get_ref())), message)
                    }
                    None => ctx.unknown_key(k, None, &[COMMON_KEYS]),
                }
            }
        } else if !matches!(key.get_ref().as_ref(), "jobs" | "redis" | "notify" | "worker") {
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

fn validate_redis(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> RedisSettings {
    let mut settings = RedisSettings::default();
    let Some(table) = table_of(ctx, value, None, "redis") else { return settings };
    for (k, v) in table {
        let value = v.get_ref();
        let result = match k.get_ref().as_ref() {
            "url" => as_str(value).and_then(parse_redis_url).map(|u| settings.url = Some(u.to_owned())),
            "prefix" => as_str(value).and_then(parse_prefix).map(|p| settings.prefix = p.to_owned()),
            "tls_insecure" => as_bool(value).map(|b| settings.tls_insecure = b),
            "cluster" => {
                string_list(value).and_then(|nodes| parse_cluster(&nodes)).map(|n| settings.cluster = n)
            }
            "wait_replicas" => as_int(value)
                .and_then(|n| u32::try_from(n).map_err(|_| format!("{n} is not a number of replicas")))
                .map(|n| settings.wait_replicas = n),
            "wait_timeout_ms" => as_int(value)
                .and_then(|n| match n {
                    1..=60_000 => Ok(n as u64),
                    _ => Err(format!("{n} is not between 1 and 60000 milliseconds")),
                })
                .map(|n| settings.wait_timeout_ms = n),
            _ => {
                ctx.unknown_key(k, None, &[REDIS_KEYS]);
                Ok(())
            }
        };
        if let Err(message) = result {
            ctx.error(&v.span(), None, Some(&format!("redis.{}", k.get_ref())), message);
        }
    }
    if !settings.cluster.is_empty()
        && let Some(url) = table.get("url")
    {
        ctx.error(&url.span(), None, Some("redis.url"), "set either url or cluster, not both".into());
    }
    settings
}

fn validate_worker(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> WorkerSettings {
    let mut settings = WorkerSettings::default();
    let Some(table) = table_of(ctx, value, None, "worker") else { return settings };
    for (k, v) in table {
        let result = match k.get_ref().as_ref() {
            "max_payload_bytes" => as_int(v.get_ref())
                .and_then(|n| match n {
                    1024..=MAX_PAYLOAD_BYTES_LIMIT => Ok(n as usize),
                    _ => Err(format!("{n} is not between 1024 and {MAX_PAYLOAD_BYTES_LIMIT} bytes")),
                })
                .map(|n| settings.max_payload_bytes = n),
            _ => {
                ctx.unknown_key(k, None, &[WORKER_KEYS]);
                Ok(())
            }
        };
        if let Err(message) = result {
            ctx.error(&v.span(), None, Some(&format!("worker.{}", k.get_ref())), message);
        }
    }
    settings
}

fn validate_notify(
    ctx: &mut Ctx<'_>,
    value: &Spanned<DeValue<'_>>,
    jobs: &[Job],
) -> (Vec<Webhook>, Option<EmailSettings>) {
    let mut hooks = Vec::new();
    let mut email = None;
    let Some(table) = table_of(ctx, value, None, "notify") else { return (hooks, email) };
    for (k, v) in table {
        if k.get_ref() == "email" {
            email = validate_email(ctx, v, jobs);
            continue;
        }
        if k.get_ref() != "webhooks" {
            ctx.unknown_key(k, None, &[NOTIFY_KEYS]);
            continue;
        }
        let Some(items) = v.get_ref().as_array() else {
            ctx.error(
                &v.span(),
                None,
                Some("notify.webhooks"),
                "expected an array of tables ([[notify.webhooks]])".into(),
            );
            continue;
        };
        for item in items.iter() {
            if let Some(hook) = validate_webhook(ctx, item, jobs) {
                hooks.push(hook);
            }
        }
    }
    (hooks, email)
}

fn validate_email(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>, jobs: &[Job]) -> Option<EmailSettings> {
    let table = table_of(ctx, value, None, "notify.email")?;
    let before = ctx.errors.len();
    let mut email = EmailSettings {
        to: Vec::new(),
        from: String::new(),
        events: vec![Event::Failed, Event::Dead, Event::Missed],
        jobs: None,
        smtp_url: None,
        rate_limit: std::time::Duration::from_secs(600),
    };
    for (k, v) in table {
        let field = format!("notify.email.{}", k.get_ref());
        let value = v.get_ref();
        let result = match k.get_ref().as_ref() {
            "to" => string_list(value).and_then(|to| {
                if to.is_empty() {
                    return Err("needs at least one address".into());
                }
                email.to = to;
                Ok(())
            }),
            "from" => as_str(value).and_then(non_empty).map(|f| email.from = f.to_owned()),
            "events" => string_list(value).and_then(|names| {
                email.events = names
                    .iter()
                    .map(|n| Event::parse(n).ok_or_else(|| format!("unknown event {n:?}")))
                    .collect::<Result<_, _>>()?;
                Ok(())
            }),
            "jobs" => string_list(value).and_then(|names| {
                if let Some(unknown) =
                    names.iter().find(|n| !jobs.iter().any(|j| j.name.as_str() == n.as_str()))
                {
                    return Err(format!("no job named {unknown:?}"));
                }
                email.jobs = Some(names);
                Ok(())
            }),
            "smtp_url" => as_str(value).and_then(|u| {
                if u.starts_with("smtp://") || u.starts_with("smtps://") {
                    email.smtp_url = Some(u.to_owned());
                    Ok(())
                } else {
                    Err("expected an smtp:// or smtps:// URL".into())
                }
            }),
            "rate_limit" => as_span(value).map(|s| email.rate_limit = s.as_duration()),
            _ => {
                ctx.unknown_key(k, None, &[EMAIL_KEYS]);
                Ok(())
            }
        };
        if let Err(message) = result {
            ctx.error(&v.span(), None, Some(&field), message);
        }
    }
    for required in ["to", "from"] {
        if !table.contains_key(required) {
            ctx.error(&value.span(), None, Some(&format!("notify.email.{required}")), "missing".into());
        }
    }
    (ctx.errors.len() == before).then_some(email)
}

fn validate_webhook(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>, jobs: &[Job]) -> Option<Webhook> {
    let table = table_of(ctx, value, None, "a webhook")?;
    let before = ctx.errors.len();
    let mut hook = Webhook {
        url: String::new(),
        events: vec![Event::Failed, Event::Dead, Event::Missed, Event::Recovered],
        jobs: None,
    };
    for (k, v) in table {
        let field = format!("notify.webhooks.{}", k.get_ref());
        let result = match k.get_ref().as_ref() {
            "url" => as_str(v.get_ref()).and_then(|u| {
                if u.starts_with("http://") || u.starts_with("https://") {
                    hook.url = u.to_owned();
                    Ok(())
                } else {
                    Err(format!("{u:?} is not an http:// or https:// URL"))
                }
            }),
            "events" => string_list(v.get_ref()).and_then(|names| {
                hook.events = names
                    .iter()
                    .map(|n| {
                        Event::parse(n).ok_or_else(|| {
                            format!(
                                "unknown event {n:?} (expected failed, dead, missed, skipped or recovered)"
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(())
            }),
            "jobs" => string_list(v.get_ref()).and_then(|names| {
                if let Some(unknown) =
                    names.iter().find(|n| !jobs.iter().any(|j| j.name.as_str() == n.as_str()))
                {
                    return Err(format!("no job named {unknown:?}"));
                }
                hook.jobs = Some(names);
                Ok(())
            }),
            _ => {
                ctx.unknown_key(k, None, &[WEBHOOK_KEYS]);
                Ok(())
            }
        };
        if let Err(message) = result {
            ctx.error(&v.span(), None, Some(&field), message);
        }
    }
    if hook.url.is_empty() && !table.contains_key("url") {
        ctx.error(&value.span(), None, Some("notify.webhooks.url"), "missing: a webhook needs a url".into());
    }
    (ctx.errors.len() == before).then_some(hook)
}

fn string_list(value: &DeValue<'_>) -> Result<Vec<String>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("expected an array of strings, found {}", value.type_str()))?;
    items
        .iter()
        .map(|v| {
            v.get_ref().as_str().map(str::to_owned).ok_or_else(|| "expected an array of strings".to_string())
        })
        .collect()
}

fn parse_redis_url(url: &str) -> Result<&str, String> {
    if !super::redis::is_known_scheme(url) {
        return Err("expected a redis://, rediss://, redis+cluster:// or redis+sentinel:// URL".into());
    }
    let settings = RedisSettings { url: Some(url.to_owned()), ..RedisSettings::default() };
    settings.topology()?;
    Ok(url)
}

fn parse_cluster(nodes: &[String]) -> Result<Vec<String>, String> {
    if nodes.is_empty() {
        return Err("list at least one node".into());
    }
    if let Some(bad) = nodes.iter().find(|n| !n.starts_with("redis://") && !n.starts_with("rediss://")) {
        return Err(format!("expected redis:// or rediss:// node URLs, found {bad:?}"));
    }
    Ok(nodes.to_vec())
}

fn parse_prefix(prefix: &str) -> Result<&str, String> {
    if prefix.is_empty() || prefix.contains(['{', '}']) || prefix.chars().any(char::is_whitespace) {
        return Err(format!("{prefix:?} must be non-empty, without braces or whitespace"));
    }
    Ok(prefix)
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

/// The schedule keys as written, before the job's zone is known.
enum RawSchedule {
    Cron(Cron),
    Every(Span),
    At(RawInstant),
}

enum RawInstant {
    Utc(DateTime<Utc>),
    Local(NaiveDateTime),
}

fn validate_job(
    ctx: &mut Ctx<'_>,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
    defaults_: &Common,
    now: DateTime<Utc>,
) -> Option<Job> {
    let raw_name = key.get_ref().as_ref();
    let job = Some(raw_name);
    let name = JobName::new(raw_name).map_err(|m| ctx.error(&key.span(), job, None, m)).ok();
    let table = table_of(ctx, value, job, "a job")?;
    let errors_before = ctx.errors.len();

    let mut common = Common::default();
    let mut schedules: Vec<(&str, Range<usize>, RawSchedule)> = Vec::new();
    let mut offset: Option<(Span, Range<usize>)> = None;
    let mut command = None;
    let mut args = serde_json::Value::Null;
    let mut env = BTreeMap::new();
    let mut enabled = true;
    let mut description = None;
    let mut target = TargetKeys::default();

    for (k, v) in table {
        let field = k.get_ref().as_ref();
        let span = v.span();
        let value = v.get_ref();
        let result = match field {
            "cron" => as_str(value)
                .and_then(|s| Cron::parse(s).map_err(|e| e.to_string()))
                .map(|c| schedules.push(("cron", span.clone(), RawSchedule::Cron(c)))),
            "every" => {
                positive_span(value).map(|p| schedules.push(("every", span.clone(), RawSchedule::Every(p))))
            }
            "at" => parse_at(value).map(|at| schedules.push(("at", span.clone(), RawSchedule::At(at)))),
            "offset" => as_span(value).map(|o| offset = Some((o, span.clone()))),
            "command" => as_str(value)
                .and_then(non_empty)
                .and_then(executable_command)
                .map(|c| command = Some(c.to_owned())),
            "args" => to_json(value).map(|a| args = a),
            "env" => parse_env(value).map(|e| env = e),
            "enabled" => as_bool(value).map(|b| enabled = b),
            "description" => as_str(value).map(|d| description = Some(d.to_owned())),
            "class" => as_str(value).and_then(format::parse_class).map(|c| target.class = Some(c.to_owned())),
            "list" => as_str(value).and_then(format::parse_list).map(|l| target.list = Some(l.to_owned())),
            "retry" => parse_sidekiq_retry(value).map(|r| target.retry = Some(r)),
            _ => match common.set(field, value) {
                Some(result) => result,
                None => {
                    ctx.unknown_key(k, job, &[JOB_KEYS, COMMON_KEYS]);
                    Ok(())
                }
            },
        };
        if let Err(message) = result {
            ctx.error(&span, job, Some(field), message);
        }
    }

    let settings = common.or(defaults_);
    let timezone = settings.timezone.unwrap_or(Tz::UTC);
    // An invalid `format` is reported already; checking keys against a guess
    // would only add noise.
    let format_failed = format_is_invalid(table);
    let kind = settings.format.unwrap_or(FormatKind::Campanile);
    if !format_failed && kind == FormatKind::Campanile && command.is_none() && !table.contains_key("command")
    {
        ctx.error(&key.span(), job, Some("command"), "missing: every job needs a command to run".into());
    }
    let format = if format_failed {
        None
    } else {
        reject_keys_of_other_formats(ctx, job, table, kind);
        resolve_format(ctx, job, key, table, kind, &settings, target, &args)
    };
    // Every schedule key given, parsed or not: a second kind is reported
    // even when the first one's value is wrong.
    let kinds: Vec<(&str, Range<usize>)> = table
        .iter()
        .map(|(k, v)| (k.get_ref().as_ref(), v.span()))
        .filter_map(|(k, span)| {
            ["cron", "every", "at"].into_iter().find(|kind| *kind == k).map(|k| (k, span))
        })
        .collect();
    let schedule = match (kinds.as_slice(), schedules.as_slice()) {
        ([], _) => {
            ctx.error(&key.span(), job, None, "no schedule: set exactly one of cron, every or at".into());
            None
        }
        ([_], [(_, span, raw)]) => resolve_schedule(ctx, job, span, raw, timezone, offset.as_ref(), now),
        ([_], _) => None,
        ([(first, _), rest @ ..], _) => {
            for (field, span) in rest {
                let msg =
                    format!("a job has exactly one of cron, every or at, and this one also has {first}");
                ctx.error(span, job, Some(field), msg);
            }
            None
        }
    };
    if let (Some(Schedule::Every { period, .. }), Some(jitter)) = (&schedule, settings.jitter)
        && jitter >= *period
    {
        let span = table.get("jitter").map_or(key.span(), |v| v.span());
        let msg = format!("jitter {jitter} must be shorter than the interval {period}");
        ctx.error(&span, job, Some("jitter"), msg);
    }
    let queue = settings
        .queue
        .clone()
        .unwrap_or_else(|| QueueName::new(defaults::QUEUE).expect("valid default queue"));
    let queue = match ctx.queues.get(&queue) {
        Some(shared) => shared.clone(),
        None => {
            ctx.queues.insert(queue.clone());
            queue
        }
    };
    let at = |field: &str| table.get(field).map(|v| ctx.index.locate(v.span().start));
    let format_at =
        FormatAt { key: ctx.index.locate(key.span().start), format: at("format"), list: at("list") };
    if ctx.errors.len() > errors_before {
        return None;
    }
    Some(Job {
        name: name?,
        schedule: schedule?,
        timezone,
        queue,
        command: if kind == FormatKind::Campanile { Some(command?) } else { None },
        format: format?,
        timeout: settings.timeout.unwrap_or(defaults::TIMEOUT),
        retries: settings.retries.unwrap_or(defaults::RETRIES),
        retry_delay: settings.retry_delay.unwrap_or(defaults::RETRY_DELAY),
        catch_up: settings.catch_up.unwrap_or_default(),
        catch_up_window: settings.catch_up_window.unwrap_or(defaults::CATCH_UP_WINDOW),
        // Only a campanile worker clears the in-flight marker.
        overlap: if kind == FormatKind::Campanile {
            settings.overlap.unwrap_or_default()
        } else {
            Overlap::Allow
        },
        jitter: settings.jitter.unwrap_or(Span::ZERO),
        args,
        env,
        enabled,
        description,
        line: ctx.index.locate(key.span().start).0,
        format_at,
    })
}

/// The format-specific keys of a job table, before the job's format is known.
#[derive(Default)]
struct TargetKeys {
    class: Option<String>,
    list: Option<String>,
    retry: Option<format::SidekiqRetry>,
}

/// A job-level key of another format than the job's is an error (set in
/// `[defaults]`, it applies only to the jobs whose format reads it), and so
/// is `overlap = "skip"` for a job no campanile worker runs.
fn reject_keys_of_other_formats(ctx: &mut Ctx<'_>, job: Option<&str>, table: &DeTable<'_>, kind: FormatKind) {
    for (k, v) in table {
        let field = k.get_ref().as_ref();
        let owners: Vec<FormatKind> =
            FormatKind::ALL.into_iter().filter(|f| f.keys().contains(&field)).collect();
        if owners.is_empty() || owners.contains(&kind) {
            continue;
        }
        let names: Vec<String> = owners.iter().map(|f| format!("{:?}", f.as_str())).collect();
        let plural = if names.len() > 1 { "s" } else { "" };
        let msg = format!(
            "applies only to format{plural} {}; this job's format is {:?}",
            names.join(" and "),
            kind.as_str()
        );
        ctx.error(&v.span(), job, Some(field), msg);
    }
    if kind != FormatKind::Campanile
        && let Some(v) = table.get("overlap")
        && v.get_ref().as_str() == Some("skip")
    {
        let msg = format!(
            "\"skip\" needs a campanile worker to clear the in-flight marker; a {kind} job can only use \"allow\""
        );
        ctx.error(&v.span(), job, Some("overlap"), msg);
    }
}

/// The job's [`Format`] from its keys and `[defaults]`, requiring what the
/// format needs.
#[allow(clippy::too_many_arguments)]
fn resolve_format(
    ctx: &mut Ctx<'_>,
    job: Option<&str>,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    table: &DeTable<'_>,
    kind: FormatKind,
    settings: &Common,
    target: TargetKeys,
    args: &serde_json::Value,
) -> Option<Format> {
    let before = ctx.errors.len();
    let runner = match kind {
        FormatKind::Sidekiq => "Sidekiq",
        FormatKind::Resque => "Resque",
        _ => "",
    };
    if matches!(kind, FormatKind::Sidekiq | FormatKind::Resque) {
        if target.class.is_none() && !table.contains_key("class") {
            ctx.error(
                &key.span(),
                job,
                Some("class"),
                format!("missing: a {kind} job needs the class {runner} runs"),
            );
        }
        if !args.is_array() && !args.is_null() {
            let span = table.get("args").map_or(key.span(), |v| v.span());
            let found = table.get("args").map_or("nothing", |v| v.get_ref().type_str());
            let msg = format!(
                "{runner} calls perform(*args), so a {kind} job's args must be an array, found {found}"
            );
            ctx.error(&span, job, Some("args"), msg);
        }
    }
    if kind == FormatKind::Json {
        if target.list.is_none() && !table.contains_key("list") {
            ctx.error(
                &key.span(),
                job,
                Some("list"),
                "missing: a json job needs the Redis list to push to".into(),
            );
        }
        if !table.contains_key("args") {
            ctx.error(
                &key.span(),
                job,
                Some("args"),
                "missing: a json job pushes its args as they are, so set args".into(),
            );
        }
    }
    if ctx.errors.len() > before {
        return None;
    }
    Some(match kind {
        FormatKind::Campanile => Format::Campanile,
        FormatKind::Sidekiq => Format::Sidekiq(format::Sidekiq {
            class: target.class?,
            retry: target.retry.unwrap_or(format::SidekiqRetry::Enabled(true)),
            namespace: settings.namespace.clone(),
            timestamps: settings.timestamps.unwrap_or_default(),
        }),
        FormatKind::Resque => Format::Resque(format::Resque {
            class: target.class?,
            namespace: settings.namespace.clone().unwrap_or_else(|| format::RESQUE_NAMESPACE.into()),
        }),
        FormatKind::Json => Format::Json { list: target.list? },
    })
}

/// Whether the job's own `format` value is not a format.
fn format_is_invalid(table: &DeTable<'_>) -> bool {
    table
        .get("format")
        .is_some_and(|v| v.get_ref().as_str().and_then(|s| FormatKind::parse(s).ok()).is_none())
}

/// Sidekiq's `retry`: `true`, `false` or a non-negative count.
fn parse_sidekiq_retry(value: &DeValue<'_>) -> Result<format::SidekiqRetry, String> {
    if let Some(b) = value.as_bool() {
        return Ok(format::SidekiqRetry::Enabled(b));
    }
    let n =
        as_int(value).map_err(|_| format!("expected true, false or a count, found {}", value.type_str()))?;
    u32::try_from(n).map(format::SidekiqRetry::Times).map_err(|_| format!("{n} is not a count (0 or more)"))
}

fn resolve_schedule(
    ctx: &mut Ctx<'_>,
    job: Option<&str>,
    span: &Range<usize>,
    raw: &RawSchedule,
    tz: Tz,
    offset: Option<&(Span, Range<usize>)>,
    now: DateTime<Utc>,
) -> Option<Schedule> {
    if let (Some((_, offset_span)), RawSchedule::Cron(_) | RawSchedule::At(_)) = (offset, raw) {
        ctx.error(offset_span, job, Some("offset"), "offset applies only to every".into());
        return None;
    }
    match raw {
        RawSchedule::Cron(cron) => Some(Schedule::Cron { cron: cron.clone(), tz }),
        RawSchedule::Every(period) => {
            let offset_value = offset.map_or(Span::ZERO, |(o, _)| *o);
            if offset_value >= *period {
                let offset_span = offset.map_or(span.clone(), |(_, s)| s.clone());
                ctx.error(
                    &offset_span,
                    job,
                    Some("offset"),
                    format!("offset {offset_value} must be shorter than the interval {period}"),
                );
                return None;
            }
            Some(Schedule::Every { period: *period, offset: offset_value })
        }
        RawSchedule::At(at) => {
            let at = match at {
                RawInstant::Utc(at) => *at,
                RawInstant::Local(local) => match tz.from_local_datetime(local) {
                    LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
                    LocalResult::None => {
                        let msg =
                            format!("{local} does not exist in {tz} (skipped by a daylight-saving change)");
                        ctx.error(span, job, Some("at"), msg);
                        return None;
                    }
                },
            };
            if at <= now {
                let msg =
                    format!("{} is in the past, so this job will not run", at.format("%Y-%m-%dT%H:%M:%SZ"));
                ctx.warn(span, job, Some("at"), msg);
            }
            Some(Schedule::At(at))
        }
    }
}

fn as_str<'a>(value: &'a DeValue<'_>) -> Result<&'a str, String> {
    value.as_str().ok_or_else(|| format!("expected a string, found {}", value.type_str()))
}

fn as_bool(value: &DeValue<'_>) -> Result<bool, String> {
    value.as_bool().ok_or_else(|| format!("expected true or false, found {}", value.type_str()))
}

fn as_int(value: &DeValue<'_>) -> Result<i64, String> {
    let int = value.as_integer().ok_or_else(|| format!("expected an integer, found {}", value.type_str()))?;
    i64::from_str_radix(int.as_str(), int.radix()).map_err(|_| format!("{int} is too large"))
}

fn as_span(value: &DeValue<'_>) -> Result<Span, String> {
    as_str(value).and_then(Span::parse)
}

fn positive_span(value: &DeValue<'_>) -> Result<Span, String> {
    let span = as_span(value)?;
    if span == Span::ZERO {
        return Err("must be longer than 0s".into());
    }
    Ok(span)
}

/// The longest string `execve(2)` takes as one argument or environment
/// entry on Linux (`MAX_ARG_STRLEN` is 32 pages, the terminating nul
/// included).
const MAX_ENV_STRING: usize = 131_072 - 1;

/// A command `sh -c` can be given: no nul byte, no longer than one
/// argument can be.
fn executable_command(s: &str) -> Result<&str, String> {
    if s.contains('\0') {
        return Err("contains a nul byte, which no command can be given".into());
    }
    if s.len() > MAX_ENV_STRING {
        return Err(format!("is {} bytes; a command can be at most {MAX_ENV_STRING} bytes", s.len()));
    }
    Ok(s)
}

fn non_empty(s: &str) -> Result<&str, String> {
    if s.trim().is_empty() { Err("must not be empty".into()) } else { Ok(s) }
}

fn parse_zone(name: &str) -> Result<Tz, String> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    let folded = |s: &str| s.to_ascii_lowercase().replace([' ', '-'], "_");
    let hint = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| folded(tz.name()) == folded(name))
        .map(|tz| format!(" (did you mean {:?}?)", tz.name()))
        .unwrap_or_else(|| " (expected an IANA name such as \"Europe/London\")".into());
    Err(format!("unknown time zone {name:?}{hint}"))
}

fn parse_retries(n: i64) -> Result<u32, String> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_RETRIES)
        .ok_or_else(|| format!("{n} is out of range 0-{MAX_RETRIES}"))
}

fn parse_catch_up(s: &str) -> Result<CatchUp, String> {
    match s {
        "latest" => Ok(CatchUp::Latest),
        "all" => Ok(CatchUp::All),
        "none" => Ok(CatchUp::None),
        _ => Err(format!("{s:?} is not one of \"latest\", \"all\", \"none\"")),
    }
}

fn parse_overlap(s: &str) -> Result<Overlap, String> {
    match s {
        "skip" => Ok(Overlap::Skip),
        "allow" => Ok(Overlap::Allow),
        _ => Err(format!("{s:?} is not one of \"skip\", \"allow\"")),
    }
}

/// `at` as an RFC 3339 instant, or a local date-time in the job's zone;
/// either as a TOML string or a TOML date-time.
fn parse_at(value: &DeValue<'_>) -> Result<RawInstant, String> {
    let text = match value {
        DeValue::String(s) => s.to_string(),
        DeValue::Datetime(dt) => dt.to_string(),
        other => return Err(format!("expected a date-time, found {}", other.type_str())),
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
        return Ok(RawInstant::Utc(at.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(&text, format) {
            return Ok(RawInstant::Local(local));
        }
    }
    Err(format!(
        "{text:?} is not a date-time (expected RFC 3339 like \"2026-12-01T09:00:00+01:00\", or a local \"2026-12-01T09:00:00\" in the job's timezone)"
    ))
}

fn parse_env(value: &DeValue<'_>) -> Result<BTreeMap<String, String>, String> {
    let table =
        value.as_table().ok_or_else(|| format!("expected a table of strings, found {}", value.type_str()))?;
    let mut env = BTreeMap::new();
    for (k, v) in table {
        let name = k.get_ref().as_ref();
        let valid = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(format!("{name:?} is not a valid environment variable name"));
        }
        let value = v
            .get_ref()
            .as_str()
            .ok_or_else(|| format!("{name}: expected a string, found {}", v.get_ref().type_str()))?;
        if value.contains('\0') {
            return Err(format!("{name}: contains a nul byte, which no environment can hold"));
        }
        let size = name.len() + 1 + value.len();
        if size > MAX_ENV_STRING {
            return Err(format!(
                "{name}: \"{name}=…\" is {size} bytes; one environment string can be at most {MAX_ENV_STRING} bytes"
            ));
        }
        env.insert(name.to_owned(), value.to_owned());
    }
    Ok(env)
}

/// Any TOML value as JSON; date-times become RFC 3339 strings.
fn to_json(value: &DeValue<'_>) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match value {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let n = i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| format!("{i} is too large"))?;
            Value::from(n)
        }
        DeValue::Float(f) => {
            let n: f64 = f.as_str().replace('_', "").parse().map_err(|_| format!("{f} is not a number"))?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| format!("{f} cannot be represented in JSON"))?
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(dt) => Value::String(dt.to_string()),
        DeValue::Array(items) => {
            Value::Array(items.iter().map(|v| to_json(v.get_ref())).collect::<Result<_, _>>()?)
        }
        DeValue::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.get_ref().to_string(), to_json(v.get_ref())?)))
                .collect::<Result<_, String>>()?,
        ),
    })
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
