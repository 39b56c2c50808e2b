//! Jobs of every enqueue format against a real (private) redis-server:
//! what lands on each tool's list, field by field, and that each tick lands
//! there exactly once, through `Ticker`s driven instant by instant and
//! through two real `clock` processes handing over leadership.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use campanile::clock::{Fired, Ticker};
use campanile::config::QueueName;
use chrono::DateTime;
use common::tickers::{at, clock_at, config, run_until, store};
use common::{RedisServer, bin, clock_json, leader_pid, spawn_clock, wait_until};
use serde_json::{Value, json};

fn lrange(server: &RedisServer, key: &str) -> Vec<String> {
    redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(&mut server.connection()).unwrap()
}

fn smembers(server: &RedisServer, key: &str) -> BTreeSet<String> {
    redis::cmd("SMEMBERS").arg(key).query(&mut server.connection()).unwrap()
}

fn exists(server: &RedisServer, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query::<i64>(&mut server.connection()).unwrap() == 1
}

fn parse(raw: &[String]) -> Vec<Value> {
    raw.iter().map(|r| serde_json::from_str(r).unwrap_or_else(|e| panic!("{e}: {r}"))).collect()
}

/// What a Sidekiq job hash must hold.
struct Expected<'a> {
    class: &'a str,
    queue: &'a str,
    args: Value,
    retry: Value,
    /// Sidekiq 8's integer epoch milliseconds, rather than float seconds.
    millis: bool,
}

impl Expected<'_> {
    /// Checks that `job` has exactly the fields Sidekiq reads, with these
    /// values; returns its `created_at` in Unix seconds.
    fn check(&self, job: &Value) -> f64 {
        let fields: BTreeSet<&str> = job.as_object().unwrap().keys().map(String::as_str).collect();
        let want = BTreeSet::from(["args", "class", "created_at", "enqueued_at", "jid", "queue", "retry"]);
        assert_eq!(fields, want, "{job}");
        assert_eq!((&job["class"], &job["queue"]), (&json!(self.class), &json!(self.queue)), "{job}");
        assert_eq!((&job["args"], &job["retry"]), (&self.args, &self.retry), "{job}");
        let jid = job["jid"].as_str().unwrap();
        assert!(jid.len() == 24 && jid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{job}");
        let seconds = |k: &str| {
            if self.millis {
                job[k].as_i64().unwrap_or_else(|| panic!("{k} is not an integer: {job}")) as f64 / 1000.0
            } else {
                assert!(job[k].to_string().contains('.'), "{k} is not a float: {job}");
                job[k].as_f64().unwrap()
            }
        };
        let (created, enqueued) = (seconds("created_at"), seconds("enqueued_at"));
        assert!(enqueued >= created && enqueued < created + 120.0, "{job}");
        created
    }

    /// [`Expected::check`] for a scheduled job, whose `created_at` is its
    /// tick: whole seconds.
    fn tick(&self, job: &Value) -> i64 {
        let created = self.check(job);
        assert_eq!(created.fract(), 0.0, "created_at is the tick, whole seconds: {job}");
        created as i64
    }
}

/// A job of each format, every minute (`overlap = "allow"` for the
/// campanile one: no worker runs).
const EVERY_MINUTE: &str = r#"
[jobs.own]
every = "1m"
command = "true"
overlap = "allow"

[jobs.nightly]
every = "1m"
format = "sidekiq"
class = "NightlyReportJob"
args = ["pdf", 3]

[jobs.namespaced]
every = "1m"
format = "sidekiq"
class = "Reports::Hourly"
queue = "reports"
namespace = "app"
timestamps = "milliseconds"
retry = 2

[jobs.archive]
every = "1m"
format = "resque"
class = "Archive"
queue = "archive"
args = [{ days = 30 }]

[jobs.ping]
every = "1m"
format = "json"
list = "my-app:jobs"
args = { kind = "ping" }
"#;

