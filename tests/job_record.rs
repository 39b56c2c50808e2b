//! What a job's page reads about it, written by the real scripts against a
//! real redis-server: the clock's decision on each tick (`enqueue.lua`,
//! `push_watched.lua`) in the job's tick log, and the per-job dead-letter
//! counts every script that adds or removes a dead letter keeps.

mod common;

use std::collections::BTreeMap;

use campanile::config::QueueName;
use campanile::store::{DEAD_CAP, Requeue, Store, TICK_LOG_CAP, TICK_LOG_MAX};
use campanile::tick_log::{TickEntry, TickOutcome};
use common::RedisServer;
use common::tickers::{at, clock_at, config, run_until, store};
use serde_json::json;

const DEAD: &str = "campanile:{default}:dead";
const COUNTS: &str = "campanile:{default}:dead_count";

fn log(server: &RedisServer, job: &str) -> Vec<TickEntry> {
    let raw: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("campanile:{{default}}:tick_log:{job}"))
        .arg(0)
        .arg(-1)
        .query(&mut server.connection())
        .unwrap();
    raw.iter().map(|r| serde_json::from_str(r).unwrap_or_else(|e| panic!("{e}: {r}"))).collect()
}

/// `(outcome, tick, count)` of each entry, newest first.
fn decisions(server: &RedisServer, job: &str) -> Vec<(TickOutcome, String, u64)> {
    log(server, job)
        .iter()
        .map(|e| {
            let tick = chrono::DateTime::from_timestamp(e.tick, 0).unwrap().format("%H:%M").to_string();
            (e.outcome, tick, e.ticks())
        })
        .collect()
}

#[tokio::test]
async fn the_tick_log_records_pushed_missed_and_paused_ticks_in_the_enqueue_step() {
    use TickOutcome::{Missed, Paused, Pushed};
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(
        "[jobs.a]\ncron = \"0 * * * *\"\ncommand = \"x\"\noverlap = \"allow\"\n\
         [jobs.b]\ncron = \"0 * * * *\"\ncommand = \"x\"\noverlap = \"allow\"\n",
    );
    let (mut clock, _) = clock_at(&cfg, &store, at("2026-11-23T10:30:00Z")).await;
    // Two jobs due on one instant: the script's one-pass path.
    run_until(&mut clock, at("2026-11-23T11:30:00Z")).await;
    drop(clock);
    // Down through 12:00, 13:00 and 14:00: `latest` pushes 14:00 and
    // records the two before as missed, in one entry.
    let (mut clock, _) = clock_at(&cfg, &store, at("2026-11-23T14:20:00Z")).await;
    let queue = QueueName::new("default").unwrap();
    assert!(store.pause(&queue, "b", "2026-11-23T14:30:00Z").await.unwrap());
    run_until(&mut clock, at("2026-11-23T15:30:00Z")).await;

    let hour = |h: u32| format!("{h}:00");
    assert_eq!(
        decisions(&server, "a"),
        [(Pushed, hour(15), 1), (Pushed, hour(14), 1), (Missed, hour(13), 2), (Pushed, hour(11), 1)]
    );
    assert_eq!(
        decisions(&server, "b"),
        [(Paused, hour(15), 1), (Pushed, hour(14), 1), (Missed, hour(13), 2), (Pushed, hour(11), 1)]
    );
    let newest = &log(&server, "a")[0];
    assert!(newest.at >= at("2026-11-23T15:00:00Z").timestamp_millis(), "{newest:?}");

    // A tick already handled (a second clock at the same instant) adds
    // nothing.
    let (_, again) = clock_at(&cfg, &store, at("2026-11-23T15:30:00Z")).await;
    assert_eq!(again.pushed, 0);
    assert_eq!(log(&server, "a").len(), 4);
}

