//! What the real-worker tests of the Python and Node formats share: the
//! tool's worker as a child process, the runs its task module records (one
//! JSON line per execution: `{"id", "args", "kwargs"}`), the ids of the
//! ticks the clocks logged as pushed, and a wait that fails with the logs.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::poll_until;

/// A child process, SIGTERMed and reaped when dropped (so also when the
/// test fails).
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = super::send_signal(self.0.id(), libc::SIGTERM);
        let _ = self.0.wait();
    }
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The runs recorded in `dir/done.jsonl`.
pub fn runs(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("done.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// For each "tick enqueued" line of the clocks' JSON logs, `id_of(tick)`.
pub fn pushed_ids(logs: &[PathBuf], id_of: impl Fn(DateTime<Utc>) -> String) -> Vec<String> {
    let mut ids = Vec::new();
    for log in logs {
        for line in std::fs::read_to_string(log).unwrap().lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
            if event["fields"]["message"] != "tick enqueued" {
                continue;
            }
            let tick = DateTime::parse_from_rfc3339(event["fields"]["tick"].as_str().unwrap()).unwrap();
            ids.push(id_of(tick.to_utc()));
        }
    }
    ids
}

/// Waits for `done`, failing with the tail of every file in `dir` named
/// `*.log` or `*.err` (the worker's and the clocks' output).
pub fn wait_for(dir: &Path, what: &str, within: Duration, done: impl FnMut() -> bool) {
    if poll_until(within, done) {
        return;
    }
    let mut logs = String::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for path in names.iter().filter(|p| p.extension().is_some_and(|e| e == "log" || e == "err")) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        logs.push_str(&format!("--- {}:\n{}\n", path.display(), super::tail(&text, 60)));
    }
    panic!("timed out after {within:?} waiting for {what}\n{logs}");
}

/// SIGTERMs a clock and asserts it exits 0.
pub fn stop(mut clock: Child) {
    super::send_signal(clock.id(), libc::SIGTERM).unwrap();
    assert!(clock.wait().unwrap().success());
}

/// Two real clocks push the ticks of `dir/clock.toml` to a worker already
/// running: one leads, the other stands by and takes over when the first
/// stops, each leading for eight ticks or more (about 16 s in all); then
/// the worker drains what is left. Returns the runs the worker recorded
/// and the ids (`id_of(tick)`) of the ticks the clocks pushed.
pub fn two_clocks_then_drain(
    redis: &super::RedisServer,
    dir: &Path,
    id_of: impl Fn(DateTime<Utc>) -> String,
) -> (Vec<Value>, Vec<String>) {
    let logs: Vec<PathBuf> = ["a.log", "b.log"].iter().map(|n| dir.join(n)).collect();
    let a = super::spawn_clock(redis, &dir.join("clock.toml"), &logs[0]);
    let b = super::spawn_clock(redis, &dir.join("clock.toml"), &logs[1]);
    wait_for(dir, "the worker to run eight ticks", Duration::from_secs(40), || runs(dir).len() >= 8);
    let (first, second) = match super::leader_pid(redis) {
        Some(pid) if pid == b.id() => (b, a),
        _ => (a, b),
    };
    let second_pid = second.id();
    stop(first);
    wait_for(dir, "the standby clock to lead", Duration::from_secs(15), || {
        super::leader_pid(redis) == Some(second_pid)
    });
    let before = runs(dir).len();
    wait_for(dir, "eight more runs", Duration::from_secs(30), || runs(dir).len() >= before + 8);
    stop(second);
    let pushed = pushed_ids(&logs, id_of);
    wait_for(dir, "the worker to run every pushed tick", Duration::from_secs(20), || {
        runs(dir).len() >= pushed.len()
    });
    (runs(dir), pushed)
}

/// Every pushed id is distinct and ran exactly once, at least 16 in all.
pub fn assert_each_ran_once(runs: &[Value], pushed: &[String]) {
    let ran: Vec<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let unique: std::collections::BTreeSet<&str> = pushed.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), pushed.len(), "a tick was pushed twice: {pushed:?}");
    assert_eq!(ran.iter().copied().collect::<std::collections::BTreeSet<_>>(), unique);
    assert_eq!(ran.len(), pushed.len(), "a tick ran twice: {ran:?}");
    assert!(ran.len() >= 16, "{} runs", ran.len());
}
