//! What is wrong with a deployment right now: the one computation behind
//! `clock status` (its problems, and the leader's age), `clock status
//! --check`, `clock status --json` and the dashboard (its overview and
//! `/healthz?deep=1`), so every place people look says the same thing.
//!
//! It is a snapshot read from Redis, judged on Redis's clock (the clocks'
//! own deadlines and leases are on it, and the machine asking may be off):
//! no leader now, a queue with no live worker now, ticks past their start
//! deadline now. Notifications about the same conditions wait out
//! `[monitor] no_leader_after` and `unserved_after` before they fire, since
//! they must not flap during a deploy; a snapshot has no history to wait
//! on, so a check run during a restart can see a short `no_leader` or
//! `unserved`.
//!
//! The set of problems is bounded: at most [`LATE_LISTED`] late ticks per
//! queue are listed, the rest counted in one `late_unlisted` problem.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::clock::{LEASE_INTERVAL, LEASE_TTL};
use crate::config::{Config, QueueName, RedisSettings};
use crate::store::{self, Store};
use crate::text;

/// A leader whose lease was last renewed longer ago than this is
/// `leader_stale`. Its lease keeper renews every [`LEASE_INTERVAL`] (1 s),
/// on a connection whose replies time out after 0.8 s and are retried
/// 0.1 s later, so a live keeper's lease is at most about 1.9 s old even
/// when one renewal's reply is lost. Past 2 s the keeper has missed a
/// renewal and its retry: the process is frozen, its thread starved, or it
/// cannot reach Redis, and the lease lapses at [`LEASE_TTL`] (3 s), after
/// which a standby takes over. The second before that is when a stuck
/// leader can be seen at all.
pub const LEADER_STALE_AFTER: Duration = Duration::from_secs(2);

const _: () = assert!(
    LEASE_INTERVAL.as_millis() < LEADER_STALE_AFTER.as_millis()
        && LEADER_STALE_AFTER.as_millis() < LEASE_TTL.as_millis()
);

/// At most this many late ticks are listed per queue; the others are
/// counted in one [`Problem::LateUnlisted`]. A queue stuck for a day
/// behind a minutely job has 1,440 late ticks: a page, a check's output and
/// an alert want the oldest few and the number.
pub const LATE_LISTED: usize = 10;

/// The leading clock, from its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    pub id: String,
    /// How long ago it last renewed the lease: [`LEASE_TTL`] minus the
    /// lease's remaining time to live; `None` for a lease key without an
    /// expiry (no clock writes one).
    pub age: Option<Duration>,
}

impl Leader {
    /// The age in seconds, to a tenth, as `status --json` shows it.
    pub fn age_secs(&self) -> Option<f64> {
        self.age.map(tenths)
    }
}

/// The deployment's leader and its current problems.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub leader: Option<Leader>,
    /// In a stable order: the leader's, then each queue's in name order
    /// (unserved, then late ticks oldest deadline first, then the count of
    /// those not listed).
    pub problems: Vec<Problem>,
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems as the JSON array of `status --json`.
    pub fn problems_json(&self) -> Value {
        Value::Array(self.problems.iter().map(Problem::to_json).collect())
    }
}

/// One thing wrong with the deployment. Each has a stable kind name
/// ([`Problem::kind`]), the job and queue it concerns, a one-line message
/// and its numbers; [`Problem::to_json`] is the public JSON shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// Redis did not answer: nothing else can be known.
    RedisUnreachable { url: String, error: String },
    /// No clock holds the leader lease: no tick is being pushed.
    /// `clocks`: clocks that announced themselves within the last 10 s;
    /// `gone`: how long there has been none, as the workers and dashboards
    /// that watch the lease saw it (`None` when none is watching).
    NoLeader { clocks: usize, gone: Option<Duration> },
    /// The leader has not renewed its lease for [`LEADER_STALE_AFTER`].
    LeaderStale { leader: String, age: Duration },
    /// A queue with enabled jobs in campanile's format has no worker whose
    /// lease is alive. `workers`: members of its worker set, all lapsed.
    Unserved { queue: QueueName, pending: u64, workers: u64 },
    /// A tick whose payload has not started by its deadline.
    Late { queue: QueueName, id: String, deadline: DateTime<Utc>, late: Duration },
    /// Late ticks of a queue beyond the [`LATE_LISTED`] listed.
    LateUnlisted { queue: QueueName, count: u64 },
}

