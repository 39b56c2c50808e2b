//! Queue and worker throughput against a private redis-server on loopback:
//! `cargo bench --bench queue`. Prints, in one run: redis-benchmark's own
//! LPUSH / LMOVE / pipelined LPUSH ceilings; the in-process queue layer
//! (take + finish with a no-op handler) with 1 and 8 consumers; and the
//! `worker` binary running `true` at concurrency 1 and 8, and its idle RSS.
//! `BENCH_JOBS` (default 20000) sets the in-process count.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use campanile::config::{QueueName, RedisSettings};
use campanile::payload::Payload;
use campanile::store::Store;
use chrono::DateTime;
use common::RedisServer;

fn payloads(n: usize, job: &str) -> Vec<String> {
    let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    (0..n)
        .map(|i| {
            let tick = t + chrono::Duration::seconds(i as i64);
            Payload::for_tick(job, "default", tick, tick, &serde_json::Value::Null).to_json()
        })
        .collect()
}

fn push_all(redis: &RedisServer, items: &[String]) {
    let mut con = redis.connection();
    for chunk in items.chunks(10_000) {
        let _: () =
            redis::cmd("LPUSH").arg("campanile:{default}:pending").arg(chunk).query(&mut con).unwrap();
    }
}

/// Redis's own ceilings for the queue's operations, in requests per second:
/// `(LPUSH from 50 clients, pipelined LPUSH, LMOVE from 1 client, LMOVE from
/// 50 clients)`. `LMOVE` is the non-blocking twin of the take's `BLMOVE`.
fn redis_benchmark(redis: &RedisServer) -> (f64, f64, f64, f64) {
    let port = redis.port().to_string();
    let run = |args: &[&str]| -> f64 {
        let out = Command::new("redis-benchmark")
            .args(["-p", &port, "-q", "-n", "200000"])
            .args(args)
            .output()
            .expect("redis-benchmark (Debian: redis-tools)");
        let text = String::from_utf8_lossy(&out.stdout);
        // Progress lines end in \r; the result is the last non-empty line's tail.
        let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        let result = last.rsplit('\r').next().unwrap_or("").trim().to_owned();
        println!("redis-benchmark {}: {result}", args.join(" "));
        result
            .split_whitespace()
            .find_map(|w| w.parse::<f64>().ok().filter(|_| result.contains("requests per second")))
            .unwrap_or(f64::NAN)
    };
    let lpush = run(&["-t", "lpush"]);
    let pipelined = run(&["-P", "16", "-t", "lpush"]);
    let _ = run(&["-n", "400000", "LPUSH", "bench:src", "x"]);
    let lmove_1 = run(&["-c", "1", "-n", "50000", "LMOVE", "bench:src", "bench:dst", "RIGHT", "LEFT"]);
    let lmove_50 = run(&["LMOVE", "bench:src", "bench:dst", "RIGHT", "LEFT"]);
    (lpush, pipelined, lmove_1, lmove_50)
}

/// Take + finish jobs/s with `consumers` consumers, and bulk enqueue jobs/s.
async fn in_process(redis: &RedisServer, n: usize, consumers: usize) -> (f64, f64) {
    let store =
        Store::connect(&RedisSettings { url: Some(redis.url()), ..RedisSettings::default() }).await.unwrap();
    store.load_scripts().await.unwrap();
    let items = payloads(n, "noop");
    let started = Instant::now();
    push_all(redis, &items);
    let enqueue = started.elapsed();
    let started = Instant::now();
    let queue = QueueName::new("default").unwrap();
    let mut tasks = Vec::new();
    for c in 0..consumers {
        let (store, queue) = (store.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let worker = format!("bench-{c}");
            let mut taker = store.taker().await.unwrap();
            let mut done = 0usize;
            // As the worker does: a blocking take when idle, then each
            // finish takes the next payload in the same round trip.
            while let Some(mut raw) = taker.take(&queue, &worker, Duration::from_millis(100)).await.unwrap() {
                loop {
                    done += 1;
                    let finish =
                        store.finish(&queue, &worker, &raw, "noop", "", None, None, true).await.unwrap();
                    let Some(next) = finish.next else { break };
                    raw = next;
                }
            }
            done
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let elapsed = started.elapsed().saturating_sub(Duration::from_millis(100)); // the final empty take
    assert_eq!(total, n);
    let (rate, bulk) = (n as f64 / elapsed.as_secs_f64(), n as f64 / enqueue.as_secs_f64());
    println!(
        "queue layer, {consumers} consumer(s): {rate:.0} jobs/s take+finish ({n} jobs); bulk enqueue {bulk:.0} jobs/s"
    );
    (rate, bulk)
}

fn worker_binary(redis: &RedisServer, n: usize, concurrency: u32) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, "[jobs.noop]\nat = \"2030-01-01T00:00:00Z\"\ncommand = \"true\"\n").unwrap();
    let mut child = Command::new(common::bin("worker"))
        .arg("--config")
        .arg(&config)
        .args(["--concurrency", &concurrency.to_string()])
        .env("REDIS_URL", redis.url())
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut con = redis.connection();
    let workers = || -> usize {
        redis::cmd("SCARD").arg("campanile:{default}:workers").query(&mut redis.connection()).unwrap()
    };
    while workers() == 0 {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Idle: registered, nothing to run yet, its start-up pages released.
    std::thread::sleep(Duration::from_secs(2));
    println!("worker binary, concurrency {concurrency}, idle: RSS {:.1} MiB", rss_mib(child.id()));
    let items = payloads(n, "noop");
    let started = Instant::now();
    push_all(redis, &items);
    loop {
        let history: usize = redis::cmd("LLEN").arg("campanile:{default}:pending").query(&mut con).unwrap();
        let keys: Vec<String> =
            redis::cmd("KEYS").arg("campanile:{default}:worker:*").query(&mut con).unwrap();
        if history == 0 && keys.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    println!(
        "worker binary, `true`, concurrency {concurrency}: {:.0} jobs/s ({n} jobs)",
        n as f64 / elapsed.as_secs_f64()
    );
}

/// A process's resident set size, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn main() {
    let n: usize = std::env::var("BENCH_JOBS").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let redis = RedisServer::start();
    let (_, pipelined, lmove_1, lmove_50) = redis_benchmark(&redis);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut rates = Vec::new();
    for consumers in [1, 8, 50] {
        let redis = RedisServer::start();
        rates.push(runtime.block_on(in_process(&redis, n, consumers)));
    }
    // One take + finish is one script call for a busy consumer, so the
    // natural ceiling is one request's worth from as many clients.
    println!(
        "ratios to redis-benchmark: 1 consumer / LMOVE -c 1 = {:.2}; 50 consumers / LMOVE -c 50 = {:.2}; \
         bulk enqueue / pipelined LPUSH = {:.2}",
        rates[0].0 / lmove_1,
        rates[2].0 / lmove_50,
        rates[2].1 / pipelined
    );
    for concurrency in [1, 8] {
        let redis = RedisServer::start();
        worker_binary(&redis, 2000, concurrency);
    }
}
