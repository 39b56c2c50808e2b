//! `[jobs.NAME]`: a job's schedule, enqueue format and settings.

use super::*;

/// The schedule keys as written, before the job's zone is known.
pub(super) enum RawSchedule {
    Cron(Cron),
    Every(Span),
    At(RawInstant),
}

pub(super) enum RawInstant {
    Utc(DateTime<Utc>),
    Local(NaiveDateTime),
}

pub(super) fn validate_job(
    ctx: &mut Ctx<'_>,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
    defaults_: &Common,
    now: DateTime<Utc>,
) -> Option<Job> {
    let raw_name = key.get_ref().as_ref();
    let job = Some(raw_name);
    let name = JobName::new(raw_name).map_err(|m| ctx.error(&key.span(), job, None, m.to_string())).ok();
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
                .and_then(|s| Cron::parse(s).map_err(|e| Invalid(e.to_string())))
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
            "class" => as_str(value)
                .and_then(|s| Ok(format::parse_class(s)?))
                .map(|c| target.class = Some(c.to_owned())),
            "list" => as_str(value)
                .and_then(|s| Ok(format::parse_list(s)?))
                .map(|l| target.list = Some(l.to_owned())),
            "retry" => parse_sidekiq_retry(value).map(|r| target.retry = Some(r)),
            "task" => as_str(value)
                .and_then(|s| Ok(format::parse_task(s)?))
                .map(|t| target.task = Some(t.to_owned())),
            "kwargs" => parse_kwargs(value).map(|k| target.kwargs = Some(k)),
            "function" => as_str(value)
                .and_then(|s| Ok(format::parse_function(s)?))
                .map(|f| target.function = Some(f.to_owned())),
            "job_timeout" => positive_span(value).map(|t| target.job_timeout = Some(t)),
            "name" => as_str(value)
                .and_then(|s| Ok(format::parse_name(s)?))
                .map(|n| target.name = Some(n.to_owned())),
            "data" => parse_data(value).map(|d| target.data = Some(d)),
            "attempts" => as_int(value).and_then(parse_attempts).map(|a| target.attempts = Some(a)),
            "backoff" => {
                to_json(value).and_then(|b| Ok(format::parse_backoff(b)?)).map(|b| target.backoff = Some(b))
            }
            _ => match common.set(field, value) {
                Some(result) => result,
                None => {
                    ctx.unknown_key(k, job, &[&job_table_keys(Scope::Job)]);
                    Ok(())
                }
            },
        };
        if let Err(message) = result {
            ctx.error(&span, job, Some(field), message.into_message());
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
        if kind == FormatKind::Bullmq {
            // A BullMQ job's `data` is what every other format calls args.
            args = target.data.take().unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        }
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
    let queue = settings.queue.clone().unwrap_or_else(|| default_queue(kind));
    let queue = match ctx.queues.get(&queue) {
        Some(shared) => shared.clone(),
        None => {
            ctx.queues.insert(queue.clone());
            queue
        }
    };
    let timeout = settings.timeout.unwrap_or(defaults::TIMEOUT);
    if let Some(warn_after) = settings.warn_after
        && warn_after >= timeout
    {
        let span = table.get("warn_after").map_or(key.span(), |v| v.span());
        let msg = format!("warn_after {warn_after} must be shorter than the timeout {timeout}");
        ctx.error(&span, job, Some("warn_after"), msg);
    }
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
        timeout,
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
        start_within: settings.start_within.unwrap_or_default(),
        warn_after: settings.warn_after,
        ping: settings.ping,
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
pub(super) struct TargetKeys {
    class: Option<String>,
    list: Option<String>,
    retry: Option<format::SidekiqRetry>,
    task: Option<String>,
    kwargs: Option<serde_json::Map<String, serde_json::Value>>,
    function: Option<String>,
    job_timeout: Option<Span>,
    name: Option<String>,
    data: Option<serde_json::Value>,
    attempts: Option<u32>,
    backoff: Option<serde_json::Value>,
}

/// The queue of a job that names none: the tool's own default queue.
fn default_queue(kind: FormatKind) -> QueueName {
    let name = match kind {
        FormatKind::Celery => format::CELERY_QUEUE,
        FormatKind::Rq => format::RQ_QUEUE,
        _ => defaults::QUEUE,
    };
    QueueName::new(name).expect("valid default queue")
}

/// Keyword arguments: a table, passed as a JSON object.
fn parse_kwargs(value: &DeValue<'_>) -> Result<serde_json::Map<String, serde_json::Value>, Invalid> {
    match to_json(value)? {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(invalid!("expected a table of keyword arguments, found {}", value.type_str())),
    }
}

/// BullMQ's `data`: a table, passed as the job's JSON object.
fn parse_data(value: &DeValue<'_>) -> Result<serde_json::Value, Invalid> {
    match to_json(value)? {
        data @ serde_json::Value::Object(_) => Ok(data),
        _ => Err(invalid!("expected a table (the job's data object), found {}", value.type_str())),
    }
}

/// BullMQ's `attempts`: how many tries, at least one.
fn parse_attempts(n: i64) -> Result<u32, Invalid> {
    u32::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| invalid!("{n} is not a number of attempts (1 or more)"))
}

