//! A stock `celery worker` (Celery 5.5 on kombu's Redis transport,
//! installed by scripts/test) runs the tasks two real `clock` processes
//! push with `format = "celery"`: the pushed message is the envelope and
//! task message Celery itself sends, not just JSON that looks like it.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use campanile::formats::celery::task_id;
use campanile::payload::tick_id;
use common::RedisServer;
use common::foreign_worker::{Process, assert_each_ran_once, repo, two_clocks_then_drain};
use serde_json::json;

/// The Celery release scripts/test installs, and where.
const CELERY_VERSION: &str = "5.5.3";
const CELERY_DIR: &str = "target/tools/celery";

/// Past 2^53, where a float would lose the last digit.
const BIG: i64 = 9_007_199_254_740_993;

const CONFIG: &str = r#"
[jobs.record]
every = "1s"
format = "celery"
task = "tasks.record"
args = ["pdf", 9007199254740993, "Zürich ☃"]
kwargs = { pages = 3, title = "naïve – résumé" }
"#;

/// `python3 -m celery worker` from scripts/test's pinned install, on the
/// task module tests/data/celery/tasks.py; panics with the install command
/// when Celery is missing.
fn spawn_celery(redis: &RedisServer, dir: &Path) -> Process {
    let probe = Command::new("python3")
        .args(["-c", &format!("import celery, sys; sys.exit(celery.__version__ != {CELERY_VERSION:?})")])
        .env("PYTHONPATH", repo().join(CELERY_DIR))
        .status();
    assert!(
        matches!(probe, Ok(s) if s.success()),
        "celery {CELERY_VERSION} is not installed in {CELERY_DIR}; this test runs a real Celery worker. \
         scripts/test installs it, or run: python3 -m pip install --target {CELERY_DIR} \
         'celery[redis]=={CELERY_VERSION}'"
    );
    let python_path =
        format!("{}:{}", repo().join("tests/data/celery").display(), repo().join(CELERY_DIR).display());
    let child = Command::new("python3")
        // One process; no broadcast chatter between workers.
        .args(["-m", "celery", "-A", "tasks", "worker", "--pool", "solo", "--loglevel", "INFO"])
        .args(["--without-heartbeat", "--without-gossip", "--without-mingle", "-Q", "celery"])
        .current_dir(dir)
        .env("PYTHONPATH", python_path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CELERY_BROKER_URL", redis.url())
        .env("DONE_FILE", dir.join("done.jsonl"))
        .stdin(Stdio::null())
        .stdout(File::create(dir.join("celery.log")).unwrap())
        .stderr(Stdio::from(File::create(dir.join("celery.err")).unwrap()))
        .spawn()
        .expect("spawn python3 -m celery");
    Process(child)
}

#[test]
fn a_stock_celery_worker_runs_each_tick_of_two_clocks_exactly_once() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("clock.toml"), CONFIG).unwrap();

    let celery = spawn_celery(&redis, dir);
    let (runs, pushed) = two_clocks_then_drain(&redis, dir, |tick| task_id(&tick_id("record", tick)));
    drop(celery);

    for run in &runs {
        assert_eq!(run["args"], json!(["pdf", BIG, "Zürich ☃"]), "{run}");
        assert_eq!(run["kwargs"], json!({"pages": 3, "title": "naïve – résumé"}), "{run}");
    }
    assert_each_ran_once(&runs, &pushed);
    let left: i64 = redis::cmd("LLEN").arg("celery").query(&mut redis.connection()).unwrap();
    assert_eq!(left, 0);
}
