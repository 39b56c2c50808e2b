//! Payloads and faults that must not stall a queue: a dead worker whose
//! in-progress list cannot be read, payloads that are not UTF-8 or too
//! large, output without newlines, commands that leave processes behind,
//! and inputs that cannot be executed.
//!
//! Against a real (private) redis-server; the worker runs as a real process
//! where the fault is a process event.

mod common;

use std::sync::Arc;
use std::time::Duration;

use campanile::config::{Config, QueueName, RedisSettings};
use campanile::metrics::METRICS;
use campanile::store::Store;
use campanile::time::SystemTime;
use campanile::worker::{self, Options, WorkerId, reaper};
use common::procs::{Proc, process_alive, read_pid, sh_path, wait_for, write_config};
use common::{RedisServer, wait_until};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const PENDING: &str = "campanile:{default}:pending";
const DEAD: &str = "campanile:{default}:dead";
const TICK: &str = "2026-11-23T08:00:00Z";

async fn store(server: &RedisServer) -> Store {
    let settings = RedisSettings { url: Some(server.url()), ..RedisSettings::default() };
    Store::connect(&settings).await.unwrap()
}

fn config(body: &str) -> Config {
    Config::parse(body, std::path::Path::new("clock.toml"), chrono::DateTime::UNIX_EPOCH).unwrap()
}

fn lrange(server: &RedisServer, key: &str) -> Vec<String> {
    redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(&mut server.connection()).unwrap()
}

/// A payload in exactly the form the clock writes.
fn payload(job: &str, attempt: u32) -> String {
    let enqueued = TICK.replace('Z', ".000Z");
    format!(
        r#"{{"id":"{job}@{TICK}","job":"{job}","queue":"default","scheduled_at":"{TICK}","enqueued_at":"{enqueued}","attempt":{attempt},"args":null}}"#
    )
}

// ---------------------------------------------------------------------------
// Recovery goes on past a list it cannot read

/// Two dead workers (no lease): the first one's in-progress key is not a
/// list, so reading it fails; the second one's payload is still recovered,
/// and the failure is counted. Worker ids that are integers make the
/// workers set an intset, which Redis lists in ascending order: the bad
/// one comes first.
#[tokio::test]
async fn recovery_goes_on_past_a_dead_worker_whose_list_cannot_be_read() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let mut con = server.connection();
    let () = redis::cmd("SADD").arg("campanile:{default}:workers").arg(1).arg(2).query(&mut con).unwrap();
    let () = redis::cmd("SET").arg("campanile:{default}:worker:1").arg("not a list").query(&mut con).unwrap();
    let () = redis::cmd("LPUSH")
        .arg("campanile:{default}:worker:2")
        .arg(payload("steady", 1))
        .query(&mut con)
        .unwrap();
    let members: Vec<String> =
        redis::cmd("SMEMBERS").arg("campanile:{default}:workers").query(&mut con).unwrap();
    assert_eq!(members, ["1", "2"], "the unreadable list is looked at first");

    let errors_before = METRICS.recovery_errors.get();
    let config = Arc::new(config("[jobs.steady]\nevery = \"1h\"\ncommand = \"true\"\n"));
    let shutdown = campanile::shutdown::Shutdown::new();
    let reaping = tokio::spawn(reaper::run(
        config,
        store,
        vec![QueueName::new("default").unwrap()],
        WorkerId("me".into()),
        Arc::new(campanile::time::SystemTime),
        shutdown.clone(),
    ));
    let recovered = tokio::task::spawn_blocking({
        let url = server.url();
        move || {
            let client = redis::Client::open(url).unwrap();
            let mut con = client.get_connection().unwrap();
            common::poll_until(Duration::from_secs(20), || {
                let pending: Vec<String> =
                    redis::cmd("LRANGE").arg(PENDING).arg(0).arg(-1).query(&mut con).unwrap();
                !pending.is_empty()
            })
        }
    })
    .await
    .unwrap();
    shutdown.cancel();
    reaping.await.unwrap();
    assert!(recovered, "the second dead worker's payload was never recovered");
    assert_eq!(lrange(&server, PENDING), [payload("steady", 2)], "back with attempt 2");
    assert!(METRICS.recovery_errors.get() > errors_before, "the failure is counted");
}

fn lpush(server: &RedisServer, value: &[u8]) {
    let _: i64 = redis::cmd("LPUSH").arg(PENDING).arg(value).query(&mut server.connection()).unwrap();
}

/// The dead letters, oldest first.
fn dead_letters(server: &RedisServer) -> Vec<Value> {
    let mut letters: Vec<Value> =
        lrange(server, DEAD).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    letters.reverse();
    letters
}

