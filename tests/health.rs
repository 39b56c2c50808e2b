//! The deployment's health as `clock status` shows it: `--check`'s exit
//! codes and lines, the problems of `--json` and of the table, read by the
//! real binary from a private redis-server. The state is written to Redis
//! as the clock and workers write it (the lease, worker leases, the
//! waiting and late sets), plus one run with a real clock and worker.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use common::procs::Proc;
use common::{RedisServer, bin, free_port, wait_until};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[jobs.report]
cron = "0 3 * * *"
command = "echo report"

[jobs.poll]
cron = "0 4 * * *"
queue = "fast"
command = "echo poll"

[jobs.sidekiq]
cron = "0 5 * * *"
queue = "ruby"
format = "sidekiq"
class = "Nightly"

[jobs.off]
cron = "0 6 * * *"
queue = "idle"
enabled = false
command = "echo off"
"#;

struct Env {
    redis: RedisServer,
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn env() -> Env {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, CONFIG).unwrap();
    Env { redis, dir, config }
}

impl Env {
    fn clock(&self, args: &[&str]) -> Output {
        Command::new(bin("clock"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env("REDIS_URL", self.redis.url())
            .env_remove("CAMPANILE_CONFIG")
            .output()
            .unwrap()
    }

    /// `clock status --check`: exit code and stdout.
    fn check(&self) -> (Option<i32>, String) {
        let out = self.clock(&["status", "--check"]);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "--check writes only to stdout");
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    }

    fn status_json(&self) -> Value {
        let out = self.clock(&["status", "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn redis(&self, args: &[&str]) {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let _: redis::Value = cmd.query(&mut self.redis.connection()).unwrap();
    }

    /// Redis's clock, Unix ms: deadlines are judged on it.
    fn now_ms(&self) -> i64 {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut self.redis.connection()).unwrap();
        secs * 1000 + micros / 1000
    }

    /// A leading clock whose lease was renewed `age_ms` ago (3 s lease).
    fn leader(&self, age_ms: u64) {
        self.redis(&["SET", "campanile:leader", "host:1:abc", "PX", &(3000 - age_ms).to_string()]);
    }

    /// A worker with a live lease on `queue`.
    fn worker(&self, queue: &str) {
        self.redis(&["SADD", &format!("campanile:{{{queue}}}:workers"), "w:1:a"]);
        self.redis(&["SET", &format!("campanile:{{{queue}}}:lease:w:1:a"), "1", "PX", "60000"]);
    }
}

#[test]
fn check_is_ok_with_a_fresh_leader_and_a_live_worker_on_each_served_queue() {
    let env = env();
    env.leader(0);
    env.worker("default");
    env.worker("fast");
    // `ruby` is Sidekiq's and `idle` only has a disabled job: no campanile
    // worker is expected on either.
    assert_eq!(env.check(), (Some(0), "ok\n".into()));
    let status = env.status_json();
    assert_eq!(status["problems"], json!([]));
    let age = status["leader"]["age_secs"].as_f64().unwrap();
    assert!((0.0..2.0).contains(&age), "{status}");
    let text = String::from_utf8(env.clock(&["status"]).stdout).unwrap();
    assert!(text.contains(" s ago, clock offset ") && text.contains("\nproblems: none\n\n"), "{text}");
}

#[test]
fn check_lists_no_leader_and_each_unserved_queue_and_exits_1() {
    let env = env();
    env.worker("fast");
    env.redis(&["LPUSH", "campanile:{default}:pending", "a", "b"]);
    // A worker whose lease lapsed is no worker.
    env.redis(&["SADD", "campanile:{default}:workers", "w:9:dead"]);
    let (code, out) = env.check();
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        "no_leader: no clock has held the leader lease, so no tick is pushed (0 clock(s) running)\n\
         unserved: queue default has no live worker (2 pending)\n"
    );
    let status = env.status_json();
    assert_eq!(
        status["problems"],
        json!([
            {"kind": "no_leader", "job": null, "queue": null, "clocks": 0,
             "message": "no clock has held the leader lease, so no tick is pushed (0 clock(s) running)", "gone_secs": null},
            {"kind": "unserved", "job": null, "queue": "default", "pending": 2, "workers": 1,
             "message": "queue default has no live worker (2 pending)"},
        ])
    );
    let text = String::from_utf8(env.clock(&["status"]).stdout).unwrap();
    assert!(
        text.starts_with(
            "leader: none (no clock is running); standbys: 0\nproblems: 2\n  no_leader: no clock has held the \
             leader lease, so no tick is pushed (0 clock(s) running)\n  unserved: queue default has no live \
             worker (2 pending)\n\n"
        ),
        "{text}"
    );

    // Workers watching the lease record since when there has been none.
    let since = env.now_ms() - 42_000;
    env.redis(&["HSET", "campanile:monitor", "no_leader_since", &since.to_string()]);
    let (_, out) = env.check();
    let first = out.lines().next().unwrap();
    assert!(
        ["41", "42", "43"].iter().any(|s| first
            == format!(
                "no_leader: no clock has held the leader lease for {s} s, so no tick is pushed (0 clock(s) running)"
            )),
        "{out}"
    );
    let gone = env.status_json()["problems"][0]["gone_secs"].as_u64().unwrap();
    assert!((41..=43).contains(&gone), "{gone}");
}

#[test]
fn a_leader_that_has_not_renewed_for_two_seconds_is_stale() {
    let env = env();
    env.worker("default");
    env.worker("fast");
    // The lease has 0.8 s left when set: a read that comes later (a slow
    // machine) finds it lapsed, and sets it again.
    let stale = |read: &dyn Fn() -> String| {
        (0..5)
            .map(|_| {
                env.leader(2_200);
                read()
            })
            .find(|out| !out.contains("no_leader"))
            .expect("a read within 0.8 s of setting the lease")
    };
    let out = stale(&|| {
        let (code, out) = env.check();
        assert_eq!(code, Some(1), "{out}");
        out
    });
    assert!(out.starts_with("leader_stale: leader host:1:abc last renewed its lease 2."), "{out}");
    assert!(out.ends_with(" s ago (renewals every 1 s; it lapses at 3 s)\n"), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let problem: Value =
        serde_json::from_str(&stale(&|| env.status_json()["problems"][0].to_string())).unwrap();
    assert_eq!((&problem["kind"], &problem["leader"]), (&json!("leader_stale"), &json!("host:1:abc")));
    assert!(problem["age_secs"].as_f64().unwrap() >= 2.2, "{problem}");

    env.leader(1_000);
    assert_eq!(env.check(), (Some(0), "ok\n".into()), "1 s: a renewal is due, not missed");
}

#[test]
fn late_ticks_are_the_late_set_and_waiting_ticks_past_their_deadline_bounded_per_queue() {
    let env = env();
    env.leader(0);
    env.worker("default");
    env.worker("fast");
    let now = env.now_ms();
    let waiting = "campanile:{default}:waiting";
    // Twelve ticks of `report` past their deadline, the oldest 100 s ago.
    for i in 0..12 {
        let id = format!("report@2026-11-23T08:{i:02}:00Z");
        env.redis(&["ZADD", waiting, &(now - 100_000 + i * 1000).to_string(), &id]);
    }
    // One whose deadline is still ahead: not late.
    env.redis(&["ZADD", waiting, &(now + 600_000).to_string(), "report@2026-11-23T09:00:00Z"]);
    // Already reported late, on another queue.
    env.redis(&["ZADD", "campanile:{fast}:late", &(now - 30_000).to_string(), "poll@2026-11-23T04:00:00Z"]);

    let (code, out) = env.check();
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 12, "10 listed, one count, fast's one: {out}");
    assert!(
        lines[0].starts_with(
            "late: report@2026-11-23T08:00:00Z on queue default has not started, 100 s past its deadline "
        ) || lines[0].starts_with(
            "late: report@2026-11-23T08:00:00Z on queue default has not started, 101 s past its deadline "
        ),
        "oldest deadline first: {out}"
    );
    assert!(lines[9].starts_with("late: report@2026-11-23T08:09:00Z "), "{out}");
    assert_eq!(lines[10], "late_unlisted: queue default has 2 more late tick(s), not listed");
    assert!(
        lines[11].starts_with("late: poll@2026-11-23T04:00:00Z on queue fast has not started, "),
        "{out}"
    );

    let problems = env.status_json()["problems"].clone();
    let first = &problems[0];
    assert_eq!(first["kind"], "late");
    assert_eq!(first["job"], "report");
    assert_eq!(first["queue"], "default");
    assert_eq!(first["id"], "report@2026-11-23T08:00:00Z");
    assert_eq!(first["scheduled_at"], "2026-11-23T08:00:00Z");
    assert!(first["deadline"].as_str().unwrap().ends_with('Z'), "{first}");
    assert!((100..=102).contains(&first["late_secs"].as_u64().unwrap()), "{first}");
    assert_eq!(
        problems[10],
        json!({"kind": "late_unlisted", "job": null, "queue": "default", "count": 2,
        "message": "queue default has 2 more late tick(s), not listed"})
    );

    // A worker starting the ticks takes them off both sets.
    env.redis(&["DEL", waiting, "campanile:{fast}:late"]);
    assert_eq!(env.check(), (Some(0), "ok\n".into()));
}

#[test]
fn check_exits_1_with_a_line_when_redis_cannot_be_reached() {
    let env = env();
    let port = free_port();
    let out = Command::new(bin("clock"))
        .args(["status", "--check", "--config"])
        .arg(&env.config)
        .env("REDIS_URL", format!("redis://:secret@127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("redis_unreachable: cannot reach redis://:"), "{stdout}");
    assert!(stdout.contains(&format!("@127.0.0.1:{port}: ")), "{stdout}");
    assert!(!stdout.contains("secret"), "the password is not printed: {stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

#[test]
fn check_with_an_invalid_config_exits_2_before_redis() {
    let env = env();
    std::fs::write(&env.config, "[jobs.x]\ncron = \"0 25 * * *\"\ncommand = \"true\"\n").unwrap();
    let out = env.clock(&["status", "--check"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(env.clock(&["status", "--check", "--json"]).status.code(), Some(2), "they conflict");
}

#[test]
fn a_real_clock_and_worker_are_healthy_and_a_stopped_worker_leaves_its_queue_unserved() {
    let env = env();
    std::fs::write(&env.config, "[jobs.report]\ncron = \"0 3 * * *\"\ncommand = \"echo report\"\n").unwrap();
    let _clock = Proc::clock(&env.redis, &env.config, env.dir.path(), "clock");
    let mut worker = Proc::worker(&env.redis, &env.config, env.dir.path(), &[], "worker");
    wait_until("status --check to pass", Duration::from_secs(20), || env.check() == (Some(0), "ok\n".into()));

    worker.sigterm();
    assert!(worker.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", worker.log_tail());
    assert_eq!(env.check(), (Some(1), "unserved: queue default has no live worker (0 pending)\n".into()));
}

/// The reads are single-slot: the lease alone, and each queue's keys under
/// its hash tag (one `EXISTS` over all its worker leases), so they work on
/// a Redis Cluster whose queues live on different primaries.
#[test]
fn check_reads_a_redis_cluster() {
    let cluster = common::cluster::RedisCluster::start();
    let queues = cluster.queues_on_distinct_primaries("campanile:", 2);
    let (served, starved) = (&queues[0], &queues[1]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    let mut toml = format!("[redis]\ncluster = {}\n\n", cluster.url_list_toml());
    for q in &queues {
        toml.push_str(&format!(
            "[jobs.job-{q}]\ncron = \"0 3 * * *\"\nqueue = \"{q}\"\ncommand = \"true\"\n\n"
        ));
    }
    std::fs::write(&config, toml).unwrap();
    let mut con = cluster.connection();
    let mut run = |args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let _: redis::Value = cmd.query(&mut con).unwrap();
    };
    run(&["SET", "campanile:leader", "host:1:abc", "PX", "3000"]);
    for w in ["w:1:a", "w:2:b"] {
        run(&["SADD", &format!("campanile:{{{served}}}:workers"), w]);
    }
    // One of the two workers is alive.
    run(&["SET", &format!("campanile:{{{served}}}:lease:w:2:b"), "1", "PX", "60000"]);
    run(&[
        "ZADD",
        &format!("campanile:{{{starved}}}:late"),
        "1000",
        &format!("job-{starved}@2026-11-23T03:00:00Z"),
    ]);

    let out = Command::new(bin("clock"))
        .args(["status", "--check", "--config"])
        .arg(&config)
        .env_remove("REDIS_URL")
        .env_remove("CAMPANILE_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines.contains(&format!("unserved: queue {starved} has no live worker (0 pending)").as_str()),
        "{stdout}"
    );
    let late = format!("late: job-{starved}@2026-11-23T03:00:00Z on queue {starved} has not started, ");
    assert!(lines.iter().any(|l| l.starts_with(&late)), "{stdout}");
}