/// A job-level key of another format than the job's is an error (set in
/// `[defaults]`, it applies only to the jobs whose format reads it), and so
/// is `overlap = "skip"` for a job no campanile worker runs.
pub(super) fn reject_keys_of_other_formats(
    ctx: &mut Ctx<'_>,
    job: Option<&str>,
    table: &DeTable<'_>,
    kind: FormatKind,
) {
    for (k, v) in table {
        let field = k.get_ref().as_ref();
        let owners = formats_reading(field);
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
pub(super) fn resolve_format(
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
        FormatKind::Celery => "Celery",
        FormatKind::Rq => "RQ",
        FormatKind::Bullmq => "BullMQ",
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
    let (name_key, what) = match kind {
        FormatKind::Celery => ("task", "the name of the task Celery runs"),
        _ => ("function", "the dotted path of the function RQ calls"),
    };
    let named = match kind {
        FormatKind::Celery => target.task.is_some(),
        _ => target.function.is_some(),
    };
    if matches!(kind, FormatKind::Celery | FormatKind::Rq) {
        if !named && !table.contains_key(name_key) {
            ctx.error(&key.span(), job, Some(name_key), format!("missing: a {kind} job needs {what}"));
        }
        if !args.is_array() && !args.is_null() {
            let span = table.get("args").map_or(key.span(), |v| v.span());
            let found = table.get("args").map_or("nothing", |v| v.get_ref().type_str());
            let msg = format!(
                "{runner} calls the function with *args and **kwargs, so a {kind} job's args must be an \
                 array (keyword arguments go in kwargs), found {found}"
            );
            ctx.error(&span, job, Some("args"), msg);
        }
    }
    if kind == FormatKind::Bullmq {
        if target.name.is_none() && !table.contains_key("name") {
            let msg = "missing: a bullmq job needs the job name the BullMQ worker sees".into();
            ctx.error(&key.span(), job, Some("name"), msg);
        }
        if let Some(v) = table.get("args") {
            let msg = "BullMQ passes one data object: set data (a table), not args".into();
            ctx.error(&v.span(), job, Some("args"), msg);
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
        FormatKind::Celery => {
            Format::Celery(format::Celery { task: target.task?, kwargs: target.kwargs.unwrap_or_default() })
        }
        FormatKind::Rq => Format::Rq(format::Rq {
            function: target.function?,
            kwargs: target.kwargs.unwrap_or_default(),
            timeout_secs: target.job_timeout.map_or(format::RQ_TIMEOUT_SECS, |t| t.as_secs().max(1)),
        }),
        FormatKind::Bullmq => Format::Bullmq(format::Bullmq {
            name: target.name?,
            prefix: settings.prefix.clone().unwrap_or_else(|| format::BULLMQ_PREFIX.into()),
            attempts: target.attempts.unwrap_or(0),
            backoff: target.backoff,
        }),
    })
}

/// Whether the job's own `format` value is not a format.
pub(super) fn format_is_invalid(table: &DeTable<'_>) -> bool {
    table
        .get("format")
        .is_some_and(|v| v.get_ref().as_str().and_then(|s| FormatKind::parse(s).ok()).is_none())
}

/// Sidekiq's `retry`: `true`, `false` or a non-negative count.
pub(super) fn parse_sidekiq_retry(value: &DeValue<'_>) -> Result<format::SidekiqRetry, Invalid> {
    if let Some(b) = value.as_bool() {
        return Ok(format::SidekiqRetry::Enabled(b));
    }
    let n =
        as_int(value).map_err(|_| format!("expected true, false or a count, found {}", value.type_str()))?;
    u32::try_from(n).map(format::SidekiqRetry::Times).map_err(|_| invalid!("{n} is not a count (0 or more)"))
}

pub(super) fn resolve_schedule(
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
