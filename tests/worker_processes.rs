//! The worker as a real process against a real (private) Redis: the job's
//! environment and stdin, recovery after a SIGKILL, timeouts that take down
//! a whole process group, retries with backoff and dead letters, payloads
//! that must never run, a SIGTERM during a long job, clock and worker
//! together running every tick exactly once, and a payload a take moved
//! without the worker learning of it.
//!
//! Everything happens in real time, so the tests wait for events by polling
//! Redis or files against generous deadlines (the machine may be small and
//! busy with other tests), and sleep only where the scenario itself is
//! "time passes".

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::RedisServer;
use common::procs::{GroupReaper, Proc, process_alive, read_pid, sh_path, wait_for, write_config};
use serde_json::Value;

const PENDING: &str = "campanile:{default}:pending";
const RETRY: &str = "campanile:{default}:retry";
const DEAD: &str = "campanile:{default}:dead";
const WORKERS: &str = "campanile:{default}:workers";
/// Every worker's in-progress list on the default queue.
const IN_PROGRESS_PATTERN: &str = "campanile:{default}:worker:*";
/// A tick used for hand-made payloads.
const TICK: &str = "2026-11-23T08:00:00Z";

// ---------------------------------------------------------------------------
// Files, config, payloads

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// A payload in exactly the form the clock writes (field order, timestamp
/// formats, compact JSON), so a worker's re-serialisation of it (for a
/// retry) is predictable byte for byte.
fn payload(job: &str, tick: &str, attempt: u32, args_json: &str) -> String {
    let enqueued = tick.replace('Z', ".000Z");
    format!(
        r#"{{"id":"{job}@{tick}","job":"{job}","queue":"default","scheduled_at":"{tick}","enqueued_at":"{enqueued}","attempt":{attempt},"args":{args_json}}}"#
    )
}

// ---------------------------------------------------------------------------
// Redis

fn lrange(con: &mut redis::Connection, key: &str) -> Vec<String> {
    redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(con).expect("LRANGE")
}

fn lpush(con: &mut redis::Connection, key: &str, value: &str) {
    let _: i64 = redis::cmd("LPUSH").arg(key).arg(value).query(con).expect("LPUSH");
}

fn keys(con: &mut redis::Connection, pattern: &str) -> Vec<String> {
    redis::cmd("KEYS").arg(pattern).query(con).expect("KEYS")
}

fn zcard(con: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("ZCARD").arg(key).query(con).expect("ZCARD")
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"))
}

/// A job's history, oldest first.
fn history(con: &mut redis::Connection, job: &str) -> Vec<Value> {
    let mut entries: Vec<Value> =
        lrange(con, &format!("campanile:{{default}}:history:{job}")).iter().map(|e| parse(e)).collect();
    entries.reverse();
    entries
}

/// The dead letters, oldest first.
fn dead_letters(con: &mut redis::Connection) -> Vec<Value> {
    let mut letters: Vec<Value> = lrange(con, DEAD).iter().map(|e| parse(e)).collect();
    letters.reverse();
    letters
}

/// Everything the worker keeps about a queue, for failure messages.
fn redis_dump(con: &mut redis::Connection) -> String {
    let mut out = String::from("--- redis ---\n");
    let mut all = keys(con, "*");
    all.sort();
    for key in all {
        let kind: String = redis::cmd("TYPE").arg(&key).query(con).unwrap_or_default();
        let value = match kind.as_str() {
            "list" => format!("{:?}", lrange(con, &key)),
            "zset" => {
                let v: Vec<String> = redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(con)
                    .unwrap_or_default();
                format!("{v:?}")
            }
            "set" => {
                let v: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query(con).unwrap_or_default();
                format!("{v:?}")
            }
            "hash" => {
                let v: BTreeMap<String, String> =
                    redis::cmd("HGETALL").arg(&key).query(con).unwrap_or_default();
                format!("{v:?}")
            }
            "string" => {
                let v: String = redis::cmd("GET").arg(&key).query(con).unwrap_or_default();
                format!("{v:?}")
            }
            other => format!("<{other}>"),
        };
        out.push_str(&format!("{key} ({kind}): {value}\n"));
    }
    out
}

fn millis(entry: &Value, field: &str) -> i64 {
    let text = entry[field].as_str().unwrap_or_else(|| panic!("{field} missing in {entry}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{field} {text:?}: {e}")).timestamp_millis()
}

/// Asserts nothing is left waiting, running or scheduled for retry.
fn assert_queue_drained(con: &mut redis::Connection, diag: &dyn Fn() -> String) {
    assert_eq!(lrange(con, PENDING), Vec::<String>::new(), "pending list not empty\n{}", diag());
    assert_eq!(keys(con, IN_PROGRESS_PATTERN), Vec::<String>::new(), "in-progress lists left\n{}", diag());
    assert_eq!(zcard(con, RETRY), 0, "retries left\n{}", diag());
}

// ---------------------------------------------------------------------------
// 1. Environment and stdin

