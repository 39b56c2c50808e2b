//! Knowing how runs go from outside: a run past its job's `warn_after`
//! sends `long_running` once and goes on; a job's `ping_url` hears each
//! run's start, then its success or failure, in that order, and a monitor
//! that does not answer never holds a run up. Real worker processes.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procs::{Proc, write_config};
use common::webhook::Receiver;
use common::{RedisServer, free_port, wait_until};
use serde_json::Value;

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

/// A job's history, newest first.
fn history(redis: &RedisServer, job: &str) -> Vec<Value> {
    let entries: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("campanile:{{default}}:history:{job}"))
        .arg(0)
        .arg(-1)
        .query(&mut redis.connection())
        .unwrap();
    entries.iter().map(|e| serde_json::from_str(e).unwrap()).collect()
}

#[test]
fn a_run_past_warn_after_sends_long_running_once_and_still_succeeds() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(0);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[jobs.slow]
at = "2030-01-01T00:00:00Z"
command = "sleep 3"
timeout = "20s"
warn_after = "1s"

[[notify.webhooks]]
url = "{}"
events = ["long_running", "failed"]
"#,
            receiver.url("/hook")
        ),
    );
    let _worker = Proc::worker(&redis, &config, dir.path(), &[], "worker");
    let pushed = Instant::now();
    push(&redis, "slow", "2026-11-23T08:00:00Z");
    let seen = receiver.wait_for("long_running", Duration::from_secs(10), |s| !s.is_empty());
    let warned = pushed.elapsed();
    assert!(warned >= Duration::from_secs(1) && warned < Duration::from_millis(2900), "after {warned:?}");
    let n = &seen[0].1;
    assert_eq!(n["event"], "long_running");
    assert_eq!(n["job"], "slow");
    assert_eq!(n["queue"], "default");
    assert_eq!(n["id"], "slow@2026-11-23T08:00:00Z");
    assert_eq!(n["scheduled_at"], "2026-11-23T08:00:00Z");
    assert_eq!(n["attempt"], 1);
    assert_eq!(n["elapsed_secs"], 1);
    assert!(n["text"].as_str().unwrap().contains("still running after 1s"), "{n}");
    wait_until("the run to succeed", Duration::from_secs(10), || !history(&redis, "slow").is_empty());
    let run = &history(&redis, "slow")[0];
    assert_eq!(run["outcome"], "success", "{run}");
    assert!(run["duration_ms"].as_i64().unwrap() >= 3000, "{run}");
    assert_eq!(receiver.seen.lock().unwrap().len(), 1, "once, and no failure");
}

/// A monitor answering on a thread per request: records each request's path
/// and when it arrived; answers `/start` requests 300 ms late (2 s under
/// `/slower`) and never answers paths under `/hang` (within the pinger's
/// 5 s timeout).
struct Monitor {
    port: u16,
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Monitor {
    const SLOW_START: Duration = Duration::from_millis(300);
    const SLOWER_START: Duration = Duration::from_secs(2);

    fn start() -> Monitor {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let record = record.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                    record.lock().unwrap().push((path.clone(), Instant::now()));
                    let mut header = String::new();
                    while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header.trim() != "" {
                        header.clear();
                    }
                    if path.starts_with("/hang") {
                        let _ = reader.read_to_end(&mut Vec::new());
                        return;
                    }
                    if path.starts_with("/slower") && path.ends_with("/start") {
                        std::thread::sleep(Monitor::SLOWER_START);
                    } else if path.ends_with("/start") {
                        std::thread::sleep(Monitor::SLOW_START);
                    }
                    let mut stream = stream;
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK");
                });
            }
        });
        Monitor { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<(String, Instant)> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests under `prefix`, in arrival order.
    fn under(&self, prefix: &str) -> Vec<(String, Instant)> {
        self.requests().into_iter().filter(|(p, _)| p.starts_with(prefix)).collect()
    }
}

