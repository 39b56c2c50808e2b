//! The Prometheus endpoints of real clock and worker processes, scraped
//! over HTTP; metric names are pinned.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{RedisServer, bin, free_port, stop};

fn scrape(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/openmetrics-text"), "{head}");
    Some(body.to_owned())
}

/// The value of the first sample line starting with `prefix`.
fn sample(body: &str, prefix: &str) -> Option<f64> {
    body.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn spawn(args: &[&str], redis: &RedisServer, config: &std::path::Path) -> Child {
    Command::new(bin(args[0]))
        .args(&args[1..])
        .arg("--config")
        .arg(config)
        .env("REDIS_URL", redis.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A child process stopped when dropped, also when a test fails.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.take() {
            stop(child);
        }
    }
}

#[test]
fn clock_and_worker_export_the_documented_metrics() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(
        &config,
        "[jobs.ok]\nevery = \"1s\"\ncommand = \"true\"\n[jobs.bad]\nevery = \"1s\"\ncommand = \"exit 1\"\nretries = 0\n",
    )
    .unwrap();
    let (clock_port, worker_port) = (free_port(), free_port());
    let clock =
        spawn(&["clock", "run", "--metrics-addr", &format!("127.0.0.1:{clock_port}")], &redis, &config);
    let worker = spawn(&["worker", "--metrics-addr", &format!("127.0.0.1:{worker_port}")], &redis, &config);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (clock_body, worker_body) = loop {
        let (c, w) = (scrape(clock_port).unwrap_or_default(), scrape(worker_port).unwrap_or_default());
        let ready = sample(&c, "campanile_ticks_enqueued_total{").is_some_and(|v| v >= 3.0)
            && sample(&w, "campanile_runs_dead_total{").is_some_and(|v| v >= 2.0)
            && sample(&w, "campanile_queue_depth{").is_some()
            && sample(&c, "campanile_live_workers{").is_some_and(|v| v == 1.0)
            && sample(&w, "campanile_live_workers{").is_some_and(|v| v == 1.0);
        if ready {
            break (c, w);
        }
        assert!(Instant::now() < deadline, "metrics never filled in:\n{c}\n---\n{w}");
        std::thread::sleep(Duration::from_millis(100));
    };
    stop(worker);
    stop(clock);

    assert_eq!(sample(&clock_body, "campanile_clock_leader "), Some(1.0));
    assert!(
        clock_body.contains(r#"campanile_ticks_enqueued_total{job="ok",queue="default"}"#),
        "{clock_body}"
    );
    assert!(clock_body.contains("campanile_tick_lateness_seconds_bucket{le=\"0.0005\"}"), "{clock_body}");
    assert!(sample(&clock_body, "campanile_tick_lateness_seconds_count ").unwrap() >= 3.0);
    assert!(
        sample(&worker_body, r#"campanile_runs_finished_total{job="ok",outcome="success"}"#).unwrap() >= 1.0
    );
    assert!(
        sample(&worker_body, r#"campanile_runs_finished_total{job="bad",outcome="failed"}"#).unwrap() >= 1.0
    );
    assert!(sample(&worker_body, r#"campanile_runs_started_total{job="ok"}"#).unwrap() >= 1.0);
    assert!(
        worker_body.contains(r#"campanile_run_duration_seconds_bucket{le="0.01",job="ok"}"#),
        "{worker_body}"
    );
    assert!(worker_body.contains(r#"campanile_queue_depth{queue="default",state="dead"}"#), "{worker_body}");
    // The leading clock and the worker both watch the queue.
    for body in [&clock_body, &worker_body] {
        assert_eq!(sample(body, r#"campanile_live_workers{queue="default"} "#), Some(1.0), "{body}");
        let oldest = sample(body, r#"campanile_oldest_pending_seconds{queue="default"} "#);
        assert!(oldest.is_some_and(|age| (0.0..5.0).contains(&age)), "{body}");
    }
    // Each process declares its families (families without samples yet are
    // omitted; `metrics::tests` pins the full list).
    let declared = |body: &str, names: &[&str]| {
        for name in names {
            assert!(body.contains(&format!("# TYPE {name} ")), "{name} missing:\n{body}");
        }
        assert!(body.trim_end().ends_with("# EOF"));
    };
    declared(
        &clock_body,
        &[
            "campanile_ticks_enqueued",
            "campanile_tick_lateness_seconds",
            "campanile_clock_leader",
            "campanile_redis_errors",
        ],
    );
    declared(
        &worker_body,
        &[
            "campanile_runs_started",
            "campanile_runs_finished",
            "campanile_runs_dead",
            "campanile_run_duration_seconds",
            "campanile_queue_depth",
            "campanile_recovery_errors",
        ],
    );
}

#[test]
fn a_metrics_address_that_cannot_be_bound_fails_at_start() {
    let redis = RedisServer::start();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, "[jobs.ok]\nevery = \"1s\"\ncommand = \"true\"\n").unwrap();
    let out = Command::new(bin("worker"))
        .args(["--metrics-addr", &addr, "--config"])
        .arg(&config)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot serve metrics on {addr}")));
}

/// A worker with its metrics endpoint on a free port, answering.
fn worker_with_metrics(redis: &RedisServer, dir: &std::path::Path) -> (Running, u16) {
    let config = dir.join("clock.toml");
    std::fs::write(&config, "[jobs.ok]\nevery = \"1h\"\ncommand = \"true\"\n").unwrap();
    let port = free_port();
    let worker =
        Running(Some(spawn(&["worker", "--metrics-addr", &format!("127.0.0.1:{port}")], redis, &config)));
    common::wait_until("the metrics endpoint to answer", Duration::from_secs(20), || scrape(port).is_some());
    (worker, port)
}

/// Reads a whole `connection: close` response.
fn response(mut stream: TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn a_request_split_across_packets_is_answered() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (_worker, port) = worker_with_metrics(&redis, dir.path());
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.write_all(b"GET /metr").unwrap();
    // The rest arrives later, in a packet of its own.
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(b"ics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").unwrap();
    let answer = response(stream);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("campanile_redis_errors_total"), "{answer}");
}

#[test]
fn idle_connections_are_closed_and_do_not_stop_a_scrape() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (_worker, port) = worker_with_metrics(&redis, dir.path());
    // More idle connections than the endpoint serves at once.
    let idle: Vec<TcpStream> = (0..80).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").unwrap();
    let answer = response(stream);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(60);
    for (i, mut conn) in idle.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        conn.set_read_timeout(Some(left)).unwrap();
        let mut byte = [0u8; 1];
        let read = conn.read(&mut byte);
        assert!(
            matches!(read, Ok(0))
                || read.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "idle connection {i} still open after 60 s: {read:?}"
        );
    }
}
