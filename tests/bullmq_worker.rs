//! A stock BullMQ `Worker` (Node, BullMQ 5.58.5 installed by scripts/test
//! from tests/data/bullmq's lock file) runs the jobs two real `clock`
//! processes push with `format = "bullmq"`, and BullMQ's own `Queue.add`
//! leaves the same keys as a campanile tick.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use campanile::formats::bullmq::job_id;
use campanile::payload::tick_id;
use common::RedisServer;
use common::bullmq::{dump, node, script};
use common::foreign_worker::{Process, assert_each_ran_once, two_clocks_then_drain};
use common::tickers::{at, clock_at, config, store};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[jobs.record]
every = "1s"
format = "bullmq"
name = "record"
data = { label = "pdf", big = 9007199254740993, big_text = "9007199254740993", city = "Zürich ☃", title = "naïve – résumé" }
attempts = 2
backoff = { type = "fixed", delay = 500 }
"#;

/// tests/data/bullmq/worker.js on the queue `default`.
fn spawn_worker(redis: &RedisServer, dir: &Path) -> Process {
    let child = node()
        .arg(script("worker.js"))
        .current_dir(dir)
        .env("REDIS_PORT", redis.port().to_string())
        .env("QUEUE", "default")
        .env("DONE_FILE", dir.join("done.jsonl"))
        .stdin(Stdio::null())
        .stdout(File::create(dir.join("bullmq.log")).unwrap())
        .stderr(Stdio::from(File::create(dir.join("bullmq.err")).unwrap()))
        .spawn()
        .expect("spawn node worker.js");
    Process(child)
}

#[test]
fn a_stock_bullmq_worker_runs_each_tick_of_two_clocks_exactly_once() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("clock.toml"), CONFIG).unwrap();

    let worker = spawn_worker(&redis, dir);
    let (runs, pushed) = two_clocks_then_drain(&redis, dir, |tick| job_id(&tick_id("record", tick)));
    drop(worker);

    for run in &runs {
        assert_eq!(run["name"], "record", "{run}");
        // Node's JSON.parse reads every number as a double: 2^53 + 1 arrives
        // as 2^53. The text form arrives exact.
        assert_eq!(
            run["data"],
            json!({
                "label": "pdf",
                "big": 9007199254740992_i64,
                "big_text": "9007199254740993",
                "city": "Zürich ☃",
                "title": "naïve – résumé",
            }),
            "{run}"
        );
        assert_eq!(run["bigText"], "9007199254740992", "{run}");
        assert_eq!(
            (&run["opts"]["attempts"], &run["opts"]["backoff"]),
            (&json!(2), &json!({"type": "fixed", "delay": 500}))
        );
    }
    assert_each_ran_once(&runs, &pushed);
    let mut con = redis.connection();
    let waiting: i64 = redis::cmd("LLEN").arg("bull:default:wait").query(&mut con).unwrap();
    assert_eq!(waiting, 0);
    let completed: usize = redis::cmd("ZCARD").arg("bull:default:completed").query(&mut con).unwrap();
    assert_eq!(completed, pushed.len(), "BullMQ completed each job");
    // What Redis holds is exact; only Node's parse rounds.
    let data: String =
        redis::cmd("HGET").arg(format!("bull:default:{}", pushed[0])).arg("data").query(&mut con).unwrap();
    assert!(data.contains(r#""big":9007199254740993"#), "{data}");
}

/// Every `bull:*` key, with what differs between two adds of the same job
/// by nature set aside: the add's `timestamp` (its time) and the `version`
/// a `Queue` records in the meta hash when it connects (not part of an
/// add); `opts` as JSON, whose key order is Lua's table order.
fn comparable(redis: &RedisServer) -> BTreeMap<String, Value> {
    let mut keys = dump(redis, "bull:*");
    for (key, entry) in keys.iter_mut() {
        let value = &mut entry["value"];
        if key.ends_with(":meta") {
            value.as_object_mut().unwrap().remove("version");
        }
        if let Some(opts) = value.get("opts").and_then(Value::as_str) {
            value["opts"] = serde_json::from_str(opts).unwrap();
            value["timestamp"] = json!("<now>");
        }
    }
    keys
}

#[tokio::test]
async fn a_campanile_tick_leaves_the_keys_bullmqs_queue_add_leaves() {
    let toml = r#"
[jobs.nightly-report]
every = "1h"
queue = "reports"
format = "bullmq"
name = "nightly"
attempts = 3
backoff = { type = "exponential", delay = 1000 }
data = { label = "pdf", pages = 3, city = "Zürich ☃", nested = { list = [1, 2.5, "x"] } }
"#;
    let ours = RedisServer::start();
    let store = store(&ours).await;
    let (mut ticker, _) = clock_at(&config(toml), &store, at("2026-11-23T07:59:30Z")).await;
    assert_eq!(ticker.fire_due(at("2026-11-23T08:00:00Z")).await.unwrap().pushed, 1);

    let id = job_id(&tick_id("nightly-report", at("2026-11-23T08:00:00Z")));
    let theirs = RedisServer::start();
    let opts = json!({"attempts": 3, "backoff": {"type": "exponential", "delay": 1000}, "jobId": id});
    let data = json!({"label": "pdf", "pages": 3, "city": "Zürich ☃", "nested": {"list": [1, 2.5, "x"]}});
    let out = node()
        .arg(script("add.js"))
        .arg(theirs.port().to_string())
        .args(["reports", "nightly", &data.to_string(), &opts.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);

    let (ours, theirs) = (comparable(&ours), comparable(&theirs));
    assert_eq!(ours.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>());
    for (key, value) in &theirs {
        assert_eq!(&ours[key], value, "{key}");
    }
}

/// The first block of `lang` in docs/formats.md's BullMQ section.
fn documented(lang: &str) -> String {
    let docs = std::fs::read_to_string(common::foreign_worker::repo().join("docs/formats.md")).unwrap();
    let section = docs.split("\n### BullMQ\n").nth(1).expect("docs/formats.md has a BullMQ section");
    let block = section.split(&format!("```{lang}\n")).nth(1).unwrap_or_else(|| panic!("no {lang} block"));
    block.split("```").next().unwrap().to_owned()
}

#[test]
fn the_documented_worker_runs_the_documented_job() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("worker.js"), documented("js")).unwrap();
    std::fs::write(dir.join("clock.toml"), documented("toml")).unwrap();
    let _worker = Process(
        node()
            .arg("worker.js")
            .current_dir(dir)
            .env("REDIS_URL", redis.url())
            .stdin(Stdio::null())
            .stdout(File::create(dir.join("worker.log")).unwrap())
            .stderr(Stdio::from(File::create(dir.join("worker.err")).unwrap()))
            .spawn()
            .expect("spawn node worker.js"),
    );
    common::clock_json(&redis, &dir.join("clock.toml"), &["trigger", "nightly-report", "--json"]);
    let log = || std::fs::read_to_string(dir.join("worker.log")).unwrap_or_default();
    common::foreign_worker::wait_for(
        dir,
        "the documented worker to run the job",
        Duration::from_secs(20),
        || log().contains("nightly report pdf 3 9007199254740993n"),
    );
}
