//! Webhook alerts end to end: real clock and worker processes post to a
//! local HTTP receiver started by the test.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::webhook::Receiver;
use common::{RedisServer, bin, stop};
use serde_json::Value;

fn spawn(binary: &str, redis: &RedisServer, config: &Path, cwd: &Path) -> Child {
    Command::new(bin(binary))
        .arg("--config")
        .arg(config)
        .current_dir(cwd)
        .env("REDIS_URL", redis.url())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn push(redis: &RedisServer, job: &str, tick: &str) {
    let payload = format!(
        r#"{{"id":"{job}@{tick}","job":"{job}","queue":"default","scheduled_at":"{tick}","enqueued_at":"{tick}","attempt":1,"args":null}}"#
    );
    let _: () = redis::cmd("LPUSH")
        .arg("campanile:{default}:pending")
        .arg(payload)
        .query(&mut redis.connection())
        .unwrap();
}

fn events<'a>(seen: &'a [(String, Value)], path: &str) -> Vec<&'a Value> {
    seen.iter().filter(|(p, _)| p == path).map(|(_, v)| v).collect()
}

#[test]
fn the_worker_reports_failed_dead_and_recovered_runs_with_retries_on_delivery() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(1);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[jobs.broken]
at = "2030-01-01T00:00:00Z"
command = "exit 3"
retries = 1
retry_delay = "1s"

[jobs.flaky]
at = "2030-01-01T00:00:00Z"
command = "if [ -f ran ]; then exit 0; fi; touch ran; exit 1"
retries = 0

[[notify.webhooks]]
url = "{all}"
events = ["failed", "dead", "missed", "skipped", "recovered"]

[[notify.webhooks]]
url = "{only}"
events = ["recovered"]
jobs = ["flaky"]
"#,
            all = receiver.url("/all"),
            only = receiver.url("/only")
        ),
    )
    .unwrap();
    let worker = spawn("worker", &redis, &config, dir.path());
    push(&redis, "broken", "2026-11-23T08:00:00Z");
    push(&redis, "flaky", "2026-11-23T08:00:00Z");
    receiver.wait_for("dead letters", Duration::from_secs(30), |s| {
        events(s, "/all").iter().filter(|e| e["event"] == "dead").count() == 2
    });
    push(&redis, "flaky", "2026-11-23T08:01:00Z");
    receiver.wait_for("recovery", Duration::from_secs(20), |s| events(s, "/only").len() == 1);
    stop(worker);
    let seen = receiver.seen.lock().unwrap().clone();
    let all = events(&seen, "/all");
    let of = |job: &str, event: &str| all.iter().filter(|e| e["job"] == job && e["event"] == event).count();
    assert_eq!(of("broken", "failed"), 2, "{all:#?}");
    assert_eq!(of("broken", "dead"), 1);
    assert_eq!(of("flaky", "failed"), 1);
    assert_eq!(of("flaky", "dead"), 1);
    assert_eq!(of("flaky", "recovered"), 1);
    let dead = all.iter().find(|e| e["job"] == "broken" && e["event"] == "dead").unwrap();
    assert_eq!(dead["reason"], "exit status 3");
    assert_eq!(dead["attempt"], 2);
    assert_eq!(dead["exit_code"], 3);
    assert_eq!(dead["id"], "broken@2026-11-23T08:00:00Z");
    assert!(dead["text"].as_str().unwrap().contains("`broken` dead-lettered (exit status 3)"), "{dead}");
    let first_failure =
        all.iter().find(|e| e["job"] == "broken" && e["event"] == "failed" && e["attempt"] == 1).unwrap();
    assert!(first_failure["text"].as_str().unwrap().ends_with("will retry"), "{first_failure}");
    // The filtered webhook saw only flaky's recovery.
    let only = events(&seen, "/only");
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["event"], "recovered");
    assert_eq!(only[0]["id"], "flaky@2026-11-23T08:01:00Z");
}

#[test]
fn the_clock_reports_skipped_and_missed_ticks() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(0);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[jobs.paused]
every = "1s"
command = "true"

[jobs.lagging]
every = "1s"
command = "true"
overlap = "allow"
catch_up = "none"

[[notify.webhooks]]
url = "{url}"
events = ["missed", "skipped"]
"#,
            url = receiver.url("/hook")
        ),
    )
    .unwrap();
    let mut con = redis.connection();
    let _: () =
        redis::cmd("HSET").arg("campanile:{default}:paused").arg("paused").arg("x").query(&mut con).unwrap();
    // A first run registers the jobs; then `lagging` looks five minutes behind.
    let clock = spawn("clock", &redis, &config, dir.path());
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis::cmd("HLEN").arg("campanile:{default}:ticks").query::<i64>(&mut con).unwrap() < 2 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(clock);
    let state: String =
        redis::cmd("HGET").arg("campanile:{default}:ticks").arg("lagging").query(&mut con).unwrap();
    let (tick, fingerprint) = state.split_once('|').unwrap();
    let old = tick.parse::<i64>().unwrap() - 300;
    let _: () = redis::cmd("HSET")
        .arg("campanile:{default}:ticks")
        .arg("lagging")
        .arg(format!("{old}|{fingerprint}"))
        .query(&mut con)
        .unwrap();
    let clock = spawn("clock", &redis, &config, dir.path());
    let seen = receiver.wait_for("missed and skipped", Duration::from_secs(20), |s| {
        s.iter().any(|(_, e)| e["event"] == "missed") && s.iter().any(|(_, e)| e["event"] == "skipped")
    });
    stop(clock);
    let missed = seen.iter().map(|(_, e)| e).find(|e| e["event"] == "missed").unwrap();
    assert_eq!(missed["job"], "lagging");
    assert_eq!(missed["reason"], "catch_up policy");
    let count = missed["count"].as_u64().unwrap();
    assert!((230..=250).contains(&count), "about 240 ticks older than a minute were dropped: {missed}");
    let skipped = seen.iter().map(|(_, e)| e).find(|e| e["event"] == "skipped").unwrap();
    assert_eq!(skipped["job"], "paused");
    assert_eq!(skipped["reason"], "paused");
    assert!(skipped["text"].as_str().unwrap().contains("skipped the tick at"));
    assert!(seen.iter().all(|(_, e)| e["job"] != "lagging" || e["event"] != "skipped"));
}

