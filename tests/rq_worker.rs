//! A stock `rq worker` (RQ 2.6, installed by scripts/test) runs the jobs two
//! real `clock` processes push with `format = "rq"`: the job hash and the
//! queue entry are the ones RQ's own `Queue.enqueue` writes.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use campanile::formats::rq::job_id;
use campanile::payload::tick_id;
use common::RedisServer;
use common::foreign_worker::{Process, assert_each_ran_once, repo, two_clocks_then_drain};
use serde_json::json;

/// The RQ release scripts/test installs, and where.
const RQ_VERSION: &str = "2.6.1";
const RQ_DIR: &str = "target/tools/rq";

/// Past 2^53, where a float would lose the last digit.
const BIG: i64 = 9_007_199_254_740_993;

const CONFIG: &str = r#"
[jobs.record]
every = "1s"
format = "rq"
function = "rq_tasks.record"
args = ["pdf", 9007199254740993, "Zürich ☃"]
kwargs = { pages = 3, title = "naïve – résumé" }
job_timeout = "30s"
"#;

/// `python3 -m rq.cli worker` from scripts/test's pinned install, with the
/// module tests/data/rq/rq_tasks.py importable; panics with the install
/// command when RQ is missing.
fn spawn_rq(redis: &RedisServer, dir: &Path) -> Process {
    let probe = Command::new("python3")
        .args(["-c", &format!("import rq, sys; sys.exit(rq.__version__ != {RQ_VERSION:?})")])
        .env("PYTHONPATH", repo().join(RQ_DIR))
        .status();
    assert!(
        matches!(probe, Ok(s) if s.success()),
        "rq {RQ_VERSION} is not installed in {RQ_DIR}; this test runs a real RQ worker. scripts/test \
         installs it, or run: python3 -m pip install --target {RQ_DIR} rq=={RQ_VERSION}"
    );
    let python_path = format!("{}:{}", repo().join("tests/data/rq").display(), repo().join(RQ_DIR).display());
    let child = Command::new("python3")
        .args(["-m", "rq.cli", "worker", "--url", &redis.url(), "default"])
        .current_dir(dir)
        .env("PYTHONPATH", python_path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("DONE_FILE", dir.join("done.jsonl"))
        .stdin(Stdio::null())
        .stdout(File::create(dir.join("rq.log")).unwrap())
        .stderr(Stdio::from(File::create(dir.join("rq.err")).unwrap()))
        .spawn()
        .expect("spawn python3 -m rq.cli");
    Process(child)
}

#[test]
fn a_stock_rq_worker_runs_each_tick_of_two_clocks_exactly_once() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("clock.toml"), CONFIG).unwrap();

    let rq = spawn_rq(&redis, dir);
    let (runs, pushed) = two_clocks_then_drain(&redis, dir, |tick| job_id(&tick_id("record", tick)));
    drop(rq);

    for run in &runs {
        assert_eq!(run["args"], json!(["pdf", BIG, "Zürich ☃"]), "{run}");
        assert_eq!(run["kwargs"], json!({"pages": 3, "title": "naïve – résumé"}), "{run}");
    }
    assert_each_ran_once(&runs, &pushed);
    let mut con = redis.connection();
    let left: i64 = redis::cmd("LLEN").arg("rq:queue:default").query(&mut con).unwrap();
    assert_eq!(left, 0);
    let queues: Vec<String> = redis::cmd("SMEMBERS").arg("rq:queues").query(&mut con).unwrap();
    assert_eq!(queues, ["rq:queue:default"]);
    // RQ finished each job: its hash says so.
    let status: Option<String> =
        redis::cmd("HGET").arg(format!("rq:job:{}", pushed[0])).arg("status").query(&mut con).unwrap();
    assert_eq!(status.as_deref(), Some("finished"));
}
