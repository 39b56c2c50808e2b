//! clock.toml is a public contract: these tests pin what it accepts, the
//! typed values it yields, and every error message.

use std::path::Path;

use campanile::config::format::{Bullmq, Celery, Format, Resque, Rq, Sidekiq, SidekiqRetry, Timestamps};
use campanile::config::{CatchUp, Config, Error, Overlap};
use campanile::duration::Span;
use campanile::schedule::Schedule;
use chrono::{DateTime, Utc};
use serde_json::json;

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

fn parse(text: &str) -> Result<Config, Error> {
    Config::parse(text, Path::new("clock.toml"), now())
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected errors"),
        Err(Error::Invalid { errors, .. }) => errors.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn example_config_in_the_repo_is_valid() {
    let config = Config::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/clock.toml")), now()).unwrap();
    let names: Vec<_> = config.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["heartbeat", "nightly-report", "poll-api"]);
    assert!(config.warnings.is_empty());
}

#[test]
fn every_key_parses_into_typed_values() {
    let config = parse(
        r#"
[defaults]
timezone = "Europe/London"
queue = "reports"
timeout = "5m"
retries = 5
catch_up = "all"
catch_up_window = "6h"
overlap = "allow"
jitter = "10s"

[jobs.full]
cron = "0 3 * * *"
timezone = "America/New_York"
queue = "critical"
command = "bin/report --nightly"
timeout = "1h30m"
retries = 0
catch_up = "none"
catch_up_window = "1d"
overlap = "skip"
jitter = "30s"
args = { format = "pdf", ids = [1, 2], ratio = 0.5, ok = true, when = 2026-01-01T00:00:00Z }
env = { REPORT_MODE = "full" }
enabled = false
description = "the nightly report"

[jobs.inherits]
every = "1h"
offset = "15m"
command = "bin/poll"
"#,
    )
    .unwrap();
    let full = config.job("full").unwrap();
    assert_eq!(full.schedule.to_string(), r#"cron "0 3 * * *""#);
    assert_eq!(full.timezone, chrono_tz::America::New_York);
    assert_eq!(full.queue.as_str(), "critical");
    assert_eq!(full.command.as_deref(), Some("bin/report --nightly"));
    assert_eq!(full.timeout, Span::from_secs(5400));
    assert_eq!(full.retries, 0);
    assert_eq!(full.catch_up, CatchUp::None);
    assert_eq!(full.catch_up_window, Span::from_secs(86_400));
    assert_eq!(full.overlap, Overlap::Skip);
    assert_eq!(full.jitter, Span::from_secs(30));
    assert_eq!(
        full.args,
        json!({"format": "pdf", "ids": [1, 2], "ratio": 0.5, "ok": true, "when": "2026-01-01T00:00:00Z"})
    );
    assert_eq!(full.env.get("REPORT_MODE").map(String::as_str), Some("full"));
    assert!(!full.enabled);
    assert_eq!(full.description.as_deref(), Some("the nightly report"));
    assert_eq!(full.line, 12);

    let inherits = config.job("inherits").unwrap();
    assert_eq!(
        inherits.schedule,
        Schedule::Every { period: Span::from_secs(3600), offset: Span::from_secs(900) }
    );
    assert_eq!(inherits.timezone, chrono_tz::Europe::London);
    assert_eq!(inherits.queue.as_str(), "reports");
    assert_eq!(inherits.timeout, Span::from_secs(300));
    assert_eq!(inherits.retries, 5);
    assert_eq!(inherits.catch_up, CatchUp::All);
    assert_eq!(inherits.catch_up_window, Span::from_secs(6 * 3600));
    assert_eq!(inherits.overlap, Overlap::Allow);
    assert_eq!(inherits.jitter, Span::from_secs(10));
    assert_eq!(inherits.args, serde_json::Value::Null);
    assert!(inherits.enabled);
}

#[test]
fn documented_defaults_apply_without_a_defaults_table() {
    let config = parse("[jobs.a]\nevery = \"1m\"\ncommand = \"x\"\n").unwrap();
    let job = config.job("a").unwrap();
    assert_eq!(job.timezone, chrono_tz::UTC);
    assert_eq!(job.queue.as_str(), "default");
    assert_eq!(job.timeout, Span::from_secs(1800));
    assert_eq!(job.retries, 3);
    assert_eq!(job.catch_up, CatchUp::Latest);
    assert_eq!(job.catch_up_window, Span::from_secs(86_400));
    assert_eq!(job.overlap, Overlap::Skip);
    assert_eq!(job.jitter, Span::ZERO);
    assert!(job.enabled);
}

#[test]
fn reports_every_error_at_once_with_line_column_job_and_field() {
    let text = r#"[defaults]
timezone = "Europe/Lodnon"
colour = "blue"

[jobs.nightly-report]
cron = "61 3 * * *"
command = "bin/report"
timout = "10m"

[jobs.poll]
every = "0s"
command = "bin/poll"
retries = -1

[jobs.both]
cron = "@daily"
every = "5m"
command = "x"

[jobs.nothing]
command = "x"

[jobs.nocmd]
every = "1m"

[jobs.zone]
cron = "0 9 * * *"
timezone = "america/new_york"
command = "x"
catch_up = "some"
overlap = true

[jobs."bad name"]
every = "1m"
command = "x"
"#;
    assert_eq!(
        errors(text),
        [
            r#"clock.toml:2:12: field "defaults.timezone": unknown time zone "Europe/Lodnon" (expected an IANA name such as "Europe/London")"#,
            r#"clock.toml:3:1: unknown key "colour" (expected one of: timezone, queue, timeout, retries, retry_delay, catch_up, catch_up_window, overlap, jitter, format, namespace, timestamps, prefix, start_within, warn_after, ping_url)"#,
            r#"clock.toml:6:8: job "nightly-report": field "cron": minute: 61 is out of range 0-59"#,
            r#"clock.toml:8:1: job "nightly-report": unknown key "timout" (did you mean "timeout"?)"#,
            r#"clock.toml:11:9: job "poll": field "every": must be longer than 0s"#,
            r#"clock.toml:13:11: job "poll": field "retries": -1 is out of range 0-100"#,
            r#"clock.toml:17:9: job "both": field "every": a job has exactly one of cron, every or at, and this one also has cron"#,
            r#"clock.toml:20:7: job "nothing": no schedule: set exactly one of cron, every or at"#,
            r#"clock.toml:23:7: job "nocmd": field "command": missing: every job needs a command to run"#,
            r#"clock.toml:28:12: job "zone": field "timezone": unknown time zone "america/new_york" (did you mean "America/New_York"?)"#,
            r#"clock.toml:30:12: job "zone": field "catch_up": "some" is not one of "latest", "all", "none""#,
            r#"clock.toml:31:11: job "zone": field "overlap": expected a string, found boolean"#,
            r#"clock.toml:33:7: job "bad name": job name "bad name" must be 1-128 characters of letters, digits, '-', '_' and '.', starting with a letter or digit"#,
        ]
    );
}

#[test]
fn duplicate_job_names_and_keys_are_rejected() {
    assert_eq!(
        errors("[jobs.a]\ncommand = \"x\"\n[jobs.a]\nevery = \"1m\"\n"),
        [r#"clock.toml:3:7: job "a": [jobs.a] appears twice (job names must be unique)"#]
    );
    assert_eq!(
        errors("[jobs.a]\ncron = \"0 0 * * *\"\ncron = \"1 1 * * *\"\ncommand = \"x\"\n"),
        [r#"clock.toml:3:1: invalid TOML: duplicate key "cron""#]
    );
}

#[test]
fn value_errors_name_the_field_and_what_was_expected() {
    let cases = [
        ("cron = \"0 25 * * *\"", r#"field "cron": hour: 25 is out of range 0-23"#),
        ("cron = \"*/0 * * * *\"", r#"field "cron": minute: step must be at least 1"#),
        ("cron = \"0 0 30 2 *\"", r#"field "cron": day-of-month: no day of the chosen months matches"#),
        ("cron = 5", r#"field "cron": expected a string, found integer"#),
        (
            "every = \"5 minutes\"",
            r#"field "every": "5 minutes" is not a duration (expected e.g. 30s, 5m, 1h30m, 2d)"#,
        ),
        ("every = \"-5m\"", r#"field "every": "-5m" is not a duration"#),
        ("at = \"tomorrow\"", r#"field "at": "tomorrow" is not a date-time"#),
        ("every = \"1m\"\ntimeout = \"0s\"", r#"field "timeout": must be longer than 0s"#),
        ("every = \"1m\"\nretries = 101", r#"field "retries": 101 is out of range 0-100"#),
        ("every = \"1m\"\nqueue = \"a:b\"", r#"field "queue": queue name "a:b" must be"#),
        ("every = \"1m\"\nenabled = \"yes\"", r#"field "enabled": expected true or false, found string"#),
        (
            "every = \"1m\"\njitter = \"1m\"",
            r#"field "jitter": jitter 1m must be shorter than the interval 1m"#,
        ),
        (
            "every = \"1h\"\noffset = \"1h\"",
            r#"field "offset": offset 1h must be shorter than the interval 1h"#,
        ),
        ("cron = \"@daily\"\noffset = \"1m\"", r#"field "offset": offset applies only to every"#),
        (
            "every = \"1m\"\nenv = { \"1BAD\" = \"x\" }",
            r#"field "env": "1BAD" is not a valid environment variable name"#,
        ),
        ("every = \"1m\"\nargs = { x = nan }", r#"field "args": nan cannot be represented in JSON"#),
        ("every = \"1m\"\nfrequency = 1", r#"unknown key "frequency""#),
    ];
    for (body, want) in cases {
        let text = format!("[jobs.j]\ncommand = \"x\"\n{body}\n");
        let got = errors(&text);
        assert_eq!(got.len(), 1, "{body}: {got:?}");
        assert!(got[0].contains(want), "{body}:\n got: {}\nwant: {want}", got[0]);
        assert!(got[0].starts_with("clock.toml:3:") || got[0].starts_with("clock.toml:4:"), "{}", got[0]);
    }
}

#[test]
fn empty_command_is_rejected() {
    assert_eq!(
        errors("[jobs.j]\nevery = \"1m\"\ncommand = \"  \"\n"),
        [r#"clock.toml:3:11: job "j": field "command": must not be empty"#]
    );
}

#[test]
fn one_off_in_the_past_is_a_warning_not_an_error() {
    let config = parse("[jobs.launch]\nat = \"2020-01-01T00:00:00Z\"\ncommand = \"x\"\n").unwrap();
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            r#"clock.toml:2:6: job "launch": field "at": 2020-01-01T00:00:00Z is in the past, so this job will not run"#
        ]
    );
}

#[test]
fn one_off_accepts_offsets_toml_datetimes_and_local_times_in_the_job_zone() {
    let config = parse(
        r#"
[jobs.offset]
at = "2026-12-01T09:00:00+01:00"
command = "x"
[jobs.toml-datetime]
at = 2026-12-01T09:00:00+01:00
command = "x"
[jobs.local]
at = "2026-12-01T09:00:00"
timezone = "America/New_York"
command = "x"
"#,
    )
    .unwrap();
    let at = |name: &str| match config.job(name).unwrap().schedule {
        Schedule::At(t) => t,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(at("offset"), "2026-12-01T08:00:00Z".parse::<DateTime<Utc>>().unwrap());
    assert_eq!(at("toml-datetime"), at("offset"));
    assert_eq!(at("local"), "2026-12-01T14:00:00Z".parse::<DateTime<Utc>>().unwrap());
}

#[test]
fn local_one_off_inside_a_dst_gap_is_an_error() {
    let got =
        errors("[jobs.j]\nat = \"2026-03-08T02:30:00\"\ntimezone = \"America/New_York\"\ncommand = \"x\"\n");
    assert_eq!(
        got,
        [
            r#"clock.toml:2:6: job "j": field "at": 2026-03-08 02:30:00 does not exist in America/New_York (skipped by a daylight-saving change)"#
        ]
    );
}

#[test]
fn top_level_unknown_keys_and_wrong_types_are_rejected() {
    assert_eq!(errors("job = 1\n"), [r#"clock.toml:1:1: unknown key "job" (did you mean "jobs"?)"#]);
    assert_eq!(errors("jobs = 1\n"), [r#"clock.toml:1:8: jobs must be a table, found integer"#]);
    assert_eq!(
        errors("[jobs]\na = 1\n"),
        [r#"clock.toml:2:5: job "a": a job must be a table, found integer"#]
    );
}

#[test]
fn no_jobs_is_valid_with_a_warning() {
    let config = parse("").unwrap();
    assert!(config.jobs.is_empty());
    assert_eq!(config.warnings[0].message, "no jobs defined (add a [jobs.NAME] table)");
}

#[test]
fn unreadable_file_is_a_read_error() {
    let err = Config::load(Path::new("/nonexistent/clock.toml"), now()).unwrap_err();
    assert!(matches!(err, Error::Read { .. }));
    assert_eq!(err.to_string(), "cannot read /nonexistent/clock.toml");
}

#[test]
fn webhooks_parse_with_defaults_filters_and_located_errors() {
    let config = parse(
        r#"
[jobs.a]
every = "1m"
command = "x"

[[notify.webhooks]]
url = "https://hooks.example.com/T0/B0/secret"

[[notify.webhooks]]
url = "http://127.0.0.1:9000/alerts"
events = ["dead", "skipped"]
jobs = ["a"]
"#,
    )
    .unwrap();
    use campanile::notify::Event;
    assert_eq!(config.webhooks.len(), 2);
    assert_eq!(config.webhooks[0].events, Event::WEBHOOK_DEFAULT);
    assert!(
        !config.webhooks[0].events.contains(&Event::Skipped),
        "skipped is opt-in: a paused job sends it every tick"
    );
    assert_eq!(config.webhooks[0].jobs, None);
    assert_eq!(config.webhooks[1].events, [Event::Dead, Event::Skipped]);
    assert_eq!(config.webhooks[1].jobs.as_deref(), Some(&["a".to_string()][..]));

    assert_eq!(
        errors(
            "[jobs.a]\nevery = \"1m\"\ncommand = \"x\"\n[[notify.webhooks]]\nurl = \"ftp://x\"\nevents = [\"boom\"]\njobs = [\"b\"]\nsecret = 1\n"
        ),
        [
            r#"clock.toml:5:7: field "notify.webhooks.url": "ftp://x" is not an http:// or https:// URL"#,
            r#"clock.toml:6:10: field "notify.webhooks.events": unknown event "boom" (expected failed, dead, missed, skipped or recovered)"#,
            r#"clock.toml:7:8: field "notify.webhooks.jobs": no job named "b""#,
            r#"clock.toml:8:1: unknown key "secret" (expected one of: url, events, jobs)"#,
        ]
    );
}

#[test]
fn enqueue_formats_parse_with_their_settings_and_defaults() {
    let config = parse(
        r#"
[defaults]
namespace = "myapp"

[jobs.own]
every = "1m"
command = "bin/own"

[jobs.nightly]
cron = "0 3 * * *"
format = "sidekiq"
class = "NightlyReportJob"
queue = "reports"
args = ["pdf", 3]
retry = 5
timestamps = "milliseconds"

[jobs.plain-sidekiq]
every = "1h"
format = "sidekiq"
class = "Reports::Hourly"
namespace = "other"

[jobs.archive]
every = "1d"
format = "resque"
class = "Archive"

[jobs.ping]
every = "5m"
format = "json"
list = "my-app:jobs"
args = { kind = "ping" }
overlap = "allow"
"#,
    )
    .unwrap();
    let job = |name: &str| config.job(name).unwrap();
    assert_eq!(job("own").format, Format::Campanile);
    assert_eq!(job("own").command.as_deref(), Some("bin/own"));
    assert_eq!(
        job("nightly").format,
        Format::Sidekiq(Sidekiq {
            class: "NightlyReportJob".into(),
            retry: SidekiqRetry::Times(5),
            namespace: Some("myapp".into()),
            timestamps: Timestamps::Milliseconds,
        })
    );
    assert_eq!(job("nightly").command, None);
    assert_eq!(job("nightly").args, json!(["pdf", 3]));
    assert_eq!(job("nightly").queue.as_str(), "reports");
    assert_eq!(
        job("plain-sidekiq").format,
        Format::Sidekiq(Sidekiq {
            class: "Reports::Hourly".into(),
            retry: SidekiqRetry::Enabled(true),
            namespace: Some("other".into()),
            timestamps: Timestamps::Seconds,
        })
    );
    assert_eq!(
        job("archive").format,
        Format::Resque(Resque { class: "Archive".into(), namespace: "myapp".into() })
    );
    assert_eq!(job("ping").format, Format::Json { list: "my-app:jobs".into() });
    // Only a campanile worker clears the in-flight marker that "skip" needs.
    for name in ["nightly", "plain-sidekiq", "archive", "ping"] {
        assert_eq!(job(name).overlap, Overlap::Allow, "{name}");
    }
    assert_eq!(job("own").overlap, Overlap::Skip);
}

#[test]
fn resque_namespace_defaults_to_resque_and_format_can_be_a_default() {
    let config = parse("[defaults]\nformat = \"resque\"\n[jobs.a]\nevery = \"1m\"\nclass = \"A\"\n").unwrap();
    assert_eq!(
        config.jobs[0].format,
        Format::Resque(Resque { class: "A".into(), namespace: "resque".into() })
    );
}

#[test]
fn enqueue_format_errors_name_the_job_field_and_line() {
    let text = r#"[jobs.unknown]
every = "1m"
format = "dramatiq"

[jobs.no-class]
every = "1m"
format = "sidekiq"

[jobs.object-args]
every = "1m"
format = "sidekiq"
class = "Report"
args = { a = 1 }

[jobs.no-list]
every = "1m"
format = "json"
args = [1]

[jobs.with-command]
every = "1m"
format = "resque"
class = "Archive"
command = "bin/archive"
retries = 2

[jobs.skip]
every = "1m"
format = "sidekiq"
class = "Report"
overlap = "skip"
list = "x"

[jobs.campanile-keys]
every = "1m"
command = "x"
list = "my:list"
class = "X"

[jobs.bad-values]
every = "1m"
format = "sidekiq"
class = "Nightly Report"
retry = -1
namespace = "myapp:"
timestamps = "micros"

[jobs.json-no-args]
every = "1m"
format = "json"
list = "jobs"

[jobs.resque-string-args]
every = "1m"
format = "resque"
class = "A"
args = "x"
"#;
    assert_eq!(
        errors(text),
        [
            r#"clock.toml:3:10: job "unknown": field "format": "dramatiq" is not one of "campanile", "sidekiq", "resque", "json", "celery", "rq", "bullmq""#,
            r#"clock.toml:5:7: job "no-class": field "class": missing: a sidekiq job needs the class Sidekiq runs"#,
            r#"clock.toml:13:8: job "object-args": field "args": Sidekiq calls perform(*args), so a sidekiq job's args must be an array, found table"#,
            r#"clock.toml:15:7: job "no-list": field "list": missing: a json job needs the Redis list to push to"#,
            r#"clock.toml:24:11: job "with-command": field "command": applies only to format "campanile"; this job's format is "resque""#,
            r#"clock.toml:25:11: job "with-command": field "retries": applies only to format "campanile"; this job's format is "resque""#,
            r#"clock.toml:31:11: job "skip": field "overlap": "skip" needs a campanile worker to clear the in-flight marker; a sidekiq job can only use "allow""#,
            r#"clock.toml:32:8: job "skip": field "list": applies only to format "json"; this job's format is "sidekiq""#,
            r#"clock.toml:37:8: job "campanile-keys": field "list": applies only to format "json"; this job's format is "campanile""#,
            r#"clock.toml:38:9: job "campanile-keys": field "class": applies only to formats "sidekiq" and "resque"; this job's format is "campanile""#,
            r#"clock.toml:43:9: job "bad-values": field "class": "Nightly Report" must be a non-empty class name without whitespace"#,
            r#"clock.toml:44:9: job "bad-values": field "retry": -1 is not a count (0 or more)"#,
            r#"clock.toml:45:13: job "bad-values": field "namespace": "myapp:": write the namespace without the trailing ':' (keys are <namespace>:queue:<queue>)"#,
            r#"clock.toml:46:14: job "bad-values": field "timestamps": "micros" is not one of "seconds" (Sidekiq 6 and 7), "milliseconds" (Sidekiq 8)"#,
            r#"clock.toml:48:7: job "json-no-args": field "args": missing: a json job pushes its args as they are, so set args"#,
            r#"clock.toml:57:8: job "resque-string-args": field "args": Resque calls perform(*args), so a resque job's args must be an array, found string"#,
        ]
    );
}

#[test]
fn celery_jobs_take_a_task_args_and_kwargs_and_default_to_celerys_queue() {
    let config = parse(
        r#"
[jobs.nightly]
every = "1h"
format = "celery"
task = "reports.nightly"
args = ["pdf", 9007199254740993]
kwargs = { pages = 3, title = "résumé" }

[jobs.routed]
every = "1h"
format = "celery"
task = "reports.hourly"
queue = "reports"
"#,
    )
    .unwrap();
    let job = |name: &str| config.job(name).unwrap();
    let kwargs = json!({"pages": 3, "title": "résumé"}).as_object().unwrap().clone();
    assert_eq!(job("nightly").format, Format::Celery(Celery { task: "reports.nightly".into(), kwargs }));
    assert_eq!(job("nightly").args, json!(["pdf", 9007199254740993_i64]));
    // Celery's own default queue, not campanile's "default".
    assert_eq!(job("nightly").queue.as_str(), "celery");
    assert_eq!(job("nightly").overlap, Overlap::Allow);
    assert_eq!(job("nightly").command, None);
    assert_eq!(job("routed").queue.as_str(), "reports");
    assert_eq!(
        job("routed").format,
        Format::Celery(Celery { task: "reports.hourly".into(), kwargs: Default::default() })
    );
}

#[test]
fn rq_jobs_take_a_function_args_kwargs_and_a_job_timeout() {
    let config = parse(
        r#"
[jobs.nightly]
every = "1h"
format = "rq"
function = "reports.nightly"
args = ["pdf", 9007199254740993]
kwargs = { pages = 3 }
job_timeout = "10m"

[jobs.plain]
every = "1h"
format = "rq"
function = "reports.plain"
"#,
    )
    .unwrap();
    let job = |name: &str| config.job(name).unwrap();
    let kwargs = json!({"pages": 3}).as_object().unwrap().clone();
    assert_eq!(
        job("nightly").format,
        Format::Rq(Rq { function: "reports.nightly".into(), kwargs, timeout_secs: 600 })
    );
    assert_eq!(job("nightly").args, json!(["pdf", 9007199254740993_i64]));
    // RQ's own defaults: queue "default", a 180 s job timeout.
    assert_eq!(job("plain").queue.as_str(), "default");
    assert_eq!(
        job("plain").format,
        Format::Rq(Rq { function: "reports.plain".into(), kwargs: Default::default(), timeout_secs: 180 })
    );
}

#[test]
fn rq_errors_name_the_job_field_and_line() {
    let text = r#"[jobs.no-function]
every = "1m"
format = "rq"

[jobs.bad]
every = "1m"
format = "rq"
function = "record"
args = "x"
job_timeout = "0s"
task = "t"
"#;
    assert_eq!(
        errors(text),
        [
            r#"clock.toml:1:7: job "no-function": field "function": missing: a rq job needs the dotted path of the function RQ calls"#,
            r#"clock.toml:8:12: job "bad": field "function": "record" must be the dotted path of a function, e.g. "tasks.record""#,
            r#"clock.toml:9:8: job "bad": field "args": RQ calls the function with *args and **kwargs, so a rq job's args must be an array (keyword arguments go in kwargs), found string"#,
            r#"clock.toml:10:15: job "bad": field "job_timeout": must be longer than 0s"#,
            r#"clock.toml:11:8: job "bad": field "task": applies only to format "celery"; this job's format is "rq""#,
        ]
    );
}

#[test]
fn celery_errors_name_the_job_field_and_line() {
    let text = r#"[jobs.no-task]
every = "1m"
format = "celery"

[jobs.object-args]
every = "1m"
format = "celery"
task = "t"
args = { a = 1 }
kwargs = [1]

[jobs.sidekiq-task]
every = "1m"
format = "sidekiq"
class = "A"
task = "t"
kwargs = { a = 1 }

[jobs.blank]
every = "1m"
format = "celery"
task = "my task"
"#;
    assert_eq!(
        errors(text),
        [
            r#"clock.toml:1:7: job "no-task": field "task": missing: a celery job needs the name of the task Celery runs"#,
            r#"clock.toml:9:8: job "object-args": field "args": Celery calls the function with *args and **kwargs, so a celery job's args must be an array (keyword arguments go in kwargs), found table"#,
            r#"clock.toml:10:10: job "object-args": field "kwargs": expected a table of keyword arguments, found array"#,
            r#"clock.toml:16:8: job "sidekiq-task": field "task": applies only to format "celery"; this job's format is "sidekiq""#,
            r#"clock.toml:17:10: job "sidekiq-task": field "kwargs": applies only to formats "celery" and "rq"; this job's format is "sidekiq""#,
            r#"clock.toml:22:8: job "blank": field "task": "my task" must be a non-empty task name without whitespace"#,
        ]
    );
}

#[test]
fn bullmq_jobs_take_a_name_data_prefix_attempts_and_backoff() {
    let config = parse(
        r#"
[defaults]
prefix = "{myapp}"
[jobs.nightly]
every = "1h"
queue = "reports"
format = "bullmq"
name = "nightly report"
data = { pages = 3, big = 9007199254740993 }
attempts = 5
backoff = { type = "exponential", delay = 1000, jitter = 0.5 }

[jobs.plain]
every = "1h"
format = "bullmq"
name = "plain"
backoff = 2000
[jobs.own]
every = "1h"
command = "x"
"#,
    )
    .unwrap();
    let job = |name: &str| config.job(name).unwrap();
    assert_eq!(
        job("nightly").format,
        Format::Bullmq(Bullmq {
            name: "nightly report".into(),
            prefix: "{myapp}".into(),
            attempts: 5,
            backoff: Some(json!({"type": "exponential", "delay": 1000, "jitter": 0.5})),
        })
    );
    // `data` is the job's args: what trigger, plan and the dashboard show.
    assert_eq!(job("nightly").args, json!({"pages": 3, "big": 9007199254740993_i64}));
    assert_eq!(job("plain").args, json!({}));
    assert_eq!(job("plain").queue.as_str(), "default");
    assert_eq!(
        job("plain").format,
        Format::Bullmq(Bullmq {
            name: "plain".into(),
            prefix: "{myapp}".into(),
            attempts: 0,
            backoff: Some(json!(2000))
        })
    );
    // `[defaults] prefix` binds only BullMQ jobs.
    assert_eq!(job("own").format, Format::Campanile);
}

#[test]
fn bullmq_errors_name_the_job_field_and_line() {
    let text = r#"[jobs.no-name]
every = "1m"
format = "bullmq"

[jobs.bad]
every = "1m"
format = "bullmq"
name = ""
args = ["x"]
data = [1]
prefix = "bull:"
attempts = 0
backoff = { kind = "fixed" }
function = "m.f"

[jobs.rq]
every = "1m"
format = "rq"
function = "m.f"
data = { a = 1 }
"#;
    assert_eq!(
        errors(text),
        [
            r#"clock.toml:1:7: job "no-name": field "name": missing: a bullmq job needs the job name the BullMQ worker sees"#,
            r#"clock.toml:8:8: job "bad": field "name": a job name must be non-empty"#,
            r#"clock.toml:9:8: job "bad": field "args": BullMQ passes one data object: set data (a table), not args"#,
            r#"clock.toml:10:8: job "bad": field "data": expected a table (the job's data object), found array"#,
            r#"clock.toml:11:10: job "bad": field "prefix": "bull:" must be non-empty, without whitespace or the trailing ':' (keys are <prefix>:<queue>:...)"#,
            r#"clock.toml:12:12: job "bad": field "attempts": 0 is not a number of attempts (1 or more)"#,
            r#"clock.toml:13:11: job "bad": field "backoff": {"kind":"fixed"} is not a backoff: give a delay in ms, or a table with type (e.g. "exponential"), optional delay (ms) and jitter (0 to 1)"#,
            r#"clock.toml:14:12: job "bad": field "function": applies only to format "rq"; this job's format is "bullmq""#,
            r#"clock.toml:20:8: job "rq": field "data": applies only to format "bullmq"; this job's format is "rq""#,
        ]
    );
}

#[test]
fn a_format_default_does_not_bind_jobs_of_another_format() {
    // `[defaults]` settings apply where they fit: a campanile job ignores a
    // namespace, a sidekiq job the campanile-only timeout and overlap.
    let config = parse(
        r#"
[defaults]
namespace = "myapp"
timestamps = "milliseconds"
timeout = "5m"
overlap = "skip"
[jobs.own]
every = "1m"
command = "x"
[jobs.foreign]
every = "1m"
format = "sidekiq"
class = "A"
"#,
    )
    .unwrap();
    assert_eq!(config.job("own").unwrap().format, Format::Campanile);
    assert_eq!(config.job("own").unwrap().overlap, Overlap::Skip);
    assert_eq!(config.job("foreign").unwrap().overlap, Overlap::Allow);
}

#[test]
fn redis_cluster_and_sentinel_urls_parse_and_their_errors_are_located() {
    let config = parse(
        r#"[redis]
cluster = ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]
"#,
    )
    .unwrap();
    assert_eq!(config.redis.cluster, ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]);
    assert!(config.redis.is_cluster());
    let sentinel = parse("[redis]\nurl = \"redis+sentinel://s1:26379,s2:26379/mymaster\"\n").unwrap();
    assert!(!sentinel.redis.is_cluster());
    assert_eq!(
        errors(
            r#"[redis]
url = "redis+sentinel://s1:26379"
"#
        ),
        [
            "clock.toml:2:7: field \"redis.url\": name the monitored primary: redis+sentinel://host:26379/<master>"
        ]
    );
    assert_eq!(
        errors(
            r#"[redis]
url = "redis://h:6379"
cluster = ["redis://a:7000", "b:7000"]
"#
        ),
        [
            "clock.toml:3:11: field \"redis.cluster\": expected redis:// or rediss:// node URLs, found \"b:7000\""
        ]
    );
    let waiting = parse("[redis]\nwait_replicas = 1\nwait_timeout_ms = 250\n").unwrap();
    assert_eq!((waiting.redis.wait_replicas, waiting.redis.wait_timeout_ms), (1, 250));
    assert_eq!(parse("").unwrap().redis.wait_replicas, 0, "no WAIT unless asked");
    assert_eq!(
        errors("[redis]\nwait_replicas = -1\nwait_timeout_ms = 0\n"),
        [
            "clock.toml:2:17: field \"redis.wait_replicas\": -1 is not a number of replicas",
            "clock.toml:3:19: field \"redis.wait_timeout_ms\": 0 is not between 1 and 60000 milliseconds"
        ]
    );
    assert_eq!(
        errors("[redis]\nurl = \"redis://h:6379\"\ncluster = [\"redis://a:7000\"]\n"),
        ["clock.toml:2:7: field \"redis.url\": set either url or cluster, not both"]
    );
}

#[test]
fn on_a_cluster_a_push_must_share_the_tick_states_slot() {
    let text = r#"[redis]
url = "redis+cluster://10.0.0.1:7000,10.0.0.2:7000"

[jobs.tagged]
every = "1m"
format = "json"
list = "{default}:reports"
args = [1]

[jobs.untagged]
every = "1m"
format = "json"
list = "reports"
args = [1]

[jobs.sidekiq]
every = "1m"
format = "sidekiq"
class = "Report"

[jobs.own]
every = "1m"
command = "true"
"#;
    // The slots are checked by the store, on the loaded config.
    let config = parse(text).unwrap();
    let errors: Vec<String> = match campanile::store::check_cluster_slots(&config) {
        Err(Error::Invalid { errors, .. }) => errors.iter().map(ToString::to_string).collect(),
        other => panic!("expected errors, got {other:?}"),
    };
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "clock.toml:13:8: job \"untagged\": field \"list\": on a Redis Cluster the list must hash to the queue's slot"
        ),
        "{errors:#?}"
    );
    assert!(errors[0].ends_with("e.g. \"{default}:reports\""), "{errors:#?}");
    assert!(
        errors[1].starts_with(
            "clock.toml:18:10: job \"sidekiq\": field \"format\": Sidekiq's keys hash to other Redis Cluster slots"
        ),
        "{errors:#?}"
    );
}

#[test]
fn worker_max_payload_bytes_defaults_to_1_mib_and_is_checked() {
    let jobs = "[jobs.a]\nevery = \"1m\"\ncommand = \"true\"\n";
    assert_eq!(parse(jobs).unwrap().worker.max_payload_bytes, 1 << 20);
    let set = parse(&format!("{jobs}[worker]\nmax_payload_bytes = 4096\n")).unwrap();
    assert_eq!(set.worker.max_payload_bytes, 4096);
    assert_eq!(
        errors(&format!("{jobs}[worker]\nmax_payload_bytes = 10\nmax_bytes = 1\n")),
        [
            r#"clock.toml:5:21: field "worker.max_payload_bytes": 10 is not between 1024 and 67108864 bytes"#,
            r#"clock.toml:6:1: unknown key "max_bytes" (expected one of: max_payload_bytes)"#,
        ]
    );
}

#[test]
fn a_duplicate_job_table_is_one_error_naming_the_job() {
    assert_eq!(
        errors("[jobs.a]\ncommand = \"x\"\nevery = \"1m\"\n[jobs.a]\nevery = \"1m\"\ncommand = \"y\"\n"),
        [r#"clock.toml:4:7: job "a": [jobs.a] appears twice (job names must be unique)"#]
    );
}

#[test]
fn an_unknown_key_suggests_the_nearest_key_of_every_format_first() {
    let got = errors("[jobs.a]\ncommand = \"x\"\nevery = \"1m\"\nretrys = 3\n");
    assert_eq!(got, [r#"clock.toml:4:1: job "a": unknown key "retrys" (did you mean "retries"?)"#]);
}

#[test]
fn a_bad_cron_and_a_second_schedule_kind_are_reported_together() {
    assert_eq!(
        errors("[jobs.a]\ncommand = \"x\"\ncron = \"61 * * * *\"\nevery = \"1m\"\n"),
        [
            r#"clock.toml:3:8: job "a": field "cron": minute: 61 is out of range 0-59"#,
            r#"clock.toml:4:9: job "a": field "every": a job has exactly one of cron, every or at, and this one also has cron"#,
        ]
    );
}

#[test]
fn commands_and_env_that_can_never_be_executed_are_rejected() {
    let text = "[jobs.a]\nevery = \"1m\"\ncommand = \"echo \\u0000\"\nenv = { A = \"x\\u0000y\" }\n";
    assert_eq!(
        errors(text),
        [
            r#"clock.toml:3:11: job "a": field "command": contains a nul byte, which no command can be given"#,
            r#"clock.toml:4:7: job "a": field "env": A: contains a nul byte, which no environment can hold"#,
        ]
    );
    let big = "x".repeat(128 * 1024);
    assert_eq!(
        errors(&format!("[jobs.a]\nevery = \"1m\"\ncommand = \"true\"\nenv = {{ BIG = \"{big}\" }}\n")),
        [
            r#"clock.toml:4:7: job "a": field "env": BIG: "BIG=…" is 131076 bytes; one environment string can be at most 131071 bytes"#
        ]
    );
}

#[test]
fn a_step_or_a_duration_too_large_says_so_with_the_maximum() {
    assert_eq!(
        errors("[jobs.a]\ncommand = \"x\"\ncron = \"*/100 * * * *\"\n"),
        [r#"clock.toml:3:8: job "a": field "cron": minute: step 100 is too large (max 60)"#]
    );
    assert_eq!(
        errors("[jobs.a]\ncommand = \"x\"\nevery = \"99999999999999d\"\n"),
        [r#"clock.toml:3:9: job "a": field "every": "99999999999999d" is too large (max 100 years)"#]
    );
}

#[test]
fn a_file_that_is_not_utf8_names_the_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.toml");
    std::fs::write(&path, b"[jobs.a]\ncommand = \"h\xc3\xa9 \xff\"\nevery = \"1m\"\n").unwrap();
    let Err(Error::Invalid { errors, .. }) = Config::load(&path, now()) else { panic!("expected errors") };
    let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(got, [format!("{}:2:15: not valid UTF-8: byte 0xff", path.display())]);
}

#[test]
fn monitoring_fields_parse_with_defaults_and_located_errors() {
    use campanile::config::{MonitorSettings, PingUrls, StartWithin};
    let config = parse(
        r#"
[defaults]
warn_after = "10m"
ping_url = "https://hc-ping.com/5f0c/"

[jobs.auto]
every = "5m"
command = "true"

[jobs.set]
every = "5m"
command = "true"
start_within = "90s"
warn_after = "1m"
ping_url = { start = "https://cronitor.link/p/K/set?state=run", fail = "https://cronitor.link/p/K/set?state=fail" }

[jobs.off]
every = "5m"
command = "true"
start_within = "off"

[monitor]
unserved_after = "2m"
heartbeat_url = "https://hc-ping.com/beat"
"#,
    )
    .unwrap();
    let auto = config.job("auto").unwrap();
    assert_eq!(auto.start_within, StartWithin::Auto);
    assert_eq!(auto.start_within.after(Some(Span::from_secs(300))), Some(Span::from_secs(300)));
    assert_eq!(auto.start_within.after(Some(Span::from_secs(86_400))), Some(Span::from_secs(600)));
    assert_eq!(auto.start_within.after(None), Some(Span::from_secs(600)));
    assert_eq!(auto.warn_after, Some(Span::from_secs(600)));
    assert_eq!(
        auto.ping,
        Some(PingUrls {
            start: Some("https://hc-ping.com/5f0c/start".into()),
            success: Some("https://hc-ping.com/5f0c".into()),
            fail: Some("https://hc-ping.com/5f0c/fail".into()),
        })
    );
    let set = config.job("set").unwrap();
    assert_eq!(set.start_within, StartWithin::Within(Span::from_secs(90)));
    assert_eq!(set.warn_after, Some(Span::from_secs(60)));
    assert_eq!(set.ping.as_ref().unwrap().success, None);
    assert_eq!(set.ping.as_ref().unwrap().fail.as_deref(), Some("https://cronitor.link/p/K/set?state=fail"));
    assert_eq!(config.job("off").unwrap().start_within.after(Some(Span::from_secs(60))), None);
    assert_eq!(
        config.monitor,
        MonitorSettings {
            unserved_after: Span::from_secs(120),
            no_leader_after: Span::from_secs(30),
            heartbeat_url: Some("https://hc-ping.com/beat".into()),
            heartbeat_every: Span::from_secs(60),
        }
    );
    assert_eq!(parse("").unwrap().monitor, MonitorSettings::default());

    assert_eq!(
        errors(
            r#"
[jobs.a]
every = "1m"
command = "true"
timeout = "5m"
warn_after = "5m"
start_within = "0s"
ping_url = "ftp://x"

[jobs.b]
every = "1m"
format = "json"
list = "l"
args = 1
start_within = "1m"

[monitor]
no_leader_after = "soon"
heartbeat_every = "0s"
heartbat_url = "https://x"
"#
        ),
        [
            r#"clock.toml:6:14: job "a": field "warn_after": warn_after 5m must be shorter than the timeout 5m"#,
            r#"clock.toml:7:16: job "a": field "start_within": must be longer than 0s, or "off""#,
            r#"clock.toml:8:12: job "a": field "ping_url": "ftp://x" is not an http:// or https:// URL"#,
            r#"clock.toml:15:16: job "b": field "start_within": applies only to format "campanile"; this job's format is "json""#,
            r#"clock.toml:18:19: field "monitor.no_leader_after": "soon" is not a duration (expected e.g. 30s, 5m, 1h30m, 2d)"#,
            r#"clock.toml:19:19: field "monitor.heartbeat_every": must be longer than 0s"#,
            r#"clock.toml:20:1: unknown key "heartbat_url" (did you mean "heartbeat_url"?)"#,
        ]
    );
}

#[test]
fn a_payloads_start_deadline_runs_from_its_tick() {
    let config = parse(
        r#"
[jobs.minutely]
every = "1m"
command = "true"

[jobs.daily]
cron = "0 3 * * *"
command = "true"

[jobs.set]
every = "1m"
command = "true"
start_within = "5m"

[jobs.off]
every = "1m"
command = "true"
start_within = "off"

[jobs.sk]
every = "1m"
format = "sidekiq"
class = "A"
"#,
    )
    .unwrap();
    let deadline = |job: &str, at_ms: i64| config.job(job).unwrap().start_deadline(at_ms);
    let tick = DateTime::parse_from_rfc3339("2026-11-23T03:00:00Z").unwrap().timestamp_millis();
    // By default, the next tick or 10 minutes, whichever comes first.
    assert_eq!(deadline("minutely", tick), Some(tick + 60_000));
    assert_eq!(deadline("daily", tick), Some(tick + 600_000));
    // A manual run between ticks: the time to the next tick, rounded up.
    assert_eq!(deadline("minutely", tick + 59_500), Some(tick + 60_500));
    assert_eq!(deadline("set", tick), Some(tick + 300_000));
    assert_eq!(deadline("off", tick), None);
    assert_eq!(deadline("sk", tick), None, "another tool's workers are not watched");
}
