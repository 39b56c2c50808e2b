//! Where alerts went and who led: the log of deliveries (`Pdeliveries`)
//! written by whichever process delivered, the log of lease acquisitions
//! (`P{Pleader}:changes`) written by the lease scripts, and the dashboard's
//! `/alerts`, `/api/alerts` and overview summary over both, with real
//! clocks and a real `clock web`.

mod common;

use std::path::Path;
use std::time::Duration;

use campanile::config::RedisSettings;
use campanile::notify::record::{Channel, Delivery, Outcome};
use campanile::notify::{Event, Notifier, Webhook, build};
use campanile::store::{LEADER_CHANGES_CAP, Store};
use common::procs::Proc;
use common::webhook::Receiver;
use common::{RedisServer, free_port, leader_pid, poll_until, wait_until};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The log's buffer is one per process: tests that run a recorder take
/// turns, so each reads only its own deliveries.
static RECORDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn store(server: &RedisServer) -> Store {
    let settings = RedisSettings { url: Some(server.url()), ..RedisSettings::default() };
    Store::connect(&settings).await.unwrap()
}

/// Every acquisition is logged by the script that makes it, a renewal and
/// a failed try are not, a handover names the clock it came from, and the
/// log keeps the newest [`LEADER_CHANGES_CAP`].
#[tokio::test]
async fn the_lease_scripts_log_each_acquisition_and_handover_and_nothing_else() {
    let server = RedisServer::start();
    let s = store(&server).await;
    let ttl = Duration::from_secs(5);
    assert!(s.try_acquire_lease("a", ttl).await.unwrap());
    assert!(s.try_acquire_lease("a", ttl).await.unwrap(), "a renewal by the holder");
    assert!(!s.try_acquire_lease("b", ttl).await.unwrap(), "held by a");
    assert!(s.handover_lease("a", "b", ttl).await.unwrap());
    assert!(!s.handover_lease("a", "c", ttl).await.unwrap(), "a no longer holds it");
    let changes = s.leader_changes(LEADER_CHANGES_CAP).await.unwrap();
    let seen: Vec<(&str, &str, Option<&str>)> =
        changes.iter().map(|c| (c.clock.as_str(), c.via.as_str(), c.from.as_deref())).collect();
    assert_eq!(seen, [("b", "handover", Some("a")), ("a", "acquired", None)]);
    let redis_ms = {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut server.connection()).unwrap();
        secs * 1000 + micros / 1000
    };
    assert!(changes.iter().all(|c| (redis_ms - c.at_ms).abs() < 5_000), "{changes:?} vs {redis_ms}");
    assert!(changes[0].at_ms >= changes[1].at_ms);

    for i in 0..LEADER_CHANGES_CAP + 10 {
        assert!(s.release_lease(if i == 0 { "b" } else { "x" }).await.unwrap());
        assert!(s.try_acquire_lease("x", ttl).await.unwrap());
    }
    let len: usize = redis::cmd("LLEN")
        .arg("campanile:{campanile:leader}:changes")
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(len, LEADER_CHANGES_CAP);
}

