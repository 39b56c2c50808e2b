//! The clock's exactly-once and catch-up behaviour, driven instant by
//! instant against a real redis-server: each test builds `Ticker`s (one per
//! simulated clock process) and hands them explicit instants, so restarts,
//! crashes and second clocks are exact and instant.

mod common;

use campanile::clock::Fired;
use campanile::payload::Payload;
use chrono::Duration;
use common::RedisServer;
use common::tickers::{at, clock_at, config, run_until, store};

/// Every payload on a queue, oldest first.
fn payloads(server: &RedisServer, queue: &str) -> Vec<Payload> {
    let raw: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("campanile:{{{queue}}}:pending"))
        .arg(0)
        .arg(-1)
        .query(&mut server.connection())
        .unwrap();
    raw.iter().rev().map(|p| serde_json::from_str(p).unwrap()).collect()
}

/// `(job, scheduled_at)` of every payload on a queue, oldest first.
fn pending(server: &RedisServer, queue: &str) -> Vec<(String, String)> {
    payloads(server, queue)
        .into_iter()
        .map(|p| (p.job, p.scheduled_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
        .collect()
}

fn ticks_of(server: &RedisServer, job: &str) -> Vec<String> {
    pending(server, "default").into_iter().filter(|(j, _)| j == job).map(|(_, t)| t).collect()
}

const HOURLY: &str = r#"
[jobs.latest]
cron = "0 * * * *"
command = "x"
overlap = "allow"
[jobs.all]
cron = "0 * * * *"
command = "x"
overlap = "allow"
catch_up = "all"
[jobs.none]
cron = "0 * * * *"
command = "x"
overlap = "allow"
catch_up = "none"
"#;

#[tokio::test]
async fn first_start_does_not_backfill() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let (_, fired) = clock_at(&config(HOURLY), &store, at("2026-11-23T10:30:00Z")).await;
    assert_eq!(fired, Fired::default());
    assert!(pending(&server, "default").is_empty());
}

#[tokio::test]
async fn each_tick_is_pushed_once_as_time_passes() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let (mut clock, _) = clock_at(&config(HOURLY), &store, at("2026-11-23T10:30:00Z")).await;
    let fired = run_until(&mut clock, at("2026-11-23T12:30:00Z")).await;
    assert_eq!(fired.pushed, 6);
    assert_eq!(ticks_of(&server, "latest"), ["2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z"]);
}

#[tokio::test]
async fn restart_across_missed_ticks_applies_each_catch_up_policy() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(HOURLY);
    let (mut first, _) = clock_at(&cfg, &store, at("2026-11-23T10:30:00Z")).await;
    run_until(&mut first, at("2026-11-23T11:30:00Z")).await; // pushes 11:00
    drop(first); // the process dies; 12:00, 13:00 and 14:00 pass unseen

    let (_, fired) = clock_at(&cfg, &store, at("2026-11-23T14:20:00Z")).await;
    assert_eq!(ticks_of(&server, "latest"), ["2026-11-23T11:00:00Z", "2026-11-23T14:00:00Z"]);
    assert_eq!(
        ticks_of(&server, "all"),
        ["2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z", "2026-11-23T13:00:00Z", "2026-11-23T14:00:00Z"]
    );
    assert_eq!(ticks_of(&server, "none"), ["2026-11-23T11:00:00Z"]);
    assert_eq!(fired, Fired { pushed: 4, duplicate: 0, overlap: 0, missed: 2 + 3, paused: 0 });
    let stats: Vec<(String, i64)> =
        redis::cmd("HGETALL").arg("campanile:{default}:stats").query(&mut server.connection()).unwrap();
    let stat = |k: &str| stats.iter().find(|(f, _)| f == k).map(|(_, v)| *v);
    assert_eq!(stat("latest:missed"), Some(2));
    assert_eq!(stat("none:missed"), Some(3));
    assert_eq!(stat("all:missed"), None);

    // A second restart finds nothing left to do: missed ticks were recorded.
    let (_, again) = clock_at(&cfg, &store, at("2026-11-23T14:25:00Z")).await;
    assert_eq!(again, Fired::default());
}

