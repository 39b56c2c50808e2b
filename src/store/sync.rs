//! Start-up sync: each job's last tick for one queue, and its write
//! sequence, loaded (and restored if Redis lost them) by `sync.lua`.

use redis::{RedisError, Value};

use super::{Error, Result, Sequences, Store, scripts};
use crate::config::{JobName, QueueName};

/// Jobs per `sync.lua` call at start-up, for the same reason as
/// `TICKS_PER_CALL` in `enqueue`: a queue of 100,000 jobs is 100 short
/// calls, not one of 200,000 arguments that blocks Redis.
const JOBS_PER_SYNC: usize = 1000;

/// One job for [`Store::sync_ticks`].
#[derive(Debug, Clone, Copy)]
pub struct SyncJob<'a> {
    pub name: &'a JobName,
    /// The job's schedule fingerprint.
    pub fingerprint: &'a str,
    /// The last tick this clock handled for the job with this fingerprint,
    /// if it led before.
    pub remembered: Option<i64>,
}

/// Where a job's state came from in [`Store::sync_ticks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// Redis had it.
    Kept,
    /// New to Redis, or its schedule changed: it starts from now.
    Fresh,
    /// Redis had lost it; the remembered tick was restored.
    Restored,
}

/// Reads one `sync.lua` reply for `chunk` into `states`, advancing `seq`;
/// returns whether restoring was on.
fn sync_reply(
    chunk: &[SyncJob<'_>],
    reply: Value,
    states: &mut Vec<(i64, Synced)>,
    seq: &mut u64,
) -> Result<bool> {
    let flat: Vec<i64> = redis::from_redis_value(reply).map_err(RedisError::from)?;
    if flat.is_empty() {
        return Err(Error::Fenced);
    }
    if flat.len() != chunk.len() * 2 + 2 {
        return Err(Error::Reply(format!("sync returned {} values for {} jobs", flat.len(), chunk.len())));
    }
    let (pairs, tail) = flat.split_at(chunk.len() * 2);
    for pair in pairs.chunks(2) {
        let synced = match pair[1] {
            0 => Synced::Kept,
            1 => Synced::Fresh,
            _ => Synced::Restored,
        };
        states.push((pair[0], synced));
    }
    *seq = (*seq).max(tail[1] as u64);
    Ok(tail[0] == 1)
}

impl Store {
    /// Loads each job's last tick for one queue, starting jobs that are new
    /// or whose schedule changed from `now`, and records the queue's write
    /// sequence in `seqs`. A job's remembered last tick (this clock pushed
    /// it while leading before) is restored if Redis lost the queue's state
    /// since: see `sync.lua`. The jobs go out [`JOBS_PER_SYNC`] to a script
    /// call: the first call alone (it finds out whether the state was lost),
    /// the rest pipelined.
    pub async fn sync_ticks(
        &self,
        queue: &QueueName,
        now: i64,
        term: u64,
        jobs: &[SyncJob<'_>],
        seqs: &mut Sequences,
    ) -> Result<Vec<(i64, Synced)>> {
        let call = |chunk: &[SyncJob<'_>], restoring: &str| {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(scripts::SYNC.script.get_hash())
                .arg(1)
                .arg(self.keys.ticks(queue))
                .arg(now)
                .arg(term)
                .arg(restoring);
            for job in chunk {
                cmd.arg(job.name.as_str()).arg(job.fingerprint);
                match job.remembered {
                    Some(tick) => cmd.arg(tick),
                    None => cmd.arg(""),
                };
            }
            (self.keys.ticks(queue), cmd)
        };
        let mut chunks = jobs.chunks(JOBS_PER_SYNC);
        let Some(first) = chunks.next() else {
            return Ok(Vec::new());
        };
        let mut replies = self.query_slotted(vec![call(first, "auto")], &[&*scripts::SYNC], None).await?;
        let mut states = Vec::with_capacity(jobs.len());
        let mut seq = 0;
        let restoring = sync_reply(first, replies.remove(0), &mut states, &mut seq)?;
        let rest: Vec<_> =
            chunks.clone().map(|chunk| call(chunk, if restoring { "1" } else { "0" })).collect();
        if !rest.is_empty() {
            let replies = self.query_slotted(rest, &[&*scripts::SYNC], None).await?;
            for (chunk, reply) in chunks.zip(replies) {
                sync_reply(chunk, reply, &mut states, &mut seq)?;
            }
        }
        seqs.insert(queue.clone(), seq);
        Ok(states)
    }
}