#[test]
fn job_runs_once_with_the_documented_environment_and_stdin() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (env_out, args_env, stdin_out, runs) =
        (d.join("env.txt"), d.join("args-env.json"), d.join("stdin.json"), d.join("runs.txt"));
    let command = format!(
        "echo run >> {runs}; \
         printf '%s\\n' \"$CAMPANILE_JOB\" \"$CAMPANILE_JOB_ID\" \"$CAMPANILE_SCHEDULED_AT\" \"$CAMPANILE_ATTEMPT\" \
         \"$CAMPANILE_QUEUE\" \"$GREETING\" \"$OTHER\" > {env}; \
         printf '%s' \"$CAMPANILE_ARGS\" > {args}; \
         cat > {stdin}; \
         echo to-stdout; echo to-stderr >&2",
        runs = sh_path(&runs),
        env = sh_path(&env_out),
        args = sh_path(&args_env),
        stdin = sh_path(&stdin_out),
    );
    let config = write_config(
        d,
        &format!(
            "[jobs.envjob]\nevery = \"1h\"\nretries = 0\ncommand = '''{command}'''\n\
             env = {{ GREETING = \"hello world\", OTHER = \"a'b\\\"c $HOME\" }}\n"
        ),
    );
    // Compact and with sorted keys: the form serde_json writes back, so the
    // text the job receives can be compared byte for byte.
    let pwned_abs = d.join("pwned-abs");
    let args_value = serde_json::json!({
        "empty": {},
        "flag": true,
        "list": [1, -2, 1.5, null, "x", [], {"deep": {"deeper": ["$HOME", "`touch pwned-bt`"]}}],
        "none": null,
        "shell": format!("$(touch pwned) `touch pwned-bt` \"; touch pwned; echo \" '; touch pwned; ' \\ $HOME ${{PATH}} $(touch {})", pwned_abs.display()),
        "text": "line1\nline2\ttab \u{1} \u{e9}\u{1F514} </script>",
    });
    let args_json = serde_json::to_string(&args_value).unwrap();
    let raw = payload("envjob", TICK, 1, &args_json);
    lpush(&mut con, PENDING, &raw);

    let work = d.join("work");
    std::fs::create_dir(&work).unwrap();
    let worker = Proc::worker(&redis, &config, &work, &[], "worker");
    let entry = wait_for(
        "the run's history entry",
        Duration::from_secs(30),
        || history(&mut con, "envjob").into_iter().next(),
        || worker.log_tail(),
    );
    let diag = || format!("{}\n{}", worker.log_tail(), redis_dump(&mut redis.connection()));

    assert_eq!(entry["outcome"], "success", "{entry}\n{}", diag());
    assert_eq!(entry["attempt"], 1, "{entry}");
    assert_eq!(entry["exit_code"], 0, "{entry}");
    assert_eq!(entry["retry"], false, "{entry}");
    assert_eq!(entry["id"], format!("envjob@{TICK}"), "{entry}");
    assert_eq!(entry["job"], "envjob", "{entry}");
    assert_eq!(entry["queue"], "default", "{entry}");
    assert_eq!(entry["scheduled_at"], TICK, "{entry}");
    let output = entry["output"].as_str().unwrap();
    assert!(output.contains("to-stdout\n") && output.contains("to-stderr\n"), "output: {output:?}");

    let env_lines = std::fs::read_to_string(&env_out).expect("the job wrote its environment");
    // `$HOME` in the job's `env` value stays literal: env values are not
    // expanded either.
    assert_eq!(
        env_lines,
        format!("envjob\nenvjob@{TICK}\n{TICK}\n1\ndefault\nhello world\na'b\"c $HOME\n"),
        "environment seen by the job"
    );
    let from_env = std::fs::read_to_string(&args_env).unwrap();
    let from_stdin = std::fs::read_to_string(&stdin_out).unwrap();
    assert_eq!(from_stdin, args_json, "args on stdin, byte for byte");
    assert_eq!(from_env, args_json, "CAMPANILE_ARGS, byte for byte");
    assert_eq!(parse(&from_stdin), args_value);
    assert_eq!(parse(&from_env), args_value);

    for name in ["pwned", "pwned-bt"] {
        assert!(
            !work.join(name).exists(),
            "{name} created in the job's directory: payload text reached a shell"
        );
        assert!(!d.join(name).exists(), "{name} created: payload text reached a shell");
    }
    assert!(!pwned_abs.exists(), "pwned-abs created: payload text reached a shell");

    // Once: give a duplicate run a moment to show up, then check.
    wait_for(
        "the queue to be drained",
        Duration::from_secs(10),
        || {
            let mut con = redis.connection();
            (lrange(&mut con, PENDING).is_empty() && keys(&mut con, IN_PROGRESS_PATTERN).is_empty())
                .then_some(())
        },
        diag,
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(read_lines(&runs), vec!["run"], "the job ran exactly once\n{}", diag());
    assert_eq!(history(&mut con, "envjob").len(), 1, "{}", diag());
    assert_queue_drained(&mut con, &diag);
    assert!(dead_letters(&mut con).is_empty(), "{}", diag());
}

// ---------------------------------------------------------------------------
// 2. SIGKILL mid-job, recovery by another worker