#[tokio::test]
async fn a_tick_decided_but_not_pushed_before_a_crash_is_pushed_after_restart() {
    // The clock died right at 12:00:00, before pushing; it is back (or a
    // standby took over) 20 s later. Even `catch_up = "none"` pushes it: a
    // tick less than a minute late is late, not missed.
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(HOURLY);
    let (mut first, _) = clock_at(&cfg, &store, at("2026-11-23T11:30:00Z")).await;
    run_until(&mut first, at("2026-11-23T11:59:59Z")).await;
    drop(first);
    let (_, fired) = clock_at(&cfg, &store, at("2026-11-23T12:00:20Z")).await;
    assert_eq!(fired.pushed, 3);
    assert_eq!(ticks_of(&server, "none"), ["2026-11-23T12:00:00Z"]);
}

#[tokio::test]
async fn a_job_new_to_redis_that_crashes_before_its_first_tick_still_gets_it() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config("[jobs.daily]\ncron = \"0 3 * * *\"\ncommand = \"x\"\ncatch_up = \"none\"\n");
    clock_at(&cfg, &store, at("2026-11-23T02:59:50Z")).await; // registers the job, then dies
    let (_, fired) = clock_at(&cfg, &store, at("2026-11-23T03:00:30Z")).await;
    assert_eq!(fired.pushed, 1);
    assert_eq!(ticks_of(&server, "daily"), ["2026-11-23T03:00:00Z"]);
}

#[tokio::test]
async fn a_clock_from_an_older_leadership_term_is_fenced() {
    // Clock A leads; it freezes past its lease and B takes over with a newer
    // term. When A wakes up, everything it tries to push is refused, even
    // ticks that B has not reached yet; B pushes each tick once.
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(HOURLY);
    let start = at("2026-11-23T10:30:00Z");
    let (mut a, _) = clock_at(&cfg, &store, start).await;
    let (mut b, _) = clock_at(&cfg, &store, start).await;
    // A wakes up at 12:00, ahead of B: refused all the same.
    let refused = a.fire_due(at("2026-11-23T12:00:00Z")).await;
    assert!(matches!(refused, Err(campanile::store::Error::Fenced)), "{refused:?}");
    for hour in 11..=14 {
        let t = at(&format!("2026-11-23T{hour}:00:00Z"));
        assert_eq!(b.fire_due(t).await.unwrap().pushed, 3);
    }
    assert_eq!(ticks_of(&server, "all").len(), 4);
    // A restarted A leads again with a newer term still.
    let (mut a2, _) = clock_at(&cfg, &store, at("2026-11-23T14:30:00Z")).await;
    assert_eq!(a2.fire_due(at("2026-11-23T15:00:00Z")).await.unwrap().pushed, 3);
    assert!(matches!(b.fire_due(at("2026-11-23T16:00:00Z")).await, Err(campanile::store::Error::Fenced)));
}

#[tokio::test]
async fn a_crash_mid_batch_leaves_no_tick_lost_or_doubled() {
    // Clock A pushed part of a batch (jobs a1 and a2) and died; clock B then
    // handles the same instant for all four jobs.
    let server = RedisServer::start();
    let store = store(&server).await;
    let jobs = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("[jobs.{n}]\nevery = \"1m\"\ncommand = \"x\"\noverlap = \"allow\"\n"))
            .collect::<String>()
    };
    let start = at("2026-11-23T10:00:30Z");
    let all = config(&jobs(&["a1", "a2", "a3", "a4"]));
    clock_at(&all, &store, start).await; // registers every job
    let (mut partial, _) = clock_at(&config(&jobs(&["a1", "a2"])), &store, start).await;
    partial.fire_due(at("2026-11-23T10:01:00Z")).await.unwrap();
    let (_, fired) = clock_at(&all, &store, at("2026-11-23T10:01:05Z")).await;
    assert_eq!(
        fired,
        Fired { pushed: 2, duplicate: 0, overlap: 0, missed: 0, paused: 0 },
        "a1, a2 were already handled"
    );
    for job in ["a1", "a2", "a3", "a4"] {
        assert_eq!(ticks_of(&server, job), ["2026-11-23T10:01:00Z"], "{job}");
    }
}