fn history(server: &RedisServer, job: &str) -> Vec<String> {
    lrange(server, &format!("campanile:{{default}}:history:{job}"))
}

/// The exact bytes a dead letter keeps of its payload.
fn dead_payload_bytes(letter: &Value) -> Vec<u8> {
    use base64::Engine;
    match letter["payload_base64"].as_str() {
        Some(b) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
        None => letter["payload"].as_str().unwrap().as_bytes().to_vec(),
    }
}

/// A worker's resident memory in KiB: now (`VmRSS`) or at its peak
/// (`VmHWM`).
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    memory_kib(pid, "VmRSS:")
}

// ---------------------------------------------------------------------------
// Payloads that cannot be run

/// A payload that is not UTF-8, and JSON with a bad byte inside a string,
/// are dead-lettered with their exact bytes; the payload after them runs;
/// nothing stays in the in-progress list and no error repeats in the log.
#[test]
fn payloads_that_are_not_utf8_are_dead_lettered_with_their_exact_bytes() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[jobs.steady]\nevery = \"1h\"\ncommand = \"true\"\n");
    let bare = b"\xff".to_vec();
    let inside = payload("steady", 1).replace("steady@", "st\u{1}eady@").into_bytes();
    let inside: Vec<u8> =
        inside.iter().flat_map(|&b| if b == 1 { vec![0xc3, 0x28] } else { vec![b] }).collect();
    lpush(&server, &bare);
    lpush(&server, &inside);
    lpush(&server, payload("steady", 1).as_bytes());
    let worker = Proc::worker(&server, &config, dir.path(), &["--concurrency", "1"], "worker");
    wait_for(
        "the good payload to run",
        Duration::from_secs(30),
        || (!history(&server, "steady").is_empty()).then_some(()),
        || worker.log_tail(),
    );
    let letters = wait_for(
        "two dead letters",
        Duration::from_secs(10),
        || Some(dead_letters(&server)).filter(|l| l.len() == 2),
        || worker.log_tail(),
    );
    assert_eq!(dead_payload_bytes(&letters[0]), bare, "{}", letters[0]);
    assert_eq!(dead_payload_bytes(&letters[1]), inside, "{}", letters[1]);
    for letter in &letters {
        assert!(letter["reason"].as_str().unwrap().starts_with("malformed payload: not UTF-8"), "{letter}");
        assert!(letter["payload_base64"].is_string(), "{letter}");
    }
    assert!(lrange(&server, PENDING).is_empty());
    let stranded: Vec<String> =
        redis::cmd("KEYS").arg("campanile:{default}:worker:*").query(&mut server.connection()).unwrap();
    assert!(stranded.is_empty(), "left in progress: {stranded:?}\n{}", worker.log_tail());
    assert!(!worker.log().contains("UTF-8\" "), "{}", worker.log_tail());
    assert!(!worker.log().contains("Cannot convert"), "{}", worker.log_tail());
}

/// A payload over `[worker] max_payload_bytes` (1 MiB by default) is
/// dead-lettered unparsed with its first 4 KiB and its size, and does not
/// leave the worker's memory grown.
#[test]
fn a_payload_too_large_is_dead_lettered_and_memory_stays_bounded() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[jobs.steady]\nevery = \"1h\"\ncommand = \"true\"\n");
    let worker = Proc::worker(&server, &config, dir.path(), &["--concurrency", "1"], "worker");
    lpush(&server, payload("steady", 1).as_bytes());
    wait_for(
        "a first run",
        Duration::from_secs(30),
        || (!history(&server, "steady").is_empty()).then_some(()),
        || worker.log_tail(),
    );
    let idle = rss_kib(worker.pid());
    let big =
        payload("steady", 1).replace("\"args\":null", &format!("\"args\":\"{}\"", "x".repeat(10_000_000)));
    lpush(&server, big.as_bytes());
    let letters = wait_for(
        "the large payload's dead letter",
        Duration::from_secs(30),
        || Some(dead_letters(&server)).filter(|l| l.len() == 1),
        || worker.log_tail(),
    );
    let letter = &letters[0];
    assert_eq!(letter["reason"], format!("payload too large: {} bytes", big.len()));
    assert_eq!(letter["payload_bytes"], big.len() as u64);
    assert_eq!(letter["payload"].as_str().unwrap(), &big[..4096]);
    // The next payload still runs.
    lpush(&server, payload("steady", 2).as_bytes());
    wait_for(
        "the next run",
        Duration::from_secs(30),
        || (history(&server, "steady").len() == 2).then_some(()),
        || worker.log_tail(),
    );
    let after = rss_kib(worker.pid());
    eprintln!("worker RSS: {idle} KiB idle, {after} KiB after a {} byte payload", big.len());
    assert!(after < idle + 30 * 1024, "RSS grew from {idle} KiB to {after} KiB");
}