#[test]
fn sigkill_mid_job_then_restart_runs_it_again_with_attempt_2() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = d.join("runs.txt");
    let leader_pid = d.join("leader.pid");
    let _reaper = GroupReaper(vec![leader_pid.clone()]);
    let command = format!(
        "echo $$ > {pid}; echo \"start $CAMPANILE_ATTEMPT\" >> {runs}; sleep 3; echo \"done $CAMPANILE_ATTEMPT\" >> {runs}",
        pid = sh_path(&leader_pid),
        runs = sh_path(&runs),
    );
    let config = write_config(
        d,
        &format!(
            "[jobs.slow]\nevery = \"1h\"\nretries = 1\nretry_delay = \"1s\"\ncommand = '''{command}'''\n"
        ),
    );
    let raw = payload("slow", TICK, 1, "null");
    lpush(&mut con, PENDING, &raw);

    let mut a = Proc::worker(&redis, &config, d, &["--concurrency", "1"], "worker-a");
    wait_for(
        "attempt 1 to start",
        Duration::from_secs(20),
        || read_lines(&runs).contains(&"start 1".to_owned()).then_some(()),
        || a.log_tail(),
    );
    let a_ids: Vec<String> = redis::cmd("SMEMBERS").arg(WORKERS).query(&mut con).unwrap();
    assert_eq!(a_ids.len(), 1, "worker A registered: {a_ids:?}");
    let a_list = format!("campanile:{{default}}:worker:{}", a_ids[0]);
    assert_eq!(lrange(&mut con, &a_list), vec![raw.clone()], "A holds the payload in its in-progress list");
    a.sigkill();
    let killed_at = Instant::now();

    let b = Proc::worker(&redis, &config, d, &["--concurrency", "1"], "worker-b");
    let diag = || format!("{}\n{}\n{}", a.log_tail(), b.log_tail(), redis_dump(&mut redis.connection()));
    // A's lease lapses at most 15 s after its last heartbeat; B's reaper looks
    // every 5 s; then attempt 2 takes 3 s.
    let entry = wait_for(
        "attempt 2 to succeed",
        Duration::from_secs(45),
        || history(&mut redis.connection(), "slow").into_iter().find(|e| e["outcome"] == "success"),
        diag,
    );
    let recovered_after = killed_at.elapsed();
    assert_eq!(entry["attempt"], 2, "{entry}\n{}", diag());
    assert_eq!(entry["exit_code"], 0, "{entry}");
    assert!(recovered_after >= Duration::from_secs(3), "recovered only {recovered_after:?} after the kill");
    let lines = read_lines(&runs);
    assert!(lines.contains(&"done 2".to_owned()), "attempt 2 completed: {lines:?}\n{}", diag());
    assert_eq!(lines.iter().filter(|l| *l == "start 2").count(), 1, "attempt 2 ran once: {lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("start 3")), "no third attempt: {lines:?}");
    // Attempt 1 ran under the killed worker and was never recorded.
    let entries = history(&mut con, "slow");
    assert_eq!(entries.len(), 1, "history: {entries:?}");
    assert!(dead_letters(&mut con).is_empty(), "{}", diag());
    wait_for(
        "B to remove the finished payload from every list",
        Duration::from_secs(5),
        || {
            let mut con = redis.connection();
            (lrange(&mut con, PENDING).is_empty() && keys(&mut con, IN_PROGRESS_PATTERN).is_empty())
                .then_some(())
        },
        diag,
    );
    assert_queue_drained(&mut con, &diag);
    let workers: Vec<String> = redis::cmd("SMEMBERS").arg(WORKERS).query(&mut con).unwrap();
    assert!(!workers.contains(&a_ids[0]), "the lost worker is still registered: {workers:?}\n{}", diag());
}

// ---------------------------------------------------------------------------
// 3. Timeouts

#[test]
fn timeout_kills_the_whole_process_group() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (grandchild_pid, leader_pid) = (d.join("grandchild.pid"), d.join("leader.pid"));
    let _reaper = GroupReaper(vec![leader_pid.clone()]);
    let command = format!(
        "echo $$ > {leader}; sh -c 'echo $$ > {grandchild}; exec sleep 60' & sleep 60",
        leader = sh_path(&leader_pid),
        grandchild = grandchild_pid.to_str().unwrap(),
    );
    let config = write_config(
        d,
        &format!(
            "[jobs.hang]\nevery = \"1h\"\ntimeout = \"2s\"\nretries = 0\ncommand = \"\"\"{command}\"\"\"\n"
        ),
    );
    let raw = payload("hang", TICK, 1, "null");
    lpush(&mut con, PENDING, &raw);

    let worker = Proc::worker(&redis, &config, d, &[], "worker");
    let grandchild = wait_for(
        "the grandchild to start",
        Duration::from_secs(20),
        || read_pid(&grandchild_pid),
        || worker.log_tail(),
    );
    let leader = read_pid(&leader_pid).expect("leader pid written before the grandchild started");
    assert!(process_alive(grandchild), "the grandchild is running");
    let diag = || format!("{}\n{}", worker.log_tail(), redis_dump(&mut redis.connection()));
    let letter = wait_for(
        "the timed-out run's dead letter",
        Duration::from_secs(20),
        || dead_letters(&mut redis.connection()).into_iter().next(),
        diag,
    );
    assert_eq!(letter["reason"], "timed out after 2s", "{letter}");
    assert_eq!(letter["payload"], raw.as_str(), "{letter}");
    assert_eq!(letter["attempts"], 1, "{letter}");
    assert_eq!(letter["job"], "hang", "{letter}");
    assert!(letter["exit_code"].is_null(), "{letter}");

    let entries = history(&mut con, "hang");
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["outcome"], "timed_out", "{entry}");
    assert_eq!(entry["attempt"], 1, "{entry}");
    assert_eq!(entry["retry"], false, "{entry}");
    let ran_ms = entry["duration_ms"].as_i64().unwrap();
    assert!((2000..5000 + 3000).contains(&ran_ms), "ran {ran_ms} ms for a 2 s timeout: {entry}");

    wait_for(
        "the leader and the grandchild to be gone",
        Duration::from_secs(5),
        || (!process_alive(grandchild) && !process_alive(leader)).then_some(()),
        || {
            format!(
                "grandchild {grandchild} alive: {}; leader {leader} alive: {}",
                process_alive(grandchild),
                process_alive(leader)
            )
        },
    );
    assert_queue_drained(&mut con, &diag);
}

// ---------------------------------------------------------------------------
// 4. Retries with backoff, then a dead letter