#[tokio::test]
async fn a_changed_schedule_starts_fresh_and_a_removed_job_stops() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let before = config(
        "[defaults]\noverlap = \"allow\"\n[jobs.kept]\nevery = \"1h\"\ncommand = \"x\"\n\
         [jobs.changed]\nevery = \"1h\"\ncommand = \"x\"\n[jobs.removed]\nevery = \"1h\"\ncommand = \"x\"\n",
    );
    let (mut old, _) = clock_at(&before, &store, at("2026-11-23T09:30:00Z")).await;
    run_until(&mut old, at("2026-11-23T10:30:00Z")).await;
    drop(old);
    // Redeployed three hours later: `changed` now runs every 2h at :30.
    let after = config(
        "[defaults]\noverlap = \"allow\"\n[jobs.kept]\nevery = \"1h\"\ncommand = \"x\"\n\
         [jobs.changed]\nevery = \"2h\"\noffset = \"30m\"\ncommand = \"x\"\ncatch_up = \"all\"\n",
    );
    let (mut new, fired) = clock_at(&after, &store, at("2026-11-23T13:45:00Z")).await;
    assert_eq!(fired.pushed, 1, "only kept's latest missed tick; changed starts fresh");
    run_until(&mut new, at("2026-11-23T16:00:00Z")).await;
    assert_eq!(
        ticks_of(&server, "kept"),
        [
            "2026-11-23T10:00:00Z",
            "2026-11-23T13:00:00Z",
            "2026-11-23T14:00:00Z",
            "2026-11-23T15:00:00Z",
            "2026-11-23T16:00:00Z"
        ]
    );
    assert_eq!(ticks_of(&server, "changed"), ["2026-11-23T10:00:00Z", "2026-11-23T14:30:00Z"]);
    assert_eq!(ticks_of(&server, "removed"), ["2026-11-23T10:00:00Z"]);
}

#[tokio::test]
async fn ticks_older_than_the_catch_up_window_are_never_pushed() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(
        "[jobs.all]\nevery = \"1h\"\ncommand = \"x\"\noverlap = \"allow\"\ncatch_up = \"all\"\ncatch_up_window = \"3h\"\n\
         [jobs.daily]\ncron = \"0 6 * * *\"\ncommand = \"x\"\n",
    );
    clock_at(&cfg, &store, at("2026-11-20T05:30:00Z")).await;
    // Down for three days: the default window (24h) still covers the daily
    // job's latest tick; the hourly job's is limited to 3h.
    let (_, fired) = clock_at(&cfg, &store, at("2026-11-23T10:30:00Z")).await;
    assert_eq!(
        ticks_of(&server, "all"),
        ["2026-11-23T08:00:00Z", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z"]
    );
    assert_eq!(ticks_of(&server, "daily"), ["2026-11-23T06:00:00Z"]);
    assert_eq!(fired.pushed, 4);
}

