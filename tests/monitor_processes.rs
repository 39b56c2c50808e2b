//! Knowing when jobs do not run, end to end: real clock and worker
//! processes, alerts posted to a local webhook receiver. A tick nobody
//! starts is reported `late` once, soon after its deadline; a queue whose
//! only worker is killed is reported `unserved` once its lease lapses, and
//! `served` when a worker is back.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::RedisServer;
use common::procs::{Proc, wait_for, write_config};
use common::webhook::Receiver;
use serde_json::Value;

fn of(seen: &[(String, Value)], event: &str) -> Vec<Value> {
    seen.iter().filter(|(_, e)| e["event"] == event).map(|(_, e)| e.clone()).collect()
}

fn exists(redis: &RedisServer, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query(&mut redis.connection()).unwrap()
}

fn zmembers(redis: &RedisServer, key: &str) -> Vec<String> {
    redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).query(&mut redis.connection()).unwrap()
}

#[test]
fn a_tick_no_worker_starts_is_late_once_soon_after_its_deadline() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(0);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = write_config(
        d,
        &format!(
            r#"
[jobs.stuck]
every = "1s"
command = "true"
overlap = "allow"

[jobs.running]
every = "1s"
command = "true"
queue = "work"
overlap = "allow"

[[notify.webhooks]]
url = "{url}"
events = ["late"]
"#,
            url = receiver.url("/hook")
        ),
    );
    // `running`'s queue has a worker from the start; `stuck`'s never has.
    let worker = Proc::worker(&redis, &config, d, &["--queue", "work"], "worker");
    wait_for(
        "the worker to register",
        Duration::from_secs(20),
        || exists(&redis, "campanile:{work}:workers").then_some(()),
        || worker.log_tail(),
    );
    let mut clock = Proc::clock(&redis, &config, d, "clock");
    receiver.wait_for("three late ticks", Duration::from_secs(20), |s| of(s, "late").len() >= 3);
    // A few more seconds of ticks, then no more pushes.
    std::thread::sleep(Duration::from_secs(2));
    clock.sigterm();
    clock.wait_exit(Duration::from_secs(10)).expect("the clock stops");
    let late_set = zmembers(&redis, "campanile:{default}:late");
    let seen = receiver.wait_for("every late tick reported", Duration::from_secs(5), |s| {
        of(s, "late").len() >= late_set.len()
    });
    let late = of(&seen, "late");
    let ids: Vec<&str> = late.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a tick reported twice: {ids:?}");
    assert_eq!(unique, late_set.iter().map(String::as_str).collect(), "reported = moved to the late set");
    for e in &late {
        assert_eq!(e["job"], "stuck", "{e}\n{}", worker.log_tail());
        assert_eq!(e["queue"], "default");
        assert_eq!(e["id"].as_str().unwrap(), format!("stuck@{}", e["scheduled_at"].as_str().unwrap()));
        assert_eq!(e["workers"], 0);
        assert!(e["depth"].as_u64().unwrap() >= 1, "{e}");
        // Deadline: the tick plus 1 s (the time to the next tick); the
        // clock watches every second.
        let waited = e["elapsed_secs"].as_u64().unwrap();
        assert!((1..=4).contains(&waited), "reported {waited} s after its tick: {e}");
    }
    // Every pushed tick of `stuck` whose deadline passed went late; the
    // last ones may not have yet when the clock stopped.
    let pushed: i64 =
        redis::cmd("LLEN").arg("campanile:{default}:pending").query(&mut redis.connection()).unwrap();
    let waiting = zmembers(&redis, "campanile:{default}:waiting");
    assert_eq!(late_set.len() + waiting.len(), pushed as usize, "late {late_set:?} waiting {waiting:?}");
    assert!(waiting.len() <= 3, "{waiting:?}");
    assert!(zmembers(&redis, "campanile:{work}:late").is_empty(), "runs that started are never late");
}

#[test]
fn a_queue_whose_only_worker_dies_is_unserved_once_then_served_when_one_is_back() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(0);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = write_config(
        d,
        &format!(
            r#"
[monitor]
unserved_after = "2s"

[jobs.tick]
every = "2s"
command = "true"

[[notify.webhooks]]
url = "{url}"
events = ["unserved", "served"]
"#,
            url = receiver.url("/hook")
        ),
    );
    let mut first = Proc::worker(&redis, &config, d, &[], "worker-1");
    wait_for(
        "the worker to register",
        Duration::from_secs(20),
        || exists(&redis, "campanile:{default}:workers").then_some(()),
        || first.log_tail(),
    );
    let clock = Proc::clock(&redis, &config, d, "clock");
    // Served from the start: nothing to report while the worker lives.
    wait_for(
        "the clock to watch the queue",
        Duration::from_secs(20),
        || {
            redis::cmd("HEXISTS")
                .arg("campanile:{default}:monitor")
                .arg("checked_at")
                .query::<bool>(&mut redis.connection())
                .unwrap()
                .then_some(())
        },
        || clock.log_tail(),
    );
    first.sigkill();
    let killed = Instant::now();
    // Its lease (15 s) lapses, then 2 s without a live worker.
    let seen = receiver.wait_for("unserved", Duration::from_secs(30), |s| !of(s, "unserved").is_empty());
    // A killed worker counts as live until its lease lapses: at least 10 s
    // after the kill, its last heartbeat being at most 5 s before it.
    let after = killed.elapsed();
    assert!(after >= Duration::from_secs(11), "unserved only {after:?} after the kill");
    let unserved = &of(&seen, "unserved")[0];
    assert_eq!(
        (&unserved["queue"], &unserved["job"], &unserved["workers"]),
        (&"default".into(), &"*".into(), &0.into())
    );
    assert!(unserved["elapsed_secs"].as_u64().unwrap() >= 2, "{unserved}");

    let second = Proc::worker(&redis, &config, d, &[], "worker-2");
    let seen = receiver.wait_for("served", Duration::from_secs(20), |s| !of(s, "served").is_empty());
    let served = &of(&seen, "served")[0];
    assert_eq!(served["workers"], 1, "{served}\n{}", second.log_tail());
    assert!(served["elapsed_secs"].as_u64().unwrap() >= 2, "{served}");
    // Two more watches: nothing more to report.
    std::thread::sleep(Duration::from_secs(2));
    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(
        (of(&seen, "unserved").len(), of(&seen, "served").len()),
        (1, 1),
        "{seen:#?}\n{}",
        clock.log_tail()
    );
}