#[test]
fn failing_command_is_retried_then_dead_lettered() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = write_config(
        d,
        "[jobs.fail]\nevery = \"1h\"\nretries = 2\nretry_delay = \"1s\"\ncommand = \"echo failing $CAMPANILE_ATTEMPT; exit 3\"\n",
    );
    let args = r#"{"n":[1,2],"s":"x"}"#;
    let raw = payload("fail", TICK, 1, args);
    lpush(&mut con, PENDING, &raw);

    let worker = Proc::worker(&redis, &config, d, &[], "worker");
    let diag = || format!("{}\n{}", worker.log_tail(), redis_dump(&mut redis.connection()));
    let letter = wait_for(
        "the dead letter after the last attempt",
        Duration::from_secs(35),
        || dead_letters(&mut redis.connection()).into_iter().next(),
        diag,
    );
    let entries = history(&mut con, "fail");
    assert_eq!(entries.len(), 3, "three attempts: {entries:?}\n{}", diag());
    for (i, entry) in entries.iter().enumerate() {
        let attempt = i as u64 + 1;
        assert_eq!(entry["attempt"], attempt, "{entry}");
        assert_eq!(entry["outcome"], "failed", "{entry}");
        assert_eq!(entry["exit_code"], 3, "{entry}");
        assert_eq!(entry["retry"], attempt < 3, "{entry}");
        assert_eq!(entry["id"], format!("fail@{TICK}"), "{entry}");
        assert_eq!(entry["output"], format!("failing {attempt}\n"), "{entry}");
    }

    assert_eq!(letter["reason"], "exit status 3", "{letter}");
    assert_eq!(letter["attempts"], 3, "{letter}");
    assert_eq!(letter["exit_code"], 3, "{letter}");
    assert_eq!(letter["job"], "fail", "{letter}");
    assert_eq!(letter["queue"], "default", "{letter}");
    let last_raw = payload("fail", TICK, 3, args);
    assert_eq!(
        letter["payload"],
        last_raw.as_str(),
        "the dead letter holds the last attempt's payload exactly"
    );
    assert_eq!(dead_letters(&mut con).len(), 1, "{}", diag());

    // Delays: 1 s × 3^(n-1), plus up to 25 %; promoted within a second.
    let gap = |n: usize| millis(&entries[n], "started_at") - millis(&entries[n - 1], "finished_at");
    let (gap12, gap23) = (gap(1), gap(2));
    assert!(gap12 >= 1000, "attempt 2 started {gap12} ms after attempt 1 ended; the delay is at least 1 s");
    assert!(gap23 >= 3000, "attempt 3 started {gap23} ms after attempt 2 ended; the delay is at least 3 s");
    assert!(gap23 > gap12, "the gaps grow: {gap12} ms then {gap23} ms");
    assert!(gap12 < 1250 + 1000 + 5000, "attempt 2 came {gap12} ms after attempt 1 (expected about 1-2.3 s)");
    assert!(gap23 < 3750 + 1000 + 5000, "attempt 3 came {gap23} ms after attempt 2 (expected about 3-4.8 s)");
    assert_queue_drained(&mut con, &diag);
}

// ---------------------------------------------------------------------------
// 5. Payloads that must never run

#[test]
fn malformed_payload_and_unknown_job_are_dead_lettered_and_the_worker_keeps_serving() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ran = d.join("ran.txt");
    let config = write_config(
        d,
        &format!(
            "[jobs.good]\nevery = \"1h\"\nretries = 0\ncommand = '''echo \"$CAMPANILE_JOB_ID\" >> {}'''\n",
            sh_path(&ran)
        ),
    );
    let not_json = "not json";
    let missing = r#"{"id":"good@2026-11-23T08:00:00Z","job":"good","queue":"default"}"#;
    let unknown = payload("rm-rf", TICK, 1, r#"{"path":"/"}"#);
    let good = payload("good", TICK, 1, "null");
    for raw in [not_json, missing, unknown.as_str(), good.as_str()] {
        lpush(&mut con, PENDING, raw);
    }

    let worker = Proc::worker(&redis, &config, d, &["--concurrency", "1"], "worker");
    let diag = || format!("{}\n{}", worker.log_tail(), redis_dump(&mut redis.connection()));
    let entry = wait_for(
        "the valid payload to run",
        Duration::from_secs(30),
        || history(&mut redis.connection(), "good").into_iter().next(),
        diag,
    );
    assert_eq!(entry["outcome"], "success", "{entry}\n{}", diag());
    assert_eq!(read_lines(&ran), vec![format!("good@{TICK}")]);
    let letters = wait_for(
        "three dead letters",
        Duration::from_secs(10),
        || {
            let letters = dead_letters(&mut redis.connection());
            (letters.len() >= 3).then_some(letters)
        },
        diag,
    );
    assert_eq!(letters.len(), 3, "{letters:?}");
    let by_payload: BTreeMap<&str, &Value> =
        letters.iter().map(|l| (l["payload"].as_str().unwrap(), l)).collect();
    assert_eq!(
        by_payload.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([not_json, missing, unknown.as_str()]),
        "each dead letter holds the payload exactly as pushed: {letters:?}"
    );
    for letter in &letters {
        assert_eq!(letter["attempts"], 0, "never run: {letter}");
        assert!(letter["exit_code"].is_null(), "{letter}");
        assert_eq!(letter["queue"], "default", "{letter}");
    }
    let reason = |raw: &str| by_payload[raw]["reason"].as_str().unwrap().to_owned();
    assert!(reason(not_json).starts_with("malformed payload"), "{}", reason(not_json));
    assert!(
        reason(missing).starts_with("malformed payload") && reason(missing).contains("missing field"),
        "{}",
        reason(missing)
    );
    assert!(
        reason(&unknown).contains("\"rm-rf\"") && reason(&unknown).contains("not defined"),
        "{}",
        reason(&unknown)
    );
    assert_eq!(by_payload[unknown.as_str()]["job"], "rm-rf");
    assert!(by_payload[not_json]["job"].is_null());
    assert!(history(&mut con, "rm-rf").is_empty(), "an unknown job has no history");
    assert_queue_drained(&mut con, &diag);
}

// ---------------------------------------------------------------------------
// 6. SIGTERM during a long job

