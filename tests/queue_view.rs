//! What the dashboard's queue page reads, against a real redis-server: the
//! per-minute counters the scripts that end a payload's turn write (on
//! Redis's clock, across a real minute boundary), their bound, and the
//! busy record of each worker (since when each run goes on), which never
//! names a payload no longer in progress.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use campanile::config::{QueueName, RedisSettings};
use campanile::payload::Payload;
use campanile::store::{MinuteCount, Requeue, Store, per_minute};
use chrono::{DateTime, Utc};
use common::{RedisServer, wait_until};

const PENDING: &str = "campanile:{default}:pending";
const MINUTES: &str = "campanile:{default}:minutes";

fn queue() -> QueueName {
    QueueName::new("default").unwrap()
}

async fn store(server: &RedisServer) -> Store {
    let settings = RedisSettings { url: Some(server.url()), ..RedisSettings::default() };
    Store::connect(&settings).await.unwrap()
}

/// A payload of `job` whose id is `<job>@<n>`-like and unique per `n`.
fn payload(job: &str, n: i64) -> String {
    let tick = DateTime::<Utc>::from_timestamp(1_800_000_000 + n * 60, 0).unwrap();
    Payload::for_tick(job, "default", tick, tick, &serde_json::Value::Null).to_json()
}

fn id_of(raw: &str) -> String {
    serde_json::from_str::<Payload>(raw).unwrap().id
}

fn redis(server: &RedisServer, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(&mut server.connection()).unwrap()
}

fn hash(server: &RedisServer, key: &str) -> HashMap<String, String> {
    redis::cmd("HGETALL").arg(key).query(&mut server.connection()).unwrap()
}

/// Redis's clock, Unix ms.
fn redis_ms(server: &RedisServer) -> i64 {
    let (s, us): (i64, i64) = redis::cmd("TIME").query(&mut server.connection()).unwrap();
    s * 1000 + us / 1000
}

/// Pushes `raw` and takes it into worker `w`'s in-progress list.
async fn take(server: &RedisServer, store: &Store, w: &str, raw: &str) {
    redis(server, &["LPUSH", PENDING, raw]);
    let mut taker = store.taker().await.unwrap();
    let taken = taker.take(&queue(), w, Duration::from_secs(1)).await.unwrap();
    assert_eq!(taken.as_deref(), Some(raw.as_bytes()));
}

/// The counters of the minute starting at `minute` (minutes since the
/// epoch), as the dashboard reads them now.
fn counted(server: &RedisServer, minute: i64) -> (u64, u64) {
    let fields: Vec<(String, String)> = hash(server, MINUTES).into_iter().collect();
    let minutes = per_minute(&fields, redis_ms(server));
    let m = minutes.iter().find(|m| m.start_ms == minute * 60_000).expect("a minute of the last hour");
    (m.processed, m.failed)
}

/// Runs ending in a success, a dead letter, a retry, a payload dropped
/// unrun and a lost worker's run, on both sides of a minute boundary on
/// Redis's clock: each lands in its minute's slot, processed counting all
/// and failed the ones that did not succeed; a repeated finish counts
/// nothing; a slot stamped an hour earlier is overwritten, not added to.
#[tokio::test]
async fn finishes_count_per_minute_on_redis_clock_across_a_minute_boundary() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let q = queue();
    // Room for the first minute's work before the boundary.
    wait_until("a minute with 10 s left on Redis's clock", Duration::from_secs(60), || {
        redis_ms(&server) % 60_000 < 50_000
    });
    let first = redis_ms(&server) / 60_000;
    let second = first + 1;
    // Stale slots: what the second minute's slot held an hour ago.
    let stale = format!("{}|7|7", second - 60);
    redis(&server, &["HSET", MINUTES, &(second % 60).to_string(), &stale]);

    let (a, b, c) = (payload("job", 1), payload("job", 2), payload("job", 3));
    for raw in [&a, &b, &c] {
        take(&server, &store, "w1", raw).await;
    }
    store.finish(&q, "w1", a.as_bytes(), "job", &id_of(&a), Some("{}"), None, false).await.unwrap();
    store.finish(&q, "w1", b.as_bytes(), "job", &id_of(&b), Some("{}"), None, false).await.unwrap();
    store.finish(&q, "w1", c.as_bytes(), "job", &id_of(&c), Some("{}"), Some("{}"), false).await.unwrap();
    let again =
        store.finish(&q, "w1", c.as_bytes(), "job", &id_of(&c), Some("{}"), Some("{}"), false).await.unwrap();
    assert!(!again.was_in_progress);
    assert_eq!(redis_ms(&server) / 60_000, first, "the first minute's finishes took under 10 s");
    assert_eq!(counted(&server, first), (3, 1), "two successes and a dead letter; the repeat counts nothing");

    wait_until("the next minute on Redis's clock", Duration::from_secs(65), || {
        redis_ms(&server) / 60_000 >= second
    });
    let (d, e, f, g) = (payload("job", 4), payload("job", 5), payload("job", 6), payload("job", 7));
    for raw in [&d, &e, &f] {
        take(&server, &store, "w1", raw).await;
    }
    store.finish(&q, "w1", d.as_bytes(), "job", &id_of(&d), Some("{}"), None, false).await.unwrap();
    let retried = store
        .schedule_retry(&q, "w1", e.as_bytes(), "job", &id_of(&e), "next", 0, "{}", Duration::from_secs(1))
        .await
        .unwrap();
    assert!(retried);
    let dropped = store.drop_taken(&q, "w1", f.len(), &f.as_bytes()[..20], "{}").await.unwrap();
    assert!(dropped);
    // A worker that died holding a payload: no lease, so its run is lost.
    take(&server, &store, "w2", &g).await;
    let moved = store.requeue(&q, "w2", true, &[(g.clone().into(), Requeue::Pending, g.into())]).await;
    assert_eq!(moved.unwrap(), Some(1));
    assert_eq!(redis_ms(&server) / 60_000, second, "the second minute's finishes took under a minute");

    assert_eq!(counted(&server, second), (4, 3), "the stale 7|7 overwritten: a success, then three failures");
    assert_eq!(counted(&server, first), (3, 1), "the first minute kept its counts");
    let slots = hash(&server, MINUTES);
    assert_eq!(slots[&(second % 60).to_string()], format!("{second}|4|3"));
    assert_eq!(slots.len(), 2, "{slots:?}");
}

