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

/// An old primary the sentinels cannot demote (it refuses `REPLICAOF`, as
/// one cut off from the sentinels but not from clients would never get it)
/// keeps taking writes after the switch. A connection follows what the
/// sentinels name, within about a second, not the old primary's demotion.
#[test]
fn connections_follow_the_sentinels_within_a_second_of_a_switch() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let sentinel = RedisSentinel::start_with_primary_args(&[
        "--rename-command",
        "REPLICAOF",
        "",
        "--rename-command",
        "SLAVEOF",
        "",
    ]);
    let settings =
        campanile::config::RedisSettings { url: Some(sentinel.sentinel_url()), ..Default::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store =
        runtime.block_on(campanile::store::Store::connect(&settings)).expect("connect through sentinels");
    // A writer that never stops: each write bumps the term counter on
    // whichever node the store is connected to.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = std::thread::spawn({
        let stop = stop.clone();
        move || {
            runtime.block_on(async {
                while !stop.load(Ordering::Relaxed) {
                    let _ = store.next_term().await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        }
    });
    let term_on = |port: u16| -> i64 {
        let got: Option<i64> =
            redis::cmd("GET").arg("campanile:term").query(&mut sentinel.connection_to(port)).unwrap();
        got.unwrap_or(0)
    };
    let old = sentinel.primary_port();
    common::wait_until("the writer to write", Duration::from_secs(10), || term_on(old) > 3);
    let (new, switched) = sentinel.switch_primary();
    let at_switch = term_on(new);
    let followed = common::poll_until(Duration::from_secs(10), || term_on(new) > at_switch + 2);
    let took = switched.elapsed();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(followed, "the writes never moved to the new primary");
    eprintln!("writes moved to the new primary {took:?} after the sentinels named it");
    assert!(took < Duration::from_millis(1500), "writes moved to the new primary only after {took:?}");
}