#[test]
fn sigterm_with_a_long_job_puts_it_back_and_exits_0() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (leader_pid, sleep_pid) = (d.join("leader.pid"), d.join("sleep.pid"));
    let _reaper = GroupReaper(vec![leader_pid.clone()]);
    let command = format!(
        "echo $$ > {leader}; sleep 30 & echo $! > {sleep}; wait",
        leader = sh_path(&leader_pid),
        sleep = sh_path(&sleep_pid),
    );
    let config = write_config(d, &format!("[jobs.long]\nevery = \"1h\"\ncommand = '''{command}'''\n"));
    let raw = payload("long", TICK, 1, r#"{"k":"v"}"#);
    lpush(&mut con, PENDING, &raw);

    let mut worker = Proc::worker(&redis, &config, d, &["--shutdown-timeout", "2s"], "worker");
    let sleep =
        wait_for("the job to start", Duration::from_secs(20), || read_pid(&sleep_pid), || worker.log_tail());
    let leader = read_pid(&leader_pid).unwrap();
    let ids: Vec<String> = redis::cmd("SMEMBERS").arg(WORKERS).query(&mut con).unwrap();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let me = &ids[0];
    let my_list = format!("campanile:{{default}}:worker:{me}");
    assert_eq!(lrange(&mut con, &my_list), vec![raw.clone()]);

    worker.sigterm();
    let sent = Instant::now();
    let status = worker.wait_exit(Duration::from_secs(8));
    let diag = || format!("{}\n{}", worker.log_tail(), redis_dump(&mut redis.connection()));
    let status = status.unwrap_or_else(|| panic!("worker still running 8 s after SIGTERM\n{}", diag()));
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "exit status {status}\n{}", diag());
    assert!(took >= Duration::from_secs(2), "exited after {took:?}, before the 2 s shutdown timeout");

    assert_eq!(lrange(&mut con, PENDING), vec![raw.clone()], "the payload is back unchanged\n{}", diag());
    assert_eq!(parse(&lrange(&mut con, PENDING)[0])["attempt"], 1);
    assert_eq!(lrange(&mut con, &my_list), Vec::<String>::new(), "{}", diag());
    assert!(keys(&mut con, IN_PROGRESS_PATTERN).is_empty(), "{}", diag());
    let lease: i64 =
        redis::cmd("EXISTS").arg(format!("campanile:{{default}}:lease:{me}")).query(&mut con).unwrap();
    assert_eq!(lease, 0, "the stopped worker's lease is dropped\n{}", diag());
    assert!(history(&mut con, "long").is_empty(), "an interrupted run is not history\n{}", diag());
    assert!(dead_letters(&mut con).is_empty(), "{}", diag());
    assert_eq!(zcard(&mut con, RETRY), 0);
    wait_for(
        "the job's processes to be gone",
        Duration::from_secs(3),
        || (!process_alive(sleep) && !process_alive(leader)).then_some(()),
        || {
            format!(
                "sleep {sleep} alive: {}; sh {leader} alive: {}",
                process_alive(sleep),
                process_alive(leader)
            )
        },
    );
}

/// Alerts still queued at shutdown get what is left of the exit budget, not
/// a fixed time after the drain: a run that used the whole grace period and
/// a webhook receiver that never answers must not push the exit past
/// `--shutdown-timeout` plus `EXIT_MARGIN` (Heroku kills at 30 s).
#[test]
fn sigterm_exits_within_the_shutdown_timeout_and_its_margin_whatever_the_alerts() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Accepts connections and never answers them.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = stalled.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = stalled.incoming().take(8).flatten().collect();
        std::thread::sleep(Duration::from_secs(60));
        drop(held);
    });
    let started = d.join("started");
    let config = write_config(
        d,
        &format!(
            "[jobs.fail]\nevery = \"1h\"\ncommand = \"exit 3\"\nretries = 0\n\n\
             [jobs.long]\nevery = \"1h\"\ncommand = '''touch {started}; sleep 30'''\n\n\
             [[notify.webhooks]]\nurl = \"http://127.0.0.1:{port}/hook\"\nevents = [\"dead\"]\n",
            started = sh_path(&started)
        ),
    );
    lpush(&mut con, PENDING, &payload("fail", TICK, 1, "null"));
    lpush(&mut con, PENDING, &payload("long", TICK, 1, "null"));
    let mut worker =
        Proc::worker(&redis, &config, d, &["--shutdown-timeout", "2s", "--concurrency", "2"], "worker");
    wait_for(
        "the failing run's dead letter and the long run's start",
        Duration::from_secs(20),
        || (dead_letters(&mut redis.connection()).len() == 1 && started.exists()).then_some(()),
        || worker.log_tail(),
    );

    worker.sigterm();
    let sent = Instant::now();
    let status = worker.wait_exit(Duration::from_secs(20)).expect("the worker exits");
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "{}", worker.log_tail());
    assert!(took >= Duration::from_secs(2), "exited after {took:?}, before the 2 s shutdown timeout");
    // 2 s of grace plus the 4 s margin, and time for the process to end.
    assert!(took < Duration::from_millis(7_000), "exited {took:?} after SIGTERM\n{}", worker.log_tail());
    assert_eq!(lrange(&mut con, PENDING).len(), 1, "the long run is back on pending");
}

// ---------------------------------------------------------------------------
// 7. Clock and worker together