/// The Sidekiq jobs of [`EVERY_MINUTE`].
fn nightly() -> Expected<'static> {
    let (args, retry) = (json!(["pdf", 3]), json!(true));
    Expected { class: "NightlyReportJob", queue: "default", args, retry, millis: false }
}

fn namespaced() -> Expected<'static> {
    Expected { class: "Reports::Hourly", queue: "reports", args: json!([]), retry: json!(2), millis: true }
}

/// The ticks (`HH:MM`) of the Sidekiq jobs on `key`, oldest first, each
/// checked against `expected`.
fn sidekiq_ticks(server: &RedisServer, key: &str, expected: &Expected) -> Vec<String> {
    let jobs = parse(&lrange(server, key));
    let minute = |tick| DateTime::from_timestamp(tick, 0).unwrap().format("%H:%M").to_string();
    jobs.iter().rev().map(|j| minute(expected.tick(j))).collect()
}

#[tokio::test]
async fn every_format_pushes_each_tick_once_across_clocks_and_terms() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(EVERY_MINUTE);
    // Clock A and a twin with the same term (two processes that both think
    // they lead) register the jobs at 10:00:30; A pushes 10:01 to 10:03.
    let start = at("2026-11-23T10:00:30Z");
    let term = store.next_term().await.unwrap();
    let mut a = Ticker::start(cfg.clone(), store.clone(), term, start).await.unwrap();
    let mut twin = Ticker::start(cfg.clone(), store.clone(), term, start).await.unwrap();
    for ticker in [&mut a, &mut twin] {
        assert_eq!(ticker.fire_due(start).await.unwrap(), Fired::default());
    }
    assert_eq!(run_until(&mut a, at("2026-11-23T10:03:00Z")).await.pushed, 3 * 5);
    // The twin, with stale state, tries the same ticks: each is a duplicate.
    let fired = run_until(&mut twin, at("2026-11-23T10:03:00Z")).await;
    assert_eq!((fired.pushed, fired.duplicate), (0, 3 * 5));
    // Clock B leads with a newer term: A is refused, B pushes on.
    let (mut b, fired) = clock_at(&cfg, &store, at("2026-11-23T10:03:30Z")).await;
    assert_eq!(fired.pushed, 0);
    assert!(matches!(a.fire_due(at("2026-11-23T10:04:00Z")).await, Err(campanile::store::Error::Fenced)));
    assert_eq!(run_until(&mut b, at("2026-11-23T10:05:00Z")).await.pushed, 2 * 5);

    let minutes = ["10:01", "10:02", "10:03", "10:04", "10:05"];
    assert_eq!(sidekiq_ticks(&server, "queue:default", &nightly()), minutes);
    assert_eq!(sidekiq_ticks(&server, "app:queue:reports", &namespaced()), minutes);
    let jids: BTreeSet<String> = parse(&lrange(&server, "queue:default"))
        .iter()
        .chain(&parse(&lrange(&server, "app:queue:reports")))
        .map(|j| j["jid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(jids.len(), 10);
    assert_eq!(smembers(&server, "queues"), BTreeSet::from(["default".to_owned()]));
    assert_eq!(smembers(&server, "app:queues"), BTreeSet::from(["reports".to_owned()]));

    assert_eq!(
        lrange(&server, "resque:queue:archive"),
        vec![r#"{"class":"Archive","args":[{"days":30}]}"#; 5]
    );
    assert_eq!(smembers(&server, "resque:queues"), BTreeSet::from(["archive".to_owned()]));
    assert_eq!(lrange(&server, "my-app:jobs"), vec![r#"{"kind":"ping"}"#; 5]);

    // campanile's pending lists hold only the campanile job's payloads.
    let pending = parse(&lrange(&server, "campanile:{default}:pending"));
    assert_eq!(pending.len(), 5);
    assert!(pending.iter().all(|p| p["job"] == "own"), "{pending:?}");
    assert!(!exists(&server, "campanile:{archive}:pending"));
    assert!(!exists(&server, "campanile:{reports}:pending"));
}

#[tokio::test]
async fn pause_and_catch_up_apply_to_foreign_jobs_unchanged() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(
        r#"
[jobs.all]
every = "1m"
format = "resque"
class = "A"
catch_up = "all"
[jobs.latest]
every = "1m"
format = "sidekiq"
class = "B"
"#,
    );
    let b = Expected { class: "B", queue: "default", args: json!([]), retry: json!(true), millis: false };
    clock_at(&cfg, &store, at("2026-11-23T10:00:30Z")).await;
    // Ten minutes without a clock: "all" pushes every missed tick, "latest"
    // only the newest missed one (10:09), and both the late 10:10.
    let (mut ticker, fired) = clock_at(&cfg, &store, at("2026-11-23T10:10:30Z")).await;
    assert_eq!((fired.pushed, fired.missed), (10 + 2, 8));
    assert_eq!(lrange(&server, "resque:queue:default").len(), 10);
    assert_eq!(sidekiq_ticks(&server, "queue:default", &b), ["10:09", "10:10"]);
    // Paused, a tick is recorded but not pushed.
    let default = QueueName::new("default").unwrap();
    assert!(store.pause(&default, "latest", "2026-11-23T10:10:40Z").await.unwrap());
    let fired = ticker.fire_due(at("2026-11-23T10:11:00Z")).await.unwrap();
    assert_eq!((fired.pushed, fired.paused), (1, 1));
    assert_eq!(sidekiq_ticks(&server, "queue:default", &b), ["10:09", "10:10"]);
    assert!(store.resume(&default, "latest").await.unwrap());
    ticker.fire_due(at("2026-11-23T10:12:00Z")).await.unwrap();
    assert_eq!(sidekiq_ticks(&server, "queue:default", &b), ["10:09", "10:10", "10:12"]);
    assert_eq!(lrange(&server, "resque:queue:default").len(), 12);
}

// ---------------------------------------------------------------------------
// Real clock processes

/// The list each job of [`EVERY_MINUTE`] pushes to.
const LISTS: &[(&str, &str)] = &[
    ("own", "campanile:{default}:pending"),
    ("nightly", "queue:default"),
    ("namespaced", "app:queue:reports"),
    ("archive", "resque:queue:archive"),
    ("ping", "my-app:jobs"),
];

/// The ticks (Unix seconds) each job's "tick enqueued" lines in a JSON log
/// report, in log order.
fn logged_pushes(log: &Path) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap().lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
        let fields = &event["fields"];
        if fields["message"] != "tick enqueued" {
            continue;
        }
        let tick = DateTime::parse_from_rfc3339(fields["tick"].as_str().unwrap()).unwrap().timestamp();
        out.entry(fields["job"].as_str().unwrap().to_owned()).or_default().push(tick);
    }
    out
}

fn list_len(redis: &RedisServer, key: &str) -> usize {
    redis::cmd("LLEN").arg(key).query(&mut redis.connection()).unwrap()
}

fn all_lists_reach(redis: &RedisServer, n: usize) -> bool {
    LISTS.iter().all(|(_, key)| list_len(redis, key) >= n)
}

/// SIGTERMs a clock and asserts it exits 0.
fn stop(mut clock: Child, name: &str) {
    common::send_signal(clock.id(), libc::SIGTERM).unwrap();
    let status = clock.wait().unwrap();
    assert!(status.success(), "{name} exited with {status}");
}

#[test]
fn two_clock_processes_push_each_tick_of_every_format_exactly_once() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, EVERY_MINUTE.replace(r#"every = "1m""#, r#"every = "1s""#)).unwrap();
    let logs: Vec<PathBuf> = ["a.log", "b.log"].iter().map(|n| dir.path().join(n)).collect();

    let a = spawn_clock(&redis, &config, &logs[0]);
    wait_until("clock a to lead", Duration::from_secs(10), || leader_pid(&redis) == Some(a.id()));
    wait_until("two ticks of every job", Duration::from_secs(10), || all_lists_reach(&redis, 2));
    let b = spawn_clock(&redis, &config, &logs[1]);
    // B is a standby until A hands over with SIGTERM.
    stop(a, "clock a");
    let after_a = LISTS.iter().map(|(_, key)| list_len(&redis, key)).min().unwrap();
    wait_until("clock b to lead", Duration::from_secs(10), || leader_pid(&redis) == Some(b.id()));
    wait_until("three more ticks of every job", Duration::from_secs(10), || {
        all_lists_reach(&redis, after_a + 3)
    });
    stop(b, "clock b");

    let (by_a, by_b) = (logged_pushes(&logs[0]), logged_pushes(&logs[1]));
    for (job, key) in LISTS {
        let ticks: Vec<i64> = by_a.get(*job).into_iter().chain(by_b.get(*job)).flatten().copied().collect();
        assert!(by_b.get(*job).is_some_and(|t| !t.is_empty()), "{job}: clock b pushed nothing");
        // Pushed once each, no gap: consecutive seconds.
        let first = ticks[0];
        assert_eq!(ticks, (first..first + ticks.len() as i64).collect::<Vec<_>>(), "{job}");
        // Exactly those pushes are on the list, newest first (LPUSH).
        let entries = parse(&lrange(&redis, key));
        assert_eq!(entries.len(), ticks.len(), "{job} on {key}");
        let newest_first: Vec<i64> = ticks.iter().rev().copied().collect();
        let on_list: Vec<i64> = match *job {
            "own" => entries
                .iter()
                .map(|p| {
                    assert_eq!(
                        (&p["job"], &p["queue"], &p["attempt"]),
                        (&json!("own"), &json!("default"), &json!(1))
                    );
                    DateTime::parse_from_rfc3339(p["scheduled_at"].as_str().unwrap()).unwrap().timestamp()
                })
                .collect(),
            "nightly" => entries.iter().map(|j| nightly().tick(j)).collect(),
            "namespaced" => entries.iter().map(|j| namespaced().tick(j)).collect(),
            "archive" => {
                // Identical entries: the count above is what can be checked.
                assert!(entries.iter().all(|j| *j == json!({"class": "Archive", "args": [{"days": 30}]})));
                newest_first.clone()
            }
            _ => {
                assert!(entries.iter().all(|j| *j == json!({"kind": "ping"})));
                newest_first.clone()
            }
        };
        assert_eq!(on_list, newest_first, "{job}: the list's ticks");
    }
    assert_eq!(smembers(&redis, "queues"), BTreeSet::from(["default".to_owned()]));
    assert_eq!(smembers(&redis, "app:queues"), BTreeSet::from(["reports".to_owned()]));
    assert_eq!(smembers(&redis, "resque:queues"), BTreeSet::from(["archive".to_owned()]));
    assert!(!exists(&redis, "campanile:{archive}:pending"));
    assert!(!exists(&redis, "campanile:{reports}:pending"));
}

#[test]
fn trigger_pushes_in_the_jobs_format() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, EVERY_MINUTE).unwrap();
    let trigger = |job: &str, extra: &[&str]| {
        clock_json(&redis, &config, &[&["trigger", job, "--json"], extra].concat())
    };
    let out = trigger("nightly", &["--args", "[\"csv\"]"]);
    let jobs = parse(&lrange(&redis, "queue:default"));
    assert_eq!(jobs.len(), 1);
    Expected { args: json!(["csv"]), ..nightly() }.check(&jobs[0]);
    assert_eq!(out["id"], jobs[0]["jid"]);
    assert_eq!(smembers(&redis, "queues"), BTreeSet::from(["default".to_owned()]));
    trigger("archive", &[]);
    trigger("archive", &["--args", "[2]"]);
    // Resque pushes on the right: the first trigger is taken first.
    assert_eq!(
        lrange(&redis, "resque:queue:archive"),
        [r#"{"class":"Archive","args":[{"days":30}]}"#, r#"{"class":"Archive","args":[2]}"#]
    );
    trigger("ping", &[]);
    assert_eq!(lrange(&redis, "my-app:jobs"), [r#"{"kind":"ping"}"#]);
    assert!(!exists(&redis, "campanile:{default}:pending"));
    assert!(!exists(&redis, "campanile:{default}:ticks"));
}

// ---------------------------------------------------------------------------
// Golden payloads: the exact bytes one tick pushes, per format

/// Pushes the one tick 2026-11-23T08:00:00Z of the only job in `toml` and
/// returns what landed on `list`.
async fn one_tick(toml: &str, list: &str) -> Vec<String> {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(toml);
    let (mut ticker, _) = clock_at(&cfg, &store, at("2026-11-23T07:59:30Z")).await;
    assert_eq!(ticker.fire_due(at("2026-11-23T08:00:00Z")).await.unwrap().pushed, 1);
    lrange(&server, list)
}

#[tokio::test]
async fn a_celery_tick_pushes_exactly_this_kombu_message() {
    let pushed = one_tick(
        r#"
[jobs.nightly-report]
every = "1h"
format = "celery"
task = "reports.nightly"
args = ["pdf", 9007199254740993, "Zürich ☃"]
kwargs = { pages = 3 }
"#,
        "celery",
    )
    .await;
    // The body is base64 of the UTF-8 JSON
    // [["pdf",9007199254740993,"Zürich ☃"],{"pages":3},{"callbacks":null,…}];
    // the task id and delivery tag are derived from job and tick.
    assert_eq!(
        pushed,
        [concat!(
            r#"{"body":"W1sicGRmIiw5MDA3MTk5MjU0NzQwOTkzLCJaw7xyaWNoIOKYgyJdLHsicGFnZXMiOjN9LHsiY2FsbGJhY2tzIjpudWxsLCJlcnJiYWNrcyI6bnVsbCwiY2hhaW4iOm51bGwsImNob3JkIjpudWxsfV0=","#,
            r#""content-encoding":"utf-8","content-type":"application/json","#,
            r#""headers":{"lang":"py","task":"reports.nightly","id":"d1423bc0-11c6-4265-bfde-369c39d5709d","shadow":null,"eta":null,"#,
            r#""expires":null,"group":null,"group_index":null,"retries":0,"timelimit":[null,null],"#,
            r#""root_id":"d1423bc0-11c6-4265-bfde-369c39d5709d","parent_id":null,"argsrepr":"[\"pdf\",9007199254740993,\"Zürich ☃\"]","#,
            r#""kwargsrepr":"{\"pages\":3}","origin":"campanile","ignore_result":false,"#,
            r#""replaced_task_nesting":0,"stamped_headers":null,"stamps":{}},"#,
            r#""properties":{"correlation_id":"d1423bc0-11c6-4265-bfde-369c39d5709d","delivery_mode":2,"#,
            r#""delivery_info":{"exchange":"","routing_key":"celery"},"priority":0,"#,
            r#""body_encoding":"base64","delivery_tag":"0bf0eb68-af7b-4d7c-868d-16f5d90c4de6"}}"#
        )]
    );
}

#[test]
fn trigger_pushes_a_celery_task_with_the_given_args() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, "[jobs.report]\nevery = \"1h\"\nformat = \"celery\"\ntask = \"reports.run\"\n")
        .unwrap();
    let out = Command::new(bin("clock"))
        .args(["trigger", "report", "--json", "--args", "[\"csv\"]", "--config"])
        .arg(&config)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages = parse(&lrange(&redis, "celery"));
    assert_eq!(messages.len(), 1);
    let headers = &messages[0]["headers"];
    assert_eq!((&headers["task"], &headers["id"]), (&json!("reports.run"), &out["id"]));
    assert_eq!(headers["argsrepr"], r#"["csv"]"#);
    assert!(!exists(&redis, "campanile:{celery}:ticks"));
}

#[tokio::test]
async fn an_rq_tick_writes_exactly_this_job_hash_and_queues_its_id() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(
        r#"
[jobs.nightly-report]
every = "1h"
format = "rq"
function = "reports.nightly"
args = ["pdf", 9007199254740993, "Zürich ☃"]
kwargs = { pages = 3 }
"#,
    );
    let (mut ticker, _) = clock_at(&cfg, &store, at("2026-11-23T07:59:30Z")).await;
    assert_eq!(ticker.fire_due(at("2026-11-23T08:00:00Z")).await.unwrap().pushed, 1);
    let id = "83980413-161a-43cc-a32f-6ebb248d4245";
    assert_eq!(lrange(&server, "rq:queue:default"), [id]);
    assert_eq!(smembers(&server, "rq:queues"), BTreeSet::from(["rq:queue:default".to_owned()]));
    let hash: Vec<(String, Vec<u8>)> =
        redis::cmd("HGETALL").arg(format!("rq:job:{id}")).query(&mut server.connection()).unwrap();
    // Every field as text, but the pickled `data` as hex.
    let fields: BTreeMap<String, String> = hash
        .into_iter()
        .map(|(k, v)| {
            let shown = match k.as_str() {
                "data" => v.iter().map(|b| format!("{b:02x}")).collect(),
                _ => String::from_utf8(v).unwrap(),
            };
            (k, shown)
        })
        .collect();
    let expected = [
        ("created_at", "2026-11-23T08:00:00.000000Z"),
        // pickle protocol 3 of ("reports.nightly", None,
        // ["pdf", 9007199254740993, "Zürich ☃"], {"pages": 3})
        (
            "data",
            "800328580f0000007265706f7274732e6e696768746c794e5d2858030000007064668a080100000000002000580b0000005ac3bc7269636820e29883657d28580500000070616765734a0300000075742e",
        ),
        ("description", r#"reports.nightly("pdf", 9007199254740993, "Zürich ☃", pages=3)"#),
        ("ended_at", ""),
        ("enqueued_at", "2026-11-23T08:00:00.000000Z"),
        ("failure_callback_name", ""),
        ("group_id", ""),
        ("last_heartbeat", ""),
        ("origin", "default"),
        ("started_at", ""),
        ("status", "queued"),
        ("stopped_callback_name", ""),
        ("success_callback_name", ""),
        ("timeout", "180"),
        ("worker_name", ""),
    ];
    assert_eq!(fields, expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
}

#[test]
fn trigger_writes_an_rq_job_hash_and_queues_its_id() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    let toml = "[jobs.report]\nevery = \"1h\"\nformat = \"rq\"\nfunction = \"reports.run\"\nqueue = \"low\"\n\
                job_timeout = \"10m\"\n";
    std::fs::write(&config, toml).unwrap();
    let out = Command::new(bin("clock"))
        .args(["trigger", "report", "--json", "--args", "[\"csv\"]", "--config"])
        .arg(&config)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = out["id"].as_str().unwrap();
    assert_eq!(lrange(&redis, "rq:queue:low"), [id]);
    assert_eq!(smembers(&redis, "rq:queues"), BTreeSet::from(["rq:queue:low".to_owned()]));
    let hash: BTreeMap<String, Vec<u8>> =
        redis::cmd("HGETALL").arg(format!("rq:job:{id}")).query(&mut redis.connection()).unwrap();
    assert_eq!(hash["origin"], b"low");
    assert_eq!(hash["timeout"], b"600");
    assert_eq!(hash["description"], br#"reports.run("csv")"#);
    assert_eq!(hash["data"][..2], [0x80, 3], "a protocol 3 pickle");
    assert!(!exists(&redis, "campanile:{low}:ticks"));
    // `clock status` counts RQ's queue.
    let status = Command::new(bin("clock"))
        .args(["status", "--json", "--config"])
        .arg(&config)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["tool_queues"], json!([{"list": "rq:queue:low", "format": "rq", "waiting": 1}]));
}
