//! Redis losing campanile's state under a running clock (a `FLUSHALL`, a
//! restart without persistence): the leader restores the ticks it pushed,
//! so the ticks of the outage follow the job's catch-up policy instead of
//! silently never running; it logs a warning and sends a `missed` alert.
//! Real clock process, real redis-server, a webhook receiver, and an
//! observer popping every payload as it lands.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use campanile::time::TimeSource;

use common::webhook::Receiver;
use common::{RedisServer, spawn_clock, stop, wait_until};
use serde_json::Value;

/// Pops every payload off the default queue as it lands and records its
/// tick (Unix seconds), reconnecting while Redis is down.
struct Observer {
    ticks: Arc<Mutex<Vec<i64>>>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Observer {
    fn start(url: String) -> Observer {
        let ticks: Arc<Mutex<Vec<i64>>> = Arc::default();
        let done = Arc::new(AtomicBool::new(false));
        let (record, stop) = (ticks.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            let client = redis::Client::open(url).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(200)) else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = con.set_read_timeout(Some(Duration::from_secs(2)));
                while !stop.load(Ordering::Relaxed) {
                    let popped: redis::RedisResult<Option<(String, String)>> =
                        redis::cmd("BRPOP").arg("campanile:{default}:pending").arg(0.05).query(&mut con);
                    match popped {
                        Ok(Some((_, raw))) => {
                            let payload: Value = serde_json::from_str(&raw).unwrap();
                            let at = payload["scheduled_at"].as_str().unwrap();
                            let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
                            record.lock().unwrap().push(at.timestamp());
                        }
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
            }
        });
        Observer { ticks, done, thread: Some(thread) }
    }

    fn ticks(&self) -> Vec<i64> {
        self.ticks.lock().unwrap().clone()
    }

    fn stop(mut self) -> Vec<i64> {
        self.done.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.ticks()
    }
}

fn unix_now() -> Duration {
    let now = campanile::time::SystemTime.now();
    Duration::from_millis(now.timestamp_millis() as u64)
}

/// Runs a clock with an every-second, catch-up-all job, lets it push a few
/// ticks, makes Redis lose its data with `lose` half-way between two ticks,
/// and checks that every tick from the first to the last the observer saw
/// arrived exactly once, that the loss was logged and alerted.
fn the_ticks_of_the_outage_run_after(lose: impl FnOnce(&mut RedisServer)) {
    let mut redis = RedisServer::start();
    let receiver = Receiver::start(0);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(
        &config,
        format!(
            "[jobs.s]\nevery = \"1s\"\ncommand = \"true\"\noverlap = \"allow\"\ncatch_up = \"all\"\n\n\
             [[notify.webhooks]]\nurl = \"{}\"\nevents = [\"missed\"]\n",
            receiver.url("/hook")
        ),
    )
    .unwrap();
    let log = dir.path().join("clock.log");
    let clock = spawn_clock(&redis, &config, &log);
    let observer = Observer::start(redis.url());
    wait_until("three ticks before the loss", Duration::from_secs(30), || observer.ticks().len() >= 3);
    // Half-way between two ticks, so no push is under way.
    let phase = unix_now().subsec_millis();
    std::thread::sleep(Duration::from_millis(u64::from((1500 - phase) % 1000)));
    lose(&mut redis);
    let lost_at = unix_now().as_secs() as i64;

    let seen = receiver.wait_for("the lost-state alert", Duration::from_secs(30), |s| !s.is_empty());
    wait_until("three ticks after the loss", Duration::from_secs(30), || {
        observer.ticks().iter().filter(|&&t| t > lost_at + 2).count() >= 3
    });
    stop(clock);
    let ticks = observer.stop();
    let log = std::fs::read_to_string(&log).unwrap();

    let unique: BTreeSet<i64> = ticks.iter().copied().collect();
    assert_eq!(unique.len(), ticks.len(), "a tick was pushed twice: {ticks:?}");
    let (first, last) = (*unique.first().unwrap(), *unique.last().unwrap());
    let missing: Vec<i64> = (first..=last).filter(|t| !unique.contains(t)).collect();
    assert!(missing.is_empty(), "ticks {missing:?} never ran (lost at {lost_at}); log:\n{log}");

    let alert = &seen[0].1;
    assert_eq!(alert["event"], "missed", "{alert}");
    assert_eq!(alert["job"], "*", "{alert}");
    assert_eq!(alert["queue"], "default", "{alert}");
    assert_eq!(alert["reason"], "Redis lost campanile's state", "{alert}");
    assert_eq!(alert["count"], 1, "one job restored: {alert}");
    assert!(log.contains("tick state restored from the leading clock's memory"), "no warning in:\n{log}");
}

#[test]
fn after_a_flushall_the_leader_restores_its_ticks_and_alerts() {
    the_ticks_of_the_outage_run_after(|redis| {
        let () = redis::cmd("FLUSHALL").query(&mut redis.connection()).unwrap();
    });
}

#[test]
fn after_a_restart_without_persistence_the_outage_is_caught_up_and_alerted() {
    the_ticks_of_the_outage_run_after(|redis| redis.restart_empty(Duration::from_secs(3)));
}