#[test]
fn clock_and_worker_run_each_tick_exactly_once_end_to_end() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    const JOBS: [&str; 3] = ["alpha", "beta", "gamma"];
    let file = |job: &str| d.join(format!("{job}.ids"));
    let mut body = String::from("[defaults]\noverlap = \"allow\"\nretries = 0\n");
    for job in JOBS {
        body.push_str(&format!(
            "\n[jobs.{job}]\nevery = \"1s\"\ncommand = '''echo \"$CAMPANILE_JOB_ID\" >> {}'''\n",
            sh_path(&file(job))
        ));
    }
    let config = write_config(d, &body);

    let mut worker = Proc::worker(&redis, &config, d, &[], "worker");
    let mut clock = Proc::clock(&redis, &config, d, "clock");
    let diag = |clock: &Proc, worker: &Proc| {
        format!("{}\n{}\n{}", clock.log_tail(), worker.log_tail(), redis_dump(&mut redis.connection()))
    };
    // About 8 ticks per job.
    wait_for(
        "8 runs of every job",
        Duration::from_secs(35),
        || JOBS.iter().all(|job| read_lines(&file(job)).len() >= 8).then_some(()),
        || diag(&clock, &worker),
    );
    clock.sigterm();
    let status = clock.wait_exit(Duration::from_secs(10));
    let status =
        status.unwrap_or_else(|| panic!("clock still running 10 s after SIGTERM\n{}", diag(&clock, &worker)));
    assert_eq!(status.code(), Some(0), "clock exit {status}\n{}", diag(&clock, &worker));
    // Let the worker run what the clock pushed before it stopped.
    wait_for(
        "the worker to drain the queue",
        Duration::from_secs(20),
        || {
            let mut con = redis.connection();
            (lrange(&mut con, PENDING).is_empty() && keys(&mut con, IN_PROGRESS_PATTERN).is_empty())
                .then_some(())
        },
        || diag(&clock, &worker),
    );
    worker.sigterm();
    let status = worker.wait_exit(Duration::from_secs(10));
    let status = status
        .unwrap_or_else(|| panic!("worker still running 10 s after SIGTERM\n{}", diag(&clock, &worker)));
    assert_eq!(status.code(), Some(0), "worker exit {status}\n{}", diag(&clock, &worker));

    let stats: BTreeMap<String, i64> =
        redis::cmd("HGETALL").arg("campanile:{default}:stats").query(&mut con).unwrap();
    let ticks: BTreeMap<String, String> =
        redis::cmd("HGETALL").arg("campanile:{default}:ticks").query(&mut con).unwrap();
    for job in JOBS {
        let ids = read_lines(&file(job));
        let secs: Vec<i64> = ids
            .iter()
            .map(|id| {
                let tick =
                    id.strip_prefix(&format!("{job}@")).unwrap_or_else(|| panic!("{job}: odd id {id:?}"));
                DateTime::parse_from_rfc3339(tick).unwrap_or_else(|e| panic!("{id:?}: {e}")).timestamp()
            })
            .collect();
        let distinct: BTreeSet<i64> = secs.iter().copied().collect();
        assert_eq!(distinct.len(), secs.len(), "{job}: a tick ran twice: {ids:?}\n{}", diag(&clock, &worker));
        let (first, last) = (*distinct.first().unwrap(), *distinct.last().unwrap());
        let missing: Vec<String> = (first..=last)
            .filter(|s| !distinct.contains(s))
            .map(|s| DateTime::<Utc>::from_timestamp(s, 0).unwrap().to_rfc3339())
            .collect();
        assert!(
            missing.is_empty(),
            "{job}: ticks never ran: {missing:?} (ran {ids:?})\n{}",
            diag(&clock, &worker)
        );
        assert!(secs.len() >= 8, "{job}: {ids:?}");

        // Redis agrees: every pushed payload ran once, and the last recorded
        // tick is the last one run.
        assert_eq!(
            stats.get(&format!("{job}:enqueued")),
            Some(&(secs.len() as i64)),
            "{job}: stats {stats:?}"
        );
        let recorded: i64 = ticks[job].split('|').next().unwrap().parse().unwrap();
        assert_eq!(recorded, last, "{job}: last recorded tick");
        let entries = history(&mut con, job);
        assert_eq!(entries.len(), secs.len(), "{job}: one history entry per run");
        assert!(entries.iter().all(|e| e["outcome"] == "success" && e["attempt"] == 1), "{job}: {entries:?}");
        let history_ids: BTreeSet<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(history_ids, ids.iter().map(String::as_str).collect(), "{job}: history ids");
        // No inflight markers with overlap allowed, and none left behind.
        let marker: Option<String> =
            redis::cmd("HGET").arg("campanile:{default}:inflight").arg(job).query(&mut con).unwrap();
        assert_eq!(marker, None, "{job}");
    }
    assert!(dead_letters(&mut con).is_empty(), "{}", diag(&clock, &worker));
    assert_queue_drained(&mut con, &|| diag(&clock, &worker));
}

// ---------------------------------------------------------------------------
// 8. Args from producers in other languages

/// README invites producers in other languages to push payloads, whose
/// `args` is "any JSON", and promises the job that JSON. Integers beyond
/// 64 bits are valid JSON (and what e.g. Python's `json` writes for big ints);
/// the job must get their digits, not a rounded float.
#[test]
fn big_integer_args_from_other_producers_reach_the_job_exactly() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (stdin_out, args_env) = (d.join("stdin.json"), d.join("args-env.json"));
    let command = format!(
        "printf '%s' \"$CAMPANILE_ARGS\" > {args}; cat > {stdin}",
        args = sh_path(&args_env),
        stdin = sh_path(&stdin_out)
    );
    let config =
        write_config(d, &format!("[jobs.ids]\nevery = \"1h\"\nretries = 0\ncommand = '''{command}'''\n"));
    let args = r#"{"account":12345678901234567890123,"ledger":-98765432109876543210}"#;
    lpush(&mut con, PENDING, &payload("ids", TICK, 1, args));

    let worker = Proc::worker(&redis, &config, d, &[], "worker");
    let entry = wait_for(
        "the run's history entry",
        Duration::from_secs(30),
        || history(&mut redis.connection(), "ids").into_iter().next(),
        || worker.log_tail(),
    );
    assert_eq!(entry["outcome"], "success", "{entry}");
    for (what, path) in [("stdin", &stdin_out), ("CAMPANILE_ARGS", &args_env)] {
        let got = std::fs::read_to_string(path).unwrap();
        assert!(
            got.contains("12345678901234567890123") && got.contains("-98765432109876543210"),
            "{what}: the job got {got:?} for args {args}: big integers were rounded"
        );
    }
}

/// A command dies with its worker (parent-death signal), so a recovered
/// payload is not run twice at once by the dead worker's leftover and its
/// successor.
#[test]
fn a_running_command_dies_with_its_worker() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pid_file = d.join("job.pid");
    let _reaper = GroupReaper(vec![pid_file.clone()]);
    let command = format!("echo $$ > {}; exec sleep 60", sh_path(&pid_file));
    let config = write_config(d, &format!("[jobs.long]\nevery = \"1h\"\ncommand = '''{command}'''\n"));
    lpush(&mut con, PENDING, &payload("long", TICK, 1, "null"));
    let mut worker = Proc::worker(&redis, &config, d, &["--concurrency", "1"], "worker");
    let pid =
        wait_for("the job to start", Duration::from_secs(20), || read_pid(&pid_file), || worker.log_tail());
    assert!(process_alive(pid));
    worker.sigkill();
    wait_for(
        "the job to die with its worker",
        Duration::from_secs(5),
        || (!process_alive(pid)).then_some(()),
        || format!("job pid {pid} still alive"),
    );
}