#[tokio::test]
async fn overlap_skip_holds_the_next_tick_until_the_marker_clears_or_expires() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config("[jobs.slow]\nevery = \"1m\"\ncommand = \"x\"\ntimeout = \"2m\"\n");
    let (mut clock, _) = clock_at(&cfg, &store, at("2026-11-23T10:00:30Z")).await;
    assert_eq!(clock.fire_due(at("2026-11-23T10:01:00Z")).await.unwrap().pushed, 1);
    let mut con = server.connection();
    let marker: String =
        redis::cmd("HGET").arg("campanile:{default}:inflight").arg("slow").query(&mut con).unwrap();
    // It expires on its own: the job's timeout plus a five-minute margin
    // after the push.
    let expiry = at("2026-11-23T10:08:00Z").timestamp_millis();
    assert_eq!(marker, format!("slow@2026-11-23T10:01:00Z|{expiry}"));

    let f = clock.fire_due(at("2026-11-23T10:02:00Z")).await.unwrap();
    assert_eq!(f, Fired { pushed: 0, duplicate: 0, overlap: 1, missed: 0, paused: 0 });

    // The marker lapses (its worker vanished): the next tick goes out.
    let lapsed = format!("slow@2026-11-23T10:01:00Z|{}", at("2026-11-23T10:03:00Z").timestamp_millis());
    let _: () = redis::cmd("HSET")
        .arg("campanile:{default}:inflight")
        .arg("slow")
        .arg(lapsed)
        .query(&mut con)
        .unwrap();
    assert_eq!(clock.fire_due(at("2026-11-23T10:03:00Z")).await.unwrap().pushed, 1);
    assert_eq!(ticks_of(&server, "slow"), ["2026-11-23T10:01:00Z", "2026-11-23T10:03:00Z"]);
    let skipped: i64 =
        redis::cmd("HGET").arg("campanile:{default}:stats").arg("slow:overlap").query(&mut con).unwrap();
    assert_eq!(skipped, 1);
}

/// A job with `overlap = "skip"` runs one payload at a time: of the ticks a
/// catch-up would push, the newest goes out and the older ones are counted
/// as skipped for overlap.
#[tokio::test]
async fn catch_up_all_with_overlap_skip_pushes_the_newest_missed_tick_only() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config("[jobs.slow]\ncron = \"0 * * * *\"\ncommand = \"x\"\ncatch_up = \"all\"\n");
    let (mut first, _) = clock_at(&cfg, &store, at("2026-11-23T10:30:00Z")).await;
    run_until(&mut first, at("2026-11-23T11:30:00Z")).await; // pushes 11:00
    drop(first);
    // The 11:00 run finished; 12:00 and 13:00 pass unseen.
    let mut con = server.connection();
    let _: () = redis::cmd("HDEL").arg("campanile:{default}:inflight").arg("slow").query(&mut con).unwrap();

    let (_, fired) = clock_at(&cfg, &store, at("2026-11-23T13:20:00Z")).await;
    assert_eq!(fired, Fired { pushed: 1, duplicate: 0, overlap: 1, missed: 0, paused: 0 });
    assert_eq!(ticks_of(&server, "slow"), ["2026-11-23T11:00:00Z", "2026-11-23T13:00:00Z"]);
    assert_eq!(job_stats(&server, "slow"), [("slow:enqueued".to_owned(), 2), ("slow:overlap".to_owned(), 1)]);
    let marker: String =
        redis::cmd("HGET").arg("campanile:{default}:inflight").arg("slow").query(&mut con).unwrap();
    assert!(marker.starts_with("slow@2026-11-23T13:00:00Z|"), "{marker}");
}

/// The `<job>:…` counters of a job, sorted.
fn job_stats(server: &RedisServer, job: &str) -> Vec<(String, i64)> {
    let stats: Vec<(String, i64)> =
        redis::cmd("HGETALL").arg("campanile:{default}:stats").query(&mut server.connection()).unwrap();
    let mut stats: Vec<_> = stats.into_iter().filter(|(f, _)| f.starts_with(&format!("{job}:"))).collect();
    stats.sort();
    stats
}

