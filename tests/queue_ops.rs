//! The worker's queue operations against a real redis-server: what a finish
//! records, the next payload it takes in the same step, give-backs, the
//! worker's side of in-flight markers; and the publishing of a job table.

mod common;

use std::time::Duration;

use campanile::config::{QueueName, RedisSettings};
use campanile::store::{Finish, Store};
use common::RedisServer;

const PENDING: &str = "campanile:{default}:pending";
const MINE: &str = "campanile:{default}:worker:w1";

fn list(server: &RedisServer, key: &str) -> Vec<String> {
    redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(&mut server.connection()).unwrap()
}

fn push(server: &RedisServer, items: &[&str]) {
    let () = redis::cmd("LPUSH").arg(PENDING).arg(items).query(&mut server.connection()).unwrap();
}

async fn store(server: &RedisServer, wait_replicas: u32) -> Store {
    let settings = RedisSettings { url: Some(server.url()), wait_replicas, ..RedisSettings::default() };
    Store::connect(&settings).await.unwrap()
}

fn queue() -> QueueName {
    QueueName::new("default").unwrap()
}

/// Takes the oldest pending payload, as the worker's fetcher does.
async fn take(store: &Store) -> String {
    let mut taker = store.taker().await.unwrap();
    let raw = taker.take(&queue(), "w1", Duration::from_secs(1)).await.unwrap().expect("a pending payload");
    String::from_utf8(raw).unwrap()
}

#[tokio::test]
async fn a_finish_takes_the_next_payload_oldest_first() {
    let server = RedisServer::start();
    let store = store(&server, 0).await;
    push(&server, &["first", "second", "third"]);
    let first = take(&store).await;
    assert_eq!(first, "first");

    let done =
        store.finish(&queue(), "w1", first.as_bytes(), "job", "id1", Some("{}"), None, true).await.unwrap();
    assert_eq!(
        done,
        Finish { was_in_progress: true, previous: None, next: Some("second".into()), acknowledged: true }
    );
    assert_eq!(list(&server, MINE), ["second"], "the taken payload is in the worker's in-progress list");
    assert_eq!(list(&server, PENDING), ["third"]);

    let done =
        store.finish(&queue(), "w1", b"second", "job", "id2", Some("{\"n\":2}"), None, true).await.unwrap();
    assert_eq!(done.previous.as_deref(), Some(&b"{}"[..]), "the job's newest history entry before this one");
    assert_eq!(done.next.as_deref(), Some(&b"third"[..]));
    let done = store.finish(&queue(), "w1", b"third", "job", "id3", None, None, true).await.unwrap();
    assert_eq!(done.next, None, "nothing left to take");
    assert!(list(&server, MINE).is_empty() && list(&server, PENDING).is_empty());
}

#[tokio::test]
async fn a_finish_takes_nothing_unless_asked() {
    let server = RedisServer::start();
    let store = store(&server, 0).await;
    push(&server, &["first", "second"]);
    let first = take(&store).await;
    let done = store.finish(&queue(), "w1", first.as_bytes(), "job", "id1", None, None, false).await.unwrap();
    assert_eq!(done, Finish { was_in_progress: true, previous: None, next: None, acknowledged: true });
    assert_eq!(list(&server, PENDING), ["second"]);
    assert!(list(&server, MINE).is_empty());
}

/// With `wait_replicas`, every take is followed by a `WAIT` and given back
/// when unreplicated; a take inside a finish would skip that.
#[tokio::test]
async fn a_finish_takes_nothing_when_takes_must_reach_replicas() {
    let server = RedisServer::start();
    let store = store(&server, 1).await;
    push(&server, &["first", "second"]);
    let () = redis::cmd("RPOPLPUSH")
        .arg(PENDING)
        .arg(MINE)
        .query(&mut server.connection())
        .map(|_: String| ())
        .unwrap();
    let done = store.finish(&queue(), "w1", b"first", "job", "id1", None, None, true).await.unwrap();
    assert_eq!(done.next, None);
    assert_eq!(list(&server, PENDING), ["second"]);
    assert!(list(&server, MINE).is_empty());
}

#[tokio::test]
async fn a_finish_of_a_recovered_payload_still_takes_the_next() {
    let server = RedisServer::start();
    let store = store(&server, 0).await;
    push(&server, &["next"]);
    let done = store.finish(&queue(), "w1", b"gone", "job", "id1", Some("{}"), None, true).await.unwrap();
    assert_eq!(
        done,
        Finish { was_in_progress: false, previous: None, next: Some("next".into()), acknowledged: true }
    );
    assert_eq!(list(&server, MINE), ["next"]);
}

