//! Clock benchmarks against a private redis-server on loopback, running
//! the real `clock` binary: `cargo bench --bench clock`. Prints lateness
//! (from an independent observer and from the payloads), CPU and RSS at
//! idle and under load, and how long 10,000 and 100,000 ticks due on the
//! same minute take to push. `BENCH_SECS` (default 60) sets the length of
//! the lateness run; `BENCH_SCALE` (default `10000,100000`) the job counts;
//! `BENCH_PARTS` (default `idle,lateness,scale,cluster,failover,script`)
//! which parts run. Then 10,000 jobs due on one minute across three queues,
//! on a single node and on a six-node Redis Cluster with each queue on its
//! own primary; the failover from a SIGKILLed leader to its standby; and
//! what one tick costs inside Redis, from `INFO commandstats`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use campanile::payload::Payload;
use campanile::time::{SystemTime, TimeSource};
use chrono::{DateTime, Utc};
use common::RedisServer;

fn main() {
    let secs: i64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let scales: Vec<usize> = std::env::var("BENCH_SCALE")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let parts =
        std::env::var("BENCH_PARTS").unwrap_or_else(|_| "idle,lateness,scale,cluster,failover,script".into());
    let part = |name: &str| parts.split(',').any(|p| p == name);
    if part("idle") {
        idle();
    }
    if part("lateness") {
        lateness(secs);
    }
    if part("scale") {
        for n in scales {
            same_minute(n);
        }
    }
    if part("cluster") {
        spread_minute(10_000, false);
        spread_minute(10_000, true);
    }
    if part("failover") {
        failover();
    }
    if part("script") {
        script_cost();
    }
}

/// Microseconds inside Redis per tick of `enqueue.lua`, for calls of 1,000
/// same-instant ticks of distinct `overlap = "skip"` jobs whose states are
/// already recorded (a running clock's usual minute), and for the same
/// calls going tick by tick (one tick of each already handled). Best and
/// median of seven rounds of 30 calls.
fn script_cost() {
    use campanile::config::{Format, JobName, QueueName};
    use campanile::store::{Sequences, Store, TickAction, TickOp};

    const CALL: usize = 1000;
    const CALLS: usize = 30;
    let redis = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let settings = campanile::config::RedisSettings { url: Some(redis.url()), ..Default::default() };
    let store: Store = runtime.block_on(Store::connect(&settings)).unwrap();
    let queue = QueueName::new("default").unwrap();
    let op = |job: &JobName, tick: i64| {
        let id = format!("{job}@{tick}");
        let payload = format!(
            r#"{{"id":"{id}","job":"{job}","queue":"default","scheduled_at":"2026-11-23T08:00:00Z","enqueued_at":"2026-11-23T08:00:00.000Z","attempt":1,"args":null}}"#
        );
        TickOp {
            queue: queue.clone(),
            job: job.clone(),
            tick,
            fingerprint: "0123456789abcdef".into(),
            action: TickAction::Push { payload, id },
            inflight_until: Some(tick * 1000 + 420_000),
            format: Format::Campanile,
            start_deadline: Some(tick * 1000 + 60_000),
        }
    };
    let mut con = redis.connection();
    for (name, one_done) in [("clean calls", false), ("tick by tick", true)] {
        let mut rounds = Vec::new();
        for round in 0..7 {
            let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
            let mut seqs = Sequences::new();
            let mut spent = 0.0;
            for call in 0..CALLS {
                let jobs: Vec<JobName> =
                    (0..CALL).map(|i| JobName::new(&format!("j{round}-{call}-{i}")).unwrap()).collect();
                let tick = 1_764_000_000 + 60 * call as i64;
                // Each job's previous tick is recorded, as on a running clock.
                let mut record = redis::cmd("HSET");
                record.arg("campanile:{default}:ticks");
                for (i, job) in jobs.iter().enumerate() {
                    let last = if one_done && i == 0 { tick } else { tick - 60 };
                    record.arg(job.as_str()).arg(format!("{last}|0123456789abcdef"));
                }
                let _: () = record.query(&mut con).unwrap();
                let ops: Vec<TickOp> = jobs.iter().map(|job| op(job, tick)).collect();
                let before = redis.command_stat("evalsha", "usec");
                runtime.block_on(store.enqueue(1, &mut seqs, &ops, tick * 1000)).unwrap();
                spent += redis.command_stat("evalsha", "usec") - before;
            }
            rounds.push(spent / (CALLS * CALL) as f64);
        }
        rounds.sort_by(f64::total_cmp);
        println!(
            "enqueue.lua, {name}: {:.2} µs per tick inside Redis (best of 7), median {:.2} µs",
            rounds[0], rounds[3]
        );
    }
}

