//! The leader lease is kept whatever the lead loop is doing: a clock with a
//! large job table leads through start-up, the publish of its job table and
//! several pushes of every job at once, against a Redis slowed by another
//! client's load, without its lease lapsing. A lapse shows as a second
//! leadership term (the same clock, alone, takes the lease again).

mod common;

use std::fmt::Write as _;
use std::process::Child;
use std::time::Duration;

use common::{RedisServer, spawn_clock, wait_until};

/// Jobs in the table: a size at which publishing the table and building a
/// batch take hundreds of milliseconds on the clock's thread (a debug
/// build's), and a push several seconds against the busy Redis.
const JOBS: usize = 50_000;

/// A process killed when dropped, so a failing test leaves nothing running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Another client's load: a script that keeps Redis busy for
/// [`Load::BUSY_MS`], then a short pause, over and over until dropped.
struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    const BUSY_MS: u64 = 500;
    const SPIN: &str = "local t = redis.call('TIME') local until_us = t[1] * 1000000 + t[2] + ARGV[1] * 1000 \
        repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= until_us return 1";

    fn start(redis: &RedisServer) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut con = redis.connection();
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _: i64 =
                        redis::cmd("EVAL").arg(Load::SPIN).arg(0).arg(Load::BUSY_MS).query(&mut con).unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        Load { stop, thread: Some(thread) }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.take().map(std::thread::JoinHandle::join);
    }
}

fn config() -> String {
    let mut toml = String::with_capacity(JOBS * 64);
    toml.push_str("[defaults]\noverlap = \"allow\"\n\n");
    for i in 0..JOBS {
        let _ = writeln!(toml, "[jobs.j{i:06}]\nevery = \"3s\"\ncommand = \"true\"");
    }
    toml
}

fn get(redis: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(&mut redis.connection()).unwrap()
}

fn pending(redis: &RedisServer) -> u64 {
    redis::cmd("LLEN").arg("campanile:{default}:pending").query(&mut redis.connection()).unwrap()
}

#[test]
fn a_busy_leader_keeps_one_term_through_large_pushes_on_a_slow_redis() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.toml");
    std::fs::write(&path, config()).unwrap();
    // Another client keeps Redis busy most of the time, as a slow script
    // or a large command would: every reply may wait up to half a second.
    let _load = Load::start(&redis);
    let log = dir.path().join("clock.log");
    let clock = Killed(spawn_clock(&redis, &path, &log));

    wait_until("the clock to lead", Duration::from_secs(60), || get(&redis, "campanile:leader").is_some());
    // The first push at start-up, the job table's publish, then two more
    // pushes of every job; on a slow machine, as many as fit in 90 s, but
    // at least the first: the lease must hold through whatever the leader
    // was doing.
    common::poll_until(Duration::from_secs(90), || pending(&redis) >= 3 * JOBS as u64);
    wait_until("a push of every job", Duration::from_secs(60), || pending(&redis) >= JOBS as u64);
    wait_until("the job table to be published", Duration::from_secs(30), || {
        get(&redis, "campanile:config").is_some()
    });

    let logs = std::fs::read_to_string(&log).unwrap();
    let term = get(&redis, "campanile:term");
    drop(clock);
    assert_eq!(
        term.as_deref(),
        Some("1"),
        "the leader's lease lapsed and it led again under a new term; its log:\n{}",
        logs.lines().filter(|l| !l.contains("tick enqueued")).take(40).collect::<Vec<_>>().join("\n")
    );
    assert!(!logs.contains("standing down") && !logs.contains("taken by another clock"), "{logs}");
}

/// System time, except that the first reading asked for from `blocked`'s
/// thread after [`Stall::arm`] holds that thread for [`Stall::FOR`], as a
/// long push, a large publish or a busy CPU would.
struct Stall {
    blocked: std::thread::ThreadId,
    armed: std::sync::atomic::AtomicBool,
    done: std::sync::atomic::AtomicBool,
}

