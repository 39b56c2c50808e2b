//! The worker's side of a queue: take, finish, retry, dead letters and the
//! recovery of payloads whose worker died.

use std::time::Duration;

use super::connection::{Connection, Timeouts};
use super::scripts;
use super::{Keys, Result, Store};
use crate::config::QueueName;

/// Dead letters kept per queue (newest first); older ones are dropped.
pub const DEAD_CAP: usize = 10_000;
/// History entries kept per job (newest first).
pub const HISTORY_CAP: usize = 100;

/// Where [`Store::requeue`] puts a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    Pending,
    Dead,
}

/// What [`Store::finish`] found, and what it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// `false` if the payload was no longer in progress (recovered by
    /// another worker, or this finish already ran): nothing was recorded.
    pub was_in_progress: bool,
    /// The job's newest history entry before this one.
    pub previous: Option<Vec<u8>>,
    /// The next payload, now in the worker's in-progress list, as bytes:
    /// whatever was pushed, UTF-8 or not.
    pub next: Option<Vec<u8>>,
    /// With `[redis] wait_replicas`, whether the finish reached that many
    /// replicas of the primary (see [`Store::finish`]); else `true`.
    pub acknowledged: bool,
}

/// A connection of its own for blocking takes: a blocking command would
/// hold up everything else multiplexed on a shared connection.
pub struct Taker {
    con: Connection,
    keys: Keys,
    wait: Option<super::Wait>,
}

impl Taker {
    /// Atomically moves the oldest pending payload into `worker`'s
    /// in-progress list, waiting up to `timeout` for one. With
    /// `wait_replicas`, a take that did not reach them fails with
    /// [`super::Error::Unreplicated`], the payload still in progress. `BLMOVE` rather than
    /// `BRPOP`: the payload is never only in the worker's memory, so a worker
    /// that dies mid-job leaves it where the others can recover it.
    pub async fn take(
        &mut self,
        queue: &QueueName,
        worker: &str,
        timeout: Duration,
    ) -> Result<Option<Vec<u8>>> {
        let mut pipe = redis::pipe();
        pipe.cmd("BLMOVE")
            .arg(self.keys.pending(queue))
            .arg(self.keys.worker(queue, worker))
            .arg("RIGHT")
            .arg("LEFT")
            .arg(timeout.as_secs_f64());
        // `WAIT` in the same pipeline reaches the node the take ran on.
        self.wait.inspect(|w| w.add_to(&mut pipe));
        let mut replies: Vec<redis::Value> = pipe.query_async(&mut self.con).await?;
        let taken = replies.first().cloned().unwrap_or(redis::Value::Nil);
        let taken: Option<Vec<u8>> = redis::from_redis_value(taken).map_err(redis::RedisError::from)?;
        if let (Some(w), Some(raw)) = (self.wait, taken.as_ref())
            && !w.acknowledged(&self.con, &mut replies, "a take").await
        {
            // Not to be run: a primary that lost its replicas may already
            // have been replaced, and the payload is then waiting on the new
            // one. The caller gives it back.
            return Err(super::Error::Unreplicated { payload: raw.clone() });
        }
        Ok(taken)
    }

    /// Undoes a take: the payload leaves `worker`'s in-progress list for the
    /// oldest end of the pending list, where it was; see `give_back.lua`.
    pub async fn give_back(&mut self, queue: &QueueName, worker: &str, raw: &[u8]) -> Result<()> {
        let _: i64 = scripts::GIVE_BACK
            .script
            .key(self.keys.worker(queue, worker))
            .key(self.keys.pending(queue))
            .arg(raw)
            .invoke_async(&mut self.con)
            .await?;
        Ok(())
    }
}

impl Store {
    /// A dedicated connection for [`Taker::take`].
    pub async fn taker(&self) -> Result<Taker> {
        // A blocking take legitimately waits for its own timeout; the response
        // timeout only catches a connection that died silently.
        let timeouts = Timeouts { connect: Duration::from_secs(5), response: Duration::from_secs(30) };
        let con = Connection::open(&self.topology, timeouts).await?;
        Ok(Taker { con, keys: self.keys.clone(), wait: self.wait })
    }

    /// Announces `worker` on each queue and (re)sets its lease, whose value
    /// is `about` (JSON: the worker's concurrency and start, for the
    /// dashboard).
    pub async fn heartbeat(
        &self,
        queues: &[QueueName],
        worker: &str,
        about: &str,
        ttl: Duration,
    ) -> Result<()> {
        let mut cmds = Vec::with_capacity(queues.len() * 2);
        for q in queues {
            let mut join = redis::cmd("SADD");
            join.arg(self.keys.workers(q)).arg(worker);
            let mut lease = redis::cmd("SET");
            lease.arg(self.keys.worker_lease(q, worker)).arg(about).arg("PX").arg(ttl.as_millis() as u64);
            cmds.push((self.keys.workers(q), join));
            cmds.push((self.keys.workers(q), lease));
        }
        self.query_slotted(cmds, &[], None).await?;
        Ok(())
    }