fn spawn_clock(redis: &RedisServer, config: &str) -> (Child, tempfile::TempDir) {
    spawn_clock_at(&redis.url(), config)
}

/// A `clock` with `config` against `REDIS_URL=url`, logging to /dev/null.
fn spawn_clock_at(url: &str, config: &str) -> (Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.toml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(common::bin("clock"))
        .arg("--config")
        .arg(&path)
        .env("REDIS_URL", url)
        .env("RUST_LOG", "info")
        .env("CAMPANILE_LOG_FORMAT", "logfmt")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, dir)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// CPU seconds a process has used, to the nanosecond: the sum over its
/// threads of the scheduler's run time (`/proc/<pid>/task/*/schedstat`).
/// `utime` and `stime` in `/proc/<pid>/stat` count whole clock ticks of
/// 10 ms, too coarse for a process that uses a millisecond a second.
fn cpu_secs(pid: u32) -> f64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    let ns: u64 = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e9
}

/// `(VmRSS, VmHWM)` in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
    };
    (kb("VmRSS:").unwrap_or(0.0) / 1024.0, kb("VmHWM:").unwrap_or(0.0) / 1024.0)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Hash length; a synced ticks hash has one field per job plus `__term`.
fn hlen(redis: &RedisServer, key: &str) -> usize {
    redis::cmd("HLEN").arg(key).query(&mut redis.connection()).unwrap()
}

fn idle() {
    let redis = RedisServer::start();
    let config: String =
        (0..10).map(|i| format!("[jobs.daily{i}]\ncron = \"0 {i} * * *\"\ncommand = \"x\"\n")).collect();
    let (child, _dir) = spawn_clock(&redis, &config);
    wait_for("sync", || hlen(&redis, "campanile:{default}:ticks") > 10);
    std::thread::sleep(Duration::from_secs(2));
    let before = cpu_secs(child.id());
    std::thread::sleep(Duration::from_secs(20));
    let used = cpu_secs(child.id()) - before;
    let (rss, hwm) = rss_mib(child.id());
    println!(
        "idle (10 daily jobs): CPU {:.3} s over 20 s ({:.2} %), RSS {rss:.1} MiB (peak {hwm:.1} MiB)",
        used,
        used / 20.0 * 100.0
    );
    stop(child);
}