/// A webhook receiver that accepts connections and holds them unanswered
/// until told to answer; then it answers those and every later request 200.
struct Stalling {
    port: u16,
    answer: Arc<std::sync::atomic::AtomicBool>,
    served: Arc<std::sync::atomic::AtomicUsize>,
}

impl Stalling {
    fn start() -> Stalling {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (answer, served) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (answering, counted) = (answer.clone(), served.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            loop {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => panic!("accept: {e}"),
                }
                if answering.load(Ordering::SeqCst) {
                    for mut stream in held.drain(..) {
                        let _ = stream.set_nonblocking(false);
                        let mut request = [0u8; 4096];
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                        let _ = stream.read(&mut request);
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                        if stream.write_all(ok).is_ok() {
                            counted.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }
        });
        Stalling { port, answer, served }
    }
}

/// Threads of this test process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").expect("/proc/self/task (Linux)").count()
}

#[test]
fn a_burst_to_a_stalled_webhook_is_bounded_counted_and_delivery_resumes() {
    use campanile::notify::{Event, Notifier, Webhook, build};
    use std::sync::atomic::Ordering;
    let receiver = Stalling::start();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let before = threads();
    let hook = Webhook {
        url: format!("http://127.0.0.1:{}/hook", receiver.port),
        events: vec![Event::Failed],
        jobs: None,
    };
    let notifier = runtime.block_on(async { Notifier::start(vec![hook], None) });
    let n = |i: usize| {
        build::run(Event::Failed, "job", "default", &format!("job@{i}"), "t", 1, None, Some(1), "t", false)
    };
    let mut peak = 0;
    for i in 0..10_000 {
        notifier.send(n(i));
        if i % 500 == 0 {
            peak = peak.max(threads());
        }
    }
    // Give the deliveries time to pile up, if anything lets them.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        peak = peak.max(threads());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(peak < before + 32, "threads grew from {before} to {peak} for one stalled webhook");
    let dropped = notifier.counters.dropped.load(Ordering::SeqCst);
    eprintln!("threads: {before} before, {peak} at most; {dropped} of 10000 dropped");
    assert!(dropped >= 8_900, "events past the queue are dropped and counted: {dropped}");

    receiver.answer.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while notifier.counters.delivered.load(Ordering::SeqCst) < 20 {
        assert!(Instant::now() < deadline, "deliveries did not resume: {:?}", notifier.counters);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(receiver.served.load(Ordering::SeqCst) >= 20);
    runtime.shutdown_background();
}

fn failed_hook(url: String) -> campanile::notify::Webhook {
    campanile::notify::Webhook { url, events: vec![campanile::notify::Event::Failed], jobs: None }
}

fn failed(i: usize) -> campanile::notify::Notification {
    use campanile::notify::{Event, build};
    build::run(Event::Failed, "job", "default", &format!("job@{i}"), "t", 1, None, Some(1), "t", false)
}

/// A daemon stops right after its last runs failed: their alerts, queued
/// just before, still go out (more of them than deliveries run at once),
/// and stop returns once they have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_queued_just_before_stop_are_delivered_by_stop() {
    use campanile::notify::{Notifier, STOP_DEADLINE};
    use std::sync::atomic::Ordering;
    let receiver = Receiver::start(0);
    let notifier = Notifier::start(vec![failed_hook(receiver.url("/hook"))], None);
    for i in 0..10 {
        notifier.send(failed(i));
    }
    let started = Instant::now();
    notifier.stop(STOP_DEADLINE).await;
    assert_eq!(notifier.counters.delivered.load(Ordering::SeqCst), 10, "{:?}", notifier.counters);
    assert_eq!(receiver.seen.lock().unwrap().len(), 10);
    assert!(started.elapsed() < STOP_DEADLINE);
    notifier.send(failed(10));
    assert_eq!(
        notifier.counters.dropped.load(Ordering::SeqCst),
        0,
        "after stop nothing is queued or counted"
    );
}

/// A receiver that never answers holds stop no longer than its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_a_stalled_webhook_returns_at_its_deadline() {
    use campanile::notify::Notifier;
    use std::sync::atomic::Ordering;
    let receiver = Stalling::start();
    let notifier =
        Notifier::start(vec![failed_hook(format!("http://127.0.0.1:{}/hook", receiver.port))], None);
    notifier.send(failed(0));
    let started = Instant::now();
    notifier.stop(Duration::from_secs(1)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1) && took < Duration::from_millis(1500), "stop took {took:?}");
    assert_eq!(notifier.counters.delivered.load(Ordering::SeqCst), 0);
}
