//! The watch for runs that do not happen, against a real redis-server: a
//! pushed payload joins the waiting set with its start deadline, a run's
//! start takes it out, the watch moves an overdue one to the late set and
//! reports it once however many clocks watch; the sets stay bounded; a
//! queue's unserved episode is reported once at its start and once at its
//! end, with two clocks watching.

mod common;

use std::time::Duration;

use campanile::config::{Config, Format, JobName, QueueName, RedisSettings};
use campanile::store::{
    Episode, LATE_CAP, Sequences, Store, TickAction, TickOp, TickStatus, WAITING_CAP, WATCH_GAP,
};
use common::RedisServer;

const WAITING: &str = "campanile:{default}:waiting";
const LATE: &str = "campanile:{default}:late";
const MONITOR: &str = "campanile:{default}:monitor";

async fn store(server: &RedisServer) -> Store {
    let settings = RedisSettings { url: Some(server.url()), ..RedisSettings::default() };
    Store::connect(&settings).await.unwrap()
}

fn queue() -> QueueName {
    QueueName::new("default").unwrap()
}

async fn now_ms(store: &Store) -> i64 {
    store.redis_time_us().await.unwrap() / 1000
}

/// A push of `job`'s tick `tick` (Unix seconds) due to start by `deadline`.
fn push(job: &str, tick: i64, deadline: Option<i64>) -> TickOp {
    let id = format!("{job}@{tick}");
    TickOp {
        queue: queue(),
        job: JobName::new(job).unwrap(),
        tick,
        fingerprint: "fp".into(),
        action: TickAction::Push { payload: format!(r#"{{"id":"{id}"}}"#), id },
        inflight_until: None,
        format: Format::Campanile,
        start_deadline: deadline,
    }
}

async fn enqueue(store: &Store, ops: &[TickOp]) -> Vec<TickStatus> {
    store.enqueue(1, &mut Sequences::new(), ops, now_ms(store).await).await.unwrap()
}

fn zset(server: &RedisServer, key: &str) -> Vec<(String, i64)> {
    redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query(&mut server.connection()).unwrap()
}

fn late_ids(look: &campanile::store::QueueLook) -> Vec<&str> {
    look.late.iter().map(|l| l.id.as_str()).collect()
}

#[tokio::test]
async fn an_overdue_payload_goes_late_once_whichever_clock_watches() {
    let server = RedisServer::start();
    let (a, b) = (store(&server).await, store(&server).await);
    let now = now_ms(&a).await;
    let ops = [push("overdue", 1, Some(now - 1)), push("fresh", 1, Some(now + 60_000)), push("off", 1, None)];
    assert_eq!(enqueue(&a, &ops).await, [TickStatus::Pushed; 3]);
    assert_eq!(
        zset(&server, WAITING),
        [("overdue@1".to_owned(), now - 1), ("fresh@1".to_owned(), now + 60_000)],
        "a push with a deadline waits with it; one without is not watched"
    );

    let first = a.watch_queue(&queue(), Duration::from_secs(60)).await.unwrap();
    assert_eq!(late_ids(&first), ["overdue@1"]);
    assert_eq!(first.late[0].deadline_ms, now - 1);
    assert_eq!((first.depth, first.live_workers), (3, 0));
    for _ in 0..3 {
        for clock in [&a, &b] {
            let again = clock.watch_queue(&queue(), Duration::from_secs(60)).await.unwrap();
            assert!(again.late.is_empty(), "reported again: {:?}", again.late);
        }
    }
    assert_eq!(zset(&server, LATE), [("overdue@1".to_owned(), now - 1)], "moved with its deadline");
    assert_eq!(zset(&server, WAITING), [("fresh@1".to_owned(), now + 60_000)]);
}

#[tokio::test]
async fn a_started_run_never_goes_late_and_leaves_the_late_set() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let now = now_ms(&store).await;
    enqueue(&store, &[push("quick", 1, Some(now + 100)), push("slow", 1, Some(now - 1))]).await;
    store.start_run(&queue(), "w1", "quick", "quick@1", Duration::from_secs(60)).await.unwrap();
    let late = store.watch_queue(&queue(), Duration::from_secs(60)).await.unwrap();
    assert_eq!(late_ids(&late), ["slow@1"]);
    tokio::time::sleep(Duration::from_millis(150)).await; // past quick's deadline
    let after = store.watch_queue(&queue(), Duration::from_secs(60)).await.unwrap();
    assert!(after.late.is_empty(), "{:?}", after.late);

    // A late payload that starts at last leaves the late set.
    assert_eq!(zset(&server, LATE).len(), 1);
    store.start_run(&queue(), "w1", "slow", "slow@1", Duration::from_secs(60)).await.unwrap();
    assert!(zset(&server, LATE).is_empty());
    assert!(zset(&server, WAITING).is_empty());
}

#[tokio::test]
async fn the_waiting_set_is_capped_and_a_push_past_the_cap_is_counted() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let now = now_ms(&store).await;
    let mut con = server.connection();
    let mut fill = redis::cmd("ZADD");
    fill.arg(WAITING);
    for i in 0..WAITING_CAP - 1 {
        fill.arg(now + 600_000).arg(format!("other@{i}"));
    }
    let () = fill.query(&mut con).unwrap();
    // Two pushes with room for one: the fast path and the tick-by-tick
    // path (a paused job forces it) both keep the cap.
    let ops = [push("a", 1, Some(now + 60_000)), push("b", 1, Some(now + 60_000))];
    assert_eq!(enqueue(&store, &ops).await, [TickStatus::Pushed; 2]);
    let () = redis::cmd("HSET").arg("campanile:{default}:paused").arg("p").arg("x").query(&mut con).unwrap();
    let ops = [push("c", 1, Some(now + 60_000)), push("p", 1, Some(now + 60_000))];
    assert_eq!(enqueue(&store, &ops).await, [TickStatus::Pushed, TickStatus::Paused]);
    let count: usize = redis::cmd("ZCARD").arg(WAITING).query(&mut con).unwrap();
    assert_eq!(count, WAITING_CAP);
    let stats: std::collections::BTreeMap<String, i64> =
        redis::cmd("HGETALL").arg("campanile:{default}:stats").query(&mut con).unwrap();
    assert_eq!((stats.get("b:unwatched"), stats.get("c:unwatched")), (Some(&1), Some(&1)), "{stats:?}");
    assert_eq!(stats.get("a:unwatched"), None);
    assert_eq!(stats.get("b:enqueued"), Some(&1), "pushed all the same");
}