/// Payloads with the instant the observer saw them arrive.
type Observed = Vec<(Payload, DateTime<Utc>)>;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn lateness(secs: i64) {
    let redis = RedisServer::start();
    let jobs = 50;
    let config: String = (0..jobs)
        .map(|i| format!("[jobs.s{i}]\nevery = \"1s\"\ncommand = \"x\"\noverlap = \"allow\"\n"))
        .collect();
    let (child, _dir) = spawn_clock(&redis, &config);
    wait_for("sync", || hlen(&redis, "campanile:{default}:ticks") > jobs);

    // The observer: pops payloads as they arrive and stamps the arrival.
    let seen: Arc<Mutex<Observed>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let observer = {
        let (seen, running, url) = (seen.clone(), running.clone(), redis.url());
        std::thread::spawn(move || {
            let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
            while running.load(Ordering::Relaxed) {
                // Pops everything that has arrived in one call, so the stamp
                // is not delayed by one round trip per payload.
                let popped: Option<(String, Vec<String>)> = redis::cmd("BLMPOP")
                    .arg(0.2)
                    .arg(1)
                    .arg("campanile:{default}:pending")
                    .arg("RIGHT")
                    .arg("COUNT")
                    .arg(1000)
                    .query(&mut con)
                    .unwrap();
                let arrival = SystemTime.now();
                for raw in popped.map(|(_, items)| items).unwrap_or_default() {
                    seen.lock().unwrap().push((serde_json::from_str(&raw).unwrap(), arrival));
                }
            }
        })
    };
    let start = SystemTime.now().timestamp() + 2;
    let end = start + secs;
    wait_for("start", || SystemTime.now().timestamp() >= start);
    let cpu_start = cpu_secs(child.id());
    wait_for("end", || SystemTime.now().timestamp() > end);
    let cpu = cpu_secs(child.id()) - cpu_start;
    let (rss, hwm) = rss_mib(child.id());
    std::thread::sleep(Duration::from_millis(500));
    running.store(false, Ordering::Relaxed);
    observer.join().unwrap();
    stop(child);

    let seen = seen.lock().unwrap();
    let mut counts: HashMap<(String, i64), usize> = HashMap::new();
    let (mut observed, mut stamped) = (Vec::new(), Vec::new());
    for (p, arrival) in seen.iter() {
        let tick = p.scheduled_at.timestamp();
        if !(start..end).contains(&tick) {
            continue;
        }
        *counts.entry((p.job.clone(), tick)).or_default() += 1;
        observed.push((*arrival - p.scheduled_at).num_microseconds().unwrap() as f64 / 1000.0);
        stamped.push((p.enqueued_at - p.scheduled_at).num_microseconds().unwrap() as f64 / 1000.0);
    }
    let expected = jobs as i64 * secs;
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    let missing = expected - counts.len() as i64;
    for v in [&mut observed, &mut stamped] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "lateness, {jobs} jobs every 1 s for {secs} s ({expected} ticks): missing {missing}, duplicates {duplicates}"
    );
    for (name, v) in [("observer (BLMPOP arrival)", &observed), ("payload enqueued_at", &stamped)] {
        println!(
            "  {name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(v, 0.5),
            percentile(v, 0.99),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    println!(
        "  clock CPU {cpu:.2} s over {secs} s ({:.3} s per 60 s), RSS {rss:.1} MiB (peak {hwm:.1} MiB)",
        cpu * 60.0 / secs as f64
    );
}

fn same_minute(n: usize) {
    let redis = RedisServer::start();
    let config: String =
        (0..n).map(|i| format!("[jobs.m{i}]\ncron = \"* * * * *\"\ncommand = \"x\"\n")).collect();
    let spawned = std::time::Instant::now();
    let (child, _dir) = spawn_clock(&redis, &config);
    wait_for("sync", || hlen(&redis, "campanile:{default}:ticks") > n);
    let startup = spawned.elapsed();
    // The first minute boundary at least a second away.
    let boundary = (SystemTime.now().timestamp() + 1) / 60 * 60 + 60;
    let cpu_before = cpu_secs(child.id());
    let llen = |redis: &RedisServer| -> usize {
        redis::cmd("LLEN").arg("campanile:{default}:pending").query(&mut redis.connection()).unwrap()
    };
    // Busy-polls (about 30 µs per LLEN on loopback) for a precise finish.
    let mut con = redis.connection();
    let finished = loop {
        let len: usize = redis::cmd("LLEN").arg("campanile:{default}:pending").query(&mut con).unwrap();
        if len >= n {
            break SystemTime.now();
        }
        if len == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    let cpu = cpu_secs(child.id()) - cpu_before;
    let (rss, hwm) = rss_mib(child.id());
    let newest: String =
        redis::cmd("LINDEX").arg("campanile:{default}:pending").arg(0).query(&mut con).unwrap();
    let newest: Payload = serde_json::from_str(&newest).unwrap();
    let oldest: String = redis::cmd("LINDEX")
        .arg("campanile:{default}:pending")
        .arg(-1)
        .query(&mut redis.connection())
        .unwrap();
    let oldest: Payload = serde_json::from_str(&oldest).unwrap();
    let b = DateTime::from_timestamp(boundary, 0).unwrap();
    assert_eq!(newest.scheduled_at, b);
    // Settled: the push's replies handled, its memory freed and trimmed.
    std::thread::sleep(Duration::from_secs(3));
    let (settled, _) = rss_mib(child.id());
    println!(
        "{n} jobs due on one minute: all pushed {:.1} ms after the boundary (push began {} ms after it); \
         startup to synced {} ms; CPU {cpu:.2} s for the minute; RSS {rss:.1} MiB as the push lands \
         (peak {hwm:.1} MiB), {settled:.1} MiB 3 s later",
        (finished - b).num_microseconds().unwrap() as f64 / 1000.0,
        (oldest.enqueued_at - b).num_milliseconds(),
        startup.as_millis()
    );
    assert_eq!(llen(&redis), n, "no duplicates");
    stop(child);
}

/// `n` jobs due on one minute across three queues: on one redis-server, or
/// on a local six-node cluster with each queue on a different primary.
fn spread_minute(n: usize, cluster: bool) {
    let (single, nodes);
    let (url, queues, mut con): (String, Vec<String>, Box<dyn redis::ConnectionLike>) = if cluster {
        nodes = common::cluster::RedisCluster::start();
        let queues = nodes.queues_on_distinct_primaries("campanile:", 3);
        (nodes.cluster_url(), queues, Box::new(nodes.connection()))
    } else {
        single = RedisServer::start();
        let queues = vec!["q0".to_owned(), "q1".to_owned(), "q2".to_owned()];
        (single.url(), queues, Box::new(single.connection()))
    };
    let config: String = (0..n)
        .map(|i| {
            format!("[jobs.m{i}]\ncron = \"* * * * *\"\nqueue = \"{}\"\ncommand = \"x\"\n", queues[i % 3])
        })
        .collect();
    let (child, _dir) = spawn_clock_at(&url, &config);
    let count = |key: &str, con: &mut Box<dyn redis::ConnectionLike>| -> usize {
        queues
            .iter()
            .map(|q| {
                redis::cmd(key)
                    .arg(format!("campanile:{{{q}}}:{}", if key == "HLEN" { "ticks" } else { "pending" }))
                    .query::<usize>(con.as_mut())
                    .unwrap()
            })
            .sum()
    };
    wait_for("sync", || count("HLEN", &mut con) > n);
    let boundary = (SystemTime.now().timestamp() + 1) / 60 * 60 + 60;
    let finished = loop {
        let len = count("LLEN", &mut con);
        if len >= n {
            break SystemTime.now();
        }
        if len == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    let b = DateTime::from_timestamp(boundary, 0).unwrap();
    println!(
        "{n} jobs due on one minute across 3 queues, {}: all pushed {:.1} ms after the boundary",
        if cluster { "Redis Cluster (3 primaries, one queue each)" } else { "single redis-server" },
        (finished - b).num_microseconds().unwrap() as f64 / 1000.0
    );
    assert_eq!(count("LLEN", &mut con), n, "no duplicates");
    stop(child);
}

/// Two clocks with 50 jobs every second (`catch_up = "all"`, so every tick
/// missed in the gap must be pushed); the leader is SIGKILLed. Prints how long
/// until the standby's first push, which is its catch-up of every tick due
/// since, and counts lost and doubled ticks over the whole run.
fn failover() {
    let redis = RedisServer::start();
    let jobs = 50;
    let config: String = (0..jobs)
        .map(|i| {
            format!("[jobs.f{i}]\nevery = \"1s\"\ncommand = \"x\"\noverlap = \"allow\"\ncatch_up = \"all\"\n")
        })
        .collect();
    let (first, _dir1) = spawn_clock(&redis, &config);
    wait_for("sync", || hlen(&redis, "campanile:{default}:ticks") > jobs);
    let (second, _dir2) = spawn_clock(&redis, &config);
    wait_for("the standby", || hlen(&redis, "campanile:clocks") >= 2);
    let start = SystemTime.now().timestamp() + 2;
    wait_for("start", || SystemTime.now().timestamp() >= start + 3);
    let leader: String = redis::cmd("GET").arg("campanile:leader").query(&mut redis.connection()).unwrap();
    let leader_pid: u32 = leader.split(':').nth(1).and_then(|p| p.parse().ok()).unwrap();
    let (mut victim, mut survivor) = if first.id() == leader_pid { (first, second) } else { (second, first) };
    // Mid-second, so the kill does not race a push.
    wait_for("mid-second", || SystemTime.now().timestamp_subsec_millis() >= 500);
    let killed = SystemTime.now();
    victim.kill().unwrap();
    victim.wait().unwrap();
    let end = killed.timestamp() + 8;
    wait_for("end", || SystemTime.now().timestamp() > end);
    let raw: Vec<String> = redis::cmd("LRANGE")
        .arg("campanile:{default}:pending")
        .arg(0)
        .arg(-1)
        .query(&mut redis.connection())
        .unwrap();
    let _ = Command::new("kill").args(["-TERM", &survivor.id().to_string()]).status();
    let _ = survivor.wait();
    let payloads: Vec<Payload> = raw.iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    let takeover = payloads
        .iter()
        .map(|p| p.enqueued_at)
        .filter(|&at| at > killed)
        .min()
        .map_or(f64::NAN, |at| (at - killed).num_milliseconds() as f64 / 1000.0);
    let mut counts: HashMap<(String, i64), usize> = HashMap::new();
    for p in &payloads {
        let tick = p.scheduled_at.timestamp();
        if (start..end).contains(&tick) {
            *counts.entry((p.job.clone(), tick)).or_default() += 1;
        }
    }
    let expected = jobs as i64 * (end - start);
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    let missing = expected - counts.len() as i64;
    println!(
        "failover, SIGKILL of the leader (50 jobs every 1 s): standby pushed its catch-up {takeover:.2} s after the kill; \
         {expected} ticks: missing {missing}, duplicates {duplicates}"
    );
}