/// After a failover, the late ticks of an `overlap = "skip"` job (those of
/// the last minute) are one burst: the newest is pushed, the older ones are
/// counted as skipped for overlap, and nothing is missed.
#[tokio::test]
async fn late_ticks_of_a_skip_job_after_a_failover_push_the_newest() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config("[jobs.fast]\nevery = \"5s\"\ncommand = \"x\"\n");
    let (mut first, _) = clock_at(&cfg, &store, at("2026-11-23T11:59:58Z")).await;
    run_until(&mut first, at("2026-11-23T12:00:00Z")).await; // pushes 12:00:00
    drop(first); // the leader dies; its run finishes meanwhile
    let mut con = server.connection();
    let _: () = redis::cmd("HDEL").arg("campanile:{default}:inflight").arg("fast").query(&mut con).unwrap();

    // A standby takes over 32 s later: 12:00:05 … 12:00:30 are late.
    let (_, fired) = clock_at(&cfg, &store, at("2026-11-23T12:00:32Z")).await;
    assert_eq!(fired, Fired { pushed: 1, duplicate: 0, overlap: 5, missed: 0, paused: 0 });
    assert_eq!(ticks_of(&server, "fast"), ["2026-11-23T12:00:00Z", "2026-11-23T12:00:30Z"]);
    assert_eq!(job_stats(&server, "fast"), [("fast:enqueued".to_owned(), 2), ("fast:overlap".to_owned(), 5)]);
}

/// `enqueued_at` of every payload on the default queue, oldest first.
fn enqueued_at(server: &RedisServer) -> Vec<String> {
    payloads(server, "default").iter().map(|p| p.enqueued_at.format("%H:%M:%S%.3f").to_string()).collect()
}

/// A batch built ahead of its instant is sent as built at that instant;
/// one whose instant has passed is built again, so `enqueued_at` is always
/// the instant of the push; before its instant nothing is sent.
#[tokio::test]
async fn a_batch_prepared_ahead_is_sent_at_its_instant_and_rebuilt_when_late() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config("[jobs.a]\nevery = \"1m\"\ncommand = \"x\"\noverlap = \"allow\"\n");
    let (mut clock, _) = clock_at(&cfg, &store, at("2026-11-23T10:00:30Z")).await;
    let due = clock.next_due().unwrap();
    assert_eq!(due, at("2026-11-23T10:01:00Z"));

    clock.prepare(due);
    assert!(clock.is_prepared(due));
    assert_eq!(clock.next_due(), Some(due));
    let early = clock.fire_due(at("2026-11-23T10:00:59.999Z")).await.unwrap();
    assert_eq!(early, Fired::default());
    assert!(enqueued_at(&server).is_empty());
    assert_eq!(clock.fire_due(at("2026-11-23T10:01:00.000Z")).await.unwrap().pushed, 1);
    assert_eq!(enqueued_at(&server), ["10:01:00.000"]);

    let due = clock.next_due().unwrap();
    clock.prepare(due);
    // The thread woke late: the batch is built again for the real instant.
    assert_eq!(clock.fire_due(at("2026-11-23T10:02:00.004Z")).await.unwrap().pushed, 1);
    assert_eq!(enqueued_at(&server), ["10:01:00.000", "10:02:00.004"]);
    assert_eq!(clock.next_due(), Some(at("2026-11-23T10:03:00Z")));
    assert!(!clock.is_prepared(at("2026-11-23T10:03:00Z")));
}

#[tokio::test]
async fn jitter_delays_each_tick_deterministically_within_its_bound() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config("[jobs.j]\nevery = \"1m\"\ncommand = \"x\"\njitter = \"30s\"\noverlap = \"allow\"\n");
    let (a, _) = clock_at(&cfg, &store, at("2026-11-23T10:00:30Z")).await;
    let (b, _) = clock_at(&cfg, &store, at("2026-11-23T10:00:45Z")).await;
    let due = a.next_due().unwrap();
    assert_eq!(b.next_due(), Some(due), "every clock computes the same delay");
    let tick = at("2026-11-23T10:01:00Z");
    assert!(due >= tick && due <= tick + Duration::seconds(30), "{due}");
    let mut b = b;
    assert_eq!(b.fire_due(due - Duration::milliseconds(1)).await.unwrap().pushed, 0);
    assert_eq!(b.fire_due(due).await.unwrap().pushed, 1);
}

