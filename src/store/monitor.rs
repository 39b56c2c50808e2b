//! Watching queues for runs that do not happen: payloads that miss their
//! start deadline (`late`) and queues without a live worker (`unserved`),
//! by `monitor.lua`; and the same look, read only, for the gauges.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::{FromRedisValue, RedisError, Value};

use super::{Error, Result, Store, scripts};
use crate::config::QueueName;

/// The most payloads one watch moves to the late set (and reports); the
/// rest wait for the next watch, a second later.
pub const LATE_PER_WATCH: usize = 1000;
/// How many members a queue's late set keeps: those with the latest
/// deadlines. It is what dashboards show of late payloads, not a record.
pub const LATE_CAP: usize = 1000;
/// The most workers of a queue whose lease one look checks.
pub const WORKERS_CHECKED: usize = 1000;
/// A watch that comes more than this after the previous one (no clock led
/// meanwhile) starts a queue's unserved episode over, unless it was already
/// reported: what the workers did meanwhile is unknown.
pub const WATCH_GAP: Duration = Duration::from_secs(10);

/// What one look at a queue saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLook {
    /// Redis's time of the look.
    pub now: DateTime<Utc>,
    /// Payloads on the pending list.
    pub depth: u64,
    /// Workers of the queue whose lease is alive.
    pub live_workers: u64,
    /// When the oldest pending payload was pushed (its `enqueued_at`), if
    /// there is one and it says.
    pub oldest_enqueued_at: Option<DateTime<Utc>>,
    /// A change of the queue's unserved episode, reported by this watch.
    pub episode: Option<Episode>,
    /// Payloads this watch found past their start deadline, each reported
    /// by this watch alone.
    pub late: Vec<LatePayload>,
}

impl QueueLook {
    /// How long the oldest pending payload has waited, in seconds; 0 when
    /// none is pending (or it does not say when it was pushed).
    pub fn oldest_pending_secs(&self) -> f64 {
        self.oldest_enqueued_at.map_or(0.0, |t| (self.now - t).num_milliseconds().max(0) as f64 / 1e3)
    }
}

/// A change of a queue's unserved episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Episode {
    /// No live worker for this long.
    Unserved(Duration),
    /// A live worker again, after this long without one.
    Served(Duration),
}

/// A payload that missed its start deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatePayload {
    /// `<job>@<tick>`.
    pub id: String,
    /// Unix ms.
    pub deadline_ms: i64,
}

/// Whether a call of `monitor.lua` acts or only looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Watch,
    Look,
}

impl Store {
    /// The leading clock's watch of `queue`: moves its payloads past their
    /// start deadline to the late set and returns them, and reports the
    /// start (after `unserved_after` without a live worker) and end of an
    /// unserved episode; each exactly once, whichever clock watches.
    pub async fn watch_queue(&self, queue: &QueueName, unserved_after: Duration) -> Result<QueueLook> {
        self.monitor(queue, Mode::Watch, unserved_after).await
    }

    /// Depth, oldest payload and live workers of `queue`, changing nothing.
    pub async fn look_at_queue(&self, queue: &QueueName) -> Result<QueueLook> {
        self.monitor(queue, Mode::Look, Duration::ZERO).await
    }

    async fn monitor(&self, queue: &QueueName, mode: Mode, unserved_after: Duration) -> Result<QueueLook> {
        let keys = [
            self.keys.waiting(queue),
            self.keys.late(queue),
            self.keys.pending(queue),
            self.keys.workers(queue),
            self.keys.monitor(queue),
        ];
        let args = [
            match mode {
                Mode::Watch => "watch".to_owned(),
                Mode::Look => "look".to_owned(),
            },
            self.keys.worker_lease_prefix(queue),
            unserved_after.as_millis().to_string(),
            LATE_PER_WATCH.to_string(),
            LATE_CAP.to_string(),
            WORKERS_CHECKED.to_string(),
            WATCH_GAP.as_millis().to_string(),
        ];
        let reply: Vec<Value> = self.run_script(&scripts::MONITOR, &keys, &args).await?;
        parse(&reply)
    }
}

fn parse(reply: &[Value]) -> Result<QueueLook> {
    let bad = || Error::Reply(format!("monitor returned {reply:?}"));
    if reply.len() < 6 || !reply.len().is_multiple_of(2) {
        return Err(bad());
    }
    let int = |v: &Value| i64::from_redis_value_ref(v).map_err(RedisError::from);
    let text = |v: &Value| String::from_redis_value_ref(v).map_err(RedisError::from);
    let now = DateTime::from_timestamp_millis(int(&reply[0])?).ok_or_else(bad)?;
    let oldest = text(&reply[3])?;
    let span = Duration::from_millis(int(&reply[5])?.max(0) as u64);
    let episode = match text(&reply[4])?.as_str() {
        "" => None,
        "unserved" => Some(Episode::Unserved(span)),
        "served" => Some(Episode::Served(span)),
        _ => return Err(bad()),
    };
    let late = reply[6..]
        .chunks(2)
        .map(|pair| Ok(LatePayload { id: text(&pair[0])?, deadline_ms: int(&pair[1])? }))
        .collect::<Result<_>>()?;
    Ok(QueueLook {
        now,
        depth: int(&reply[1])?.max(0) as u64,
        live_workers: int(&reply[2])?.max(0) as u64,
        oldest_enqueued_at: DateTime::parse_from_rfc3339(&oldest).ok().map(|t| t.with_timezone(&Utc)),
        episode,
        late,
    })
}