#[tokio::test]
async fn the_late_set_keeps_the_newest_and_a_watch_moves_a_bounded_batch() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let now = now_ms(&store).await;
    let mut fill = redis::cmd("ZADD");
    fill.arg(WAITING);
    let overdue = LATE_CAP + 500;
    for i in 0..overdue {
        fill.arg(now - 10_000 + i as i64).arg(format!("j@{i}"));
    }
    let () = fill.query(&mut server.connection()).unwrap();
    let first = store.watch_queue(&queue(), Duration::from_secs(60)).await.unwrap();
    let second = store.watch_queue(&queue(), Duration::from_secs(60)).await.unwrap();
    assert_eq!((first.late.len(), second.late.len()), (1000, 500));
    assert_eq!(first.late[0].id, "j@0", "earliest deadline first");
    let kept = zset(&server, LATE);
    assert_eq!(kept.len(), LATE_CAP);
    assert_eq!(kept[0].0, "j@500", "the earliest deadlines are dropped");
    assert_eq!(kept.last().unwrap().0, format!("j@{}", overdue - 1));
}

fn set_lease(server: &RedisServer, worker: &str, alive: bool) {
    let mut con = server.connection();
    let key = format!("campanile:{{default}}:lease:{worker}");
    if alive {
        let () = redis::cmd("SET").arg(&key).arg(worker).arg("PX").arg(60_000).query(&mut con).unwrap();
    } else {
        let () = redis::cmd("DEL").arg(&key).query(&mut con).unwrap();
    }
}