#[tokio::test]
async fn ten_thousand_ticks_due_together_take_one_round_trip() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let text: String = (0..10_000)
        .map(|i| format!("[jobs.j{i}]\nevery = \"1m\"\ncommand = \"x\"\noverlap = \"allow\"\n"))
        .collect();
    let cfg = config(&text);
    let (mut clock, _) = clock_at(&cfg, &store, at("2026-11-23T10:00:30Z")).await;
    let before = evalsha_calls(&server);
    let fired = clock.fire_due(at("2026-11-23T10:01:00Z")).await.unwrap();
    assert_eq!(fired.pushed, 10_000);
    // One pipeline of 10 script calls of 1,000 ticks (not 10,000 calls).
    assert_eq!(evalsha_calls(&server) - before, 10);
    let len: i64 =
        redis::cmd("LLEN").arg("campanile:{default}:pending").query(&mut server.connection()).unwrap();
    assert_eq!(len, 10_000);
}

fn evalsha_calls(server: &RedisServer) -> i64 {
    command_calls(server, "evalsha")
}

/// How many times Redis ran `command`, scripts' commands included.
fn command_calls(server: &RedisServer, command: &str) -> i64 {
    server.command_stat(command, "calls") as i64
}

#[tokio::test]
async fn a_paused_job_skips_its_ticks_and_resumes_without_catching_them_up() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config("[jobs.p]\nevery = \"1m\"\ncommand = \"x\"\noverlap = \"allow\"\ncatch_up = \"all\"\n");
    let (mut clock, _) = clock_at(&cfg, &store, at("2026-11-23T10:00:30Z")).await;
    let mut con = server.connection();
    let paused = "campanile:{default}:paused";
    let _: () = redis::cmd("HSET").arg(paused).arg("p").arg("2026-11-23T10:00:40Z").query(&mut con).unwrap();
    let f = run_until(&mut clock, at("2026-11-23T10:02:00Z")).await;
    assert_eq!(f, Fired { paused: 2, ..Fired::default() });
    let _: () = redis::cmd("HDEL").arg(paused).arg("p").query(&mut con).unwrap();
    // A restart after resuming does not catch the skipped ticks up.
    let (mut clock, f) = clock_at(&cfg, &store, at("2026-11-23T10:02:10Z")).await;
    assert_eq!(f, Fired::default());
    run_until(&mut clock, at("2026-11-23T10:03:00Z")).await;
    assert_eq!(ticks_of(&server, "p"), ["2026-11-23T10:03:00Z"]);
    let skipped: i64 =
        redis::cmd("HGET").arg("campanile:{default}:stats").arg("p:paused").query(&mut con).unwrap();
    assert_eq!(skipped, 2);
}

/// A catch-up larger than one pipeline (about a megabyte of script calls)
/// goes out as several, one after another: every missed tick is pushed
/// once, oldest first, across the calls and pipelines.
#[tokio::test]
async fn a_catch_up_larger_than_a_pipeline_is_pushed_once_and_in_order() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg =
        config("[jobs.often]\nevery = \"10s\"\ncommand = \"x\"\noverlap = \"allow\"\ncatch_up = \"all\"\n");
    let (mut first, _) = clock_at(&cfg, &store, at("2026-11-23T00:00:00Z")).await;
    run_until(&mut first, at("2026-11-23T00:00:10Z")).await;
    drop(first); // down for twelve hours: 4,320 ticks, five script calls, two pipelines
    let (_, fired) = clock_at(&cfg, &store, at("2026-11-23T12:00:10Z")).await;
    assert_eq!(fired.pushed, 4320);
    let ticks = ticks_of(&server, "often");
    // 00:00:10 from the first clock, then 00:00:20 to 12:00:10.
    let expected: Vec<String> = (1..=4321)
        .map(|i| {
            (at("2026-11-23T00:00:00Z") + Duration::seconds(10 * i)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
        })
        .collect();
    assert_eq!(ticks.len(), expected.len());
    assert!(
        ticks == expected,
        "ticks out of order or missing: first {:?}, last {:?}",
        &ticks[..3],
        &ticks[ticks.len() - 3..]
    );
}

