//! `clock plan` against a job table published by a real leading clock.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{RedisServer, bin};
use serde_json::{Value, json};

const A: &str = r#"
[jobs.kept]
every = "1h"
command = "bin/kept"
[jobs.changed]
cron = "0 3 * * *"
command = "bin/changed"
[jobs.removed]
every = "1d"
command = "bin/removed"
"#;

const B: &str = r#"
[jobs.kept]
every = "1h"
command = "bin/kept"
[jobs.changed]
cron = "0 4 * * *"
timezone = "Europe/London"
command = "bin/changed"
[jobs.added]
every = "15m"
command = "bin/added"
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn plan(redis_url: &str, config: &Path, extra: &[&str]) -> Output {
    Command::new(bin("clock"))
        .arg("plan")
        .args(extra)
        .arg("--config")
        .arg(config)
        .env("REDIS_URL", redis_url)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs a clock with `config` until it has published its job table.
fn deploy(redis: &RedisServer, config: &Path) {
    let mut clock = Command::new(bin("clock"))
        .arg("--config")
        .arg(config)
        .env("REDIS_URL", redis.url())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis::cmd("EXISTS").arg("campanile:config").query::<i64>(&mut redis.connection()).unwrap() == 0 {
        assert!(Instant::now() < deadline, "the clock never published its job table");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = common::send_signal(clock.id(), libc::SIGTERM);
    clock.wait().unwrap();
}

#[test]
fn plan_shows_added_removed_and_changed_jobs_against_the_deployment() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (write(dir.path(), "a.toml", A), write(dir.path(), "b.toml", B));
    deploy(&redis, &a);

    let same = plan(&redis.url(), &a, &[]);
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stderr));
    assert!(String::from_utf8_lossy(&same.stdout).ends_with("no changes\n"));

    let out = plan(&redis.url(), &b, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["added"].as_array().unwrap().len(), 1);
    assert_eq!(v["added"][0]["job"], "added");
    assert_eq!(v["added"][0]["next"].as_array().unwrap().len(), 3);
    assert_eq!(v["removed"], json!(["removed"]));
    assert_eq!(v["unchanged"], json!(["kept"]));
    assert_eq!(v["changed"][0]["job"], "changed");
    assert_eq!(
        v["changed"][0]["fields"],
        json!({
            "schedule": {"old": "cron \"0 3 * * *\"", "new": "cron \"0 4 * * *\""},
            "timezone": {"old": "UTC", "new": "Europe/London"},
        })
    );
    let next = v["changed"][0]["next"].as_array().unwrap();
    assert_eq!(next.len(), 3);
    assert!(next[0]["local"].as_str().unwrap().contains(" 04:00:00 "), "{next:?}");
    assert!(v["deployed"]["clock"].is_string());
    assert_ne!(v["deployed"]["fingerprint"], v["local_fingerprint"]);

    let text = String::from_utf8(plan(&redis.url(), &b, &[]).stdout).unwrap();
    assert!(text.contains("+ added  every \"15m\"  UTC\n    next "), "{text}");
    assert!(text.contains("- removed\n"), "{text}");
    assert!(
        text.contains("~ changed\n    schedule: \"cron \\\"0 3 * * *\\\"\" -> \"cron \\\"0 4 * * *\\\"\"\n"),
        "{text}"
    );
}

#[test]
fn plan_without_a_deployment_lists_every_job_as_new() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.toml", A);
    let out = plan(&redis.url(), &a, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["deployed"], Value::Null);
    assert_eq!(v["added"].as_array().unwrap().len(), 3);
}

#[test]
fn plan_works_offline_and_rejects_an_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.toml", A);
    let port = common::free_port();
    let unreachable = format!("redis://127.0.0.1:{port}");
    let out = plan(&unreachable, &a, &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert!(v["offline"].as_str().unwrap().starts_with("cannot reach redis://127.0.0.1:"));
    assert_eq!(v["added"].as_array().unwrap().len(), 3);
    assert_eq!(plan(&unreachable, &a, &["--offline"]).status.code(), Some(0));
    let bad = write(dir.path(), "bad.toml", "[jobs.x]\ncron = \"61 * * * *\"\ncommand = \"x\"\n");
    assert_eq!(plan(&unreachable, &bad, &[]).status.code(), Some(2));
}

#[test]
fn env_values_are_published_and_shown_as_digests_never_as_values() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let job = |secret: &str| {
        format!("[jobs.sync]\nevery = \"1h\"\ncommand = \"bin/sync\"\nenv = {{ API_TOKEN = \"{secret}\" }}\n")
    };
    let old = write(dir.path(), "old.toml", &job("hunter2-old-token"));
    let new = write(dir.path(), "new.toml", &job("hunter2-new-token"));
    deploy(&redis, &old);

    let published: String = redis::cmd("GET").arg("campanile:config").query(&mut redis.connection()).unwrap();
    assert!(!published.contains("hunter2"), "the published table holds an env value: {published}");
    let table: Value = serde_json::from_str(&published).unwrap();
    let digest = table["jobs"]["sync"]["env"]["API_TOKEN"].as_str().unwrap().to_owned();
    assert!(digest.starts_with("sha256:") && digest.len() == "sha256:".len() + 16, "{digest}");

    let same = plan(&redis.url(), &old, &[]);
    assert!(String::from_utf8_lossy(&same.stdout).ends_with("no changes\n"));

    let out = plan(&redis.url(), &new, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "a changed value is still a change");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("hunter2"), "{stdout}");
    let change = &json(&out)["changed"][0]["fields"]["env"];
    assert_eq!(change["old"]["API_TOKEN"], json!(digest));
    assert_ne!(change["new"]["API_TOKEN"], json!(digest));
    let text = plan(&redis.url(), &new, &[]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("~ sync\n    env: ") && !text.contains("hunter2"), "{text}");
}
