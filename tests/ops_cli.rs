//! Operator commands against a real redis-server, through the real `clock`
//! binary; `--json` output is pinned.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{RedisServer, bin};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[jobs.report]
cron = "0 3 * * *"
timezone = "America/New_York"
command = "echo report"
args = { format = "pdf" }

[jobs.poll]
every = "5m"
queue = "fast"
command = "echo poll"
"#;

struct Env {
    redis: RedisServer,
    _dir: tempfile::TempDir,
    config: PathBuf,
}

fn env() -> Env {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, CONFIG).unwrap();
    Env { redis, _dir: dir, config }
}

impl Env {
    fn clock(&self, args: &[&str]) -> Output {
        Command::new(bin("clock"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env("REDIS_URL", self.redis.url())
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.clock(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    fn lrange(&self, key: &str) -> Vec<String> {
        redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(&mut self.redis.connection()).unwrap()
    }

    fn lpush(&self, key: &str, value: &str) {
        let _: () = redis::cmd("LPUSH").arg(key).arg(value).query(&mut self.redis.connection()).unwrap();
    }
}

#[test]
fn pause_and_resume_are_stored_in_redis_and_shown_by_status() {
    let env = env();
    assert_eq!(
        env.json(&["pause", "report", "--json"]),
        json!({"job": "report", "paused": true, "changed": true})
    );
    assert_eq!(
        env.json(&["pause", "report", "--json"]),
        json!({"job": "report", "paused": true, "changed": false})
    );
    let paused: Vec<String> =
        redis::cmd("HKEYS").arg("campanile:{default}:paused").query(&mut env.redis.connection()).unwrap();
    assert_eq!(paused, ["report"]);
    let status = env.json(&["status", "--json"]);
    assert_eq!(status["jobs"][1]["name"], "report");
    assert_eq!(status["jobs"][1]["paused"], true);
    assert_eq!(status["jobs"][0]["paused"], false);
    assert_eq!(
        env.json(&["resume", "report", "--json"]),
        json!({"job": "report", "paused": false, "changed": true})
    );
    assert_eq!(env.json(&["status", "--json"])["jobs"][1]["paused"], false);
    let unknown = env.clock(&["pause", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn trigger_enqueues_a_manual_run_without_touching_tick_state() {
    let env = env();
    let out = env.json(&["trigger", "report", "--json"]);
    let id = out["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("report@manual-"), "{id}");
    assert_eq!(out["queue"], "default");
    let pending = env.lrange("campanile:{default}:pending");
    assert_eq!(pending.len(), 1);
    let payload: Value = serde_json::from_str(&pending[0]).unwrap();
    assert_eq!(payload["id"], id.as_str());
    assert_eq!(payload["manual"], true);
    assert_eq!(payload["attempt"], 1);
    assert_eq!(payload["args"], json!({"format": "pdf"}));
    let ticks: i64 =
        redis::cmd("EXISTS").arg("campanile:{default}:ticks").query(&mut env.redis.connection()).unwrap();
    assert_eq!(ticks, 0, "tick state untouched");

    env.json(&["trigger", "poll", "--args", r#"{"x": [1, 2]}"#, "--json"]);
    let fast: Value = serde_json::from_str(&env.lrange("campanile:{fast}:pending")[0]).unwrap();
    assert_eq!(fast["args"], json!({"x": [1, 2]}));
    assert_eq!(env.clock(&["trigger", "poll", "--args", "{bad"]).status.code(), Some(2));
}

#[test]
fn history_lists_runs_newest_first_and_shows_an_output_tail() {
    let env = env();
    let entry = |id: &str, finished: &str, outcome: &str, attempt: u32| {
        json!({
            "id": id, "job": "report", "queue": "default", "scheduled_at": "2026-11-23T08:00:00Z",
            "started_at": "2026-11-23T08:00:00.000Z", "finished_at": finished, "duration_ms": 1500,
            "attempt": attempt, "outcome": outcome, "exit_code": if outcome == "success" { 0 } else { 1 },
            "signal": null, "output": format!("output of {id} attempt {attempt}\n"), "worker": "w:1:a",
            "retry": outcome != "success", "manual": false
        })
        .to_string()
    };
    let key = "campanile:{default}:history:report";
    env.lpush(key, &entry("report@2026-11-23T08:00:00Z", "2026-11-23T08:00:01.500Z", "failed", 1));
    env.lpush(key, &entry("report@2026-11-23T08:00:00Z", "2026-11-23T08:00:12.000Z", "success", 2));
    let history = env.json(&["history", "report", "--json"]);
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["attempt"], 2);
    assert_eq!(history[0]["outcome"], "success");
    assert_eq!(history[1]["outcome"], "failed");
    assert_eq!(env.json(&["history", "--limit", "1", "--json"]).as_array().unwrap().len(), 1);

    let text = String::from_utf8(env.clock(&["history"]).stdout).unwrap();
    assert_eq!(
        text,
        "FINISHED              JOB     OUTCOME              DURATION  ATTEMPT  EXIT  ID\n\
         2026-11-23T08:00:12Z  report  success              1.5s      2        0     report@2026-11-23T08:00:00Z\n\
         2026-11-23T08:00:01Z  report  failed (will retry)  1.5s      1        1     report@2026-11-23T08:00:00Z\n"
    );
    let tail = env.clock(&["history", "--output", "report@2026-11-23T08:00:00Z"]);
    assert_eq!(String::from_utf8(tail.stdout).unwrap(), "output of report@2026-11-23T08:00:00Z attempt 2\n");
}

#[test]
fn dead_letters_are_listed_retried_with_fresh_attempts_and_purged() {
    let env = env();
    let payload = r#"{"id":"report@2026-11-23T08:00:00Z","job":"report","queue":"default","scheduled_at":"2026-11-23T08:00:00Z","enqueued_at":"2026-11-23T08:00:00.000Z","attempt":4,"args":null}"#;
    let letter = |payload: &str, reason: &str| {
        json!({"payload": payload, "reason": reason, "queue": "default", "job": "report", "attempts": 4,
               "exit_code": 1, "failed_at": "2026-11-23T08:01:00.000Z", "worker": "w:1:a"})
        .to_string()
    };
    env.lpush("campanile:{default}:dead", &letter(payload, "exit status 1"));
    env.lpush("campanile:{default}:dead", &letter("not json", "malformed payload"));
    let dead = env.json(&["dead", "--json"]);
    assert_eq!(dead.as_array().unwrap().len(), 2);
    assert!(dead[0]["id"].as_str().unwrap().starts_with("raw-"));
    assert_eq!(dead[1]["id"], "report@2026-11-23T08:00:00Z");
    assert_eq!(dead[1]["reason"], "exit status 1");

    assert_eq!(env.json(&["retry-dead", "report@2026-11-23T08:00:00Z", "--json"]), json!({"requeued": 1}));
    let pending = env.lrange("campanile:{default}:pending");
    let requeued: Value = serde_json::from_str(&pending[0]).unwrap();
    assert_eq!(requeued["attempt"], 1, "a retried dead letter gets the job's full retries again");
    assert_eq!(requeued["id"], "report@2026-11-23T08:00:00Z");
    assert_eq!(env.json(&["dead", "--json"]).as_array().unwrap().len(), 1);
    assert_eq!(env.clock(&["retry-dead", "no-such-id"]).status.code(), Some(1));
    assert_eq!(env.json(&["purge-dead", "--yes", "--json"]), json!({"purged": 1}));
    assert!(env.json(&["dead", "--json"]).as_array().unwrap().is_empty());
}

#[test]
fn status_shows_leader_jobs_and_queue_depths() {
    let env = env();
    let mut clock = Command::new(bin("clock"))
        .arg("--config")
        .arg(&env.config)
        .env("REDIS_URL", env.redis.url())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let status = env.json(&["status", "--json"]);
        // The clock announces when it started leading from its lease
        // keeper, which first runs after the start-up sync: until then the
        // leader is known and `since` is not yet.
        if status["leader"]["since"].is_string() && status["clocks"].as_array().is_some_and(|c| !c.is_empty())
        {
            break status;
        }
        assert!(Instant::now() < deadline, "no leader: {status}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status["leader"]["pid"], clock.id());
    assert_eq!(status["clocks"][0]["role"], "leader");
    assert!(status["leader"]["since"].is_string());
    let report = &status["jobs"][1];
    assert_eq!(report["schedule"], "cron \"0 3 * * *\"");
    assert_eq!(report["timezone"], "America/New_York");
    assert!(
        report["next_run"].as_str().unwrap().ends_with("T08:00:00Z")
            || report["next_run"].as_str().unwrap().ends_with("T07:00:00Z")
    );
    assert_eq!(report["last_run"], Value::Null);
    assert_eq!(
        status["queues"],
        json!([
            {"name": "default", "pending": 0, "in_progress": 0, "retry": 0, "dead": 0},
            {"name": "fast", "pending": 0, "in_progress": 0, "retry": 0, "dead": 0}
        ])
    );
    let text = String::from_utf8(env.clock(&["status"]).stdout).unwrap();
    assert!(
        text.starts_with(&format!("leader: {} (host ", status["leader"]["id"].as_str().unwrap())),
        "{text}"
    );
    assert!(text.contains("QUEUE    PENDING  IN PROGRESS  RETRY  DEAD\ndefault  0"), "{text}");
    let _ = common::send_signal(clock.id(), libc::SIGTERM);
    clock.wait().unwrap();
    assert_eq!(env.json(&["status", "--json"])["leader"], Value::Null);
}

#[test]
fn commands_fail_with_exit_1_when_redis_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let port = common::free_port();
    let out = Command::new(bin("clock"))
        .args(["status", "--config"])
        .arg(&config)
        .env("REDIS_URL", format!("redis://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: cannot connect to redis://127.0.0.1:"), "{stderr}");
    assert_eq!(stderr.matches("Connection refused").count(), 1, "the cause is printed once: {stderr}");
}

fn add_dead_letter(env: &Env) {
    let letter = json!({"payload": "not json", "reason": "malformed payload", "queue": "default",
        "job": "report", "attempts": 1, "exit_code": null, "failed_at": "2026-11-23T08:01:00.000Z",
        "worker": "w:1:a"});
    env.lpush("campanile:{default}:dead", &letter.to_string());
}

#[test]
fn dead_with_nothing_to_show_says_so() {
    let env = env();
    let out = env.clock(&["dead"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no dead letters\n");
    assert_eq!(env.json(&["dead", "--json"]), json!([]));
}

#[test]
fn purge_dead_without_yes_or_a_terminal_refuses_with_exit_2() {
    let env = env();
    add_dead_letter(&env);
    let out = env.clock(&["purge-dead"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(env.lrange("campanile:{default}:dead").len(), 1, "nothing deleted");
}

/// `clock purge-dead` on a terminal (a pty from util-linux `script`), with
/// `answer` typed.
fn purge_dead_on_a_terminal(env: &Env, answer: &str) -> Output {
    let clock = format!("{} purge-dead --config {}", bin("clock").display(), env.config.display());
    let mut child = Command::new("script")
        .args(["-qec", &clock, "/dev/null"])
        .env("REDIS_URL", env.redis.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` is needed to give clock a terminal");
    // Typed ahead: the terminal holds the line until clock reads it.
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, answer.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    out
}

#[test]
fn purge_dead_on_a_terminal_asks_before_deleting() {
    let env = env();
    add_dead_letter(&env);
    let out = purge_dead_on_a_terminal(&env, "n\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("delete 1 dead letter from queues default, fast? [y/N]"), "{text}");
    assert!(text.contains("nothing deleted"), "{text}");
    assert_eq!(env.lrange("campanile:{default}:dead").len(), 1);

    let out = purge_dead_on_a_terminal(&env, "y\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("purged 1 dead letter"), "{text}");
    assert!(env.lrange("campanile:{default}:dead").is_empty());
}

#[test]
fn status_shows_each_jobs_description() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, format!("{CONFIG}description = \"Polls the API.\"\n")).unwrap();
    let env = Env { config, ..env() };
    let status = env.json(&["status", "--json"]);
    assert_eq!(status["jobs"][0]["name"], "poll");
    assert_eq!(status["jobs"][0]["description"], "Polls the API.");
    assert_eq!(status["jobs"][0]["schedule_text"], "every 5m");
    assert_eq!(status["jobs"][1]["description"], Value::Null);
    assert_eq!(status["jobs"][1]["schedule_text"], "daily at 03:00");
    let text = String::from_utf8(env.clock(&["status"]).stdout).unwrap();
    let poll = text.lines().find(|l| l.starts_with("poll ")).unwrap();
    assert!(poll.ends_with("  Polls the API."), "{text}");
}
