//! `format = "bullmq"` against a real (private) redis-server: the exact keys
//! one tick leaves (BullMQ 5.58.5's `addStandardJob` layout), a paused
//! BullMQ queue, an id BullMQ already has, `clock trigger` and `clock
//! status`.

mod common;

use std::collections::BTreeMap;

use campanile::clock::Ticker;
use campanile::config::QueueName;
use common::bullmq::dump;
use common::tickers::{at, clock_at, config, store};
use common::{RedisServer, clock_json};
use serde_json::{Value, json};

const NIGHTLY: &str = r#"
[jobs.nightly-report]
every = "1h"
queue = "reports"
format = "bullmq"
name = "nightly"
data = { pages = 3, big = 9007199254740993, city = "Zürich ☃" }
attempts = 3
backoff = { type = "exponential", delay = 1000 }
"#;

const ID: &str = "nightly-report@2026-11-23T08-00-00Z";

/// Pushes the tick 2026-11-23T08:00:00Z of `toml`'s job (after `before`
/// ran against the server) and returns every key then.
async fn one_tick(toml: &str, before: impl FnOnce(&RedisServer)) -> BTreeMap<String, Value> {
    let server = RedisServer::start();
    before(&server);
    let store = store(&server).await;
    let (mut ticker, _) = clock_at(&config(toml), &store, at("2026-11-23T07:59:30Z")).await;
    ticker.fire_due(at("2026-11-23T08:00:00Z")).await.unwrap();
    dump(&server, "*")
}

fn value(keys: &BTreeMap<String, Value>, key: &str) -> Value {
    keys.get(key).unwrap_or_else(|| panic!("no {key} in {keys:#?}"))["value"].clone()
}