impl Problem {
    /// Redis at `settings` could not be reached or read (the URL without
    /// its password).
    pub fn unreachable(settings: &RedisSettings, error: &dyn std::error::Error) -> Problem {
        Problem::RedisUnreachable {
            url: settings.redacted_url(),
            error: crate::error_chain::error_chain(error),
        }
    }

    /// The stable name: what `--check` lines start with and JSON's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::RedisUnreachable { .. } => "redis_unreachable",
            Problem::NoLeader { .. } => "no_leader",
            Problem::LeaderStale { .. } => "leader_stale",
            Problem::Unserved { .. } => "unserved",
            Problem::Late { .. } => "late",
            Problem::LateUnlisted { .. } => "late_unlisted",
        }
    }

    /// The job it concerns: a late tick's.
    pub fn job(&self) -> Option<&str> {
        match self {
            Problem::Late { id, .. } => Some(job_of(id)),
            _ => None,
        }
    }

    pub fn queue(&self) -> Option<&QueueName> {
        match self {
            Problem::Unserved { queue, .. }
            | Problem::Late { queue, .. }
            | Problem::LateUnlisted { queue, .. } => Some(queue),
            _ => None,
        }
    }

    /// One line for a person.
    pub fn message(&self) -> String {
        match self {
            Problem::RedisUnreachable { url, error } => format!("cannot reach {url}: {error}"),
            Problem::NoLeader { clocks, gone } => {
                let since = gone.map(|g| format!(" for {} s", g.as_secs())).unwrap_or_default();
                format!(
                    "no clock has held the leader lease{since}, so no tick is pushed ({clocks} clock(s) running)"
                )
            }
            Problem::LeaderStale { leader, age } => format!(
                "leader {leader} last renewed its lease {:.1} s ago (renewals every {} s; it lapses at {} s)",
                tenths(*age),
                LEASE_INTERVAL.as_secs(),
                LEASE_TTL.as_secs()
            ),
            Problem::Unserved { queue, pending, workers: _ } => {
                format!("queue {queue} has no live worker ({pending} pending)")
            }
            Problem::Late { queue, id, deadline, late } => format!(
                "{id} on queue {queue} has not started, {} s past its deadline {}",
                late.as_secs(),
                text::utc(*deadline)
            ),
            Problem::LateUnlisted { queue, count } => {
                format!("queue {queue} has {count} more late tick(s), not listed")
            }
        }
    }

    /// What `clock status --check` and `/healthz?deep=1` print:
    /// `<kind>: <message>`, on one line whatever Redis held (a payload id
    /// is any string), so each problem is exactly one line.
    pub fn line(&self) -> String {
        let message = self.message().replace(char::is_control, " ");
        format!("{}: {message}", self.kind())
    }

    /// `{"kind", "job", "queue", "message"}` and the kind's numbers (see
    /// docs/operations.md).
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "kind": self.kind(),
            "job": self.job(),
            "queue": self.queue(),
            "message": self.message(),
        });
        let numbers = match self {
            Problem::RedisUnreachable { .. } => json!({}),
            Problem::NoLeader { clocks, gone } => {
                json!({ "clocks": clocks, "gone_secs": gone.map(|g| g.as_secs()) })
            }
            Problem::LeaderStale { leader, age } => json!({ "leader": leader, "age_secs": tenths(*age) }),
            Problem::Unserved { pending, workers, .. } => json!({ "pending": pending, "workers": workers }),
            Problem::Late { id, deadline, late, .. } => json!({
                "id": id,
                "scheduled_at": scheduled_at(id).map(text::utc),
                "deadline": text::utc(*deadline),
                "late_secs": late.as_secs(),
            }),
            Problem::LateUnlisted { count, .. } => json!({ "count": count }),
        };
        if let (Some(out), Value::Object(numbers)) = (out.as_object_mut(), numbers) {
            out.extend(numbers);
        }
        out
    }
}

