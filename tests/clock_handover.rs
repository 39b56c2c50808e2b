//! Newest config wins: a clock started with a changed clock.toml takes the
//! lease from the running one within a renewal interval, and no tick of a
//! job both configs share is lost or doubled across the overlap.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{RedisServer, bin, leader_pid, stop, wait_until};

const A: &str = r#"
[defaults]
overlap = "allow"
[jobs.kept]
every = "1s"
command = "true"
[jobs.changed]
every = "2s"
command = "true"
[jobs.removed]
every = "1s"
command = "true"
"#;

const B: &str = r#"
[defaults]
overlap = "allow"
[jobs.kept]
every = "1s"
command = "true"
[jobs.changed]
every = "3s"
command = "true"
[jobs.added]
every = "1s"
command = "true"
"#;

fn spawn(redis: &RedisServer, config: &Path) -> Child {
    Command::new(bin("clock"))
        .arg("--config")
        .arg(config)
        .env("REDIS_URL", redis.url())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Each job's ticks on the pending list, in push order.
fn ticks(redis: &RedisServer) -> BTreeMap<String, Vec<DateTime<Utc>>> {
    let raw: Vec<String> = redis::cmd("LRANGE")
        .arg("campanile:{default}:pending")
        .arg(0)
        .arg(-1)
        .query(&mut redis.connection())
        .unwrap();
    let mut out: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
    for p in raw.iter().rev() {
        let v: serde_json::Value = serde_json::from_str(p).unwrap();
        out.entry(v["job"].as_str().unwrap().to_owned())
            .or_default()
            .push(v["scheduled_at"].as_str().unwrap().parse().unwrap());
    }
    out
}

#[test]
fn a_clock_with_a_newer_config_takes_over_and_no_shared_tick_is_lost_or_doubled() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    std::fs::write(&a, A).unwrap();
    std::fs::write(&b, B).unwrap();

    let old = spawn(&redis, &a);
    wait_until("A to lead", Duration::from_secs(15), || leader_pid(&redis) == Some(old.id()));
    wait_until("A to push a few ticks", Duration::from_secs(15), || {
        ticks(&redis).get("kept").is_some_and(|t| t.len() >= 3)
    });

    let new = spawn(&redis, &b);
    let started = Instant::now();
    let handed = wait_until("B to lead", Duration::from_secs(15), || leader_pid(&redis) == Some(new.id()));
    let handover_after = handed - started;
    // B announces itself within a second of starting; A hands over at its
    // next renewal, a second later at most (plus process start-up).
    assert!(handover_after < Duration::from_secs(4), "handover took {handover_after:?}");
    let handed_at: DateTime<Utc> = campanile::time::TimeSource::now(&campanile::time::SystemTime);
    // A stands by rather than taking the lease back.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(leader_pid(&redis), Some(new.id()), "the newer config keeps the lease");
    stop(old);
    std::thread::sleep(Duration::from_secs(2));
    stop(new);

    let all = ticks(&redis);
    // The removed job never fires after the handover (one tick of slack for
    // a batch A was pushing at that instant).
    let late = all["removed"].iter().filter(|t| **t > handed_at + chrono::Duration::seconds(1)).count();
    assert_eq!(late, 0, "removed fired after the handover: {:?}", all["removed"]);
    assert!(!all["added"].is_empty(), "the new job started");
    // The unchanged job: every second exactly once, across the overlap.
    let kept = &all["kept"];
    let mut sorted = kept.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), kept.len(), "a kept tick was pushed twice: {kept:?}");
    for pair in kept.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).num_seconds(),
            1,
            "a kept tick is missing between {} and {}",
            pair[0],
            pair[1]
        );
    }
    // The changed job runs on its new schedule after the handover.
    let changed_after: Vec<_> =
        all["changed"].iter().filter(|t| **t > handed_at + chrono::Duration::seconds(1)).collect();
    assert!(changed_after.iter().all(|t| t.timestamp() % 3 == 0), "{changed_after:?}");
}

/// A leader frozen past its lease (SIGSTOP) wakes up to find a successor
/// with a newer term: everything it tries to push is refused.
#[test]
fn a_frozen_leader_that_wakes_up_is_fenced() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, "[jobs.s]\nevery = \"1s\"\ncommand = \"true\"\noverlap = \"allow\"\n").unwrap();
    let log = dir.path().join("a.log");
    let a = Command::new(bin("clock"))
        .arg("--config")
        .arg(&config)
        .env("REDIS_URL", redis.url())
        .env("CAMPANILE_LOG_FORMAT", "logfmt")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_until("A to lead", Duration::from_secs(15), || leader_pid(&redis) == Some(a.id()));
    let b = spawn(&redis, &config);
    wait_until("A to push", Duration::from_secs(10), || ticks(&redis).get("s").is_some_and(|t| t.len() >= 2));
    let signal = |sig| common::send_signal(a.id(), sig).unwrap();
    signal(libc::SIGSTOP);
    wait_until("B to take over", Duration::from_secs(15), || leader_pid(&redis) == Some(b.id()));
    let pushed = ticks(&redis)["s"].len();
    wait_until("B to push", Duration::from_secs(10), || ticks(&redis)["s"].len() >= pushed + 2);
    signal(libc::SIGCONT);
    // On waking, its leader loop pushes the ticks it slept through and is
    // fenced, unless its lease keeper (a thread of its own) learns first
    // that the lease is gone and stops the leader loop before it pushes.
    wait_until("A to be fenced or to see its lease gone", Duration::from_secs(10), || {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        log.contains("msg=\"fenced: a clock with a newer leadership term")
            || log.contains("msg=\"leader lease taken by another clock\"")
    });
    std::thread::sleep(Duration::from_secs(2));
    stop(a);
    stop(b);
    let s = &ticks(&redis)["s"];
    let mut sorted = s.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), s.len(), "a tick was pushed twice: {s:?}");
    for pair in sorted.windows(2) {
        assert_eq!((pair[1] - pair[0]).num_seconds(), 1, "missing tick between {} and {}", pair[0], pair[1]);
    }
}