impl Stall {
    const FOR: Duration = Duration::from_secs(4);

    fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl campanile::time::TimeSource for Stall {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        if std::thread::current().id() == self.blocked
            && self.armed.swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            std::thread::sleep(Stall::FOR);
            self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        campanile::time::SystemTime.now()
    }
}

#[test]
fn a_leader_whose_thread_is_held_longer_than_the_lease_keeps_it() {
    use campanile::time::TimeSource as _;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    let redis = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let stall =
        Arc::new(Stall { blocked: std::thread::current().id(), armed: false.into(), done: false.into() });
    let toml = "[jobs.tick]\nevery = \"1s\"\ncommand = \"true\"\noverlap = \"allow\"\n";
    let now = campanile::time::SystemTime.now();
    let config = Arc::new(campanile::config::Config::parse(toml, "clock.toml".as_ref(), now).unwrap());
    let settings = campanile::config::RedisSettings { url: Some(redis.url()), ..Default::default() };
    runtime.block_on(async {
        let store = campanile::store::Store::connect(&settings).await.unwrap();
        let shutdown = campanile::shutdown::Shutdown::new();
        let clock = tokio::spawn({
            let (stall, shutdown) = (stall.clone(), shutdown.clone());
            async move {
                let _ = campanile::clock::run(config, store, stall, shutdown).await;
            }
        });
        let polled = |f: fn(&RedisServer) -> bool| {
            let redis = &redis;
            async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
                while !f(redis) {
                    assert!(tokio::time::Instant::now() < deadline, "timed out");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        polled(|r| get(r, "campanile:term").is_some()).await;
        stall.arm();
        let held = stall.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !held.done.load(Ordering::SeqCst) {
            assert!(tokio::time::Instant::now() < deadline, "the clock never read the time");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Two more lease intervals: a lapsed lease is noticed and taken again.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let term = get(&redis, "campanile:term");
        let leader = get(&redis, "campanile:leader");
        shutdown.cancel();
        clock.await.unwrap();
        assert_eq!(term.as_deref(), Some("1"), "the lease lapsed while the clock's thread was held");
        assert!(leader.is_some());
    });
}

/// A clock with a newer job table that died with its system clock an hour
/// ahead: its registry entry says it was seen in the future. Liveness is
/// judged on Redis's clock, so it stops mattering within the stale window
/// and the live clock leads.
#[test]
fn a_dead_clock_with_a_fast_system_clock_stops_holding_others_back() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.toml");
    std::fs::write(&path, "[jobs.tick]\nevery = \"1s\"\ncommand = \"true\"\noverlap = \"allow\"\n").unwrap();
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut redis.connection()).unwrap();
    let redis_now_ms = secs * 1000 + micros / 1000;
    let ahead = chrono::DateTime::from_timestamp(secs + 3600, 0).unwrap().to_rfc3339();
    let ghost = serde_json::json!({
        "id": "ghost:1:0000", "host": "ghost", "pid": 1, "started_at": ahead, "seen_at": ahead,
        "leading_since": null, "config": "a newer job table", "offset_ms": 0, "redis_seen_ms": redis_now_ms,
    });
    let () = redis::cmd("HSET")
        .arg("campanile:clocks")
        .arg("ghost:1:0000")
        .arg(ghost.to_string())
        .query(&mut redis.connection())
        .unwrap();
    let started = std::time::Instant::now();
    let log = dir.path().join("clock.log");
    let _clock = Killed(spawn_clock(&redis, &path, &log));
    wait_until("the live clock to lead", Duration::from_secs(20), || {
        get(&redis, "campanile:leader").is_some()
    });
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("standing by for a clock with a newer config"), "{logs}");
    // It deferred while the ghost's last word was recent on Redis's clock.
    assert!(started.elapsed() >= Duration::from_secs(5), "led after {:?}", started.elapsed());
}