impl serde::Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// Reads the deployment's health from Redis.
pub async fn assess(config: &Config, store: &Store) -> store::Result<Health> {
    let now_ms = store.redis_time_us().await? / 1000;
    let mut problems = Vec::new();
    let leader = match store.leader_lease().await? {
        Some(lease) => {
            let age = lease.ttl.map(|ttl| LEASE_TTL.saturating_sub(ttl));
            if let Some(age) = age.filter(|age| *age > LEADER_STALE_AFTER) {
                problems.push(Problem::LeaderStale { leader: lease.id.clone(), age });
            }
            Some(Leader { id: lease.id, age })
        }
        None => {
            let clocks = crate::clock::registry::live_clocks(store).await?.len();
            let gone = store
                .no_leader_since_ms()
                .await?
                .map(|since| Duration::from_millis(now_ms.saturating_sub(since).max(0) as u64));
            problems.push(Problem::NoLeader { clocks, gone });
            None
        }
    };
    let served: Vec<&QueueName> =
        config.jobs.iter().filter(|j| j.enabled && j.format.is_campanile()).map(|j| &j.queue).collect();
    for queue in config.queues_all() {
        let q = store.queue_health(&queue, now_ms, LATE_LISTED).await?;
        if q.live_workers == 0 && served.contains(&&queue) {
            problems.push(Problem::Unserved { queue: queue.clone(), pending: q.pending, workers: q.workers });
        }
        let listed = q.late.len() as u64;
        for (id, deadline_ms) in q.late {
            let deadline = DateTime::from_timestamp_millis(deadline_ms).unwrap_or_default();
            let late = Duration::from_millis(now_ms.saturating_sub(deadline_ms).max(0) as u64);
            problems.push(Problem::Late { queue: queue.clone(), id, deadline, late });
        }
        if q.late_total > listed {
            problems.push(Problem::LateUnlisted { queue, count: q.late_total - listed });
        }
    }
    Ok(Health { leader, problems })
}

/// The job of a payload id `<job>@<tick>` (job names have no `@`).
fn job_of(id: &str) -> &str {
    id.split_once('@').map_or(id, |(job, _)| job)
}

/// The tick of a payload id `<job>@<RFC 3339 tick>`.
fn scheduled_at(id: &str) -> Option<DateTime<Utc>> {
    let (_, tick) = id.split_once('@')?;
    DateTime::parse_from_rfc3339(tick).ok().map(|t| t.to_utc())
}

fn tenths(d: Duration) -> f64 {
    (d.as_millis() as f64 / 100.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str) -> QueueName {
        QueueName::new(name).unwrap()
    }

    #[test]
    fn each_problem_has_a_kind_a_line_and_its_numbers() {
        let deadline = DateTime::parse_from_rfc3339("2026-11-23T08:10:00Z").unwrap().to_utc();
        let late = Problem::Late {
            queue: queue("default"),
            id: "report@2026-11-23T08:00:00Z".into(),
            deadline,
            late: Duration::from_millis(95_400),
        };
        assert_eq!(
            late.line(),
            "late: report@2026-11-23T08:00:00Z on queue default has not started, 95 s past its deadline \
             2026-11-23T08:10:00Z"
        );
        assert_eq!(
            late.to_json(),
            json!({"kind": "late", "job": "report", "queue": "default", "message": late.message(),
                   "id": "report@2026-11-23T08:00:00Z", "scheduled_at": "2026-11-23T08:00:00Z",
                   "deadline": "2026-11-23T08:10:00Z", "late_secs": 95})
        );
        let stale = Problem::LeaderStale { leader: "h:1:a".into(), age: Duration::from_millis(2_240) };
        assert_eq!(
            stale.line(),
            "leader_stale: leader h:1:a last renewed its lease 2.2 s ago (renewals every 1 s; it lapses at 3 s)"
        );
        assert_eq!(stale.to_json()["age_secs"], 2.2);
        assert_eq!(stale.to_json()["job"], Value::Null);
        let forged =
            Problem::Late { queue: queue("default"), id: "a\nb@x".into(), deadline, late: Duration::ZERO };
        assert!(forged.line().starts_with("late: a b@x on queue default"), "{}", forged.line());
        let unserved = Problem::Unserved { queue: queue("fast"), pending: 4, workers: 1 };
        assert_eq!(unserved.line(), "unserved: queue fast has no live worker (4 pending)");
        assert_eq!(serde_json::to_value(&unserved).unwrap()["workers"], 1);
    }
}
