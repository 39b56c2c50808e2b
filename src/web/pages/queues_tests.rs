//! `/queues` from one look at a queue ([`QueueView`]) through the view
//! the API returns to the page: what each part shows, and every value
//! from Redis escaped.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Ctx, queues};
use crate::config::QueueName;
use crate::control::ToolQueue;
use crate::run::{HistoryEntry, Outcome};
use crate::store::{QueueView, WorkerView};
use crate::web::queues::{queue_json, tool_lists};

const NOW: &str = "2026-11-23T08:00:30Z";

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

fn payload(job: &str, id: &str, attempt: u32) -> Vec<u8> {
    json!({
        "id": id, "job": job, "queue": "default", "scheduled_at": "2026-11-23T07:58:00Z",
        "enqueued_at": "2026-11-23T07:58:00.250Z", "attempt": attempt, "args": null,
    })
    .to_string()
    .into_bytes()
}

fn failed_run(id: &str) -> Vec<u8> {
    let at: DateTime<Utc> = "2026-11-23T07:59:00Z".parse().unwrap();
    HistoryEntry {
        id: id.into(),
        job: "report".into(),
        queue: "default".into(),
        scheduled_at: at,
        started_at: at,
        finished_at: at,
        duration_ms: 10,
        attempt: 1,
        outcome: Outcome::Failed,
        exit_code: Some(3),
        signal: None,
        output: "starting\n<b>\"boom\"</b>\n\n".into(),
        worker: "w".into(),
        retry: true,
        manual: false,
    }
    .to_json()
    .into_bytes()
}