#[tokio::test]
async fn unserved_and_served_are_reported_once_per_episode_with_two_clocks() {
    let server = RedisServer::start();
    let (a, b) = (store(&server).await, store(&server).await);
    let () = redis::cmd("SADD")
        .arg("campanile:{default}:workers")
        .arg(&["w1", "w2"][..])
        .query(&mut server.connection())
        .unwrap();
    set_lease(&server, "w1", true);
    let after = Duration::from_millis(300);
    let watch = |clock: &Store| {
        let clock = clock.clone();
        async move { clock.watch_queue(&queue(), after).await.unwrap() }
    };
    let served = watch(&a).await;
    assert_eq!((served.live_workers, served.episode), (1, None), "w2 registered but its lease is gone");

    for round in 0..2 {
        set_lease(&server, "w1", false);
        let mut episodes = Vec::new();
        let started = std::time::Instant::now();
        while started.elapsed() < after * 3 {
            for clock in [&a, &b] {
                let look = watch(clock).await;
                assert_eq!(look.live_workers, 0);
                episodes.extend(look.episode);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(episodes.len(), 1, "round {round}: {episodes:?}");
        let Episode::Unserved(unserved) = episodes[0] else { panic!("{episodes:?}") };
        assert!(unserved >= after && unserved < after * 2, "{unserved:?}");

        set_lease(&server, "w1", true);
        let back: Vec<Episode> = [watch(&b).await, watch(&a).await, watch(&b).await]
            .into_iter()
            .filter_map(|l| l.episode)
            .collect();
        let [Episode::Served(gap)] = back[..] else { panic!("round {round}: {back:?}") };
        assert!(gap >= unserved, "unserved for {gap:?}, reported after {unserved:?}");
    }
}

#[tokio::test]
async fn a_gap_in_the_watch_starts_an_unreported_episode_over() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let now = now_ms(&store).await;
    let long_ago = now - 3_600_000;
    let () = redis::cmd("HSET")
        .arg(MONITOR)
        .arg("unserved_since")
        .arg(long_ago)
        .arg("checked_at")
        .arg(long_ago)
        .query(&mut server.connection())
        .unwrap();
    // No clock looked for an hour: workers may have come and gone.
    let look = store.watch_queue(&queue(), Duration::from_secs(60)).await.unwrap();
    assert_eq!(look.episode, None);
    let since: i64 =
        redis::cmd("HGET").arg(MONITOR).arg("unserved_since").query(&mut server.connection()).unwrap();
    assert!(since >= now && since < now + WATCH_GAP.as_millis() as i64, "{since} vs {now}");
}

#[tokio::test]
async fn a_look_reports_depth_oldest_payload_and_live_workers_and_changes_nothing() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let empty = store.look_at_queue(&queue()).await.unwrap();
    assert_eq!((empty.depth, empty.oldest_enqueued_at, empty.oldest_pending_secs()), (0, None, 0.0));
    let mut con = server.connection();
    let pending = "campanile:{default}:pending";
    // LPUSHed, taken from the right: the oldest is the rightmost.
    for at in ["2026-11-23T08:00:00.000Z", "2026-11-23T09:00:00.000Z"] {
        let payload =
            format!(r#"{{"id":"j@x","job":"j","enqueued_at":"{at}","args":{{"enqueued_at":"no"}}}}"#);
        let () = redis::cmd("LPUSH").arg(pending).arg(payload).query(&mut con).unwrap();
    }
    let () = redis::cmd("SADD").arg("campanile:{default}:workers").arg("w1").query(&mut con).unwrap();
    set_lease(&server, "w1", true);
    let now = now_ms(&store).await;
    let () = redis::cmd("ZADD").arg(WAITING).arg(now - 1).arg("j@x").query(&mut con).unwrap();
    let look = store.look_at_queue(&queue()).await.unwrap();
    assert_eq!((look.depth, look.live_workers), (2, 1));
    assert_eq!(look.oldest_enqueued_at.unwrap().to_rfc3339(), "2026-11-23T08:00:00+00:00");
    assert!(look.oldest_pending_secs() > 3600.0);
    assert!(look.late.is_empty() && look.episode.is_none());
    assert_eq!(zset(&server, WAITING).len(), 1, "a look moves nothing");
    let exists: i64 = redis::cmd("EXISTS").arg(MONITOR).query(&mut con).unwrap();
    assert_eq!(exists, 0, "a look keeps no episode");
}

#[tokio::test]
async fn a_manual_run_waits_with_its_deadline() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let config = Config::parse(
        "[jobs.hourly]\nevery = \"1h\"\ncommand = \"true\"\nstart_within = \"90s\"\n\
         [jobs.quiet]\nevery = \"1h\"\ncommand = \"true\"\nstart_within = \"off\"\n",
        std::path::Path::new("clock.toml"),
        chrono::DateTime::UNIX_EPOCH,
    )
    .unwrap();
    let now = chrono::DateTime::from_timestamp_millis(now_ms(&store).await).unwrap();
    let pushed = campanile::control::trigger(&store, config.job("hourly").unwrap(), None, now).await.unwrap();
    campanile::control::trigger(&store, config.job("quiet").unwrap(), None, now).await.unwrap();
    assert_eq!(zset(&server, WAITING), [(pushed.id, now.timestamp_millis() + 90_000)]);
    let depth: i64 =
        redis::cmd("LLEN").arg("campanile:{default}:pending").query(&mut server.connection()).unwrap();
    assert_eq!(depth, 2);
}