#[tokio::test]
async fn the_tick_log_records_ticks_skipped_for_overlap() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config("[jobs.slow]\ncron = \"* * * * *\"\ncommand = \"x\"\n");
    let (mut clock, _) = clock_at(&cfg, &store, at("2026-11-23T10:00:30Z")).await;
    // No worker takes the 10:01 payload: 10:02 finds it in flight.
    run_until(&mut clock, at("2026-11-23T10:02:30Z")).await;
    assert_eq!(
        decisions(&server, "slow"),
        [(TickOutcome::Overlap, "10:02".into(), 1), (TickOutcome::Pushed, "10:01".into(), 1)]
    );
}

#[tokio::test]
async fn the_tick_log_keeps_the_newest_entries_up_to_its_cap() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config("[jobs.often]\ncron = \"* * * * *\"\ncommand = \"x\"\noverlap = \"allow\"\n");
    let (mut clock, _) = clock_at(&cfg, &store, at("2026-11-23T10:00:30Z")).await;
    run_until(&mut clock, at("2026-11-23T12:00:30Z")).await;
    // 120 pushes: trimmed back to the cap at the 111th, 9 since.
    assert_eq!(log(&server, "often").len(), TICK_LOG_CAP + 9);
    run_until(&mut clock, at("2026-11-23T12:30:30Z")).await;
    let held = log(&server, "often").len();
    assert!((TICK_LOG_CAP..=TICK_LOG_MAX).contains(&held), "{held}");
    let queue = QueueName::new("default").unwrap();
    let read = store.tick_log(&queue, "often", TICK_LOG_CAP).await.unwrap();
    let entries: Vec<TickEntry> = read.iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    assert_eq!(entries.len(), TICK_LOG_CAP, "what is read is the cap");
    assert_eq!(entries[0].tick, at("2026-11-23T12:30:00Z").timestamp(), "newest first");
    assert!(entries.windows(2).all(|w| w[0].tick - w[1].tick == 60));
}

#[tokio::test]
async fn a_manual_run_is_logged_with_its_payload_id_in_every_format() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let cfg = config(
        "[jobs.own]\ncron = \"0 3 * * *\"\ncommand = \"x\"\n\
         [jobs.own_unwatched]\ncron = \"0 3 * * *\"\ncommand = \"x\"\nstart_within = \"off\"\n\
         [jobs.other]\ncron = \"0 3 * * *\"\nformat = \"json\"\nlist = \"elsewhere\"\nargs = {}\n",
    );
    let now = at("2026-11-23T10:00:00Z");
    for name in ["own", "own_unwatched", "other"] {
        let job = cfg.job(name).unwrap();
        let pushed = campanile::control::trigger(&store, job, None, now).await.unwrap();
        let entries = log(&server, name);
        let expected = TickEntry {
            tick: now.timestamp(),
            outcome: TickOutcome::Manual,
            at: now.timestamp_millis(),
            count: None,
            id: Some(pushed.id),
        };
        assert_eq!(entries, [expected], "{name}");
    }
}

/// The dead-letter counts the scripts keep, without `__all`, and the
/// counts of the list's content.
fn counts(server: &RedisServer) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut con = server.connection();
    let mut stored: BTreeMap<String, u64> = redis::cmd("HGETALL").arg(COUNTS).query(&mut con).unwrap();
    let all = stored.remove("__all").unwrap_or(0);
    let letters: Vec<String> = redis::cmd("LRANGE").arg(DEAD).arg(0).arg(-1).query(&mut con).unwrap();
    assert_eq!(all, letters.len() as u64, "__all is the list's length");
    let mut actual = BTreeMap::new();
    for l in &letters {
        let letter: serde_json::Value = serde_json::from_str(l).unwrap();
        if let Some(job) = letter["job"].as_str() {
            *actual.entry(job.to_owned()).or_default() += 1;
        }
    }
    (stored, actual)
}

fn assert_exact(server: &RedisServer, when: &str) {
    let (stored, actual) = counts(server);
    assert_eq!(stored, actual, "after {when}");
}

