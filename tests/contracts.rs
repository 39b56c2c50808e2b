//! Public contracts other programs depend on: the payload JSON and the Redis
//! key layout. Changing any expectation here is a breaking change.

use campanile::config::QueueName;
use campanile::payload::{Payload, tick_id};
use campanile::store::Keys;
use chrono::{DateTime, Utc};
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn payload_json_has_exactly_the_documented_fields() {
    let payload = Payload::for_tick(
        "nightly-report",
        "default",
        at("2026-11-23T08:00:00Z"),
        at("2026-11-23T08:00:00.003417Z"),
        &json!({"format": "pdf"}),
    );
    assert_eq!(
        payload.to_json(),
        r#"{"id":"nightly-report@2026-11-23T08:00:00Z","job":"nightly-report","queue":"default","scheduled_at":"2026-11-23T08:00:00Z","enqueued_at":"2026-11-23T08:00:00.003Z","attempt":1,"args":{"format":"pdf"}}"#
    );
    let null_args =
        Payload::for_tick("a", "q", at("2026-11-23T08:00:00Z"), at("2026-11-23T08:00:00Z"), &json!(null));
    assert!(
        null_args.to_json().ends_with(r#""enqueued_at":"2026-11-23T08:00:00.000Z","attempt":1,"args":null}"#)
    );
}

#[test]
fn payload_ids_depend_only_on_job_and_tick() {
    let tick = at("2026-11-23T08:00:00Z");
    let a = Payload::for_tick("j", "q1", tick, at("2026-11-23T08:00:01Z"), &json!(1));
    let b = Payload::for_tick("j", "q2", tick, at("2026-11-23T08:00:09Z"), &json!(2));
    assert_eq!(a.id, b.id);
    assert_eq!(tick_id("j", tick), "j@2026-11-23T08:00:00Z");
    assert_ne!(tick_id("j", at("2026-11-23T08:00:01Z")), a.id);
}

#[test]
fn payloads_from_other_producers_parse() {
    let text = r#"{"id":"x@2026-11-23T08:00:00Z","job":"x","queue":"default","scheduled_at":"2026-11-23T09:00:00+01:00","enqueued_at":"2026-11-23T08:00:00.5Z","attempt":2,"args":[1,"two"]}"#;
    let p: Payload = serde_json::from_str(text).unwrap();
    assert_eq!(p.scheduled_at, at("2026-11-23T08:00:00Z"));
    assert_eq!(p.enqueued_at, at("2026-11-23T08:00:00.500Z"));
    assert_eq!(p.attempt, 2);
    assert_eq!(p.args, json!([1, "two"]));
}

#[test]
fn redis_keys_follow_the_documented_layout() {
    let q = QueueName::new("default").unwrap();
    let keys = Keys::default();
    assert_eq!(keys.pending(&q), "campanile:{default}:pending");
    assert_eq!(keys.ticks(&q), "campanile:{default}:ticks");
    assert_eq!(keys.inflight(&q), "campanile:{default}:inflight");
    assert_eq!(keys.stats(&q), "campanile:{default}:stats");
    assert_eq!(keys.waiting(&q), "campanile:{default}:waiting");
    assert_eq!(keys.late(&q), "campanile:{default}:late");
    assert_eq!(keys.monitor(&q), "campanile:{default}:monitor");
    assert_eq!(keys.busy(&q, "h:1:a"), "campanile:{default}:busy:h:1:a");
    assert_eq!(keys.minutes(&q), "campanile:{default}:minutes");
    assert_eq!(keys.dead_count(&q), "campanile:{default}:dead_count");
    assert_eq!(keys.tick_log(&q, "nightly"), "campanile:{default}:tick_log:nightly");
    assert_eq!(keys.leader(), "campanile:leader");
    assert_eq!(keys.leader_monitor(), "campanile:monitor");
    assert_eq!(keys.leader_changes(), "campanile:{campanile:leader}:changes");
    assert_eq!(keys.deliveries(), "campanile:deliveries");
    let custom = Keys::new("myapp:");
    assert_eq!(custom.pending(&q), "myapp:{default}:pending");
    assert_eq!(custom.leader(), "myapp:leader");
}

#[test]
fn every_key_of_a_queue_shares_its_cluster_slot() {
    // Redis Cluster hashes only the text inside the first {...}.
    let q = QueueName::new("reports").unwrap();
    let keys = Keys::default();
    for key in [
        keys.pending(&q),
        keys.ticks(&q),
        keys.inflight(&q),
        keys.stats(&q),
        keys.waiting(&q),
        keys.late(&q),
        keys.monitor(&q),
        keys.dead_count(&q),
        keys.tick_log(&q, "nightly"),
        keys.worker_lease_prefix(&q),
        keys.busy(&q, "h:1:a"),
        keys.minutes(&q),
    ] {
        let tag = key.split_once('{').and_then(|(_, rest)| rest.split_once('}')).map(|(tag, _)| tag);
        assert_eq!(tag, Some("reports"), "{key}");
    }
    // The lease's log is written with the lease, so it hashes like the
    // lease's own name.
    let log = keys.leader_changes();
    let tag = log.split_once('{').and_then(|(_, rest)| rest.split_once('}')).map(|(tag, _)| tag);
    assert_eq!(tag, Some(keys.leader().as_str()));
}

#[test]
fn foreign_formats_use_their_tools_keys_without_campanile_prefix() {
    use campanile::config::Format;
    use campanile::config::format::{Bullmq, Celery, Resque, Rq, Sidekiq, SidekiqRetry, Timestamps};
    use campanile::store::Destination;
    let q = QueueName::new("reports").unwrap();
    let keys = Keys::new("myapp:");
    let sidekiq = |namespace: Option<&str>| {
        Format::Sidekiq(Sidekiq {
            class: "C".into(),
            retry: SidekiqRetry::Enabled(true),
            namespace: namespace.map(str::to_owned),
            timestamps: Timestamps::Seconds,
        })
    };
    let to = |list: &str, right: bool, queues: Option<&str>| Destination {
        list: list.into(),
        right,
        queues: queues.map(str::to_owned),
        queues_hold_keys: false,
        job_hash: None,
        bullmq: None,
    };
    assert_eq!(keys.destination(&q, &Format::Campanile), to("myapp:{reports}:pending", false, None));
    assert_eq!(keys.destination(&q, &sidekiq(None)), to("queue:reports", false, Some("queues")));
    assert_eq!(
        keys.destination(&q, &sidekiq(Some("app"))),
        to("app:queue:reports", false, Some("app:queues"))
    );
    let resque = Format::Resque(Resque { class: "C".into(), namespace: "resque".into() });
    assert_eq!(keys.destination(&q, &resque), to("resque:queue:reports", true, Some("resque:queues")));
    let json = Format::Json { list: "my-app:jobs".into() };
    assert_eq!(keys.destination(&q, &json), to("my-app:jobs", false, None));
    // kombu's list is the queue's bare name.
    let celery = Format::Celery(Celery { task: "t".into(), kwargs: Default::default() });
    assert_eq!(keys.destination(&q, &celery), to("reports", false, None));
    // RQ: a hash per job, its id on the right of the queue's list, the
    // list's key in `rq:queues`.
    let rq = Format::Rq(Rq { function: "m.f".into(), kwargs: Default::default(), timeout_secs: 180 });
    assert_eq!(
        keys.destination(&q, &rq),
        Destination {
            queues_hold_keys: true,
            job_hash: Some("rq:job:".into()),
            ..to("rq:queue:reports", true, Some("rq:queues"))
        }
    );
    // BullMQ: a hash per job at `<prefix>:<queue>:<id>`, its id on the left
    // of `wait`, the rest of the queue's keys beside them.
    let bullmq = |prefix: &str| {
        Format::Bullmq(Bullmq { name: "n".into(), prefix: prefix.into(), attempts: 0, backoff: None })
    };
    assert_eq!(
        keys.destination(&q, &bullmq("bull")),
        Destination {
            job_hash: Some("bull:reports:".into()),
            bullmq: Some("bull:reports:".into()),
            ..to("bull:reports:wait", false, None)
        }
    );
    assert_eq!(keys.destination(&q, &bullmq("{app}")).list, "{app}:reports:wait");
    assert_eq!(
        campanile::store::keys::bullmq_keys("bull:reports:"),
        ["paused", "meta", "id", "active", "events", "marker"].map(|k| format!("bull:reports:{k}"))
    );
}

/// A dead letter keeps its payload as text when it is UTF-8; otherwise the
/// text has U+FFFD for the bad bytes and `payload_base64` has them exactly;
/// a payload cut for size keeps its first 4 KiB and gives its size.
#[test]
fn dead_letter_payload_fields_keep_the_bytes() {
    use campanile::run::{DEAD_PAYLOAD_KEPT, kept_payload};
    assert_eq!(kept_payload(b"{\"a\":1}", false), ("{\"a\":1}".to_owned(), None, None));
    assert_eq!(kept_payload(b"a\xffb", false), ("a\u{fffd}b".to_owned(), Some("Yf9i".to_owned()), None));
    let big = "x".repeat(DEAD_PAYLOAD_KEPT + 10);
    assert_eq!(DEAD_PAYLOAD_KEPT, 4096);
    assert_eq!(kept_payload(big.as_bytes(), true), (big[..4096].to_owned(), None, Some(4106)));
    assert_eq!(kept_payload(big.as_bytes(), false).0, big, "cut only when asked");

    let letter = campanile::run::DeadLetter {
        payload: "a\u{fffd}b".into(),
        payload_base64: Some("Yf9i".into()),
        payload_bytes: None,
        reason: "malformed payload: not UTF-8 (invalid byte at offset 1)".into(),
        queue: "default".into(),
        job: None,
        attempts: 0,
        exit_code: None,
        failed_at: at("2026-11-23T08:01:31.002Z"),
        worker: "web.1:4:1a2b".into(),
        output: None,
        id: None,
    };
    assert_eq!(
        letter.to_json(),
        r#"{"payload":"a�b","payload_base64":"Yf9i","reason":"malformed payload: not UTF-8 (invalid byte at offset 1)","queue":"default","job":null,"attempts":0,"exit_code":null,"failed_at":"2026-11-23T08:01:31.002Z","worker":"web.1:4:1a2b"}"#
    );
    // The failing run's output, when there is one, comes after `worker`.
    let with_output = campanile::run::DeadLetter { output: Some("boom\n".into()), ..letter.clone() };
    assert!(
        with_output.to_json().ends_with(r#""worker":"web.1:4:1a2b","output":"boom\n"}"#),
        "{}",
        with_output.to_json()
    );
    let id = campanile::run::new_dead_letter_id(&letter);
    assert!(id.starts_with("raw-") && id.len() == "raw-".len() + 16 + 1 + 12, "{id}");
    let stored = campanile::run::DeadLetter { id: Some(id.clone()), ..letter };
    assert!(stored.to_json().ends_with(&format!(r#","worker":"web.1:4:1a2b","id":"{id}"}}"#)));
    assert_eq!(campanile::run::dead_letter_id(&stored), id);
}

#[test]
fn webhook_bodies_have_exactly_the_documented_fields_and_event_names() {
    use campanile::notify::{Event, build};
    let late = build::late(
        "nightly-report",
        "default",
        "nightly-report@2026-11-23T08:00:00Z",
        "2026-11-23T08:00:00Z",
        600,
        3,
        0,
        "2026-11-23T08:10:00Z",
    );
    assert_eq!(
        serde_json::to_string(&late).unwrap(),
        r#"{"event":"late","job":"nightly-report","queue":"default","id":"nightly-report@2026-11-23T08:00:00Z","scheduled_at":"2026-11-23T08:00:00Z","attempt":null,"reason":null,"exit_code":null,"count":null,"elapsed_secs":600,"depth":3,"workers":0,"at":"2026-11-23T08:10:00Z","text":":alarm_clock: campanile: `nightly-report` has not started: its tick at 2026-11-23T08:00:00Z has waited 10m (3 pending on `default`, 0 live worker(s))"}"#
    );
    let names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        [
            "failed",
            "dead",
            "missed",
            "skipped",
            "recovered",
            "late",
            "long_running",
            "unserved",
            "served",
            "no_leader",
            "leader_back"
        ]
    );
    for event in Event::ALL {
        assert_eq!(serde_json::to_value(event).unwrap(), event.name(), "serde and name() agree");
    }
    let gone = build::leader(Event::NoLeader, 31, "2026-11-23T08:10:00Z");
    assert_eq!((gone.job.as_str(), gone.queue.as_str(), gone.elapsed_secs), ("*", "", Some(31)));
}