/// A script call checks all its ticks at once and writes them with one
/// command per key when they are the same-instant ticks of distinct jobs,
/// none handled, in flight or paused; otherwise it goes tick by tick. The
/// outcome is the same: a call with a tick already handled and one in
/// flight still pushes the others, in order, each with its state, marker
/// and counter.
#[tokio::test]
async fn a_call_with_a_duplicate_and_an_overlap_still_pushes_the_others_in_order() {
    use campanile::config::{Format, JobName, QueueName};
    use campanile::store::{Sequences, TickAction, TickOp, TickStatus};

    let server = RedisServer::start();
    let store = store(&server).await;
    let mut con = server.connection();
    let now = at("2026-11-23T10:00:00Z").timestamp_millis();
    let op = |job: &str, tick: i64, marker: bool| TickOp {
        queue: QueueName::new("default").unwrap(),
        job: JobName::new(job).unwrap(),
        tick,
        fingerprint: "fp".into(),
        action: TickAction::Push { payload: format!("{job}@{tick}"), id: format!("{job}@{tick}") },
        inflight_until: marker.then_some(now + 60_000),
        format: Format::Campanile,
        start_deadline: None,
    };
    let hash = |con: &mut redis::Connection, key: &str| -> std::collections::BTreeMap<String, String> {
        redis::cmd("HGETALL").arg(key).query(con).unwrap()
    };
    let list = |con: &mut redis::Connection| -> Vec<String> {
        let mut v: Vec<String> =
            redis::cmd("LRANGE").arg("campanile:{default}:pending").arg(0).arg(-1).query(con).unwrap();
        v.reverse();
        v
    };
    let mut seqs = Sequences::new();

    let first = [op("a", 100, true), op("b", 100, false), op("c", 100, true)];
    let statuses = store.enqueue(1, &mut seqs, &first, now).await.unwrap();
    assert_eq!(statuses, [TickStatus::Pushed; 3]);
    // One LPUSH per job's tick log besides the pending list's.
    assert_eq!(command_calls(&server, "lpush"), 1 + 3, "all three in one LPUSH");
    assert_eq!(list(&mut con), ["a@100", "b@100", "c@100"]);
    let ticks = hash(&mut con, "campanile:{default}:ticks");
    assert_eq!((&ticks["a"][..], &ticks["b"][..], &ticks["c"][..]), ("100|fp", "100|fp", "100|fp"));
    let expiry = now + 60_000;
    let markers = hash(&mut con, "campanile:{default}:inflight");
    assert_eq!(
        markers.into_iter().collect::<Vec<_>>(),
        [("a".to_owned(), format!("a@100|{expiry}")), ("c".to_owned(), format!("c@100|{expiry}"))]
    );

    // b's 200 was handled (by another clock), c's run vanished and its
    // marker lapsed; a's is still in flight.
    let _: () =
        redis::cmd("HSET").arg("campanile:{default}:ticks").arg("b").arg("200|fp").query(&mut con).unwrap();
    let lapsed = format!("c@100|{now}");
    let _: () =
        redis::cmd("HSET").arg("campanile:{default}:inflight").arg("c").arg(lapsed).query(&mut con).unwrap();
    let second = [op("a", 200, true), op("b", 200, false), op("c", 200, true), op("d", 200, false)];
    let statuses = store.enqueue(1, &mut seqs, &second, now).await.unwrap();
    assert_eq!(
        statuses,
        [TickStatus::Overlap, TickStatus::Duplicate, TickStatus::Pushed, TickStatus::Pushed]
    );
    // c and d pushed one by one, and a, c and d logged (b's tick was
    // already handled: nothing to log).
    assert_eq!(command_calls(&server, "lpush"), 4 + 2 + 3, "then tick by tick");
    assert_eq!(list(&mut con), ["a@100", "b@100", "c@100", "c@200", "d@200"]);
    let ticks = hash(&mut con, "campanile:{default}:ticks");
    assert_eq!(
        (&ticks["a"][..], &ticks["b"][..], &ticks["c"][..], &ticks["d"][..]),
        ("200|fp", "200|fp", "200|fp", "200|fp")
    );
    let markers = hash(&mut con, "campanile:{default}:inflight");
    assert_eq!(markers["a"], format!("a@100|{expiry}"), "an overlap leaves the marker alone");
    assert_eq!(markers["c"], format!("c@200|{expiry}"));
    let stats = hash(&mut con, "campanile:{default}:stats");
    let stats: Vec<(&str, &str)> = stats.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        stats,
        [
            ("a:enqueued", "1"),
            ("a:overlap", "1"),
            ("b:enqueued", "1"),
            ("c:enqueued", "2"),
            ("d:enqueued", "1")
        ]
    );
}