    /// Drops `worker`'s leases and, where it holds no payloads, its
    /// membership of the queue (after it has put its payloads back).
    pub async fn retire(&self, queues: &[QueueName], worker: &str) -> Result<()> {
        for q in queues {
            self.requeue(q, worker, false, &[]).await?;
            let () = redis::cmd("DEL")
                .arg(self.keys.worker_lease(q, worker))
                .query_async(&mut self.con.clone())
                .await?;
        }
        Ok(())
    }

    /// Marks the run of payload `id` started: the payload leaves the
    /// waiting and late sets (see `start_run.lua`), the job's in-flight
    /// marker, if it still names this payload, is extended by `ttl`, and
    /// `worker`'s busy hash records since when it runs.
    pub async fn start_run(
        &self,
        queue: &QueueName,
        worker: &str,
        job: &str,
        id: &str,
        ttl: Duration,
    ) -> Result<()> {
        let keys = [
            self.keys.inflight(queue),
            self.keys.waiting(queue),
            self.keys.late(queue),
            self.keys.busy(queue, worker),
            self.keys.worker(queue, worker),
        ];
        let args = [job.to_owned(), id.to_owned(), ttl.as_millis().to_string()];
        let _: i64 = self.run_script(&scripts::START_RUN, &keys, &args).await?;
        Ok(())
    }