/// Runs of a few milliseconds, while the monitor takes 300 ms to answer
/// each start: the success or failure request still goes out only once
/// its run's start was answered.
#[test]
fn ping_url_hears_start_then_success_or_fail_in_order() {
    let redis = RedisServer::start();
    let monitor = Monitor::start();
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for n in 0..3 {
        text += &format!(
            "[jobs.ok-{n}]\nat = \"2030-01-01T00:00:00Z\"\ncommand = \"true\"\nping_url = \"{}\"\n\n",
            monitor.url(&format!("/ok-{n}/"))
        );
    }
    text += &format!(
        "[jobs.bad]\nat = \"2030-01-01T00:00:00Z\"\ncommand = \"exit 3\"\nretries = 0\n\
         ping_url = {{ start = \"{}\", fail = \"{}\" }}\n",
        monitor.url("/bad/start"),
        monitor.url("/bad/fail?reason=exit")
    );
    let config = write_config(dir.path(), &text);
    let _worker = Proc::worker(&redis, &config, dir.path(), &["--concurrency", "4"], "worker");
    for job in ["ok-0", "ok-1", "ok-2", "bad"] {
        push(&redis, job, "2026-11-23T08:00:00Z");
    }
    wait_until("every run's two pings", Duration::from_secs(15), || monitor.requests().len() >= 8);
    for n in 0..3 {
        let pings = monitor.under(&format!("/ok-{n}"));
        let paths: Vec<&str> = pings.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, [format!("/ok-{n}/start"), format!("/ok-{n}")], "{pings:?}");
        assert!(pings[1].1 - pings[0].1 >= Monitor::SLOW_START, "success sent before the start was answered");
    }
    let pings = monitor.under("/bad");
    let paths: Vec<&str> = pings.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/bad/start", "/bad/fail?reason=exit"]);
    assert!(pings[1].1 - pings[0].1 >= Monitor::SLOW_START);
}

/// A monitor that never answers: every run still starts and finishes at
/// once, the failures are logged with the host only (the path is the
/// check's secret) and counted in `campanile_pings_total`.
#[test]
fn a_monitor_that_does_not_answer_delays_no_run_and_is_logged_by_host_only() {
    let redis = RedisServer::start();
    let monitor = Monitor::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[jobs.quick]\nat = \"2030-01-01T00:00:00Z\"\ncommand = \"true\"\nping_url = \"{}\"\n",
            monitor.url("/hang/s3cr3t-uuid")
        ),
    );
    let metrics = free_port();
    let addr = format!("127.0.0.1:{metrics}");
    let worker = Proc::worker(&redis, &config, dir.path(), &["--metrics-addr", &addr], "worker");
    let pushed = Instant::now();
    for minute in 0..6 {
        push(&redis, "quick", &format!("2026-11-23T08:0{minute}:00Z"));
    }
    wait_until("six runs", Duration::from_secs(10), || history(&redis, "quick").len() == 6);
    let took = pushed.elapsed();
    assert!(took < Duration::from_secs(3), "six quick runs took {took:?} behind a silent monitor");
    assert!(!monitor.requests().is_empty(), "the pings went out");
    wait_until("a logged ping failure", Duration::from_secs(15), || worker.log().contains("ping failed"));
    let log = worker.log();
    assert!(!log.contains("s3cr3t"), "the ping URL's path leaked into the log:\n{log}");
    assert!(log.contains(&format!("127.0.0.1:{}/…", monitor.port)), "{log}");
    let body = scrape(metrics);
    assert!(body.contains(r#"campanile_pings_total{kind="start",result="failed"}"#), "{body}");
}

fn scrape(port: u16) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// A worker told to stop lets its run finish, and the run's success still
/// reaches the monitor before the worker exits, though the monitor takes
/// 2 s to answer the start and the run is over long before.
#[test]
fn a_stopping_worker_still_sends_its_last_runs_end() {
    let redis = RedisServer::start();
    let monitor = Monitor::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[jobs.last]\nat = \"2030-01-01T00:00:00Z\"\ncommand = \"sleep 0.2\"\nping_url = \"{}\"\n",
            monitor.url("/slower")
        ),
    );
    let mut worker = Proc::worker(&redis, &config, dir.path(), &[], "worker");
    push(&redis, "last", "2026-11-23T08:00:00Z");
    wait_until("the run's start ping", Duration::from_secs(10), || !monitor.requests().is_empty());
    worker.sigterm();
    let status = worker.wait_exit(Duration::from_secs(15)).expect("the worker exits");
    assert!(status.success(), "{}", worker.log_tail());
    let paths: Vec<String> = monitor.requests().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["/slower/start", "/slower"], "{}", worker.log_tail());
    assert_eq!(history(&redis, "last")[0]["outcome"], "success");
}