/// Redis goes away while a job runs: the job finishes, and its outcome is
/// recorded once Redis is back.
#[test]
fn an_outcome_is_recorded_once_redis_is_back() {
    let mut redis = RedisServer::start_persistent();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let started = d.join("started");
    let command = format!("touch {}; sleep 2; echo finished", sh_path(&started));
    let config = write_config(d, &format!("[jobs.steady]\nevery = \"1h\"\ncommand = '''{command}'''\n"));
    lpush(&mut redis.connection(), PENDING, &payload("steady", TICK, 1, "null"));
    let worker = Proc::worker(&redis, &config, d, &["--concurrency", "1"], "worker");
    wait_for(
        "the job to start",
        Duration::from_secs(20),
        || started.exists().then_some(()),
        || worker.log_tail(),
    );
    // Down for longer than the job has left to run.
    redis.restart(Duration::from_secs(4));
    let entry = wait_for(
        "the outcome to be recorded",
        Duration::from_secs(30),
        || history(&mut redis.connection(), "steady").into_iter().next(),
        || worker.log_tail(),
    );
    assert_eq!(entry["outcome"], "success", "{entry}");
    assert_eq!(entry["attempt"], 1);
    assert_eq!(entry["output"], "finished\n");
    let mut con = redis.connection();
    assert!(lrange(&mut con, PENDING).is_empty());
    assert!(keys(&mut con, IN_PROGRESS_PATTERN).iter().all(|k| lrange(&mut con, k).is_empty()));
}

// ---------------------------------------------------------------------------
// 10. Sharing permits between queues

/// A finish takes the next payload of its queue in the same round trip, but
/// not while another queue's fetcher waits for the permit; and a fetcher
/// blocked on an empty queue does not keep a permit another queue needs. With
/// one permit and a backlog on queue `a`, a payload pushed onto queue `b`
/// while the backlog runs is run within a couple of runs, not after the
/// backlog.
#[test]
fn a_busy_queue_does_not_starve_another() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = d.join("runs");
    let config = write_config(
        d,
        &format!(
            "[jobs.a]\nqueue = \"a\"\nevery = \"1h\"\ncommand = \"sleep 0.05; echo a >> {0}\"\n\
             [jobs.b]\nqueue = \"b\"\nevery = \"1h\"\ncommand = \"echo b >> {0}\"\n",
            sh_path(&runs)
        ),
    );
    const BACKLOG: usize = 40;
    let on_queue =
        |raw: String, queue: &str| raw.replace(r#""queue":"default""#, &format!(r#""queue":"{queue}""#));
    for i in 0..BACKLOG {
        let tick = format!("2026-11-23T08:{i:02}:00Z");
        lpush(&mut con, "campanile:{a}:pending", &on_queue(payload("a", &tick, 1, "null"), "a"));
    }
    let worker = Proc::worker(&redis, &config, d, &["--concurrency", "1"], "worker");
    let before = wait_for(
        "two of the backlog's runs",
        Duration::from_secs(30),
        || Some(read_lines(&runs).len()).filter(|&n| n >= 2),
        || worker.log_tail(),
    );
    lpush(&mut con, "campanile:{b}:pending", &on_queue(payload("b", TICK, 1, "null"), "b"));
    let order = wait_for(
        "every payload of both queues to run",
        Duration::from_secs(30),
        || Some(read_lines(&runs)).filter(|lines| lines.len() == BACKLOG + 1),
        || worker.log_tail(),
    );
    let b_at = order.iter().position(|l| l == "b").expect("b ran");
    assert!(
        b_at <= before + 3,
        "queue b's payload, pushed after run {before}, ran as number {} of {}: {order:?}",
        b_at + 1,
        BACKLOG + 1
    );
}

/// Pushes `n` payloads of `job`, a minute apart; returns their ids.
fn push_backlog(con: &mut redis::Connection, job: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let tick = format!("2026-11-23T{:02}:{:02}:00Z", i / 60, i % 60);
            lpush(con, PENDING, &payload(job, &tick, 1, "null"));
            format!("{job}@{tick}")
        })
        .collect()
}

/// A backlog drained by chained takes: SIGTERM mid-backlog leaves every
/// payload either run once (with its history) or back on the pending list
/// unrun; nothing stays in the worker's in-progress list.
#[test]
fn sigterm_while_a_backlog_drains_leaves_each_payload_run_once_or_pending() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = d.join("runs");
    let command = format!("sleep 0.02; echo $CAMPANILE_JOB_ID >> {}", sh_path(&runs));
    let config = write_config(d, &format!("[jobs.b]\nevery = \"1h\"\ncommand = '''{command}'''\n"));
    const BACKLOG: usize = 200;
    push_backlog(&mut con, "b", BACKLOG);
    let mut worker = Proc::worker(&redis, &config, d, &["--concurrency", "2"], "worker");
    wait_for(
        "a few runs",
        Duration::from_secs(20),
        || (read_lines(&runs).len() >= 10).then_some(()),
        || worker.log_tail(),
    );
    worker.sigterm();
    let status = worker.wait_exit(Duration::from_secs(10));
    let diag = || format!("{}\n{}", worker.log_tail(), redis_dump(&mut redis.connection()));
    let status = status.unwrap_or_else(|| panic!("still running\n{}", diag()));
    assert_eq!(status.code(), Some(0), "{}", diag());

    let ran = read_lines(&runs);
    let ran_set: BTreeSet<&str> = ran.iter().map(String::as_str).collect();
    assert_eq!(ran_set.len(), ran.len(), "a payload ran twice: {ran:?}");
    assert!(ran.len() < BACKLOG, "the backlog was not interrupted; make it longer");
    let pending: Vec<String> =
        lrange(&mut con, PENDING).iter().map(|raw| parse(raw)["id"].as_str().unwrap().to_owned()).collect();
    for p in &pending {
        assert!(!ran_set.contains(p.as_str()), "{p} ran and is pending again\n{}", diag());
    }
    assert_eq!(
        ran.len() + pending.len(),
        BACKLOG,
        "ran {} + pending {}\n{}",
        ran.len(),
        pending.len(),
        diag()
    );
    assert_eq!(
        history(&mut con, "b").len(),
        ran.len().min(100),
        "every run is in the history (capped at 100)\n{}",
        diag()
    );
    assert!(keys(&mut con, IN_PROGRESS_PATTERN).is_empty(), "{}", diag());
    assert!(lrange(&mut con, PENDING).iter().all(|raw| parse(raw)["attempt"] == 1), "{}", diag());
}