    /// Records a finished run (and a dead letter for a final failure); see
    /// `finish.lua`. `job` and `id` may be empty for a payload that never
    /// named a valid job. With `take_next`, the same step also moves the
    /// next pending payload into `worker`'s in-progress list, as
    /// [`Taker::take`] would without waiting: except with `[redis]
    /// wait_replicas`, where every take must be followed by a `WAIT` and
    /// goes through [`Taker::take`]. With `wait_replicas` the finish is
    /// followed by a `WAIT` too: an unacknowledged one stands where it was
    /// written but a failover may take it back, leaving the payload in
    /// progress as if it never ran; the caller sends it again until it is
    /// acknowledged (a repeated finish changes nothing).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish(
        &self,
        queue: &QueueName,
        worker: &str,
        raw: &[u8],
        job: &str,
        id: &str,
        history: Option<&str>,
        dead: Option<&str>,
        take_next: bool,
    ) -> Result<Finish> {
        let keys = [
            self.keys.worker(queue, worker),
            self.keys.history(queue, job),
            self.keys.inflight(queue),
            self.keys.dead(queue),
            self.keys.pending(queue),
            self.keys.waiting(queue),
            self.keys.late(queue),
            self.keys.busy(queue, worker),
            self.keys.minutes(queue),
            self.keys.dead_count(queue),
        ];
        let take_next = take_next && self.wait.is_none();
        let (history_cap, dead_cap) = (HISTORY_CAP.to_string(), DEAD_CAP.to_string());
        let args: [&[u8]; 8] = [
            raw,
            history.unwrap_or_default().as_bytes(),
            history_cap.as_bytes(),
            id.as_bytes(),
            dead.unwrap_or_default().as_bytes(),
            dead_cap.as_bytes(),
            if take_next { b"1" } else { b"0" },
            job.as_bytes(),
        ];
        type Reply = (i64, Option<Vec<u8>>, Option<Vec<u8>>);
        let ((removed, previous, next), acknowledged): (Reply, bool) =
            self.run_script_acked(&scripts::FINISH, &keys, &args, "a finish").await?;
        Ok(Finish { was_in_progress: removed == 1, previous, next, acknowledged })
    }

    /// Schedules the next attempt of a failed run; see `retry.lua`. With
    /// `[redis] wait_replicas`, fails with [`super::Error::Unacknowledged`]
    /// if the write was not acknowledged (send it again, as for
    /// [`Store::finish`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn schedule_retry(
        &self,
        queue: &QueueName,
        worker: &str,
        raw: &[u8],
        job: &str,
        id: &str,
        next: &str,
        due_ms: i64,
        history: &str,
        marker_ttl: Duration,
    ) -> Result<bool> {
        let keys = [
            self.keys.worker(queue, worker),
            self.keys.retry(queue),
            self.keys.history(queue, job),
            self.keys.inflight(queue),
            self.keys.busy(queue, worker),
            self.keys.minutes(queue),
        ];
        let (due_ms, history_cap, marker_ttl) =
            (due_ms.to_string(), HISTORY_CAP.to_string(), marker_ttl.as_millis().to_string());
        let args: [&[u8]; 8] = [
            raw,
            next.as_bytes(),
            due_ms.as_bytes(),
            history.as_bytes(),
            history_cap.as_bytes(),
            id.as_bytes(),
            marker_ttl.as_bytes(),
            job.as_bytes(),
        ];
        let (removed, acknowledged): (i64, bool) =
            self.run_script_acked(&scripts::RETRY, &keys, &args, "a retry").await?;
        if !acknowledged {
            return Err(super::Error::Unacknowledged("a retry"));
        }
        Ok(removed == 1)
    }

    /// Dead-letters a taken payload of `size` bytes starting with `start`
    /// without sending it back; see `drop_taken.lua`. `false` if it was no
    /// longer in progress. Acknowledged as [`Store::schedule_retry`] is.
    pub async fn drop_taken(
        &self,
        queue: &QueueName,
        worker: &str,
        size: usize,
        start: &[u8],
        dead: &str,
    ) -> Result<bool> {
        let keys = [
            self.keys.worker(queue, worker),
            self.keys.dead(queue),
            self.keys.minutes(queue),
            self.keys.dead_count(queue),
        ];
        let (size, dead_cap) = (size.to_string(), DEAD_CAP.to_string());
        let args: [&[u8]; 4] = [size.as_bytes(), start, dead.as_bytes(), dead_cap.as_bytes()];
        let (dropped, acknowledged): (i64, bool) =
            self.run_script_acked(&scripts::DROP_TAKEN, &keys, &args, "a dead letter").await?;
        if !acknowledged {
            return Err(super::Error::Unacknowledged("a dead letter"));
        }
        Ok(dropped == 1)
    }

    /// Moves retries due at `now_ms` onto the pending list.
    pub async fn promote_retries(&self, queue: &QueueName, now_ms: i64) -> Result<u64> {
        let keys = [self.keys.retry(queue), self.keys.pending(queue)];
        self.run_script(&scripts::PROMOTE, &keys, &[now_ms.to_string(), "1000".into()]).await
    }

    /// The workers registered on a queue.
    pub async fn workers(&self, queue: &QueueName) -> Result<Vec<String>> {
        Ok(redis::cmd("SMEMBERS").arg(self.keys.workers(queue)).query_async(&mut self.con.clone()).await?)
    }

    /// Whether a worker's lease on a queue is alive.
    pub async fn worker_alive(&self, queue: &QueueName, worker: &str) -> Result<bool> {
        let n: i64 = redis::cmd("EXISTS")
            .arg(self.keys.worker_lease(queue, worker))
            .query_async(&mut self.con.clone())
            .await?;
        Ok(n == 1)
    }

    /// The payloads a worker has taken and not finished, as bytes.
    pub async fn in_progress(&self, queue: &QueueName, worker: &str) -> Result<Vec<Vec<u8>>> {
        Ok(redis::cmd("LRANGE")
            .arg(self.keys.worker(queue, worker))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.con.clone())
            .await?)
    }

    /// [`Taker::give_back`] on the shared connection: `false` if the payload
    /// was no longer in `worker`'s in-progress list.
    pub async fn give_back(&self, queue: &QueueName, worker: &str, raw: &[u8]) -> Result<bool> {
        let keys = [self.keys.worker(queue, worker), self.keys.pending(queue)];
        let given: i64 = self.run_script(&scripts::GIVE_BACK, &keys, &[raw]).await?;
        Ok(given == 1)
    }

    /// Replaces payloads in a worker's in-progress list; see `requeue.lua`.
    /// Returns how many moved, or `None` if `only_if_lapsed` and the worker
    /// is alive.
    pub async fn requeue(
        &self,
        queue: &QueueName,
        worker: &str,
        only_if_lapsed: bool,
        moves: &[(Vec<u8>, Requeue, Vec<u8>)],
    ) -> Result<Option<u64>> {
        let keys = [
            self.keys.workers(queue),
            self.keys.worker_lease(queue, worker),
            self.keys.worker(queue, worker),
            self.keys.pending(queue),
            self.keys.dead(queue),
            self.keys.busy(queue, worker),
            self.keys.minutes(queue),
            self.keys.dead_count(queue),
        ];
        let dead_cap = DEAD_CAP.to_string();
        let mut args: Vec<&[u8]> =
            vec![worker.as_bytes(), if only_if_lapsed { b"1" } else { b"0" }, dead_cap.as_bytes()];
        for (raw, to, replacement) in moves {
            args.push(raw);
            args.push(if *to == Requeue::Dead { b"dead" } else { b"pending" });
            args.push(replacement);
        }
        let moved: i64 = self.run_script(&scripts::REQUEUE, &keys, &args).await?;
        Ok((moved >= 0).then_some(moved as u64))
    }
}
