//! The CLI's output formats and exit codes are a public contract; these run
//! the real binaries.

mod common;

use std::process::{Command, Output};

use common::{RedisServer, bin};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/clock.toml");

fn clock(args: &[&str]) -> Output {
    Command::new(bin("clock")).args(args).env_remove("CAMPANILE_CONFIG").output().expect("run clock")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn next_json_is_an_array_of_utc_instants_and_nothing_else() {
    let out = clock(&[
        "next",
        "--cron",
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2026-03-07T12:00:00Z",
        "--count",
        "3",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "[\"2026-03-08T07:00:00Z\",\"2026-03-09T06:30:00Z\",\"2026-03-10T06:30:00Z\"]\n"
    );
}

#[test]
fn next_accepts_any_offset_in_after_and_lists_strictly_later_ticks() {
    let out =
        clock(&["next", "--cron", "0 * * * *", "--after", "2026-01-01T01:00:00+01:00", "-n", "2", "--json"]);
    assert_eq!(stdout(&out), "[\"2026-01-01T01:00:00Z\",\"2026-01-01T02:00:00Z\"]\n");
}

#[test]
fn next_human_output_shows_utc_and_local_wall_time() {
    let out = clock(&[
        "next",
        "--cron",
        "*/30 * * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2026-11-01T05:10:00Z",
        "-n",
        "3",
    ]);
    assert_eq!(
        stdout(&out),
        "2026-11-01T05:30:00Z  2026-11-01 01:30:00 -04:00 EDT\n\
         2026-11-01T06:00:00Z  2026-11-01 01:00:00 -05:00 EST\n\
         2026-11-01T06:30:00Z  2026-11-01 01:30:00 -05:00 EST\n"
    );
}

#[test]
fn next_every_is_anchored_on_the_epoch() {
    let out = clock(&["next", "--every", "1h30m", "--after", "2026-11-23T10:00:00Z", "-n", "2", "--json"]);
    assert_eq!(stdout(&out), "[\"2026-11-23T10:30:00Z\",\"2026-11-23T12:00:00Z\"]\n");
    let out = clock(&[
        "next",
        "--every",
        "1h",
        "--offset",
        "15m",
        "--after",
        "2026-11-23T10:00:00Z",
        "-n",
        "1",
        "--json",
    ]);
    assert_eq!(stdout(&out), "[\"2026-11-23T10:15:00Z\"]\n");
}

#[test]
fn bad_expression_exits_2_naming_the_field_and_value() {
    let out = clock(&["next", "--cron", "0 25 * * *"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "error: cron \"0 25 * * *\": hour: 25 is out of range 0-23\n");
    let out = clock(&["next", "--cron", "* * * *"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("expected 5 fields"), "{}", stderr(&out));
}

#[test]
fn bad_zone_or_instant_is_a_usage_error() {
    assert_eq!(clock(&["next", "--cron", "@daily", "--tz", "Mars/Olympus"]).status.code(), Some(2));
    assert_eq!(clock(&["next", "--cron", "@daily", "--after", "yesterday"]).status.code(), Some(2));
    assert_eq!(clock(&["next", "--cron", "@daily", "--every", "5m"]).status.code(), Some(2));
}

#[test]
fn next_for_configured_jobs() {
    let out = clock(&[
        "next",
        "--config",
        EXAMPLE,
        "--job",
        "nightly-report",
        "--after",
        "2026-03-07T00:00:00Z",
        "-n",
        "2",
    ]);
    assert_eq!(
        stdout(&out),
        "2026-03-07T08:00:00Z  2026-03-07 03:00:00 -05:00 EST\n2026-03-08T07:00:00Z  2026-03-08 03:00:00 -04:00 EDT\n"
    );
    let out = clock(&["next", "--config", EXAMPLE, "--after", "2026-11-23T10:00:00Z", "-n", "1", "--json"]);
    let all: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        all,
        serde_json::json!({
            "heartbeat": ["2026-11-23T10:00:10Z"],
            "nightly-report": ["2026-11-24T08:00:00Z"],
            "poll-api": ["2026-11-23T10:05:00Z"],
        })
    );
    let out = clock(&["next", "--config", EXAMPLE, "--job", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_prints_each_job_with_schedule_zone_and_next_run() {
    let out = clock(&["check", "--config", EXAMPLE, "--after", "2026-11-23T10:00:00Z"]);
    assert!(out.status.success());
    let want = format!(
        "{EXAMPLE}: ok, 3 jobs

JOB             SCHEDULE                           ZONE              QUEUE    NEXT RUN (LOCAL)                NEXT RUN (UTC)        DESCRIPTION
heartbeat       every \"10s\"                        UTC               default  2026-11-23 10:00:10 +00:00 UTC  2026-11-23T10:00:10Z  Proves the clock and a worker are talking.
nightly-report  cron \"0 3 * * *\" (daily at 03:00)  America/New_York  default  2026-11-24 03:00:00 -05:00 EST  2026-11-24T08:00:00Z  -
poll-api        every \"5m\"                         UTC               default  2026-11-23 10:05:00 +00:00 UTC  2026-11-23T10:05:00Z  -
"
    );
    assert_eq!(stdout(&out), want);
}

#[test]
fn check_json() {
    let out = clock(&["check", "--config", EXAMPLE, "--after", "2026-11-23T10:00:00Z", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v["jobs"][1],
        serde_json::json!({
            "name": "nightly-report",
            "schedule": "cron \"0 3 * * *\"",
            "schedule_text": "daily at 03:00",
            "description": null,
            "timezone": "America/New_York",
            "queue": "default",
            "enabled": true,
            "next_run": "2026-11-24T08:00:00Z",
        })
    );
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(v["jobs"][0]["description"], "Proves the clock and a worker are talking.");
    assert_eq!(v["jobs"][0]["schedule_text"], "every 10s");
}

#[test]
fn check_reads_the_config_from_campanile_config() {
    let out = Command::new(bin("clock"))
        .args(["check", "--after", "2026-11-23T10:00:00Z"])
        .env("CAMPANILE_CONFIG", EXAMPLE)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("3 jobs"));
}

#[test]
fn check_reports_all_errors_exits_2_and_never_touches_redis() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.toml");
    std::fs::write(&path, "[jobs.a]\ncron = \"61 * * * *\"\ncommand = \"x\"\n[jobs.b]\nevery = \"5x\"\n")
        .unwrap();
    let connections_before = connections_received(&redis);
    let out = Command::new(bin("clock"))
        .args(["check", "--config"])
        .arg(&path)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    let p = path.display();
    assert_eq!(
        stderr(&out),
        format!(
            "{p}:2:8: job \"a\": field \"cron\": minute: 61 is out of range 0-59\n\
             {p}:4:7: job \"b\": field \"command\": missing: every job needs a command to run\n\
             {p}:5:9: job \"b\": field \"every\": \"5x\" is not a duration (expected e.g. 30s, 5m, 1h30m, 2d)\n\
             error: {p} has 3 errors\n"
        )
    );
    assert_eq!(connections_received(&redis), connections_before + 1, "only this test's own probe connected");
}

#[test]
fn check_refuses_a_push_off_the_tick_states_cluster_slot_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.toml");
    std::fs::write(
        &path,
        "[redis]\nurl = \"redis+cluster://10.0.0.1:7000\"\n[jobs.s]\nevery = \"1m\"\nformat = \"sidekiq\"\nclass = \"R\"\n\
         [jobs.c]\nevery = \"1m\"\nformat = \"celery\"\ntask = \"t\"\n\
         [jobs.r]\nevery = \"1m\"\nformat = \"rq\"\nfunction = \"m.f\"\n\
         [jobs.b]\nevery = \"1m\"\nformat = \"bullmq\"\nname = \"n\"\n",
    )
    .unwrap();
    let out = Command::new(bin("clock")).args(["check", "--config"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let p = path.display();
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "{p}:5:10: job \"s\": field \"format\": Sidekiq's keys hash to other Redis Cluster slots"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "\n{p}:9:10: job \"c\": field \"format\": Celery's keys hash to other Redis Cluster slots"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "\n{p}:13:10: job \"r\": field \"format\": RQ's keys hash to other Redis Cluster slots"
        )),
        "{err}"
    );
    // BullMQ runs on a cluster itself; the push still could not be atomic.
    assert!(
        err.contains(&format!(
            "\n{p}:17:10: job \"b\": field \"format\": BullMQ's keys hash to other Redis Cluster slots than \
             the job's tick state, so the push could not be exactly-once; use a single Redis or Sentinel\n"
        )),
        "{err}"
    );
    assert!(err.ends_with(&format!("error: {p} has 4 errors\n")), "{err}");
}

fn connections_received(redis: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(&mut redis.connection()).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[test]
fn check_of_a_missing_file_exits_2() {
    let out = clock(&["check", "--config", "/nonexistent/clock.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: cannot read /nonexistent/clock.toml: "), "{}", stderr(&out));
}

#[test]
fn every_binary_and_subcommand_has_help_and_version() {
    for args in [&["--help"][..], &["check", "--help"], &["next", "--help"]] {
        let out = clock(args);
        assert!(out.status.success(), "{args:?}");
        assert!(stdout(&out).contains("Usage: clock"), "{args:?}");
    }
    assert_eq!(stdout(&clock(&["--version"])), format!("clock {}\n", env!("CARGO_PKG_VERSION")));
    let worker = Command::new(bin("worker")).arg("--help").output().unwrap();
    assert!(worker.status.success());
    assert!(String::from_utf8_lossy(&worker.stdout).contains("Usage: worker"));
    let version = Command::new(bin("worker")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout), format!("worker {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn check_shows_where_jobs_of_other_formats_push() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.toml");
    std::fs::write(
        &path,
        r#"
[jobs.own]
every = "1h"
command = "x"
[jobs.nightly]
every = "1h"
format = "sidekiq"
class = "NightlyReportJob"
namespace = "app"
[jobs.ping]
every = "1h"
format = "json"
list = "my-app:jobs"
args = []
[jobs.task]
every = "1h"
format = "celery"
task = "reports.run"
[jobs.rq]
every = "1h"
format = "rq"
function = "reports.run"
[jobs.zbull]
every = "1h"
format = "bullmq"
name = "report"
"#,
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let out = clock(&["check", "--config", path, "--after", "2026-11-23T10:00:00Z"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<Vec<String>> = stdout(&out)
        .lines()
        .skip(3)
        .map(|l| l.split("  ").filter(|c| !c.is_empty()).map(|c| c.trim().to_owned()).collect())
        .collect();
    let queues: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
    assert_eq!(
        queues,
        [
            "default (sidekiq)",
            "default",
            "my-app:jobs (json)",
            "default (rq)",
            "celery (celery)",
            "default (bullmq)"
        ]
    );
    let out = clock(&["check", "--config", path, "--after", "2026-11-23T10:00:00Z", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (&v["jobs"][0]["format"], &v["jobs"][0]["list"]),
        (&"sidekiq".into(), &"app:queue:default".into())
    );
    assert!(v["jobs"][1].get("format").is_none());
    assert_eq!((&v["jobs"][2]["format"], &v["jobs"][2]["list"]), (&"json".into(), &"my-app:jobs".into()));
    assert_eq!((&v["jobs"][4]["format"], &v["jobs"][4]["list"]), (&"celery".into(), &"celery".into()));
    assert_eq!((&v["jobs"][3]["format"], &v["jobs"][3]["list"]), (&"rq".into(), &"rq:queue:default".into()));
    assert_eq!(
        (&v["jobs"][5]["format"], &v["jobs"][5]["list"]),
        (&"bullmq".into(), &"bull:default:wait".into())
    );
}

#[test]
fn next_refuses_an_offset_not_shorter_than_the_interval_as_check_does() {
    let out = clock(&["next", "--every", "1m", "--offset", "2m"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "error: --offset: offset 2m must be shorter than the interval 1m\n");
}

#[test]
fn next_never_prints_an_instant_past_year_9999() {
    let out = clock(&["next", "--every", "1h", "--after", "9999-12-31T22:30:00Z", "-n", "3", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "[\"9999-12-31T23:00:00Z\"]\n");
    let out = clock(&["next", "--cron", "0 0 * * *", "--after", "9999-12-30T00:00:00Z", "-n", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("10000"), "{}", stdout(&out));
}

#[test]
fn help_starts_by_describing_the_binary() {
    let worker = Command::new(bin("worker")).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&worker.stdout);
    assert!(text.starts_with("campanile's worker: takes job payloads"), "{text}");
    let text = stdout(&clock(&["--help"]));
    assert!(text.starts_with("campanile's clock: enqueues"), "{text}");
}

#[test]
fn metrics_addr_is_offered_only_where_it_is_used() {
    for command in ["run", "dev"] {
        assert!(stdout(&clock(&[command, "--help"])).contains("--metrics-addr"), "{command}");
    }
    for command in ["check", "status", "history", "dead", "purge-dead", "web", "next", "plan"] {
        assert!(!stdout(&clock(&[command, "--help"])).contains("--metrics-addr"), "{command}");
    }
    assert_eq!(clock(&["check", "--metrics-addr", "127.0.0.1:9090"]).status.code(), Some(2));
}

#[test]
fn reconnect_backoff_is_what_the_docs_say() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, "[jobs.tick]\nevery = \"1s\"\ncommand = \"true\"\n").unwrap();
    let log = dir.path().join("clock.log");
    let dead_port = common::free_port();
    let clock = Command::new(bin("clock"))
        .arg("--config")
        .arg(&config)
        .env("REDIS_URL", format!("redis://127.0.0.1:{dead_port}"))
        .env("CAMPANILE_LOG_FORMAT", "json")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let retries = || -> Vec<u64> {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["fields"]["retry_in_ms"].as_u64().or_else(|| v["retry_in_ms"].as_u64()))
            .collect()
    };
    let seen = common::poll_until(std::time::Duration::from_secs(20), || retries().len() >= 3);
    common::stop(clock);
    assert!(seen, "{}", std::fs::read_to_string(&log).unwrap());
    assert_eq!(retries()[..3], [250, 500, 1000]);
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/clock.md")).unwrap();
    assert!(docs.contains("250 ms doubling to 5 s"));
}
