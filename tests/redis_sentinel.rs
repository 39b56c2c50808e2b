//! The clock and the worker as real processes against a primary that real
//! Sentinel processes watch (a primary, a replica, three sentinels), reached
//! with a `redis+sentinel://` URL: a failover mid-run is followed, and each
//! tick still runs exactly once, with no gap.
//!
//! A Sentinel failover is not coordinated: the old primary takes writes
//! until the sentinels demote it, and loses them then. The clock notices its
//! lost ticks and pushes them again; `wait_replicas = 1` keeps a worker from
//! running a payload it took from a primary that no longer has a replica, so
//! such a tick runs once, from the new primary.

mod common;

use std::time::Duration;

use campanile::time::TimeSource;
use common::deployment::Deployment;
use common::sentinel::RedisSentinel;

fn now() -> i64 {
    campanile::time::SystemTime.now().timestamp()
}

#[test]
fn a_sentinel_failover_mid_run_is_followed_and_doubles_or_loses_no_tick() {
    let sentinel = RedisSentinel::start();
    let before = sentinel.primary_port();
    let queues = vec!["default".to_owned(), "reports".to_owned()];
    let deployment = Deployment::start(queues, "wait_replicas = 1", Some(sentinel.sentinel_url()));
    deployment.wait_runs_past(now() + 3, Duration::from_secs(30));

    let promoted = sentinel.failover();
    assert_ne!(promoted, before, "the sentinels promoted the replica");
    let failed_over = now();
    deployment.wait_runs_past(failed_over + 4, Duration::from_secs(30));

    // The work went on on the new primary: its history is there.
    let mut con = sentinel.connection_to_primary();
    let history: Vec<String> = redis::cmd("LRANGE")
        .arg("campanile:{default}:history:tick-default")
        .arg(0)
        .arg(0)
        .query(&mut con)
        .unwrap();
    let newest: serde_json::Value = serde_json::from_str(&history[0]).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(newest["scheduled_at"].as_str().unwrap()).unwrap();
    assert!(at.timestamp() > failed_over, "the newest run {at} is after the failover at {failed_over}");
    let checked = deployment.stop_and_check();
    eprintln!("{checked} runs checked across a Sentinel failover");
}
