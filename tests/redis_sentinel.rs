//! The clock and the worker as real processes against a primary that real
//! Sentinel processes watch (a primary, a replica, three sentinels), reached
//! with a `redis+sentinel://` URL: a failover mid-run is followed, and each
//! tick still runs exactly once, with no gap.
//!
//! A Sentinel failover is not coordinated: the old primary takes writes
//! until the sentinels demote it, and loses them then. The clock notices its
//! lost ticks and pushes them again; `wait_replicas = 1` keeps a worker from
//! running a payload it took from a primary that no longer has a replica, so
//! such a tick runs once, from the new primary.

mod common;

use std::time::Duration;

use campanile::time::TimeSource;
use common::deployment::Deployment;
use common::sentinel::RedisSentinel;

fn now() -> i64 {
    campanile::time::SystemTime.now().timestamp()
}

#[test]
fn a_sentinel_failover_mid_run_is_followed_and_doubles_or_loses_no_tick() {
    let sentinel = RedisSentinel::start();
    let before = sentinel.primary_port();
    let queues = vec!["default".to_owned(), "reports".to_owned()];
    let deployment = Deployment::start(queues, "wait_replicas = 1", Some(sentinel.sentinel_url()));
    deployment.wait_runs_past(now() + 3, Duration::from_secs(30));

    let promoted = sentinel.failover();
    assert_ne!(promoted, before, "the sentinels promoted the replica");
    let failed_over = now();
    deployment.wait_runs_past(failed_over + 4, Duration::from_secs(30));

    // The work went on on the new primary: its history is there.
    let mut con = sentinel.connection_to_primary();
    let history: Vec<String> = redis::cmd("LRANGE")
        .arg("campanile:{default}:history:tick-default")
        .arg(0)
        .arg(0)
        .query(&mut con)
        .unwrap();
    let newest: serde_json::Value = serde_json::from_str(&history[0]).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(newest["scheduled_at"].as_str().unwrap()).unwrap();
    assert!(at.timestamp() > failed_over, "the newest run {at} is after the failover at {failed_over}");
    let checked = deployment.stop_and_check();
    eprintln!("{checked} runs checked across a Sentinel failover");
}

