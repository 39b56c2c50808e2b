//! A stock Sidekiq process (Debian's `ruby-sidekiq`, 6.4) runs the jobs a
//! real `clock` pushes with `format = "sidekiq"`: the pushed hash is
//! Sidekiq's own layout, not just JSON that looks like it.

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use campanile::formats::jid;
use campanile::payload::tick_id;
use chrono::DateTime;
use common::{RedisServer, poll_until, spawn_clock};
use serde_json::{Value, json};

const INSTALL_HINT: &str = "sidekiq was not found on PATH; this test runs a real Sidekiq process. \
     Install it (Debian/Ubuntu: `sudo apt-get install ruby-sidekiq`) and re-run.";

/// A Sidekiq job class that records each run, one JSON line per run.
const WORKER_RB: &str = r#"
require "sidekiq"
require "json"

class NightlyReportJob
  include Sidekiq::Worker

  def perform(*args)
    line = JSON.generate({ "jid" => jid, "args" => args })
    File.open(ENV.fetch("DONE_FILE"), "a") { |f| f.puts(line) }
  end
end
"#;

const CONFIG: &str = r#"
[jobs.nightly]
every = "1s"
format = "sidekiq"
class = "NightlyReportJob"
args = ["pdf", 3]
"#;

/// A child process, SIGTERMed and reaped when dropped (so also when the
/// test fails).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = common::send_signal(self.0.id(), libc::SIGTERM);
        let _ = self.0.wait();
    }
}

fn spawn_sidekiq(redis: &RedisServer, dir: &Path) -> Process {
    let spawned = Command::new("sidekiq")
        // One thread, two seconds to finish on SIGTERM.
        .args(["-r", "./worker.rb", "-q", "default", "-c", "1", "-t", "2"])
        .current_dir(dir)
        .env("REDIS_URL", redis.url())
        .env("DONE_FILE", dir.join("done.jsonl"))
        .stdin(Stdio::null())
        .stdout(File::create(dir.join("sidekiq.log")).unwrap())
        .stderr(Stdio::from(File::create(dir.join("sidekiq.err")).unwrap()))
        .spawn();
    match spawned {
        Ok(child) => Process(child),
        Err(e) if e.kind() == ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
        Err(e) => panic!("spawning sidekiq: {e}"),
    }
}

fn runs(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("done.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The jids of the ticks the clock logged as enqueued.
fn pushed_jids(dir: &Path) -> BTreeSet<String> {
    let log = std::fs::read_to_string(dir.join("clock.log")).unwrap();
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["fields"]["message"] == "tick enqueued")
        .map(|e| {
            let tick = DateTime::parse_from_rfc3339(e["fields"]["tick"].as_str().unwrap()).unwrap();
            jid(&tick_id("nightly", tick.to_utc()))
        })
        .collect()
}

/// Waits for `done`, failing with the processes' logs.
fn wait_for(dir: &Path, what: &str, within: Duration, done: impl FnMut() -> bool) {
    if !poll_until(within, done) {
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        panic!(
            "timed out after {within:?} waiting for {what}\n--- sidekiq log:\n{}\n--- sidekiq stderr:\n{}\n--- clock log:\n{}",
            read("sidekiq.log"),
            read("sidekiq.err"),
            read("clock.log")
        );
    }
}

#[test]
fn a_stock_sidekiq_process_runs_each_pushed_tick_once() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("worker.rb"), WORKER_RB).unwrap();
    std::fs::write(dir.join("clock.toml"), CONFIG).unwrap();

    let sidekiq = spawn_sidekiq(&redis, dir);
    let clock = Process(spawn_clock(&redis, &dir.join("clock.toml"), &dir.join("clock.log")));
    wait_for(dir, "sidekiq to run three ticks", Duration::from_secs(30), || runs(dir).len() >= 3);
    drop(clock);
    // The clock has stopped: Sidekiq drains what is left.
    let pushed = pushed_jids(dir);
    wait_for(dir, "sidekiq to run every pushed tick", Duration::from_secs(20), || {
        runs(dir).len() >= pushed.len()
    });
    drop(sidekiq);

    let runs = runs(dir);
    assert!(runs.iter().all(|r| r["args"] == json!(["pdf", 3])), "{runs:?}");
    let ran: Vec<String> = runs.iter().map(|r| r["jid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ran.iter().cloned().collect::<BTreeSet<_>>(), pushed);
    assert_eq!(ran.len(), pushed.len(), "a tick ran twice: {ran:?}");
    let left: i64 = redis::cmd("LLEN").arg("queue:default").query(&mut redis.connection()).unwrap();
    assert_eq!(left, 0);
}