#[tokio::test]
async fn a_bullmq_tick_writes_exactly_the_keys_bullmqs_add_writes() {
    let keys = one_tick(NIGHTLY, |_| {}).await;
    let bull: Vec<&str> = keys.keys().map(String::as_str).filter(|k| k.starts_with("bull:")).collect();
    let job_key = format!("bull:reports:{ID}");
    assert_eq!(
        bull,
        [
            "bull:reports:events",
            "bull:reports:id",
            "bull:reports:marker",
            "bull:reports:meta",
            job_key.as_str(),
            "bull:reports:wait"
        ]
    );
    assert_eq!(
        value(&keys, &job_key),
        json!({
            "name": "nightly",
            // The big integer as written: exact (Node's JSON.parse rounds it).
            "data": r#"{"big":9007199254740993,"city":"Zürich ☃","pages":3}"#,
            "opts": format!(r#"{{"jobId":"{ID}","backoff":{{"delay":1000,"type":"exponential"}},"attempts":3}}"#),
            "timestamp": "1795420800000",
            "delay": "0",
            "priority": "0",
        })
    );
    assert_eq!(value(&keys, "bull:reports:wait"), json!([ID]));
    assert_eq!(value(&keys, "bull:reports:id"), json!("1"));
    assert_eq!(value(&keys, "bull:reports:meta"), json!({"opts.maxLenEvents": "10000"}));
    assert_eq!(value(&keys, "bull:reports:marker"), json!([["0", "0"]]));
    assert_eq!(
        value(&keys, "bull:reports:events"),
        json!([["event", "added", "jobId", ID, "name", "nightly"], ["event", "waiting", "jobId", ID]])
    );
    // campanile's own: the tick state, the counter and the job's tick log; nothing else.
    let own: Vec<&str> = keys.keys().map(String::as_str).filter(|k| !k.starts_with("bull:")).collect();
    assert_eq!(
        own,
        [
            "campanile:term",
            "campanile:{reports}:stats",
            "campanile:{reports}:tick_log:nightly-report",
            "campanile:{reports}:ticks"
        ]
    );
    assert_eq!(value(&keys, "campanile:{reports}:stats"), json!({"nightly-report:enqueued": "1"}));
}

#[tokio::test]
async fn a_paused_bullmq_queue_gets_the_id_on_paused_and_no_marker() {
    let keys = one_tick(NIGHTLY, |server| {
        // What BullMQ's Queue.pause leaves, and a longer events cap.
        let () = redis::cmd("HSET")
            .arg("bull:reports:meta")
            .arg("paused")
            .arg("1")
            .arg("opts.maxLenEvents")
            .arg("500")
            .query(&mut server.connection())
            .unwrap();
    })
    .await;
    assert_eq!(value(&keys, "bull:reports:paused"), json!([ID]));
    assert!(!keys.contains_key("bull:reports:wait"));
    assert!(!keys.contains_key("bull:reports:marker"));
    assert_eq!(value(&keys, "bull:reports:meta"), json!({"opts.maxLenEvents": "500", "paused": "1"}));
}

#[tokio::test]
async fn a_bullmq_queue_at_its_concurrency_gets_the_id_without_a_marker() {
    let keys = one_tick(NIGHTLY, |server| {
        let mut con = server.connection();
        let () =
            redis::cmd("HSET").arg("bull:reports:meta").arg("concurrency").arg("1").query(&mut con).unwrap();
        let () = redis::cmd("RPUSH").arg("bull:reports:active").arg("7").query(&mut con).unwrap();
    })
    .await;
    assert_eq!(value(&keys, "bull:reports:wait"), json!([ID]));
    assert!(!keys.contains_key("bull:reports:marker"));
}

#[tokio::test]
async fn an_id_bullmq_already_has_is_not_pushed_again_but_reported_duplicated() {
    let keys = one_tick(NIGHTLY, |server| {
        let () = redis::cmd("HSET")
            .arg(format!("bull:reports:{ID}"))
            .arg("name")
            .arg("other")
            .query(&mut server.connection())
            .unwrap();
    })
    .await;
    assert_eq!(value(&keys, &format!("bull:reports:{ID}")), json!({"name": "other"}));
    assert!(!keys.contains_key("bull:reports:wait"));
    assert_eq!(value(&keys, "bull:reports:events"), json!([["event", "duplicated", "jobId", ID]]));
    // The counter moves, as BullMQ's own add moves it.
    assert_eq!(value(&keys, "bull:reports:id"), json!("1"));
}

#[test]
fn trigger_adds_a_bullmq_job_with_the_given_data_and_status_counts_its_wait_list() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, NIGHTLY).unwrap();
    let clock = |args: &[&str]| clock_json(&redis, &config, args);
    let out = clock(&["trigger", "nightly-report", "--json", "--args", r#"{"pages": 1}"#]);
    let id = out["id"].as_str().unwrap();
    assert!(id.starts_with("nightly-report@manual-") && !id.contains(':'), "{id}");
    let keys = dump(&redis, "bull:*");
    assert_eq!(value(&keys, "bull:reports:wait"), json!([id]));
    let job = value(&keys, &format!("bull:reports:{id}"));
    assert_eq!((&job["name"], &job["data"]), (&json!("nightly"), &json!(r#"{"pages":1}"#)));
    assert_eq!(value(&keys, "bull:reports:events")[1], json!(["event", "waiting", "jobId", id]));
    // A manual run records no tick, only its entry in the job's tick log.
    let own = dump(&redis, "campanile:*");
    assert_eq!(own.keys().collect::<Vec<_>>(), ["campanile:{reports}:tick_log:nightly-report"]);
    let log = value(&own, "campanile:{reports}:tick_log:nightly-report");
    let entry: serde_json::Value = serde_json::from_str(log[0].as_str().unwrap()).unwrap();
    assert_eq!((&entry["outcome"], &entry["id"]), (&json!("manual"), &json!(id)));
    let status = clock(&["status", "--json"]);
    assert_eq!(
        status["tool_queues"],
        json!([{"list": "bull:reports:wait", "format": "bullmq", "waiting": 1}])
    );
}

#[tokio::test]
async fn catch_up_pause_duplicates_and_fencing_apply_to_bullmq_jobs_beside_other_formats() {
    let server = RedisServer::start();
    let store = store(&server).await;
    // One queue, so each call mixes BullMQ ticks (nine keys each) with
    // RQ's and Sidekiq's (three each).
    let cfg = config(
        r#"
[jobs.bull]
every = "1m"
format = "bullmq"
name = "b"
catch_up = "all"
[jobs.rq]
every = "1m"
format = "rq"
function = "m.f"
[jobs.sk]
every = "1m"
format = "sidekiq"
class = "S"
[jobs.other]
every = "1m"
format = "bullmq"
name = "o"
prefix = "other"
"#,
    );
    let (mut a, _) = clock_at(&cfg, &store, at("2026-11-23T10:00:30Z")).await;
    // Ten minutes without a clock; then B, and a twin with B's term and
    // B's stale start state.
    let start = at("2026-11-23T10:10:30Z");
    let term = store.next_term().await.unwrap();
    let mut b = Ticker::start(cfg.clone(), store.clone(), term, start).await.unwrap();
    let mut twin = Ticker::start(cfg.clone(), store.clone(), term, start).await.unwrap();
    let fired = b.fire_due(start).await.unwrap();
    // "all" pushes each missed tick; the others the newest and the late one.
    assert_eq!((fired.pushed, fired.missed), (10 + 3 * 2, 3 * 8));
    let ids = |minutes: std::ops::RangeInclusive<u32>| -> Vec<Value> {
        minutes.rev().map(|m| json!(format!("bull@2026-11-23T10-{m:02}-00Z"))).collect()
    };
    let keys = dump(&server, "*");
    assert_eq!(value(&keys, "bull:default:wait"), json!(ids(1..=10)));
    for id in ids(1..=10) {
        assert_eq!(value(&keys, &format!("bull:default:{}", id.as_str().unwrap()))["name"], "b");
    }
    assert_eq!(value(&keys, "bull:default:id"), json!("10"));
    assert_eq!(value(&keys, "other:default:wait").as_array().unwrap().len(), 2);
    assert_eq!(value(&keys, "rq:queue:default").as_array().unwrap().len(), 2);
    assert_eq!(value(&keys, "queue:default").as_array().unwrap().len(), 2);
    // The twin finds every tick handled: nothing reaches BullMQ's keys.
    let fired = twin.fire_due(start).await.unwrap();
    // (each of the ten, and per other job its missed record and two pushes)
    assert_eq!((fired.pushed, fired.duplicate), (0, 10 + 3 * 3));
    assert_eq!(dump(&server, "bull:*"), keys.into_iter().filter(|(k, _)| k.starts_with("bull:")).collect());
    // A, of an older term, is fenced.
    assert!(matches!(a.fire_due(at("2026-11-23T10:11:00Z")).await, Err(campanile::store::Error::Fenced)));
    // Paused, the BullMQ job's tick is recorded, not added.
    let default = QueueName::new("default").unwrap();
    assert!(store.pause(&default, "bull", "2026-11-23T10:10:40Z").await.unwrap());
    let fired = b.fire_due(at("2026-11-23T10:11:00Z")).await.unwrap();
    assert_eq!((fired.pushed, fired.paused), (3, 1));
    let keys = dump(&server, "*");
    assert_eq!(value(&keys, "bull:default:wait"), json!(ids(1..=10)));
    assert_eq!(value(&keys, "bull:default:id"), json!("10"));
    assert_eq!(value(&keys, "other:default:wait").as_array().unwrap().len(), 3);
    assert!(store.resume(&default, "bull").await.unwrap());
    b.fire_due(at("2026-11-23T10:12:00Z")).await.unwrap();
    assert_eq!(value(&dump(&server, "bull:*"), "bull:default:wait")[0], "bull@2026-11-23T10-12-00Z");
}
