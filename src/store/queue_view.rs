//! What the dashboard's queue page reads of a queue, the way Sidekiq's
//! shows its queues: the first page of pending payloads and of retries,
//! the workers with what each runs now and since when, and the per-minute
//! counters of the last hour. Every read is bounded: a first page, a
//! sample of the workers, hashes bounded where they are written.

use redis::Value;

use super::{Result, Store};
use crate::config::QueueName;

/// The most workers of a queue one look reads (`SRANDMEMBER`): a queue
/// served by more shows how many there are, and this many of them.
pub const WORKERS_SHOWN: usize = 100;
/// The newest history entries of a job searched for a retry's failed run.
const HISTORY_SEARCHED: usize = 20;
/// Minutes of counters kept: the field of a minute is `minute % 60`.
pub const MINUTES: i64 = 60;

/// One look at a queue, `page` entries of each list at most.
#[derive(Debug, Clone, Default)]
pub struct QueueView {
    /// Redis's clock when it was read, Unix ms.
    pub now_ms: i64,
    /// How many payloads are pending, and the oldest of them, oldest first
    /// (the order workers take them in), as pushed.
    pub pending: u64,
    pub pending_first: Vec<Vec<u8>>,
    /// How many retries are scheduled, and the soonest, each with when it
    /// is due (Unix ms).
    pub retries: u64,
    pub retries_first: Vec<(Vec<u8>, i64)>,
    /// How many workers are registered on the queue (live or not).
    pub workers: u64,
    /// Up to [`WORKERS_SHOWN`] of them, sorted by id.
    pub workers_seen: Vec<WorkerView>,
    /// Per retry job, its newest history entries (JSON), newest first: the
    /// failed runs the retries follow are among them.
    pub recent_runs: Vec<(String, Vec<Vec<u8>>)>,
    /// The raw per-minute counters (see [`MinuteCount`]).
    pub minutes: Vec<(String, String)>,
}

/// A worker registered on the queue.
#[derive(Debug, Clone, Default)]
pub struct WorkerView {
    pub id: String,
    /// Its lease's value (JSON `{"concurrency","started_at"}`; older
    /// workers wrote their id), or `None` if the lease has lapsed.
    pub lease: Option<String>,
    /// Payloads it has taken and not finished.
    pub in_progress: u64,
    /// Its runs going on: payload id -> `"<since, Unix ms>|<job>"`.
    pub busy: Vec<(String, String)>,
}

/// One minute of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteCount {
    /// The minute's start, Unix ms.
    pub start_ms: i64,
    /// Payloads a worker was done with (see docs/redis.md), failed ones
    /// included.
    pub processed: u64,
    /// Of those, the ones that did not succeed.
    pub failed: u64,
}

/// The last [`MINUTES`] minutes up to the one of `now_ms`, oldest first,
/// from the counters hash's fields: a field stamped with another minute
/// is stale and reads as zero, as one that does not parse.
pub fn per_minute(fields: &[(String, String)], now_ms: i64) -> Vec<MinuteCount> {
    let now = now_ms.div_euclid(60_000);
    (now - MINUTES + 1..=now)
        .map(|minute| {
            let field = minute.rem_euclid(MINUTES).to_string();
            let slot = fields.iter().find(|(f, _)| *f == field).map(|(_, v)| v.as_str());
            let (processed, failed) = slot.and_then(|v| parse_slot(v, minute)).unwrap_or((0, 0));
            MinuteCount { start_ms: minute * 60_000, processed, failed }
        })
        .collect()
}

/// `"<minute>|<processed>|<failed>"`, if stamped with `minute`.
fn parse_slot(value: &str, minute: i64) -> Option<(u64, u64)> {
    let mut parts = value.split('|');
    let at: i64 = parts.next()?.parse().ok()?;
    let processed = parts.next()?.parse().ok()?;
    let failed = parts.next()?.parse().ok()?;
    (at == minute && parts.next().is_none()).then_some((processed, failed))
}