// ---------------------------------------------------------------------------
// Output

/// A command printing one 100 MB line: the worker keeps at most 8 KiB of a
/// line, in the log and in the history's output tail, with a marker saying
/// how much was cut, and its memory never grows by much.
#[test]
fn a_line_without_newlines_is_cut_and_memory_stays_bounded() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let command = "head -c 100000000 /dev/zero | tr '\\0' a; echo; echo after";
    let config =
        write_config(dir.path(), &format!("[jobs.loud]\nevery = \"1h\"\ncommand = '''{command}'''\n"));
    let worker = Proc::worker(&server, &config, dir.path(), &["--concurrency", "1"], "worker");
    wait_until("the worker to start", Duration::from_secs(30), || worker.log().contains("worker starting"));
    let idle = rss_kib(worker.pid());
    lpush(&server, payload("loud", 1).as_bytes());
    let entry = wait_for(
        "the run to be recorded",
        Duration::from_secs(120),
        || history(&server, "loud").into_iter().next(),
        || worker.log_tail(),
    );
    let peak = memory_kib(worker.pid(), "VmHWM:");
    eprintln!("worker RSS: {idle} KiB idle, peak {peak} KiB");
    let entry: Value = serde_json::from_str(&entry).unwrap();
    assert_eq!(entry["outcome"], "success", "{entry}");
    let output = entry["output"].as_str().unwrap();
    assert!(
        output.ends_with(&format!("…[cut {} bytes]\nafter\n", 100_000_000 - 8192)),
        "{}",
        &output[output.len().saturating_sub(200)..]
    );
    let log = worker.log();
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 16 * 1024, "a log line of {longest} bytes");
    assert!(log.contains("[cut 99991808 bytes]"), "{}", worker.log_tail());
    assert!(peak < idle + 20 * 1024, "peak RSS {peak} KiB, idle {idle} KiB");
}

// ---------------------------------------------------------------------------
// Processes left behind

/// Kills a pid when dropped, so a process a failing test leaves behind does
/// not linger.
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = common::send_signal(pid, libc::SIGKILL);
        }
    }
}

/// A command that exits leaving a background process that ignores SIGTERM:
/// once the command's shell has exited, the worker ends what is left of its
/// process group (SIGTERM, then SIGKILL after 2 s), and the run counts as
/// the shell's exit status says.
#[test]
fn a_background_process_is_ended_when_the_command_exits() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sleep.pid");
    let command = format!("(trap '' TERM; exec sleep 104) & echo $! > {}; echo started", sh_path(&pid_file));
    let config =
        write_config(dir.path(), &format!("[jobs.bg]\nevery = \"1h\"\ncommand = \"\"\"{command}\"\"\"\n"));
    let worker = Proc::worker(&server, &config, dir.path(), &["--concurrency", "1"], "worker");
    lpush(&server, payload("bg", 1).as_bytes());
    let pid =
        wait_for("the background pid", Duration::from_secs(30), || read_pid(&pid_file), || worker.log_tail());
    let _cleanup = KillOnDrop(Some(pid));
    let entry = wait_for(
        "the run to be recorded",
        Duration::from_secs(30),
        || history(&server, "bg").into_iter().next(),
        || worker.log_tail(),
    );
    let entry: Value = serde_json::from_str(&entry).unwrap();
    assert_eq!(entry["outcome"], "success", "{entry}");
    assert_eq!(entry["output"], "started\n");
    let gone = common::poll_until(Duration::from_secs(15), || !process_alive(pid));
    assert!(gone, "the background sleep ({pid}) outlived its run\n{}", worker.log_tail());
}

// ---------------------------------------------------------------------------
// Inputs that cannot be executed

