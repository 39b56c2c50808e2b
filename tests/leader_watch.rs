//! "Know when no clock leads": the `Pmonitor` script reports each stretch
//! without a leader once however many processes watch, real workers and a
//! dashboard send `no_leader` once after every clock was killed and
//! `leader_back` once when one returns, and the leading clock's heartbeats
//! to `[monitor] heartbeat_url` stop when it dies.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use campanile::config::RedisSettings;
use campanile::store::{LeaderWatch, Store};
use common::procs::Proc;
use common::webhook::Receiver;
use common::{RedisServer, free_port, wait_until};
use serde_json::Value;

async fn store(server: &RedisServer) -> Store {
    let settings = RedisSettings { url: Some(server.url()), ..RedisSettings::default() };
    Store::connect(&settings).await.unwrap()
}

const AFTER: Duration = Duration::from_millis(300);
const KEEP: Duration = Duration::from_secs(60);

/// Two watchers look at a missing lease every 20 ms across `AFTER`:
/// between them, exactly one `NoLeader`; then the first to see a leader
/// again gets `LeaderBack` with the stretch's length, the other nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_watchers_report_one_no_leader_and_one_leader_back_per_episode() {
    let server = RedisServer::start();
    let (a, b) = (store(&server).await, store(&server).await);
    let began = Instant::now();
    let watch = |s: Store| {
        tokio::spawn(async move {
            let mut verdicts = Vec::new();
            for _ in 0..40 {
                verdicts.push(s.watch_leader(false, AFTER, KEEP).await.unwrap());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            verdicts
        })
    };
    let (va, vb) = (watch(a.clone()), watch(b.clone()));
    let verdicts: Vec<LeaderWatch> = [va.await.unwrap(), vb.await.unwrap()].concat();
    assert!(began.elapsed() > AFTER * 2, "the watchers outlasted no_leader_after");
    let reports: Vec<_> = verdicts.iter().filter(|v| matches!(v, LeaderWatch::NoLeader(_))).collect();
    assert_eq!(reports.len(), 1, "{verdicts:?}");
    let LeaderWatch::NoLeader(elapsed) = reports[0] else { unreachable!() };
    assert!(*elapsed >= AFTER && *elapsed < AFTER + Duration::from_millis(200), "{elapsed:?}");
    assert!(verdicts.iter().all(|v| matches!(v, LeaderWatch::Absent(_) | LeaderWatch::NoLeader(_))));

    let back = a.watch_leader(true, AFTER, KEEP).await.unwrap();
    let LeaderWatch::LeaderBack(gap) = back else { panic!("expected leader_back, got {back:?}") };
    assert!(gap >= AFTER * 2, "{gap:?}");
    assert_eq!(b.watch_leader(true, AFTER, KEEP).await.unwrap(), LeaderWatch::Present);
    assert_eq!(a.watch_leader(true, AFTER, KEEP).await.unwrap(), LeaderWatch::Present);
    let left: bool = redis::cmd("EXISTS").arg("campanile:monitor").query(&mut server.connection()).unwrap();
    assert!(!left, "the episode's state is gone once a leader is back");
}

#[tokio::test]
async fn a_short_gap_sends_nothing_and_a_new_episode_reports_again() {
    let server = RedisServer::start();
    let s = store(&server).await;
    assert!(matches!(s.watch_leader(false, AFTER, KEEP).await.unwrap(), LeaderWatch::Absent(_)));
    assert_eq!(s.watch_leader(true, AFTER, KEEP).await.unwrap(), LeaderWatch::Present, "no leader_back");
    for _ in 0..2 {
        s.watch_leader(false, AFTER, KEEP).await.unwrap();
        tokio::time::sleep(AFTER).await;
        assert!(matches!(s.watch_leader(false, AFTER, KEEP).await.unwrap(), LeaderWatch::NoLeader(_)));
        assert!(matches!(s.watch_leader(false, AFTER, KEEP).await.unwrap(), LeaderWatch::Absent(_)));
        assert!(matches!(s.watch_leader(true, AFTER, KEEP).await.unwrap(), LeaderWatch::LeaderBack(_)));
    }
}

/// An episode nobody watches any more expires, so it does not date the
/// next one: a watcher starting later begins a new stretch.
#[tokio::test]
async fn an_unwatched_episode_expires() {
    let server = RedisServer::start();
    let s = store(&server).await;
    s.watch_leader(false, AFTER, Duration::from_millis(100)).await.unwrap();
    let ttl: i64 = redis::cmd("PTTL").arg("campanile:monitor").query(&mut server.connection()).unwrap();
    assert!(ttl > 0 && ttl <= 100, "{ttl}");
    wait_until("the episode to expire", Duration::from_secs(2), || {
        !redis::cmd("EXISTS").arg("campanile:monitor").query::<bool>(&mut server.connection()).unwrap()
    });
    let LeaderWatch::Absent(d) = s.watch_leader(false, AFTER, KEEP).await.unwrap() else { panic!() };
    assert_eq!(d, Duration::ZERO);
}

/// The shared clock.toml writer, with one job the clocks can lead.
fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    common::procs::write_config(dir, &format!("[jobs.tick]\nevery = \"1h\"\ncommand = \"true\"\n\n{extra}"))
}