/// A queue with 30 pending (two on the first page, one not JSON), a retry
/// after a failed run, a live worker running a job since 08:00:00, a
/// lapsed one, and 5 processed and 2 failed this minute.
fn look() -> QueueView {
    let now_ms = now().timestamp_millis();
    let minute = now_ms / 60_000;
    let hostile = r#"<script>"pwn"</script>"#;
    QueueView {
        now_ms,
        pending: 30,
        pending_first: vec![payload(hostile, "x@1", 1), b"<i>not json</i>".to_vec()],
        retries: 1,
        retries_first: vec![(payload("report", "report@1", 2), now_ms + 90_000)],
        workers: 2,
        workers_seen: vec![
            WorkerView {
                id: "web.1:42:abc".into(),
                lease: Some(r#"{"concurrency":4,"started_at":"2026-11-23T07:00:00Z"}"#.into()),
                in_progress: 1,
                busy: vec![("report@0".into(), format!("{}|report", now_ms - 30_000))],
            },
            WorkerView { id: "gone:7:x".into(), lease: None, in_progress: 1, busy: vec![] },
        ],
        recent_runs: vec![("report".into(), vec![failed_run("report@1")])],
        minutes: vec![((minute % 60).to_string(), format!("{minute}|5|2"))],
    }
}

#[test]
fn the_view_lists_first_pages_live_workers_and_the_last_hour() {
    let q = queue_json("default", &look(), now());
    assert_eq!(
        (&q["pending"], &q["retries"], &q["workers"], &q["busy"]),
        (&json!(30), &json!(1), &json!(1), &json!(1))
    );
    assert_eq!(q["workers_registered"], 2, "the lapsed worker is counted, not listed");
    assert_eq!(q["pending_first"][0]["waiting_secs"], 149);
    assert_eq!(q["pending_first"][1], json!({ "raw": "<i>not json</i>" }));
    let retry = &q["retries_first"][0];
    assert_eq!(retry["retry_at"], "2026-11-23T08:02:00Z");
    assert_eq!(retry["last_error"], r#"failed, exit 3: <b>"boom"</b>"#, "the output's last line");
    let w = &q["worker_list"][0];
    assert_eq!((&w["host"], &w["pid"], &w["concurrency"]), (&json!("web.1"), &json!(42), &json!(4)));
    assert_eq!(w["running"], json!([{ "job": "report", "id": "report@0", "since": "2026-11-23T08:00:00Z" }]));
    assert_eq!((&q["processed_last_hour"], &q["failed_last_hour"]), (&json!(5), &json!(2)));
    let minutes = q["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    assert_eq!(minutes[59], json!({ "at": "2026-11-23T08:00:00Z", "processed": 5, "failed": 2 }));
}

#[test]
fn the_page_shows_each_part_with_values_escaped() {
    let view = json!({ "queues": [queue_json("default", &look(), now())] });
    let page = queues(&view, &Ctx { now: now(), csrf: "t", notice: None });
    assert!(page.contains(r#"<a href="/queues" aria-current="page">Queues</a>"#), "{page}");
    assert!(page.contains(r#"<section class="queue" id="queue-default" data-queue="default">"#), "{page}");
    assert!(page.contains("Queue default"), "{page}");
    assert!(
        page.contains(
            "30 pending · 1 retry · 1 live worker, 1 busy · 5 processed, 2 failed in the last hour"
        ),
        "{page}"
    );
    assert!(page.contains("web.1, pid 42"), "{page}");
    assert!(page.contains(r#"<td class="since"><time datetime="2026-11-23T08:00:00Z">"#), "{page}");
    assert!(page.contains("30s ago"), "{page}");
    assert!(page.contains("The first 2 of 30, oldest first"), "{page}");
    assert!(
        page.contains(r#"<span class="countdown" data-at="2026-11-23T08:02:00Z">in 1m 30s</span>"#),
        "{page}"
    );
    assert!(page.contains("failed, exit 3: &lt;b&gt;&quot;boom&quot;&lt;/b&gt;"), "{page}");
    assert!(page.contains("&lt;i&gt;not json&lt;/i&gt;"), "{page}");
    assert!(page.contains("&lt;script&gt;&quot;pwn&quot;&lt;/script&gt;"), "{page}");
    assert!(!page.contains("\"pwn"), "{page}");
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    assert!(!page.contains("gone:7:x"), "a lapsed worker is not listed");
}

#[test]
fn the_chart_has_labelled_axes_and_a_bar_per_busy_minute() {
    let view = json!({ "queues": [queue_json("default", &look(), now())] });
    let page = queues(&view, &Ctx { now: now(), csrf: "t", notice: None });
    let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap()];
    assert!(svg.contains(r#"role="img""#), "{svg}");
    assert!(svg.contains("5 processed, 2 failed"), "{svg}");
    for label in [">5</text>", ">0</text>", ">60 min ago</text>", ">30 min ago</text>", ">now</text>"] {
        assert!(svg.contains(label), "{label} in {svg}");
    }
    assert_eq!(svg.matches("bar-processed").count(), 1, "one minute had runs: {svg}");
    assert_eq!(svg.matches("bar-failed").count(), 1, "{svg}");
    // Full height for the busiest minute; the failed part 2/5 of it.
    assert!(svg.contains(r#"y="8" width="8" height="100""#), "{svg}");
    assert!(svg.contains(r#"height="40""#), "{svg}");
    let empty = json!({ "queues": [queue_json("default", &QueueView::default(), now())] });
    let empty = queues(&empty, &Ctx { now: now(), csrf: "t", notice: None });
    assert!(!empty.contains("bar-processed"), "no bars without runs");
    for text in ["No live worker serves this queue.", "Nothing pending.", "No retry scheduled."] {
        assert!(empty.contains(text), "{text}");
    }
}

/// A queue whose jobs push to Sidekiq's and RQ's lists: the page names
/// those lists and their lengths, says campanile's workers do not run
/// them, and does not call the queue's empty pending list "Nothing
/// pending"; another queue's lists are not its.
#[test]
fn a_queue_of_another_tools_jobs_shows_the_tools_lists_and_who_runs_them() {
    let queue = |name: &str| QueueName::new(name).unwrap();
    let tool = |q: &str, list: &str, format, waiting| ToolQueue {
        queue: queue(q),
        list: list.into(),
        format,
        waiting,
    };
    let tools = [
        tool("default", "queue:default", "sidekiq", 7),
        tool("mail", "rq:queue:mail", "rq", 2),
        tool("default", r#"<b>"list"</b>"#, "json", 0),
    ];
    let lists = tool_lists(&queue("default"), &tools);
    assert_eq!(
        lists,
        json!([
            { "list": "queue:default", "format": "sidekiq", "waiting": 7 },
            { "list": r#"<b>"list"</b>"#, "format": "json", "waiting": 0 },
        ])
    );
    let mut q = queue_json("default", &QueueView::default(), now());
    q["tool_lists"] = lists;
    let page = queues(&json!({ "queues": [q] }), &Ctx { now: now(), csrf: "t", notice: None });
    for shown in [
        "campanile's workers do not run them, the tool's own workers do.",
        r#"<li data-list="queue:default"><code>queue:default</code> (sidekiq): 7 waiting</li>"#,
        "<code>&lt;b&gt;&quot;list&quot;&lt;/b&gt;</code> (json): 0 waiting",
        "Nothing pending for campanile's workers.",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    assert!(!page.contains("Nothing pending."), "{page}");
    assert!(!page.contains("rq:queue:mail"), "another queue's list: {page}");
}