/// The counters hash never grows past one field per minute of the hour:
/// with every slot stale, a finish overwrites its own and the rest read
/// as zero.
#[tokio::test]
async fn the_counters_hold_at_most_sixty_fields() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let now = redis_ms(&server) / 60_000;
    for slot in 0..60 {
        redis(&server, &["HSET", MINUTES, &slot.to_string(), &format!("{}|9|9", now - 120)]);
    }
    let raw = payload("job", 1);
    take(&server, &store, "w1", &raw).await;
    store.finish(&queue(), "w1", raw.as_bytes(), "job", &id_of(&raw), Some("{}"), None, false).await.unwrap();
    let fields: Vec<(String, String)> = hash(&server, MINUTES).into_iter().collect();
    assert_eq!(fields.len(), 60);
    let minutes = per_minute(&fields, redis_ms(&server));
    let total: u64 = minutes.iter().map(|m| m.processed + m.failed).sum();
    let newest = minutes.last().unwrap();
    assert_eq!(total, 1, "{minutes:?}");
    assert_eq!(*newest, MinuteCount { start_ms: newest.start_ms, processed: 1, failed: 0 });
}

/// A worker's busy hash names exactly its runs going on, with since when
/// (Redis's clock) and the job: a start that lands after its run finished
/// records nothing, a field left behind is dropped at the next start, a
/// finish or retry removes its run, and the hash goes when the worker's
/// lease has lapsed and its payloads are recovered.
#[tokio::test]
async fn the_busy_record_holds_only_runs_in_progress() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let q = queue();
    let busy = "campanile:{default}:busy:w1";
    let ttl = Duration::from_secs(60);
    let (a, b, c) = (payload("slow", 1), payload("slow", 2), payload("fast", 3));
    take(&server, &store, "w1", &a).await;
    take(&server, &store, "w1", &b).await;
    let before = redis_ms(&server);
    store.start_run(&q, "w1", "slow", &id_of(&a), ttl).await.unwrap();
    store.start_run(&q, "w1", "slow", &id_of(&b), ttl).await.unwrap();
    let after = redis_ms(&server);
    let runs = hash(&server, busy);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (since, job) = runs[&id_of(&a)].split_once('|').unwrap();
    assert!((before..=after).contains(&since.parse().unwrap()), "{since} in {before}..={after}");
    assert_eq!(job, "slow");

    store.finish(&q, "w1", a.as_bytes(), "slow", &id_of(&a), Some("{}"), None, false).await.unwrap();
    assert_eq!(hash(&server, busy).keys().collect::<Vec<_>>(), [&id_of(&b)]);
    // The start of a run already finished (it raced its finish).
    store.start_run(&q, "w1", "slow", &id_of(&a), ttl).await.unwrap();
    assert_eq!(hash(&server, busy).len(), 1, "a finished run is not recorded again");

    redis(&server, &["HSET", busy, "left@behind", "1|gone"]);
    take(&server, &store, "w1", &c).await;
    store.start_run(&q, "w1", "fast", &id_of(&c), ttl).await.unwrap();
    let mut ids: Vec<String> = hash(&server, busy).into_keys().collect();
    ids.sort();
    assert_eq!(ids, [id_of(&c), id_of(&b)], "a field of no payload in progress is dropped");

    let retried =
        store.schedule_retry(&q, "w1", c.as_bytes(), "fast", &id_of(&c), "next", 0, "{}", ttl).await.unwrap();
    assert!(retried);
    assert_eq!(hash(&server, busy).keys().collect::<Vec<_>>(), [&id_of(&b)]);

    // w1 has no lease (it never heartbeat): lapsed, recovered.
    let moves = [(b.clone().into(), Requeue::Pending, b.clone().into())];
    assert_eq!(store.requeue(&q, "w1", true, &moves).await.unwrap(), Some(1));
    assert!(hash(&server, busy).is_empty(), "the lapsed worker's busy hash is gone");
}
