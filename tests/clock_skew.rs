//! Clock skew: clocks whose system clocks are 5 s fast and 5 s slow still
//! push each tick at its true instant, and a failover between them neither
//! repeats nor skips a tick. The skew is injected (`CAMPANILE_CLOCK_SKEW`);
//! the machine's clock is not touched.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use campanile::time::{SystemTime, TimeSource};
use chrono::{DateTime, Utc};
use common::{RedisServer, bin, leader_pid, stop, wait_until};

fn spawn(redis: &RedisServer, config: &std::path::Path, skew: &str) -> Child {
    Command::new(bin("clock"))
        .arg("--config")
        .arg(config)
        .env("REDIS_URL", redis.url())
        .env("CAMPANILE_CLOCK_SKEW", skew)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// `(tick, real arrival)` of each payload the observer popped.
type Arrivals = Vec<(DateTime<Utc>, DateTime<Utc>)>;

#[test]
fn skewed_clocks_push_ticks_at_their_true_instants_across_a_failover() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, "[jobs.s]\nevery = \"1s\"\ncommand = \"true\"\noverlap = \"allow\"\n").unwrap();

    // An observer stamps each payload's arrival with the real time.
    let seen: Arc<Mutex<Arrivals>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let observer = {
        let (seen, running, url) = (seen.clone(), running.clone(), redis.url());
        std::thread::spawn(move || {
            let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
            while running.load(Ordering::Relaxed) {
                let popped: Option<(String, Vec<String>)> = redis::cmd("BLMPOP")
                    .arg(0.2)
                    .arg(1)
                    .arg("campanile:{default}:pending")
                    .arg("RIGHT")
                    .arg("COUNT")
                    .arg(100)
                    .query(&mut con)
                    .unwrap();
                let arrival = SystemTime.now();
                for raw in popped.map(|(_, items)| items).unwrap_or_default() {
                    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
                    let tick: DateTime<Utc> = v["scheduled_at"].as_str().unwrap().parse().unwrap();
                    seen.lock().unwrap().push((tick, arrival));
                }
            }
        })
    };

    let mut fast = spawn(&redis, &config, "+5s");
    wait_until("the fast clock to lead", Duration::from_secs(15), || leader_pid(&redis) == Some(fast.id()));
    let slow = spawn(&redis, &config, "-5s");
    wait_until("a few ticks", Duration::from_secs(15), || seen.lock().unwrap().len() >= 4);
    let status: serde_json::Value = serde_json::from_slice(
        &Command::new(bin("clock"))
            .args(["status", "--json", "--config"])
            .arg(&config)
            .env("REDIS_URL", redis.url())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let offset = status["leader"]["offset_ms"].as_i64().unwrap();
    assert!((-5300..=-4700).contains(&offset), "the fast clock measures its offset: {offset} ms");

    fast.kill().unwrap(); // SIGKILL: the slow clock takes over when the lease lapses
    fast.wait().unwrap();
    wait_until("the slow clock to lead", Duration::from_secs(15), || leader_pid(&redis) == Some(slow.id()));
    let pushed = seen.lock().unwrap().len();
    wait_until("the slow clock to push", Duration::from_secs(15), || {
        seen.lock().unwrap().len() >= pushed + 4
    });
    stop(slow);
    std::thread::sleep(Duration::from_millis(500));
    running.store(false, Ordering::Relaxed);
    observer.join().unwrap();

    let seen = seen.lock().unwrap().clone();
    let mut ticks: Vec<DateTime<Utc>> = seen.iter().map(|(t, _)| *t).collect();
    let n = ticks.len();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.len(), n, "a tick was pushed twice");
    for pair in ticks.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).num_seconds(),
            1,
            "a tick is missing between {} and {}",
            pair[0],
            pair[1]
        );
    }
    // Never early; late only by the failover (the lease lapses in 3 s).
    for (tick, arrival) in &seen {
        let lateness = (*arrival - *tick).num_milliseconds();
        assert!(lateness >= -20, "tick {tick} pushed {lateness} ms early");
        assert!(lateness < 6000, "tick {tick} pushed {lateness} ms late");
    }
    let on_time = seen.iter().filter(|(t, a)| (*a - *t).num_milliseconds() < 200).count();
    assert!(on_time * 10 >= seen.len() * 6, "most ticks are on time: {on_time} of {}", seen.len());
}