fn leader(redis: &RedisServer) -> Option<String> {
    redis::cmd("GET").arg("campanile:leader").query(&mut redis.connection()).unwrap()
}

fn events<'a>(seen: &'a [(String, Value)], event: &str) -> Vec<&'a Value> {
    seen.iter().map(|(_, v)| v).filter(|v| v["event"] == event).collect()
}

/// Every clock SIGKILLed: with two workers and a dashboard watching, one
/// `no_leader` about `no_leader_after` after the lease lapsed; a clock
/// started again: one `leader_back`.
#[test]
fn workers_and_a_dashboard_report_no_leader_once_and_leader_back_once() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(0);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[monitor]\nno_leader_after = \"2s\"\n\n[[notify.webhooks]]\nurl = \"{}\"\nevents = [\"no_leader\", \"leader_back\"]\n",
            receiver.url("/hook")
        ),
    );
    let mut clock = Proc::clock(&redis, &config, dir.path(), "clock");
    let workers = [
        Proc::worker(&redis, &config, dir.path(), &[], "worker-a"),
        Proc::worker(&redis, &config, dir.path(), &[], "worker-b"),
    ];
    let listen = format!("127.0.0.1:{}", free_port());
    let _web = Proc::spawn("clock", &["web", "--listen", &listen], &redis, &config, dir.path(), "web");
    wait_until("the clock to lead", Duration::from_secs(10), || leader(&redis).is_some());
    clock.sigkill();
    let killed = Instant::now();
    let seen =
        receiver.wait_for("no_leader", Duration::from_secs(15), |s| !events(s, "no_leader").is_empty());
    let took = killed.elapsed();
    // The lease lapses up to 3 s after the kill; then 2 s without a leader.
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(8), "no_leader after {took:?}");
    let gone = events(&seen, "no_leader")[0].clone();
    assert_eq!(gone["job"], "*");
    assert_eq!(gone["queue"], "");
    assert!(gone["elapsed_secs"].as_u64().unwrap() >= 2, "{gone}");
    // Each watcher looks every second: three more looks each, no repeat.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(events(&receiver.seen.lock().unwrap(), "no_leader").len(), 1);

    let _clock = Proc::clock(&redis, &config, dir.path(), "clock-2");
    let seen =
        receiver.wait_for("leader_back", Duration::from_secs(10), |s| !events(s, "leader_back").is_empty());
    let back = events(&seen, "leader_back")[0].clone();
    assert!(back["elapsed_secs"].as_u64().unwrap() >= 4, "{back}");
    std::thread::sleep(Duration::from_secs(2));
    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(events(&seen, "leader_back").len(), 1, "{seen:#?}");
    assert_eq!(events(&seen, "no_leader").len(), 1, "{seen:#?}");
    drop(workers);
}

/// The leading clock requests `heartbeat_url` every `heartbeat_every`; a
/// standby does not; when the leader is SIGKILLed the heartbeats stop until
/// the standby takes the lapsed lease over.
#[test]
fn heartbeats_come_from_the_leader_only_and_stop_when_it_dies() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(0);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("[monitor]\nheartbeat_url = \"{}\"\nheartbeat_every = \"1s\"\n", receiver.url("/beat")),
    );
    let mut clock = Proc::clock(&redis, &config, dir.path(), "clock");
    wait_until("the clock to lead", Duration::from_secs(10), || leader(&redis).is_some());
    let _standby = Proc::clock(&redis, &config, dir.path(), "standby");
    let seen = receiver.wait_for("a heartbeat", Duration::from_secs(10), |s| !s.is_empty());
    assert!(seen.iter().all(|(path, body)| path == "/beat" && body.is_null()), "{seen:?}");
    // One clock beating every second: about 4 in 4 s; both would send 8.
    let before = seen.len();
    std::thread::sleep(Duration::from_secs(4));
    let beats = receiver.seen.lock().unwrap().len() - before;
    assert!((3..=5).contains(&beats), "{beats} heartbeats in 4 s");

    clock.sigkill();
    // What was in flight at the kill has landed well within a second.
    std::thread::sleep(Duration::from_millis(500));
    let at_kill = receiver.seen.lock().unwrap().len();
    // The standby takes the lease once it lapses (up to 3 s): none before.
    let quiet = Instant::now();
    let seen = receiver
        .wait_for("heartbeats from the new leader", Duration::from_secs(10), |s| s.len() >= at_kill + 2);
    assert!(quiet.elapsed() >= Duration::from_secs(1), "heartbeats went on after the leader died: {seen:?}");
    assert!(leader(&redis).is_some());
}

/// A deployment whose only running process is a dashboard still hears that
/// no clock leads.
#[test]
fn a_dashboard_alone_reports_no_leader() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(0);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[monitor]\nno_leader_after = \"1s\"\n\n[[notify.webhooks]]\nurl = \"{}\"\nevents = [\"no_leader\"]\n",
            receiver.url("/hook")
        ),
    );
    let listen = format!("127.0.0.1:{}", free_port());
    let web = Proc::spawn("clock", &["web", "--listen", &listen], &redis, &config, dir.path(), "web");
    let seen = receiver.wait_for("no_leader", Duration::from_secs(10), |s| !s.is_empty());
    assert_eq!(seen[0].1["event"], "no_leader", "{}", web.log_tail());
}
