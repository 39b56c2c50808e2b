//! What a job pushes, per enqueue format: campanile's [`Payload`], a
//! Sidekiq job hash, a Resque job, the job's bare `args`, a Celery task
//! message ([`celery`]), an RQ job ([`rq`]) or a BullMQ job ([`bullmq`]).
//! The foreign ones follow their tool's layout (a public contract of that
//! tool), so a stock Sidekiq, Resque, Celery, RQ or BullMQ process runs
//! them; docs/formats.md shows each.

pub mod bullmq;
pub mod celery;
pub mod rq;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::Job;
use crate::config::format::{Format, Resque, Sidekiq, SidekiqRetry, Timestamps};
use crate::hash::{fnv1a, splitmix64};
use crate::payload::{Payload, tick_id};

/// What one tick or manual run of a job pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub json: String,
    /// campanile's payload id (`<job>@<tick>`), the Sidekiq jid, the
    /// Celery task id or the RQ or BullMQ job id; the
    /// value of the in-flight marker and of log lines.
    pub id: String,
}

/// The push for the tick `tick` of `job`, enqueued at `now`.
pub fn for_tick(job: &Job, tick: DateTime<Utc>, now: DateTime<Utc>) -> Pushed {
    let id = tick_id(job.name.as_str(), tick);
    match &job.format {
        Format::Campanile => {
            let payload = Payload::for_tick(job.name.as_str(), job.queue.as_str(), tick, now, &job.args);
            Pushed { json: payload.to_json(), id: payload.id }
        }
        format => foreign(format, job, &id, tick, now, &job.args),
    }
}

/// The push for a manual run (`clock trigger`) of `job` at `now`.
pub fn for_manual(job: &Job, now: DateTime<Utc>, args: &Value) -> Pushed {
    let payload = Payload::manual(job.name.as_str(), job.queue.as_str(), now, args);
    match &job.format {
        Format::Campanile => Pushed { json: payload.to_json(), id: payload.id },
        format => foreign(format, job, &payload.id, now, now, args),
    }
}

fn foreign(
    format: &Format,
    job: &Job,
    id: &str,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
    args: &Value,
) -> Pushed {
    match format {
        Format::Sidekiq(sidekiq) => {
            let jid = jid(id);
            let json = sidekiq_job(sidekiq, job.queue.as_str(), args, &jid, created, now);
            Pushed { json, id: jid }
        }
        Format::Resque(resque) => Pushed { json: resque_job(resque, args), id: id.to_owned() },
        Format::Celery(c) => {
            let task_id = celery::task_id(id);
            Pushed { json: celery::message(c, job.queue.as_str(), args, &task_id), id: task_id }
        }
        Format::Rq(r) => {
            let job_id = rq::job_id(id);
            let hash = rq::job_hash(r, job.queue.as_str(), args, &job_id, created, now);
            Pushed { json: hash.to_payload(), id: job_id }
        }
        Format::Bullmq(b) => {
            let job_id = bullmq::job_id(id);
            Pushed { json: bullmq::job_hash(b, args, &job_id, now).to_payload(), id: job_id }
        }
        Format::Json { .. } | Format::Campanile => Pushed { json: args.to_string(), id: id.to_owned() },
    }
}

/// A Sidekiq job hash, as `Sidekiq::Client#push` writes it: `args` an array
/// (`null` becomes `[]`), `created_at` the tick (when the job was due),
/// `enqueued_at` the push.
pub fn sidekiq_job(
    sidekiq: &Sidekiq,
    queue: &str,
    args: &Value,
    jid: &str,
    created_at: DateTime<Utc>,
    enqueued_at: DateTime<Utc>,
) -> String {
    #[derive(Serialize)]
    struct Job<'a> {
        class: &'a str,
        args: &'a Value,
        retry: SidekiqRetry,
        queue: &'a str,
        jid: &'a str,
        created_at: Value,
        enqueued_at: Value,
    }
    let empty = Value::Array(Vec::new());
    let job = Job {
        class: &sidekiq.class,
        args: if args.is_null() { &empty } else { args },
        retry: sidekiq.retry,
        queue,
        jid,
        created_at: epoch(created_at, sidekiq.timestamps),
        enqueued_at: epoch(enqueued_at, sidekiq.timestamps),
    };
    serde_json::to_string(&job).expect("a Sidekiq job always serialises")
}