#[tokio::test]
async fn each_pushed_tick_waits_until_its_tick_plus_start_within() {
    use common::tickers::{at, clock_at, config, run_until};
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(
        r#"
[jobs.minutely]
every = "1m"
command = "true"
overlap = "allow"
catch_up = "all"
jitter = "20s"

[jobs.daily]
cron = "0 10 * * *"
command = "true"

[jobs.quiet]
every = "1m"
command = "true"
start_within = "off"
"#,
    );
    let (mut ticker, _) = clock_at(&cfg, &store, at("2026-11-23T09:59:30Z")).await;
    run_until(&mut ticker, at("2026-11-23T10:01:30Z")).await;
    drop(ticker);
    // Down from 10:01:30 to 10:05:30: the ticks of 10:02 to 10:04 are caught
    // up, 10:05's is late, all at once.
    let (_ticker, _) = clock_at(&cfg, &store, at("2026-11-23T10:05:30Z")).await;
    let ms = |t: &str| at(t).timestamp_millis();
    let mut expected = vec![("daily@2026-11-23T10:00:00Z".to_owned(), ms("2026-11-23T10:10:00Z"))];
    for minute in 0..=5 {
        let tick = format!("2026-11-23T10:0{minute}:00Z");
        // The next tick a minute on (under 10 minutes), from the tick: the
        // jitter and the catch-up count against it.
        expected.push((format!("minutely@{tick}"), ms(&tick) + 60_000));
    }
    let mut waiting = zset(&server, WAITING);
    waiting.sort();
    expected.sort();
    assert_eq!(waiting, expected);
}

/// A payload that ends without starting (dead-lettered because its job left
/// the config, or malformed) leaves the waiting and late sets too: else the
/// health check would report it late for ever.
#[tokio::test]
async fn a_payload_dead_lettered_unstarted_is_no_longer_late() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let now = now_ms(&store).await;
    enqueue(&store, &[push("gone", 1, Some(now - 1)), push("later", 1, Some(now + 600_000))]).await;
    let late = store.watch_queue(&queue(), Duration::from_secs(60)).await.unwrap();
    assert_eq!(late_ids(&late), ["gone@1"]);
    let mut con = server.connection();
    for _ in 0..2 {
        let raw: Vec<u8> = redis::cmd("LMOVE")
            .arg("campanile:{default}:pending")
            .arg("campanile:{default}:worker:w")
            .arg("RIGHT")
            .arg("LEFT")
            .query(&mut con)
            .unwrap();
        let id = if raw.windows(6).any(|w| w == b"gone@1") { "gone@1" } else { "later@1" };
        let job = id.split_once('@').unwrap().0;
        let finish = store
            .finish(&queue(), "w", &raw, job, id, None, Some(r#"{"reason":"unknown job"}"#), false)
            .await;
        assert!(finish.unwrap().was_in_progress);
    }
    assert!(zset(&server, LATE).is_empty(), "{:?}", zset(&server, LATE));
    assert!(zset(&server, WAITING).is_empty(), "{:?}", zset(&server, WAITING));
}