#[tokio::test]
async fn a_give_back_returns_the_payload_to_the_oldest_end_once() {
    let server = RedisServer::start();
    let store = store(&server, 0).await;
    push(&server, &["first", "second"]);
    let mut taker = store.taker().await.unwrap();
    let first = taker.take(&queue(), "w1", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(first, b"first");
    taker.give_back(&queue(), "w1", &first).await.unwrap();
    assert_eq!(list(&server, PENDING), ["second", "first"], "first is taken next again");
    assert!(list(&server, MINE).is_empty());
    // No longer in progress (recovered meanwhile): not pushed a second time.
    taker.give_back(&queue(), "w1", &first).await.unwrap();
    assert_eq!(list(&server, PENDING), ["second", "first"]);
}

/// A job table of megabytes, which goes out on a connection of its own,
/// reads back whole, as a small one does.
#[tokio::test]
async fn a_large_job_table_is_published_whole() {
    let server = RedisServer::start();
    let store = store(&server, 0).await;
    let small = r#"{"jobs":[]}"#;
    store.publish_config(small).await.unwrap();
    assert_eq!(store.deployed_config().await.unwrap().as_deref(), Some(small));
    let large = format!(r#"{{"jobs":"{}"}}"#, "x".repeat(3 << 20));
    store.publish_config(&large).await.unwrap();
    assert_eq!(store.deployed_config().await.unwrap(), Some(large));
}

/// The worker's side of an in-flight marker (`job` -> `"<payload id>|<expiry
/// ms>"` in the queue's hash): a run extends it, a scheduled retry extends
/// it for the retry too, and a finish clears it, each by Redis's clock and
/// only while it names that run's payload.
#[tokio::test]
async fn a_marker_is_extended_and_cleared_only_by_the_payload_it_names() {
    const INFLIGHT: &str = "campanile:{default}:inflight";
    let server = RedisServer::start();
    let store = store(&server, 0).await;
    let marker = || -> Option<String> {
        redis::cmd("HGET").arg(INFLIGHT).arg("job").query(&mut server.connection()).unwrap()
    };
    let set = |value: &str| {
        let () =
            redis::cmd("HSET").arg(INFLIGHT).arg("job").arg(value).query(&mut server.connection()).unwrap();
    };
    let expiry = |m: Option<String>| -> i64 { m.unwrap().rsplit_once('|').unwrap().1.parse().unwrap() };
    let redis_now_ms = || async { store.redis_time_us().await.unwrap() / 1000 };

    set("mine|1");
    store.start_run(&queue(), "w1", "job", "theirs", Duration::from_secs(60)).await.unwrap();
    assert_eq!(marker().as_deref(), Some("mine|1"), "another payload's run leaves it alone");
    let before = redis_now_ms().await;
    store.start_run(&queue(), "w1", "job", "mine", Duration::from_secs(60)).await.unwrap();
    let after = redis_now_ms().await;
    assert!(marker().unwrap().starts_with("mine|"));
    assert!((before + 60_000..=after + 60_000).contains(&expiry(marker())), "{:?}", marker());

    push(&server, &["x"]);
    assert_eq!(take(&store).await, "x");
    let before = redis_now_ms().await;
    let retried = store
        .schedule_retry(
            &queue(),
            "w1",
            b"x",
            "job",
            "mine",
            "x2",
            before + 1000,
            "{}",
            Duration::from_secs(120),
        )
        .await
        .unwrap();
    assert!(retried);
    assert!(expiry(marker()) >= before + 120_000, "{:?}", marker());

    push(&server, &["y", "z"]);
    let (y, z) = (take(&store).await, take(&store).await);
    store.finish(&queue(), "w1", y.as_bytes(), "job", "theirs", None, None, false).await.unwrap();
    assert!(marker().is_some(), "another payload's finish leaves it alone");
    store.finish(&queue(), "w1", z.as_bytes(), "job", "mine", None, None, false).await.unwrap();
    assert_eq!(marker(), None);
}

/// A finish, retry or dead letter whose reply was lost is sent again; the
/// second one finds the payload gone from the in-progress list and changes
/// nothing: one history entry, one dead letter, one retry.
#[tokio::test]
async fn a_repeated_finish_or_retry_changes_nothing_the_second_time() {
    const HISTORY: &str = "campanile:{default}:history:job";
    const DEAD: &str = "campanile:{default}:dead";
    const RETRY: &str = "campanile:{default}:retry";
    const INFLIGHT: &str = "campanile:{default}:inflight";
    let server = RedisServer::start();
    let store = store(&server, 0).await;
    push(&server, &["a", "b"]);

    let a = take(&store).await;
    for _ in 0..2 {
        store
            .finish(
                &queue(),
                "w1",
                a.as_bytes(),
                "job",
                "id-a",
                Some("{\"run\":\"a\"}"),
                Some("dead-a"),
                false,
            )
            .await
            .unwrap();
    }
    assert_eq!(list(&server, HISTORY), ["{\"run\":\"a\"}"], "one history entry");
    assert_eq!(list(&server, DEAD), ["dead-a"], "one dead letter");

    let b = take(&store).await;
    let () =
        redis::cmd("HSET").arg(INFLIGHT).arg("job").arg("id-b|1").query(&mut server.connection()).unwrap();
    let mut scheduled = Vec::new();
    for _ in 0..2 {
        let s = store
            .schedule_retry(
                &queue(),
                "w1",
                b.as_bytes(),
                "job",
                "id-b",
                "b2",
                1000,
                "{\"run\":\"b\"}",
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        scheduled.push(s);
    }
    assert_eq!(scheduled, [true, false]);
    assert_eq!(list(&server, HISTORY), ["{\"run\":\"b\"}", "{\"run\":\"a\"}"], "one history entry per run");
    let retries: Vec<String> =
        redis::cmd("ZRANGE").arg(RETRY).arg(0).arg(-1).query(&mut server.connection()).unwrap();
    assert_eq!(retries, ["b2"]);

    // The retry runs and succeeds; its finish, sent twice, clears the
    // marker once and records once.
    let () = redis::cmd("LPUSH").arg(PENDING).arg("b2").query(&mut server.connection()).unwrap();
    let b2 = take(&store).await;
    for _ in 0..2 {
        store
            .finish(&queue(), "w1", b2.as_bytes(), "job", "id-b", Some("{\"run\":\"b2\"}"), None, false)
            .await
            .unwrap();
    }
    assert_eq!(list(&server, HISTORY), ["{\"run\":\"b2\"}", "{\"run\":\"b\"}", "{\"run\":\"a\"}"]);
    let marker: Option<String> =
        redis::cmd("HGET").arg(INFLIGHT).arg("job").query(&mut server.connection()).unwrap();
    assert_eq!(marker, None);
}
