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
use campanile::worker::{WorkerId, reaper};
use common::RedisServer;

const PENDING: &str = "campanile:{default}:pending";
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
