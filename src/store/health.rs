//! The reads behind the deployment's health (`crate::health`): the leader
//! lease's holder and age, and per queue its live workers, pending depth and
//! late ticks. Every read is bounded: late ticks are listed up to a limit
//! and counted, never read whole.

use std::time::Duration;

use super::{Result, Store};
use crate::config::QueueName;

/// Who holds the leader lease, and how long it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderLease {
    pub id: String,
    /// The lease's remaining time to live on Redis's clock; `None` for a
    /// key without an expiry, which no clock writes.
    pub ttl: Option<Duration>,
}

/// What the health view needs of one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueHealth {
    /// Payloads on the pending list.
    pub pending: u64,
    /// Members of the queue's worker set.
    pub workers: u64,
    /// Those of them whose lease is alive.
    pub live_workers: u64,
    /// Late ticks, soonest deadline first, at most the limit asked for:
    /// (payload id, start deadline in Unix ms).
    pub late: Vec<(String, i64)>,
    /// Every late tick, listed or not.
    pub late_total: u64,
}

impl Store {
    /// The leader lease, read with its time to live in one round trip.
    pub async fn leader_lease(&self) -> Result<Option<LeaderLease>> {
        let key = self.keys.leader();
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        let (id, pttl): (Option<String>, i64) = pipe.query_async(&mut self.con.clone()).await?;
        // PTTL is -2 when the key lapsed between the two commands and -1
        // when it has no expiry.
        Ok(id
            .filter(|_| pttl != -2)
            .map(|id| LeaderLease { id, ttl: u64::try_from(pttl).ok().map(Duration::from_millis) }))
    }

    /// Since when (Unix ms, Redis time) the workers and dashboards watching
    /// the lease have found no leader, if they have.
    pub async fn no_leader_since_ms(&self) -> Result<Option<i64>> {
        let mut con = self.con.clone();
        let since: Option<i64> = redis::cmd("HGET")
            .arg(self.keys.leader_monitor())
            .arg("no_leader_since")
            .query_async(&mut con)
            .await?;
        Ok(since)
    }

    /// A queue's workers, depth and late ticks at `now_ms` (Unix ms on
    /// Redis's clock): the members of `P{Q}:late`, and those of
    /// `P{Q}:waiting` whose deadline has passed, at most `limit` of them
    /// listed. A tick is counted once if it is in both sets and listed.
    pub async fn queue_health(&self, queue: &QueueName, now_ms: i64, limit: usize) -> Result<QueueHealth> {
        let workers = self.workers(queue).await?;
        let (late_key, waiting_key) = (self.keys.late(queue), self.keys.waiting(queue));
        let mut pipe = redis::pipe();
        pipe.cmd("LLEN").arg(self.keys.pending(queue));
        pipe.cmd("ZRANGEBYSCORE").arg(&late_key).arg("-inf").arg("+inf");
        pipe.arg("WITHSCORES").arg("LIMIT").arg(0).arg(limit);
        pipe.cmd("ZCARD").arg(&late_key);
        pipe.cmd("ZRANGEBYSCORE").arg(&waiting_key).arg("-inf").arg(now_ms);
        pipe.arg("WITHSCORES").arg("LIMIT").arg(0).arg(limit);
        pipe.cmd("ZCOUNT").arg(&waiting_key).arg("-inf").arg(now_ms);
        if !workers.is_empty() {
            // One command: the leases share the queue's hash tag.
            let leases: Vec<String> = workers.iter().map(|w| self.keys.worker_lease(queue, w)).collect();
            pipe.cmd("EXISTS").arg(leases);
        }
        let replies: Vec<redis::Value> = pipe.query_async(&mut self.con.clone()).await?;
        // No worker, no EXISTS: none is alive.
        let reply = |i: usize| replies.get(i).cloned().unwrap_or(redis::Value::Int(0));
        type Scored = Vec<(String, f64)>;
        let pending: u64 = parse(reply(0))?;
        let late: Scored = parse(reply(1))?;
        let late_count: u64 = parse(reply(2))?;
        let waiting: Scored = parse(reply(3))?;
        let waiting_count: u64 = parse(reply(4))?;
        let live: u64 = parse(reply(5))?;
        let mut listed: Vec<(String, i64)> = late.into_iter().map(|(id, at)| (id, at as i64)).collect();
        let mut total = late_count + waiting_count;
        for (id, at) in waiting {
            if listed.iter().any(|(seen, _)| *seen == id) {
                total -= 1;
            } else {
                listed.push((id, at as i64));
            }
        }
        listed.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        listed.truncate(limit);
        Ok(QueueHealth {
            pending,
            workers: workers.len() as u64,
            live_workers: live,
            late: listed,
            late_total: total,
        })
    }
}

fn parse<T: redis::FromRedisValue>(value: redis::Value) -> Result<T> {
    Ok(redis::from_redis_value(value).map_err(redis::RedisError::from)?)
}