/// A Resque job, as `Resque.push` writes it: `{"class", "args"}`, `args`
/// an array (`null` becomes `[]`).
pub fn resque_job(resque: &Resque, args: &Value) -> String {
    #[derive(Serialize)]
    struct Job<'a> {
        class: &'a str,
        args: &'a Value,
    }
    let empty = Value::Array(Vec::new());
    let args = if args.is_null() { &empty } else { args };
    serde_json::to_string(&Job { class: &resque.class, args }).expect("a Resque job always serialises")
}

/// A Sidekiq job id: 24 hex digits, like Sidekiq's `SecureRandom.hex(12)`,
/// but derived from the tick's id, so the same tick has the same jid
/// whichever clock pushed it.
pub fn jid(id: &str) -> String {
    let high = splitmix64(fnv1a(id.as_bytes()));
    let low = splitmix64(high ^ fnv1a(format!("jid:{id}").as_bytes()));
    format!("{high:016x}{:08x}", low as u32)
}

/// A UUID (version 4 and RFC 4122 variant bits set) derived from `seed`.
pub(crate) fn uuid(seed: &str) -> String {
    let high = splitmix64(fnv1a(seed.as_bytes()));
    let low = splitmix64(high ^ fnv1a(format!("uuid:{seed}").as_bytes()));
    let high = (high & !0xf000) | 0x4000;
    let low = (low & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

/// Epoch time to the millisecond: float seconds (Sidekiq 6 and 7) or
/// integer milliseconds (Sidekiq 8).
fn epoch(t: DateTime<Utc>, unit: Timestamps) -> Value {
    let ms = t.trunc_subsecs(3).timestamp_millis();
    match unit {
        Timestamps::Milliseconds => Value::from(ms),
        Timestamps::Seconds => serde_json::Number::from_f64(ms as f64 / 1000.0)
            .map(Value::Number)
            .expect("an instant's seconds are finite"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn sidekiq(timestamps: Timestamps) -> Sidekiq {
        Sidekiq {
            class: "NightlyReportJob".into(),
            retry: SidekiqRetry::Enabled(true),
            namespace: None,
            timestamps,
        }
    }

    #[test]
    fn sidekiq_job_has_exactly_sidekiqs_fields_with_float_seconds() {
        let json = sidekiq_job(
            &sidekiq(Timestamps::Seconds),
            "reports",
            &json!(["pdf", 3]),
            "0123456789abcdef01234567",
            at("2026-11-23T08:00:00Z"),
            at("2026-11-23T08:00:00.003417Z"),
        );
        assert_eq!(
            json,
            r#"{"class":"NightlyReportJob","args":["pdf",3],"retry":true,"queue":"reports","jid":"0123456789abcdef01234567","created_at":1795420800.0,"enqueued_at":1795420800.003}"#
        );
    }

    #[test]
    fn sidekiq_job_can_use_sidekiq_8_milliseconds_and_a_retry_count() {
        let mut s = sidekiq(Timestamps::Milliseconds);
        s.retry = SidekiqRetry::Times(5);
        let json = sidekiq_job(
            &s,
            "default",
            &Value::Null,
            "0123456789abcdef01234567",
            at("2026-11-23T08:00:00Z"),
            at("2026-11-23T08:00:00.003417Z"),
        );
        assert_eq!(
            json,
            r#"{"class":"NightlyReportJob","args":[],"retry":5,"queue":"default","jid":"0123456789abcdef01234567","created_at":1795420800000,"enqueued_at":1795420800003}"#
        );
        s.retry = SidekiqRetry::Enabled(false);
        assert!(
            sidekiq_job(&s, "q", &json!([]), "j", at("2026-11-23T08:00:00Z"), at("2026-11-23T08:00:00Z"))
                .contains(r#""retry":false"#)
        );
    }

    #[test]
    fn resque_job_is_class_and_args() {
        let resque = Resque { class: "Archive".into(), namespace: "resque".into() };
        assert_eq!(
            resque_job(&resque, &json!([{"days": 30}])),
            r#"{"class":"Archive","args":[{"days":30}]}"#
        );
        assert_eq!(resque_job(&resque, &Value::Null), r#"{"class":"Archive","args":[]}"#);
    }

    #[test]
    fn jids_are_24_hex_digits_stable_per_tick_and_distinct_across_ticks() {
        let a = jid("nightly-report@2026-11-23T08:00:00Z");
        assert_eq!(a.len(), 24);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{a}");
        // Pinned: clocks of different versions must agree on a tick's jid.
        assert_eq!(a, "d1423bc011c64265af86c915");
        let distinct: std::collections::HashSet<String> =
            (0..1000).map(|s| jid(&format!("j@{s}"))).chain([a]).collect();
        assert_eq!(distinct.len(), 1001);
    }
}