/// SIGKILL while a backlog drains: the killed worker held only what it was
/// running; another worker recovers those and runs the rest, so every
/// payload runs, and only the interrupted ones run a second time.
#[test]
fn sigkill_while_a_backlog_drains_loses_nothing() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = d.join("runs");
    let command = format!("echo $CAMPANILE_JOB_ID >> {}; sleep 0.02", sh_path(&runs));
    let config =
        write_config(d, &format!("[jobs.b]\nevery = \"1h\"\nretries = 1\ncommand = '''{command}'''\n"));
    const BACKLOG: usize = 200;
    let ids = push_backlog(&mut con, "b", BACKLOG);
    let mut a = Proc::worker(&redis, &config, d, &["--concurrency", "2"], "worker-a");
    wait_for(
        "a few runs",
        Duration::from_secs(20),
        || (read_lines(&runs).len() >= 10).then_some(()),
        || a.log_tail(),
    );
    a.sigkill();
    let held: usize = keys(&mut con, IN_PROGRESS_PATTERN).iter().map(|k| lrange(&mut con, k).len()).sum();
    assert!(held <= 2, "the killed worker held {held} payloads with 2 permits");

    let b = Proc::worker(&redis, &config, d, &["--concurrency", "2"], "worker-b");
    let diag = || format!("{}\n{}\n{}", a.log_tail(), b.log_tail(), redis_dump(&mut redis.connection()));
    // The history keeps the newest 100 runs only: count runs in the file.
    wait_for(
        "every payload to run and the queue to drain",
        Duration::from_secs(60),
        || {
            let mut con = redis.connection();
            let ran: BTreeSet<String> = read_lines(&runs).into_iter().collect();
            let drained =
                lrange(&mut con, PENDING).is_empty() && keys(&mut con, IN_PROGRESS_PATTERN).is_empty();
            (ran.len() == BACKLOG && drained).then_some(())
        },
        diag,
    );
    let ran = read_lines(&runs);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &ran {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    assert_eq!(counts.len(), BACKLOG, "every payload ran\n{}", diag());
    assert!(ids.iter().all(|id| counts.contains_key(id.as_str())));
    let twice = counts.values().filter(|&&n| n > 1).count();
    assert!(twice <= held, "{twice} payloads ran twice, but the killed worker held only {held}\n{}", diag());
    assert_queue_drained(&mut con, &diag);
}

// ---------------------------------------------------------------------------
// 11. A take whose reply was lost

/// A take whose reply is lost to a connection error may still have moved a
/// payload into the worker's in-progress list, unknown to the worker. The
/// worker finds it there, held by no run, and gives it back: it runs once,
/// attempt 1 (it never ran). A payload that runs all the while, held for
/// longer than two of those looks, stays where it is and runs once.
#[test]
fn a_payload_taken_unknown_to_the_worker_is_given_back_and_runs_once() {
    let redis = RedisServer::start();
    let mut con = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = d.join("runs");
    let config = write_config(
        d,
        &format!(
            "[jobs.slow]\nevery = \"1h\"\ntimeout = \"1m\"\ncommand = \"echo slow >> {0}; sleep 12\"\n\
             [jobs.lost]\nevery = \"1h\"\ncommand = \"echo lost >> {0}\"\n",
            sh_path(&runs)
        ),
    );
    lpush(&mut con, PENDING, &payload("slow", TICK, 1, "null"));
    let worker = Proc::worker(&redis, &config, d, &["--concurrency", "2"], "worker");
    wait_for(
        "the slow job to start",
        Duration::from_secs(20),
        || read_lines(&runs).contains(&"slow".to_owned()).then_some(()),
        || worker.log_tail(),
    );
    let workers: Vec<String> = redis::cmd("SMEMBERS").arg(WORKERS).query(&mut con).unwrap();
    let [me] = workers.as_slice() else { panic!("one worker expected, found {workers:?}") };
    // Exactly what a take leaves behind when its reply never arrives.
    lpush(&mut con, &format!("campanile:{{default}}:worker:{me}"), &payload("lost", TICK, 1, "null"));

    let diag = || format!("{}\n{}", worker.log_tail(), redis_dump(&mut redis.connection()));
    let lost = wait_for(
        "the stranded payload to run",
        Duration::from_secs(30),
        || history(&mut redis.connection(), "lost").into_iter().next(),
        diag,
    );
    assert_eq!(lost["attempt"], 1, "{lost}");
    let slow = wait_for(
        "the slow job to finish",
        Duration::from_secs(30),
        || history(&mut redis.connection(), "slow").into_iter().next(),
        diag,
    );
    assert_eq!(slow["outcome"], "success", "{slow}");
    let mut ran = read_lines(&runs);
    ran.sort();
    assert_eq!(ran, ["lost", "slow"], "each ran once\n{}", diag());
    assert_eq!(history(&mut con, "lost").len(), 1);
    assert!(worker.log().contains("back on the pending list"), "{}", worker.log_tail());
    assert_queue_drained(&mut con, &diag);
}