/// Start-up sync of a queue with many jobs goes out in calls of bounded
/// size, so no single script call blocks Redis for long, and every job is
/// synced.
#[tokio::test]
async fn start_up_sync_of_a_large_queue_is_sent_in_bounded_calls() {
    const JOBS: usize = 25_000;
    let server = RedisServer::start();
    let store = store(&server).await;
    let mut text = String::with_capacity(JOBS * 48);
    for i in 0..JOBS {
        text.push_str(&format!("[jobs.j{i}]\nevery = \"1h\"\ncommand = \"x\"\n"));
    }
    let cfg = config(&text);
    let mut con = server.connection();
    // Log every command with its argument count.
    for (name, value) in [("slowlog-log-slower-than", "0"), ("slowlog-max-len", "100000")] {
        let () = redis::cmd("CONFIG").arg("SET").arg(name).arg(value).query(&mut con).unwrap();
    }
    let () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let (_, fired) = clock_at(&cfg, &store, at("2026-11-23T10:30:00Z")).await;
    assert_eq!(fired, Fired::default());
    let synced: usize = redis::cmd("HLEN").arg("campanile:{default}:ticks").query(&mut con).unwrap();
    assert_eq!(synced, JOBS + 2, "every job and __term, __seq");

    // A SLOWLOG entry lists up to 32 arguments, the last one reading
    // "... (N more arguments)" when there were more.
    let entries: Vec<Vec<redis::Value>> =
        redis::cmd("SLOWLOG").arg("GET").arg(100_000).query(&mut con).unwrap();
    let entries: Vec<Vec<String>> =
        entries.into_iter().map(|e| redis::from_redis_value(e[3].clone()).unwrap()).collect();
    let arg_count = |args: &[String]| match args.last().and_then(|a| a.strip_prefix("... (")) {
        Some(rest) => args.len() - 1 + rest.split(' ').next().unwrap().parse::<usize>().unwrap(),
        None => args.len(),
    };
    let scripts: Vec<usize> = entries
        .iter()
        .filter(|args| args[0].eq_ignore_ascii_case("evalsha") || args[0].eq_ignore_ascii_case("eval"))
        .map(|args| arg_count(args))
        .collect();
    let largest = scripts.iter().copied().max().unwrap_or(0);
    assert!(scripts.len() >= JOBS / 1000, "{} script calls", scripts.len());
    // Three arguments per job (name, fingerprint, remembered tick).
    assert!(largest <= 3 * 1000 + 10, "a script call carried {largest} arguments");
}