/// An old primary the sentinels cannot demote (it refuses `REPLICAOF`, as
/// one cut off from the sentinels but not from clients would never get it)
/// keeps taking writes after the switch. A connection follows what the
/// sentinels name, within about a second, not the old primary's demotion.
#[test]
fn connections_follow_the_sentinels_within_a_second_of_a_switch() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let sentinel = RedisSentinel::start_with_primary_args(&[
        "--rename-command",
        "REPLICAOF",
        "",
        "--rename-command",
        "SLAVEOF",
        "",
    ]);
    let settings =
        campanile::config::RedisSettings { url: Some(sentinel.sentinel_url()), ..Default::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store =
        runtime.block_on(campanile::store::Store::connect(&settings)).expect("connect through sentinels");
    // A writer that never stops: each write bumps the term counter on
    // whichever node the store is connected to.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = std::thread::spawn({
        let stop = stop.clone();
        move || {
            runtime.block_on(async {
                while !stop.load(Ordering::Relaxed) {
                    let _ = store.next_term().await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        }
    });
    let term_on = |port: u16| -> i64 {
        let got: Option<i64> =
            redis::cmd("GET").arg("campanile:term").query(&mut sentinel.connection_to(port)).unwrap();
        got.unwrap_or(0)
    };
    let old = sentinel.primary_port();
    common::wait_until("the writer to write", Duration::from_secs(10), || term_on(old) > 3);
    let (new, switched) = sentinel.switch_primary();
    let at_switch = term_on(new);
    let followed = common::poll_until(Duration::from_secs(10), || term_on(new) > at_switch + 2);
    let took = switched.elapsed();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(followed, "the writes never moved to the new primary");
    eprintln!("writes moved to the new primary {took:?} after the sentinels named it");
    assert!(took < Duration::from_millis(1500), "writes moved to the new primary only after {took:?}");
}

/// Arguments that make a primary refuse `REPLICAOF`, as one cut off from
/// the sentinels but not from clients would never get it: it keeps taking
/// writes after a switch.
const UNDEMOTABLE: [&str; 6] = ["--rename-command", "REPLICAOF", "", "--rename-command", "SLAVEOF", ""];

fn list(con: &mut redis::Connection, key: &str) -> Vec<String> {
    redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(con).unwrap_or_default()
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// A run's finish written to the old primary after the switch, before the
/// worker follows, is lost with that primary: on the new one the payload
/// is still in the worker's in-progress list, where the stranded check
/// would take it for one that never ran and run it again. The worker sends
/// an unacknowledged finish again once it follows, so the payload ran once
/// and is recorded once. The worker knows one sentinel, stopped during the
/// switch, so it keeps writing to the old primary until it is resumed.
#[test]
fn a_finish_lost_with_the_old_primary_is_sent_again_and_the_run_is_not_repeated() {
    let sentinel = RedisSentinel::start_with(2, &UNDEMOTABLE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (started, go, ran) = (dir.path().join("started"), dir.path().join("go"), dir.path().join("ran"));
    let config = common::procs::write_config(
        dir.path(),
        &format!(
            "[redis]\nwait_replicas = 1\nwait_timeout_ms = 500\n\n[jobs.slow]\nevery = \"1h\"\n\
             command = 'echo $CAMPANILE_JOB_ID >> {}; while [ ! -f {} ]; do sleep 0.05; done; echo $CAMPANILE_JOB_ID >> {}'\n",
            started.display(),
            go.display(),
            ran.display(),
        ),
    );
    let url = sentinel.sentinel_url_of(&[2]);
    let worker = common::procs::Proc::spawn_with_url("worker", &[], &url, &config, dir.path(), "worker");
    let old = sentinel.primary_port();
    let payload = campanile::payload::Payload::manual(
        "slow",
        "default",
        campanile::time::SystemTime.now(),
        &serde_json::json!({}),
    );
    let _: () = redis::cmd("LPUSH")
        .arg("campanile:{default}:pending")
        .arg(payload.to_json())
        .query(&mut sentinel.connection_to(old))
        .unwrap();
    let diag = || format!("{}\n{}", worker.log_tail(), sentinel.logs());
    common::procs::wait_for(
        "the run to start",
        Duration::from_secs(20),
        || lines(&started).first().cloned(),
        diag,
    );
    // What this test loses with the old primary is the finish alone: the
    // push and the take must be on whichever replica the switch promotes.
    // `wait_replicas = 1` promises them on one replica only, so a lagging
    // other one, promoted, would lose them too. WAIT counts the writes of
    // the connection that asks, hence the write before it.
    let mut con = sentinel.connection_to(old);
    let _: () = redis::cmd("SET").arg("barrier").arg(1).query(&mut con).unwrap();
    let replicas: i64 = redis::cmd("WAIT").arg(2).arg(10_000).query(&mut con).unwrap();
    assert_eq!(replicas, 2, "both replicas hold the push and the take\n{}", diag());

    sentinel.sentinel(2).signal(libc::SIGSTOP);
    let (new, _) = sentinel.switch_primary_seen_by(&[0, 1]);
    std::fs::write(&go, "").unwrap();
    let history = "campanile:{default}:history:slow";
    common::procs::wait_for(
        "the finish to land on the old primary",
        Duration::from_secs(20),
        || (!list(&mut sentinel.connection_to(old), history).is_empty()).then_some(()),
        diag,
    );
    assert!(list(&mut sentinel.connection_to(new), history).is_empty(), "the finish reached the new primary");

    sentinel.sentinel(2).signal(libc::SIGCONT);
    common::procs::wait_for(
        "the run to be recorded on the new primary",
        Duration::from_secs(40),
        || (!list(&mut sentinel.connection_to(new), history).is_empty()).then_some(()),
        diag,
    );
    let mut con = sentinel.connection_to(new);
    assert_eq!(lines(&ran), vec![payload.id.clone()], "the payload ran once\n{}", diag());
    assert_eq!(list(&mut con, history).len(), 1, "one history entry\n{}", diag());
    assert!(
        list(&mut con, "campanile:{default}:pending").is_empty(),
        "nothing left to run again\n{}",
        diag()
    );
    let keys: Vec<String> = redis::cmd("KEYS").arg("campanile:{default}:worker:*").query(&mut con).unwrap();
    for key in keys {
        assert!(list(&mut con, &key).is_empty(), "{key} still holds a payload\n{}", diag());
    }
}

/// A replica still attached to a primary being failed over acknowledges
/// writes it will lose when the sentinels re-point it (a full resync from
/// the new primary). So an acknowledged take counts only if the sentinels
/// still name its node with no failover under way. Here the failover is
/// stuck (the replicas refuse to be promoted) until it times out: the
/// primary keeps both replicas, yet a take meanwhile is given back unrun.
#[test]
fn a_take_acknowledged_during_a_failover_is_not_trusted() {
    let sentinel = RedisSentinel::start_with(2, &[], &UNDEMOTABLE);
    let settings = campanile::config::RedisSettings {
        url: Some(sentinel.sentinel_url()),
        wait_replicas: 1,
        wait_timeout_ms: 500,
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = runtime.block_on(campanile::store::Store::connect(&settings)).unwrap();
    let mut taker = runtime.block_on(store.taker()).unwrap();
    let queue = campanile::config::QueueName::new("default").unwrap();
    let mut con = sentinel.connection_to_primary();
    let mut take = |payload: &str| {
        let _: () =
            redis::cmd("LPUSH").arg("campanile:{default}:pending").arg(payload).query(&mut con).unwrap();
        runtime.block_on(taker.take(&queue, "w1", Duration::from_secs(1)))
    };
    assert_eq!(take("before").unwrap(), Some(b"before".to_vec()), "a take before the failover is trusted");

    sentinel.start_failover(0);
    let failing_over = || {
        let mut con = sentinel.sentinel(0).connection();
        let fields: Vec<String> =
            redis::cmd("SENTINEL").arg("MASTER").arg(sentinel.master_name()).query(&mut con).unwrap();
        fields.chunks(2).any(|kv| kv[0] == "flags" && kv[1].contains("failover_in_progress"))
    };
    assert!(failing_over(), "the failover is under way");
    let during = take("during");
    assert!(
        matches!(&during, Err(campanile::store::Error::Unreplicated { payload }) if payload == b"during"),
        "a take during the failover is not trusted: {during:?}"
    );
    assert!(failing_over(), "the failover was still under way after the take");
}

/// What one run of [`failover_under_load`] saw.
struct Report {
    checked: usize,
    doubles: Vec<(String, i64)>,
    /// Per process, how long after the first sentinel named the new primary
    /// of the coordinated failover its last connection followed (from its
    /// log), in milliseconds.
    follow_ms: Vec<i64>,
}

/// When a sentinel first names a primary other than `old`, polled closely.
fn named_at(sentinel: &RedisSentinel, old: u16, within: Duration) -> chrono::DateTime<chrono::Utc> {
    let deadline = std::time::Instant::now() + within;
    while !sentinel.any_names_other_than(old) {
        assert!(std::time::Instant::now() < deadline, "no sentinel named a new primary\n{}", sentinel.logs());
        std::thread::sleep(Duration::from_millis(5));
    }
    campanile::time::SystemTime.now()
}

/// Per process log, the last `following` to `to` logged after `since`, in
/// milliseconds after `from`.
fn follow_delays(
    logs: &[String],
    to: u16,
    since: chrono::DateTime<chrono::Utc>,
    from: chrono::DateTime<chrono::Utc>,
) -> Vec<i64> {
    let target = format!("to=127.0.0.1:{to}");
    logs.iter()
        .filter_map(|log| {
            log.lines()
                .filter(|l| l.contains("the sentinels name a new primary; following") && l.contains(&target))
                .filter_map(|l| l.strip_prefix("ts=")?.split_whitespace().next()?.parse().ok())
                .filter(|ts: &chrono::DateTime<chrono::Utc>| *ts >= since)
                .map(|ts| (ts - from).num_milliseconds())
                .max()
        })
        .collect()
}

/// Two clocks and two workers (real processes) through a primary's crash
/// and, once it is back as a replica, a `SENTINEL FAILOVER` sent just
/// before a tick: a primary, two replicas, three sentinels, eight jobs
/// every second whose runs last 0.5 s. Returns the runs checked (every tick
/// ran, none twice outside the windows: from `margin` seconds before the
/// crash to `after_crash` seconds after the promotion, and from `margin`
/// seconds before the failover to `margin` after the switch) and the
/// doubles within them.
fn failover_under_load(redis: &str, margin: i64, after_crash: i64) -> Report {
    let mut sentinel = RedisSentinel::start_with(2, &[], &[]);
    let deployment = Deployment::start_with(common::deployment::Setup {
        queues: vec!["default".into(), "reports".into()],
        jobs_per_queue: 4,
        workers: 2,
        concurrency: Some(4),
        run: Some("0.5"),
        redis: redis.into(),
        env_url: Some(sentinel.sentinel_url()),
    });
    deployment.wait_runs_past(now() + 3, Duration::from_secs(40));

    // The primary crashes; the sentinels promote a replica.
    let crashed = sentinel.primary_port();
    let crashed_at = now();
    sentinel.kill(crashed);
    let promoted = sentinel.wait_new_primary(crashed, &[0, 1, 2], Duration::from_secs(30));
    let promoted = promoted.unwrap_or_else(|| panic!("no replica promoted\n{}", sentinel.logs()));
    let promoted_at = now();
    deployment.wait_runs_past(now() + 3, Duration::from_secs(30));
    // It comes back, as a replica of the new primary.
    sentinel.return_as_replica(crashed, promoted);
    sentinel.wait_settled();

    // A coordinated failover, sent in the last fifth of a second.
    let subsec = || campanile::time::SystemTime.now().timestamp_subsec_millis();
    common::wait_until("the end of a second", Duration::from_secs(3), || subsec() >= 800);
    let asked_at = campanile::time::SystemTime.now();
    common::wait_until("a sentinel to accept SENTINEL FAILOVER", Duration::from_secs(20), || {
        sentinel.try_failover(0).inspect_err(|e| eprintln!("SENTINEL FAILOVER: {e}")).is_ok()
    });
    let failover_at = now();
    let named = named_at(&sentinel, promoted, Duration::from_secs(30));
    let switched = sentinel.wait_new_primary(promoted, &[0, 1, 2], Duration::from_secs(30));
    let switched = switched.unwrap_or_else(|| panic!("no new primary\n{}", sentinel.logs()));
    let switched_at = now();
    deployment.wait_runs_past(now() + 4, Duration::from_secs(30));
    deployment.wait_no_gaps(Duration::from_secs(30));

    let follow_ms = follow_delays(&deployment.all_logs(), switched, asked_at, named);
    eprintln!(
        "crash at {crashed_at}, promoted by {promoted_at}; failover at {failover_at}, switched by {switched_at}"
    );
    let windows =
        [(crashed_at - margin, promoted_at + after_crash), (failover_at - margin, switched_at + margin)];
    let logs = deployment.all_logs();
    let (checked, doubles) = deployment.stop_and_count(&windows);
    // A live worker's payloads are never recovered as if it had died: the
    // jobs never fail, so an attempt 2 would be such a recovery.
    for log in &logs {
        let recovered: Vec<&str> =
            log.lines().filter(|l| l.contains("attempt=2") || l.contains("recovered payloads")).collect();
        assert!(recovered.is_empty(), "a live worker's payloads were recovered: {recovered:#?}");
    }
    eprintln!(
        "crash at {crashed_at}, promoted by {promoted_at}; failover at {failover_at}, switched by {switched_at}; \
         {checked} runs, doubles {doubles:?}; connections followed the switch after {follow_ms:?} ms"
    );
    Report { checked, doubles, follow_ms }
}

/// With `wait_replicas = 1` every tick runs exactly once through a crash
/// and a coordinated failover, and every process follows the sentinels'
/// switch within about a second.
#[test]
fn with_wait_replicas_a_crash_and_a_failover_under_load_run_every_tick_once() {
    let report = failover_under_load("wait_replicas = 1\nwait_timeout_ms = 500", 0, 0);
    assert!(report.doubles.is_empty(), "ran twice: {:?}", report.doubles);
    assert!(report.checked > 60, "only {} runs checked", report.checked);
    assert!(report.follow_ms.iter().all(|&ms| ms < 1500), "slow to follow: {:?}", report.follow_ms);
}

/// Without `wait_replicas`, the documented window: only ticks of the
/// seconds around each event (up to 3 s after a crash's promotion, 1 s
/// after a coordinated switch) may run twice, none elsewhere.
#[test]
fn without_wait_replicas_a_crash_and_a_failover_under_load_double_only_ticks_around_them() {
    let report = failover_under_load("", 1, 3);
    assert!(report.checked > 60, "only {} runs checked", report.checked);
}
