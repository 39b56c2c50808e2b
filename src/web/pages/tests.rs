//! Every page with markup and quotes in every value it shows: each value
//! lands escaped, so the page keeps its one script tag and no attribute is
//! cut short.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Ctx, DEAD_PAGE, JobView, Listing, dead, error, job, overview};
use crate::config::{Config, QueueName};
use crate::control::{self, Dead};
use crate::run::{DeadLetter, HistoryEntry, Outcome};
use crate::web::job_stats::JobStats;

/// A value that would open a script and close an attribute if it were
/// pasted into a page as it is; `what` names the field it goes into.
fn hostile(what: &str) -> String {
    format!(r#"<script>"pwn-{what}"</script>"#)
}

/// [`hostile`] as it must appear on a page.
fn escaped(what: &str) -> String {
    format!("&lt;script&gt;&quot;pwn-{what}&quot;&lt;/script&gt;")
}

/// The page shows every one of `fields` escaped, and none raw.
fn assert_escaped(page: &str, fields: &[&str]) {
    for what in fields {
        assert!(page.contains(&escaped(what)), "{what} is not shown escaped:\n{page}");
    }
    assert!(!page.contains("\"pwn-"), "a quote reached the page raw:\n{page}");
    assert_eq!(page.matches("<script").count(), 1, "only the page's own script:\n{page}");
    assert!(page.contains(r#"<script src="/assets/app.js" defer></script>"#), "{page}");
}

fn now() -> DateTime<Utc> {
    "2026-11-23T08:00:00Z".parse().unwrap()
}

fn config() -> Config {
    let toml = r#"
[jobs.report]
cron = "0 3 * * *"
command = '<script>"pwn-command"</script>'
description = '<script>"pwn-description"</script>'
args = { note = '<script>"pwn-args"</script>' }

[jobs.export]
every = "1m"
format = "json"
list = '<script>"pwn-list"</script>'
args = {}
"#;
    Config::parse(toml, std::path::Path::new("clock.toml"), now()).unwrap_or_else(|e| panic!("{e:?}"))
}

fn ctx() -> Ctx<'static> {
    Ctx { now: now(), csrf: r#"1."csrf"<x>"#, notice: None }
}

/// A job's entry of the status view, with every text the view carries
/// replaced by a hostile one (Redis may hold anything).
fn live(job: &crate::config::Job) -> Value {
    let mut entry = control::job_json(job, now());
    let fields = json!({
        "schedule_text": hostile("schedule_text"),
        "timezone": hostile("timezone"),
        "next_run_local": hostile("next_run_local"),
        "paused": true,
        "in_flight": true,
        "last_run": { "outcome": hostile("outcome"), "finished_at": "2026-11-23T07:59:00Z" },
    });
    entry.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    entry
}

#[test]
fn the_overview_escapes_every_value_of_the_status_view() {
    let config = config();
    let mut jobs: Vec<Value> = config.jobs.iter().map(live).collect();
    jobs[0]["name"] = json!(hostile("name"));
    // A paused job shows no next run; this one shows it.
    jobs[0]["paused"] = json!(false);
    let status = json!({
        "leader": { "id": hostile("leader"), "host": hostile("host"), "pid": 1, "since": hostile("since"),
                    "offset_ms": 0 },
        "clocks": [],
        "jobs": jobs,
        "queues": [{ "name": hostile("queue"), "pending": 0, "in_progress": 0, "retry": 0, "dead": 0 }],
        "problems": [{ "kind": hostile("kind"), "message": hostile("problem") }],
    });
    let page = overview(&status, &Default::default(), &Ctx { notice: Some(&hostile("notice")), ..ctx() });
    assert_escaped(
        &page,
        &[
            "name",
            "schedule_text",
            "timezone",
            "next_run_local",
            "outcome",
            "leader",
            "host",
            "since",
            "queue",
            "kind",
            "problem",
            "notice",
        ],
    );
    assert!(page.contains(r#"<tr data-job="&lt;script&gt;&quot;pwn-name&quot;"#), "{page}");
    assert!(page.contains(r#"value="1.&quot;csrf&quot;&lt;x&gt;""#), "the CSRF field: {page}");
}

#[test]
fn the_job_page_escapes_the_definition_and_the_history() {
    let config = config();
    let report = config.job("report").unwrap();
    let run = HistoryEntry {
        id: hostile("id"),
        job: "report".into(),
        queue: "default".into(),
        scheduled_at: now(),
        started_at: now(),
        finished_at: now(),
        duration_ms: 5,
        attempt: 1,
        outcome: Outcome::Failed,
        exit_code: Some(1),
        signal: None,
        output: hostile("output"),
        worker: hostile("worker"),
        retry: true,
        manual: false,
    };
    let live_report = live(report);
    let stats = JobStats::of(std::slice::from_ref(&run), &[], 0);
    let view = JobView {
        live: &live_report,
        history: std::slice::from_ref(&run),
        ticks: &[],
        stats: &stats,
        upcoming: &[now()],
    };
    let page = job(report, &view, &ctx());
    assert_escaped(&page, &["description", "command", "schedule_text", "outcome", "id", "output", "worker"]);
    // Args are shown as JSON, whose own quotes are escaped too.
    assert!(page.contains(r#"&lt;script&gt;\&quot;pwn-args\&quot;&lt;/script&gt;"#), "{page}");

    let export = config.job("export").unwrap();
    let live_export = live(export);
    let stats = JobStats::default();
    let view = JobView { live: &live_export, history: &[], ticks: &[], stats: &stats, upcoming: &[] };
    let page = job(export, &view, &ctx());
    assert_escaped(&page, &["list", "schedule_text"]);
}

#[test]
fn the_dead_letter_page_escapes_letters_and_the_queue_asked_for() {
    let letter = Dead {
        queue: QueueName::new("default").unwrap(),
        raw: String::new(),
        id: hostile("id"),
        letter: DeadLetter {
            payload: json!({ "id": hostile("payload") }).to_string(),
            payload_base64: None,
            payload_bytes: None,
            reason: hostile("reason"),
            queue: "default".into(),
            job: Some(hostile("job")),
            attempts: 1,
            exit_code: Some(3),
            failed_at: now(),
            worker: "w".into(),
            output: Some(hostile("output")),
            id: None,
        },
    };
    let (scope, job) = (hostile("scope"), hostile("job"));
    let listing = |letters| Listing {
        letters,
        total: 1,
        page: 1,
        per: DEAD_PAGE,
        queue: Some(&scope),
        job: Some(&job),
        jobs: vec![&job],
        unsearched: 7,
    };
    let page = dead(&listing(std::slice::from_ref(&letter)), &ctx());
    assert_escaped(&page, &["id", "reason", "job", "scope", "output"]);
    assert!(page.contains("7 older letters were not searched for this job."), "{page}");
    assert!(page.contains(r#"&lt;script&gt;\&quot;pwn-payload\&quot;&lt;/script&gt;"#), "{page}");
    assert!(page.contains(r#"<input type="hidden" name="id" value="&lt;script&gt;&quot;pwn-id"#), "{page}");

    let unparsed = Dead {
        letter: DeadLetter { payload: hostile("payload"), ..letter.letter.clone() },
        ..letter.clone()
    };
    assert_escaped(&dead(&listing(&[unparsed]), &ctx()), &["payload"]);
}

#[test]
fn the_error_page_escapes_title_and_message() {
    assert_escaped(&error(&hostile("title"), &hostile("message")), &["title", "message"]);
}

#[test]
fn the_alerts_page_escapes_targets_deliveries_and_changes_and_says_why_one_failed() {
    let view = json!({
        "targets": [{ "channel": "webhook", "target": hostile("target"), "events": [hostile("event")],
                      "jobs": [hostile("job")] }],
        "deliveries": [
            { "at": "2026-11-23T07:59:00Z", "channel": "webhook", "event": hostile("devent"),
              "job": hostile("djob"), "target": hostile("dtarget"), "outcome": "failed", "attempts": 3,
              "error": hostile("error"), "duration_ms": 7012 },
            { "at": "2026-11-23T07:58:00Z", "channel": "email", "event": "dead", "job": "report",
              "target": "@example.com", "outcome": "dropped", "attempts": 0, "duration_ms": 0 },
        ],
        "leader_changes": [{ "clock": hostile("clock"), "via": "handover", "from": hostile("from"),
                             "at": "2026-11-23T07:00:00Z" }],
    });
    let page = super::alerts(&view, &ctx());
    assert_escaped(&page, &["target", "event", "job", "devent", "djob", "dtarget", "error", "clock", "from"]);
    assert!(page.contains("after 3 attempt(s): "), "{page}");
    assert!(page.contains("the alert queue was full"), "{page}");
    assert!(page.contains(r#"<a href="/alerts" aria-current="page">Alerts</a>"#), "{page}");
}

#[test]
fn the_overview_says_how_often_the_leader_changed_in_the_last_hour() {
    let summary = |n: u64, at_least: bool, last: Value| {
        let status = json!({ "jobs": [], "queues": [], "clocks": [],
            "leader_changes": { "changes_last_hour": n, "at_least": at_least, "last_change": last } });
        overview(&status, &Default::default(), &ctx())
    };
    let last = json!({ "clock": hostile("clock"), "via": "acquired", "at": "2026-11-23T07:50:00Z" });
    assert!(summary(0, false, Value::Null).contains("No change of leader in the last hour."));
    let once = summary(1, false, last.clone());
    assert!(once.contains("Leader changed once in the last hour; last: <code>"), "{once}");
    assert!(once.contains(">10m 00s ago<"), "{once}");
    assert_escaped(&once, &["clock"]);
    let many = summary(50, true, json!({ "via": "handover", "clock": "b", "at": "2026-11-23T07:59:00Z" }));
    assert!(many.contains("Leader changed at least 50 times in the last hour"), "{many}");
    assert!(many.contains("(handed over)"), "{many}");
}