/// Runs the recorder on `s` until the token is cancelled; returns once it
/// buffers.
async fn start_recorder(s: &Store) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let recorder = tokio::spawn(campanile::notify::recorder::run(s.clone(), stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !campanile::notify::record::recording() {
        assert!(tokio::time::Instant::now() < deadline, "the recorder did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (stop, recorder)
}

/// The log's entries once it holds `n` (or `within` has passed).
async fn deliveries(s: &Store, n: usize, within: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let raw = s.deliveries(10).await.unwrap();
        if raw.len() >= n || tokio::time::Instant::now() >= deadline {
            return raw;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn failed(job: &str) -> campanile::notify::Notification {
    build::run(Event::Failed, job, "default", &format!("{job}@t"), "t", 1, None, Some(1), "t", false)
}

/// A webhook delivered and one that failed every attempt each land in the
/// log once the recorder runs, with the receiver's host only: the secret
/// path of either URL appears nowhere in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_and_failures_land_in_the_log_with_the_host_only() {
    let server = RedisServer::start();
    let s = store(&server).await;
    let receiver = Receiver::start(0);
    let closed = free_port();
    let hooks = vec![
        Webhook { url: receiver.url("/hook/s3cret-ok"), events: vec![Event::Failed], jobs: None },
        Webhook {
            url: format!("http://127.0.0.1:{closed}/hook/s3cret-down?token=s3cret"),
            events: vec![Event::Failed],
            jobs: None,
        },
    ];
    let _turn = RECORDING.lock().await;
    let (stop, recorder) = start_recorder(&s).await;
    let notifier = Notifier::start(hooks, None);
    notifier.send(failed("logged-job"));
    let raw = deliveries(&s, 2, Duration::from_secs(10)).await;
    notifier.stop(Duration::from_secs(1)).await;
    stop.cancel();
    recorder.await.unwrap();
    assert_eq!(raw.len(), 2, "{raw:?}");
    assert!(raw.iter().all(|r| !r.contains("s3cret") && !r.contains("/hook")), "{raw:?}");
    let entries: Vec<Delivery> = raw.iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    let delivered = entries.iter().find(|d| d.outcome == Outcome::Delivered).expect("a delivered entry");
    assert_eq!(delivered.channel, Channel::Webhook);
    assert_eq!((delivered.event.as_str(), delivered.job.as_str()), ("failed", "logged-job"));
    assert_eq!(delivered.target, receiver.url("/…"));
    assert_eq!((delivered.attempts, &delivered.error), (1, &None));
    let failed = entries.iter().find(|d| d.outcome == Outcome::Failed).expect("a failed entry");
    assert_eq!(failed.target, format!("http://127.0.0.1:{closed}/…"));
    assert_eq!(failed.attempts, 3);
    assert!(failed.error.as_deref().is_some_and(|e| !e.is_empty()), "{failed:?}");
    // Three attempts, a second and two seconds apart.
    assert!(failed.duration_ms >= 3_000, "{failed:?}");
    assert_eq!(receiver.seen.lock().unwrap().len(), 1);
}

fn get(base: &str, path: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut resp = agent.get(format!("{base}{path}")).call().expect("an HTTP response");
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

fn clock_id(redis: &RedisServer) -> Option<String> {
    redis::cmd("GET").arg("campanile:leader").query(&mut redis.connection()).unwrap()
}

fn config(dir: &Path, beat: &str) -> std::path::PathBuf {
    common::procs::write_config(
        dir,
        &format!(
            "[jobs.tick]\nevery = \"1h\"\ncommand = \"true\"\n\n\
             [monitor]\nheartbeat_url = \"{beat}\"\nheartbeat_every = \"1s\"\n\n\
             [[notify.webhooks]]\nurl = \"http://127.0.0.1:9/hook/s3cret-hook\"\nevents = [\"dead\"]\njobs = [\"tick\"]\n"
        ),
    )
}

/// Two real clocks; the leader is SIGKILLed and the standby takes over
/// once the lease lapses. The log holds both acquisitions, and the
/// dashboard shows them: the overview says the leader changed twice in the
/// hour and names the new one, `/alerts` lists both, and the heartbeats
/// the leaders sent are in its deliveries by host only, next to the
/// configured webhook and heartbeat, whose secrets appear nowhere.
#[test]
fn a_sigkilled_leader_shows_as_a_change_on_the_dashboard_with_the_deliveries() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(0);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &receiver.url("/beat/s3cret-beat"));
    let mut first = Proc::clock(&redis, &config, dir.path(), "first");
    wait_until("the first clock to lead", Duration::from_secs(15), || {
        leader_pid(&redis) == Some(first.pid())
    });
    let first_id = clock_id(&redis).unwrap();
    let second = Proc::clock(&redis, &config, dir.path(), "second");
    receiver.wait_for("a heartbeat", Duration::from_secs(10), |s| !s.is_empty());
    first.sigkill();
    wait_until("the second clock to lead", Duration::from_secs(15), || {
        leader_pid(&redis) == Some(second.pid())
    });
    let second_id = clock_id(&redis).unwrap();

    let listen = format!("127.0.0.1:{}", free_port());
    let web = Proc::spawn("clock", &["web", "--listen", &listen], &redis, &config, dir.path(), "web");
    let base = format!("http://{listen}");
    let mut view = Value::Null;
    let ready = poll_until(Duration::from_secs(20), || {
        let Ok(mut resp) = ureq::get(format!("{base}/api/alerts")).call() else { return false };
        view = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        // A heartbeat the second clock sent is logged too.
        view["deliveries"].as_array().is_some_and(|d| d.len() >= 2)
    });
    assert!(ready, "{view:#}\n{}", web.log_tail());
    let changes: Vec<(&str, &str)> = view["leader_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["clock"].as_str().unwrap(), c["via"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, [(second_id.as_str(), "acquired"), (first_id.as_str(), "acquired")]);
    assert_eq!(view["leader_summary"]["changes_last_hour"], 2);
    let beat = &view["deliveries"][0];
    assert_eq!(
        (&beat["channel"], &beat["event"], &beat["job"]),
        (&"ping".into(), &"heartbeat".into(), &"*".into())
    );
    assert_eq!(beat["target"], receiver.url("/…"));
    assert_eq!(beat["outcome"], "delivered");
    let channels: Vec<&str> =
        view["targets"].as_array().unwrap().iter().map(|t| t["channel"].as_str().unwrap()).collect();
    assert_eq!(channels, ["webhook", "heartbeat"]);
    assert!(!view.to_string().contains("s3cret"), "{view:#}");

    let (status, overview) = get(&base, "/");
    assert_eq!(status, 200);
    assert!(
        overview
            .contains(&format!("Leader changed 2 times in the last hour; last: <code>{second_id}</code>")),
        "{overview}"
    );
    let (status, alerts) = get(&base, "/alerts");
    assert_eq!(status, 200);
    assert!(alerts.contains(&first_id) && alerts.contains(&second_id), "{alerts}");
    assert!(alerts.contains("took the free lease"), "{alerts}");
    assert!(alerts.contains("<td>dead</td><td>tick</td>"), "{alerts}");
    assert!(!alerts.contains("s3cret"), "{alerts}");
}

/// A run's pings to its `ping_url` land in the log under the run's job, in
/// order (start, then success), with the monitor's host only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_pings_land_in_the_log_under_its_job() {
    use campanile::config::PingUrls;
    use campanile::notify::ping::Pinger;
    let server = RedisServer::start();
    let s = store(&server).await;
    let receiver = Receiver::start(0);
    let _turn = RECORDING.lock().await;
    let (stop, recorder) = start_recorder(&s).await;
    let urls = PingUrls {
        start: Some(receiver.url("/check-s3cret/start")),
        success: Some(receiver.url("/check-s3cret")),
        fail: None,
    };
    let pinger = Pinger::start(true);
    pinger.run_started("pinged-job", Some(&urls)).finished(true);
    pinger.drain(Duration::from_secs(5)).await;
    let raw = deliveries(&s, 2, Duration::from_secs(5)).await;
    stop.cancel();
    recorder.await.unwrap();
    let entries: Vec<Delivery> = raw.iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    let seen: Vec<(&str, &str, Outcome)> =
        entries.iter().map(|d| (d.event.as_str(), d.job.as_str(), d.outcome)).collect();
    // Newest first.
    assert_eq!(
        seen,
        [("success", "pinged-job", Outcome::Delivered), ("start", "pinged-job", Outcome::Delivered)]
    );
    assert!(
        entries.iter().all(|d| d.channel == Channel::Ping && d.target == receiver.url("/…")),
        "{entries:?}"
    );
    assert!(raw.iter().all(|r| !r.contains("s3cret")), "{raw:?}");
}