/// Payload fields that cannot reach a command's environment (a nul byte),
/// and attempts no run can have, are malformed: dead-lettered unrun, with
/// the reason.
#[test]
fn payloads_with_a_nul_byte_or_an_impossible_attempt_are_malformed() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let config = write_config(
        dir.path(),
        &format!(
            "[jobs.steady]\nevery = \"1h\"\ncommand = \"\"\"echo $CAMPANILE_ATTEMPT >> {}\"\"\"\n",
            sh_path(&ran)
        ),
    );
    let nul = payload("steady", 1).replace("\"id\":\"steady@", "\"id\":\"ste\\u0000ady@");
    for raw in [nul, payload("steady", 0), payload("steady", 1_000_000), payload("steady", 7)] {
        lpush(&server, raw.as_bytes());
    }
    let worker = Proc::worker(&server, &config, dir.path(), &["--concurrency", "1"], "worker");
    wait_for(
        "the good payload to run",
        Duration::from_secs(30),
        || std::fs::read_to_string(&ran).ok().filter(|r| !r.is_empty()),
        || worker.log_tail(),
    );
    let letters = wait_for(
        "three dead letters",
        Duration::from_secs(10),
        || Some(dead_letters(&server)).filter(|l| l.len() == 3),
        || worker.log_tail(),
    );
    let reasons: Vec<&str> = letters.iter().map(|l| l["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        [
            "malformed payload: nul byte in id",
            "malformed payload: attempt 0 is not between 1 and 101",
            "malformed payload: attempt 1000000 is not between 1 and 101",
        ]
    );
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "7\n", "only the well-formed payload ran");
}

/// Args too large for the environment still reach the command, on stdin;
/// `CAMPANILE_ARGS` is then not set. A command that cannot be started at
/// all (its environment too large for execve) is dead-lettered with the
/// system's reason, not "failed to run".
#[test]
fn large_args_come_on_stdin_and_a_start_failure_gives_its_cause() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (env_seen, stdin_seen) = (dir.path().join("env"), dir.path().join("stdin"));
    let big_env: String = (0..60).map(|i| format!("V{i} = \"{}\"\n", "e".repeat(120_000))).collect();
    let config = write_config(
        dir.path(),
        &format!(
            "[jobs.big]\nevery = \"1h\"\ncommand = \"\"\"printf %s \"${{CAMPANILE_ARGS-unset}}\" > {}; cat > {}\"\"\"\n\
             [jobs.huge]\nevery = \"1h\"\nretries = 0\ncommand = \"true\"\n[jobs.huge.env]\n{big_env}",
            sh_path(&env_seen),
            sh_path(&stdin_seen)
        ),
    );
    let args = format!("\"{}\"", "a".repeat(200 * 1024));
    let big = payload("big", 1).replace("\"args\":null", &format!("\"args\":{args}"));
    lpush(&server, big.as_bytes());
    lpush(&server, payload("huge", 1).as_bytes());
    let worker = Proc::worker(&server, &config, dir.path(), &["--concurrency", "1"], "worker");
    let letters = wait_for(
        "the dead letter of the job that cannot start",
        Duration::from_secs(60),
        || Some(dead_letters(&server)).filter(|l| !l.is_empty()),
        || worker.log_tail(),
    );
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["job"], "huge");
    assert_eq!(letters[0]["reason"], "cannot start the command: Argument list too long (os error 7)");
    let entry = wait_for(
        "the large-args run",
        Duration::from_secs(30),
        || history(&server, "big").into_iter().next(),
        || worker.log_tail(),
    );
    let entry: Value = serde_json::from_str(&entry).unwrap();
    assert_eq!(entry["outcome"], "success", "{entry}");
    assert_eq!(std::fs::read_to_string(&env_seen).unwrap(), "unset");
    assert_eq!(std::fs::read_to_string(&stdin_seen).unwrap(), args);
}

// ---------------------------------------------------------------------------
// Supervised loops

/// When `worker::run` returns, every loop it started has ended: none goes
/// on touching Redis, unowned, after the worker said it stopped. Counted on
/// a runtime of the test's own, right as `run` returns.
#[test]
fn every_loop_of_the_worker_has_ended_when_run_returns() {
    let server = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = store(&server).await;
        let queue = QueueName::new("default").unwrap();
        let config = Arc::new(config("[jobs.j]\nevery = \"1m\"\ncommand = \"true\"\n"));
        let options = Options {
            queues: vec![queue.clone()],
            concurrency: 2,
            shutdown_timeout: Duration::from_secs(5),
            queue_depths: true,
        };
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let shutdown = CancellationToken::new();
        let run = worker::run(config, store.clone(), Arc::new(SystemTime), options, shutdown.clone());
        tokio::pin!(run);
        let registered = async {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while store.workers(&queue).await.unwrap().is_empty() {
                assert!(tokio::time::Instant::now() < deadline, "the worker never registered");
                tokio::task::yield_now().await;
            }
            // One more round trip, so the worker has gone on to start its loops.
            store.workers(&queue).await.unwrap();
        };
        tokio::select! {
            _ = &mut run => panic!("the worker stopped by itself"),
            () = registered => {}
        }
        assert!(metrics.num_alive_tasks() > before, "the worker started no loops");
        shutdown.cancel();
        let _ = run.await;
        assert_eq!(metrics.num_alive_tasks(), before, "tasks of the worker still alive after it returned");
    });
}