fn letter(job: Option<&str>, n: usize) -> String {
    json!({"payload": format!("p{n}"), "reason": "exit status 1", "queue": "default", "job": job,
           "attempts": 1, "exit_code": 1, "failed_at": "2026-11-23T08:00:00.000Z", "worker": "w",
           "id": format!("p{n}~000000000000")})
    .to_string()
}

/// Puts `raws` in `worker`'s in-progress list, in order, as takes would.
fn taken(server: &RedisServer, worker: &str, raws: &[Vec<u8>]) {
    let _: () = redis::cmd("RPUSH")
        .arg(format!("campanile:{{default}}:worker:{worker}"))
        .arg(raws)
        .query(&mut server.connection())
        .unwrap();
}

#[tokio::test]
async fn dead_letter_counts_equal_the_list_through_adds_past_the_cap_retries_and_deletes() {
    let server = RedisServer::start();
    let store: Store = store(&server).await;
    let queue = QueueName::new("default").unwrap();
    // Letters from before the counts were kept: counted in on first touch.
    for n in 0..3 {
        let _: () =
            redis::cmd("LPUSH").arg(DEAD).arg(letter(Some("a"), n)).query(&mut server.connection()).unwrap();
    }

    // Past the cap, in one recovery: jobs a, b and letters naming none.
    let jobs = [Some("a"), Some("b"), None];
    let over = DEAD_CAP + 7;
    let raws: Vec<Vec<u8>> = (0..over).map(|n| format!("raw{n}").into_bytes()).collect();
    taken(&server, "w1", &raws);
    let moves: Vec<(Vec<u8>, Requeue, Vec<u8>)> = (0..over)
        .map(|n| (raws[n].clone(), Requeue::Dead, letter(jobs[n % 3], 100 + n).into_bytes()))
        .collect();
    assert_eq!(store.requeue(&queue, "w1", false, &moves).await.unwrap(), Some(over as u64));
    assert_exact(&server, "adds past the cap");
    let (stored, _) = counts(&server);
    assert_eq!(stored.values().sum::<u64>(), 2 * DEAD_CAP as u64 / 3 + 1, "{stored:?}");

    // A failed run's letter (finish.lua), trimming the oldest out.
    taken(&server, "w2", &[b"run".to_vec()]);
    let dead = letter(Some("b"), 1);
    let finished = store.finish(&queue, "w2", b"run", "b", "b@1", None, Some(&dead), false).await.unwrap();
    assert!(finished.was_in_progress);
    assert_exact(&server, "a finish");

    // A payload too large to send back (drop_taken.lua).
    taken(&server, "w3", &[b"huge-payload".to_vec()]);
    assert!(store.drop_taken(&queue, "w3", 12, b"huge", &letter(Some("c"), 2)).await.unwrap());
    assert_exact(&server, "a drop");
    assert_eq!(store.dead_count(&queue, "c").await.unwrap(), 1);

    // Retry and delete some of each job, one of them twice.
    let letters: Vec<String> =
        redis::cmd("LRANGE").arg(DEAD).arg(0).arg(5).query(&mut server.connection()).unwrap();
    let moves: Vec<(String, String)> = letters[..3].iter().map(|l| (l.clone(), "payload".into())).collect();
    assert_eq!(store.retry_dead(&queue, &moves).await.unwrap(), 3);
    assert_exact(&server, "retries");
    let gone: Vec<&str> = letters[2..].iter().map(String::as_str).collect();
    assert_eq!(store.delete_dead(&queue, &gone).await.unwrap(), 3, "the retried one is already gone");
    assert_exact(&server, "deletes");
    assert_eq!(store.dead_count(&queue, "c").await.unwrap(), 0);
    let (stored, _) = counts(&server);
    assert!(!stored.contains_key("c"), "a job with no letters left has no field: {stored:?}");

    assert_eq!(store.purge_dead(&queue).await.unwrap(), DEAD_CAP as u64 - 6);
    let exists: i64 = redis::cmd("EXISTS").arg(COUNTS).query(&mut server.connection()).unwrap();
    assert_eq!(exists, 0, "purging drops the counts with the list");
}