impl Store {
    /// One look at `queue`, at most `page` pending payloads and retries.
    /// Two round trips: the lists, then what the workers and the retries'
    /// jobs named in them hold.
    pub async fn queue_view(&self, queue: &QueueName, page: usize) -> Result<QueueView> {
        let k = &self.keys;
        let last = page as i64;
        let mut pipe = redis::pipe();
        pipe.cmd("TIME");
        pipe.cmd("LLEN").arg(k.pending(queue));
        // Workers take from the right: the oldest payloads are at the end.
        pipe.cmd("LRANGE").arg(k.pending(queue)).arg(-last).arg(-1);
        pipe.cmd("ZCARD").arg(k.retry(queue));
        pipe.cmd("ZRANGE").arg(k.retry(queue)).arg(0).arg(last - 1).arg("WITHSCORES");
        pipe.cmd("SCARD").arg(k.workers(queue));
        pipe.cmd("SRANDMEMBER").arg(k.workers(queue)).arg(WORKERS_SHOWN);
        pipe.cmd("HGETALL").arg(k.minutes(queue));
        let replies: Vec<Value> = pipe.query_async(&mut self.con.clone()).await?;
        let reply = |i: usize| replies.get(i).cloned().unwrap_or(Value::Nil);
        let (secs, micros): (i64, i64) = parse(reply(0))?;
        let mut pending_first: Vec<Vec<u8>> = parse(reply(2))?;
        pending_first.reverse();
        let retries_first: Vec<(Vec<u8>, f64)> = parse(reply(4))?;
        let mut ids: Vec<String> = parse(reply(6))?;
        ids.sort();
        let mut view = QueueView {
            now_ms: secs * 1000 + micros / 1000,
            pending: parse(reply(1))?,
            pending_first,
            retries: parse(reply(3))?,
            retries_first: retries_first.into_iter().map(|(raw, at)| (raw, at as i64)).collect(),
            workers: parse(reply(5))?,
            minutes: parse(reply(7))?,
            ..QueueView::default()
        };
        let jobs = retry_jobs(&view.retries_first);
        self.read_workers_and_runs(queue, &mut view, ids, jobs).await?;
        Ok(view)
    }

    /// The second round trip of [`Store::queue_view`].
    async fn read_workers_and_runs(
        &self,
        queue: &QueueName,
        view: &mut QueueView,
        ids: Vec<String>,
        jobs: Vec<String>,
    ) -> Result<()> {
        if ids.is_empty() && jobs.is_empty() {
            return Ok(());
        }
        let k = &self.keys;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("GET").arg(k.worker_lease(queue, id));
            pipe.cmd("LLEN").arg(k.worker(queue, id));
            pipe.cmd("HGETALL").arg(k.busy(queue, id));
        }
        for job in &jobs {
            pipe.cmd("LRANGE").arg(k.history(queue, job)).arg(0).arg(HISTORY_SEARCHED as i64 - 1);
        }
        let mut replies = pipe.query_async::<Vec<Value>>(&mut self.con.clone()).await?.into_iter();
        let mut next = || replies.next().unwrap_or(Value::Nil);
        for id in ids {
            let (lease, in_progress, busy) = (parse(next())?, parse(next())?, parse(next())?);
            view.workers_seen.push(WorkerView { id, lease, in_progress, busy });
        }
        for job in jobs {
            view.recent_runs.push((job, parse(next())?));
        }
        Ok(())
    }
}

/// The jobs the retries name, each once.
fn retry_jobs(retries: &[(Vec<u8>, i64)]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        job: String,
    }
    let mut jobs: Vec<String> = retries
        .iter()
        .filter_map(|(raw, _)| serde_json::from_slice::<Named>(raw).ok())
        .map(|n| n.job)
        .collect();
    jobs.sort();
    jobs.dedup();
    jobs
}

fn parse<T: redis::FromRedisValue>(value: Value) -> Result<T> {
    Ok(redis::from_redis_value(value).map_err(redis::RedisError::from)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(i64, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(f, v)| (f.to_string(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_last_hour_reads_each_minute_from_its_slot_and_stale_slots_as_zero() {
        let m: i64 = 29_000_040; // minutes since the epoch; slot 0
        let now_ms = m * 60_000 + 59_999;
        let minutes = per_minute(
            &fields(&[
                (0, &format!("{m}|5|1")),
                (59, &format!("{}|2|2", m - 1)),
                (1, &format!("{}|4|0", m - 59)),
                (2, &format!("{}|9|9", m - 118)),
                (3, "garbage"),
            ]),
            now_ms,
        );
        assert_eq!(minutes.len(), 60);
        assert_eq!(minutes[59], MinuteCount { start_ms: m * 60_000, processed: 5, failed: 1 });
        assert_eq!((minutes[58].processed, minutes[58].failed), (2, 2));
        assert_eq!(minutes[0].start_ms, (m - 59) * 60_000, "59 minutes before, the oldest shown");
        assert_eq!((minutes[0].processed, minutes[0].failed), (4, 0));
        let rest: u64 = minutes[1..58].iter().map(|c| c.processed + c.failed).sum();
        assert_eq!(rest, 0, "an hour-old stamp and a field that does not parse read as zero");
    }
}
