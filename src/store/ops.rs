//! Operator commands: pause, trigger, history, dead letters, status.

use std::collections::HashMap;
use std::time::Duration;

use super::connection::{Connection, Timeouts};
use super::scripts;
use super::{JobHash, Result, Store};
use crate::config::{Format, QueueName};
use redis::RedisError;

/// Depths of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueCounts {
    pub pending: u64,
    pub in_progress: u64,
    pub retry: u64,
    pub dead: u64,
}

impl Store {
    /// Pauses a job; `false` if it was already paused.
    pub async fn pause(&self, queue: &QueueName, job: &str, since: &str) -> Result<bool> {
        let added: i64 = redis::cmd("HSETNX")
            .arg(self.keys.paused(queue))
            .arg(job)
            .arg(since)
            .query_async(&mut self.con.clone())
            .await?;
        Ok(added == 1)
    }

    /// Resumes a job; `false` if it was not paused.
    pub async fn resume(&self, queue: &QueueName, job: &str) -> Result<bool> {
        let removed: i64 = redis::cmd("HDEL")
            .arg(self.keys.paused(queue))
            .arg(job)
            .query_async(&mut self.con.clone())
            .await?;
        Ok(removed == 1)
    }

    /// Paused jobs of a queue and since when.
    pub async fn paused(&self, queue: &QueueName) -> Result<HashMap<String, String>> {
        Ok(redis::cmd("HGETALL").arg(self.keys.paused(queue)).query_async(&mut self.con.clone()).await?)
    }

    /// Pushes a payload of `job` outside the schedule (no tick state, no
    /// marker), to where the job's format sends its ticks, and records
    /// `log` (a [`crate::tick_log::TickEntry`], JSON) in the job's tick
    /// log. `watch`, the payload's id and start deadline (Unix ms), adds it
    /// to the waiting set in the same step, for `late`; campanile's format
    /// only. For campanile's format the log entry is written in the same
    /// step; for another tool's, whose keys live elsewhere, just after.
    pub async fn push(
        &self,
        queue: &QueueName,
        format: &Format,
        job: &str,
        payload: &str,
        watch: Option<(&str, i64)>,
        log: &str,
    ) -> Result<()> {
        let log_cap = super::TICK_LOG_CAP.to_string();
        if let Format::Campanile = format {
            let keys = [
                self.keys.pending(queue),
                self.keys.waiting(queue),
                self.keys.stats(queue),
                self.keys.tick_log(queue, job),
            ];
            let (id, deadline) = watch.map_or(("", String::new()), |(id, at)| (id, at.to_string()));
            let args = [payload, id, &deadline, &super::WAITING_CAP.to_string(), job, log, &log_cap];
            let _: i64 = self.run_script(&scripts::PUSH_WATCHED, &keys, &args).await?;
            return Ok(());
        }
        self.push_to_tool(queue, format, payload).await?;
        let log_key = self.keys.tick_log(queue, job);
        let () = redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(&log_key)
            .arg(log)
            .ignore()
            .cmd("LTRIM")
            .arg(&log_key)
            .arg(0)
            .arg(super::TICK_LOG_CAP as i64 - 1)
            .ignore()
            .query_async(&mut self.con.clone())
            .await?;
        Ok(())
    }

    /// Pushes a payload to another tool's keys, as its own client would.
    async fn push_to_tool(&self, queue: &QueueName, format: &Format, payload: &str) -> Result<()> {
        let to = self.keys.destination(queue, format);
        if let (Some(base), Some(prefix)) = (&to.bullmq, &to.job_hash) {
            let job = JobHash::from_payload(payload)
                .ok_or_else(|| super::Error::Reply(format!("not a job hash payload: {payload}")))?;
            let [paused, meta, id, active, events, marker] = super::keys::bullmq_keys(base);
            let keys = [format!("{prefix}{}", job.id), to.list, paused, meta, id, active, events, marker];
            let _: i64 = self.run_script(&scripts::PUSH_BULLMQ, &keys, &[payload]).await?;
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        if let Some(queues) = &to.queues {
            let member = if to.queues_hold_keys { to.list.as_str() } else { queue.as_str() };
            pipe.cmd("SADD").arg(queues).arg(member).ignore();
        }
        let mut pushed = payload.to_owned();
        if let Some(prefix) = &to.job_hash {
            let job = JobHash::from_payload(payload)
                .ok_or_else(|| super::Error::Reply(format!("not a job hash payload: {payload}")))?;
            let hset = pipe.cmd("HSET").arg(format!("{prefix}{}", job.id));
            for (field, value) in &job.fields {
                hset.arg(field).arg(value);
            }
            hset.ignore();
            pushed = job.id;
        }
        pipe.cmd(if to.right { "RPUSH" } else { "LPUSH" }).arg(&to.list).arg(pushed).ignore();
        let () = pipe.query_async(&mut self.con.clone()).await?;
        Ok(())
    }

    /// The newest `limit` history entries of a job (JSON).
    pub async fn history(&self, queue: &QueueName, job: &str, limit: usize) -> Result<Vec<String>> {
        Ok(redis::cmd("LRANGE")
            .arg(self.keys.history(queue, job))
            .arg(0)
            .arg(limit as i64 - 1)
            .query_async(&mut self.con.clone())
            .await?)
    }

    /// For each (queue, job): its newest history entry (JSON) and whether it
    /// has a payload in flight at `now_ms` (Unix ms), in one pipelined round
    /// trip.
    pub async fn job_states(
        &self,
        jobs: &[(&QueueName, &str)],
        now_ms: i64,
    ) -> Result<Vec<(Option<String>, bool)>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmds = Vec::with_capacity(jobs.len() * 2);
        for (queue, job) in jobs {
            let mut last = redis::cmd("LINDEX");
            last.arg(self.keys.history(queue, job)).arg(0);
            let mut marker = redis::cmd("HGET");
            marker.arg(self.keys.inflight(queue)).arg(job);
            cmds.push((self.keys.ticks(queue), last));
            cmds.push((self.keys.ticks(queue), marker));
        }
        let replies = self.query_slotted(cmds, &[], None).await?;
        replies
            .chunks(2)
            .map(|pair| {
                let last: Option<String> = redis::from_redis_value_ref(&pair[0]).map_err(RedisError::from)?;
                let marker: Option<String> =
                    redis::from_redis_value_ref(&pair[1]).map_err(RedisError::from)?;
                let live = marker.and_then(|m| super::keys::marker_expiry(&m)).is_some_and(|at| at > now_ms);
                Ok((last, live))
            })
            .collect()
    }

    /// Dead letters of a queue, newest first (JSON).
    pub async fn dead_letters(&self, queue: &QueueName) -> Result<Vec<String>> {
        Ok(redis::cmd("LRANGE")
            .arg(self.keys.dead(queue))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.con.clone())
            .await?)
    }

    /// How many dead letters a queue holds.
    pub async fn dead_len(&self, queue: &QueueName) -> Result<usize> {
        Ok(redis::cmd("LLEN").arg(self.keys.dead(queue)).query_async(&mut self.con.clone()).await?)
    }

    /// `count` dead letters of a queue from the `start`th newest (JSON, as
    /// stored): a bounded read, unlike [`Store::dead_letters`].
    pub async fn dead_range(&self, queue: &QueueName, start: usize, count: usize) -> Result<Vec<String>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        Ok(redis::cmd("LRANGE")
            .arg(self.keys.dead(queue))
            .arg(start)
            .arg(start + count - 1)
            .query_async(&mut self.con.clone())
            .await?)
    }

    /// Moves dead letters (as stored) back to pending as the given payloads.
    pub async fn retry_dead(&self, queue: &QueueName, moves: &[(String, String)]) -> Result<u64> {
        let keys = [self.keys.dead(queue), self.keys.pending(queue), self.keys.dead_count(queue)];
        let args: Vec<String> = moves.iter().flat_map(|(d, p)| [d.clone(), p.clone()]).collect();
        self.run_script(&scripts::RETRY_DEAD, &keys, &args).await
    }

    /// Deletes these dead letters (as stored) of a queue; returns how many
    /// were still there.
    pub async fn delete_dead(&self, queue: &QueueName, raws: &[&str]) -> Result<u64> {
        let keys = [self.keys.dead(queue), self.keys.dead_count(queue)];
        self.run_script(&scripts::DELETE_DEAD, &keys, raws).await
    }

    /// Deletes a queue's dead letters; returns how many there were.
    pub async fn purge_dead(&self, queue: &QueueName) -> Result<u64> {
        let (len, _): (u64, i64) = redis::pipe()
            .atomic()
            .cmd("LLEN")
            .arg(self.keys.dead(queue))
            .cmd("DEL")
            .arg(self.keys.dead(queue))
            .arg(self.keys.dead_count(queue))
            .query_async(&mut self.con.clone())
            .await?;
        Ok(len)
    }

    /// The length of a list of another tool (the key as given, unprefixed).
    pub async fn list_len(&self, list: &str) -> Result<u64> {
        Ok(redis::cmd("LLEN").arg(list).query_async(&mut self.con.clone()).await?)
    }

    /// Pending, in-progress, retry and dead counts of a queue.
    pub async fn queue_counts(&self, queue: &QueueName) -> Result<QueueCounts> {
        let workers = self.workers(queue).await?;
        let mut pipe = redis::pipe();
        pipe.cmd("LLEN").arg(self.keys.pending(queue));
        pipe.cmd("ZCARD").arg(self.keys.retry(queue));
        pipe.cmd("LLEN").arg(self.keys.dead(queue));
        for w in &workers {
            pipe.cmd("LLEN").arg(self.keys.worker(queue, w));
        }
        let counts: Vec<u64> = pipe.query_async(&mut self.con.clone()).await?;
        Ok(QueueCounts {
            pending: counts[0],
            retry: counts[1],
            dead: counts[2],
            in_progress: counts[3..].iter().sum(),
        })
    }

    /// Redis's clock as Unix microseconds (`TIME`).
    pub async fn redis_time_us(&self) -> Result<i64> {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut self.con.clone()).await?;
        Ok(secs * 1_000_000 + micros)
    }

    /// Publishes the leading clock's job table (JSON). A table of many jobs
    /// is megabytes (27 MB for 100,000), and the Redis client keeps a
    /// connection's write buffer at the size of the largest request it sent:
    /// a large table goes out on a connection of its own, closed after.
    pub async fn publish_config(&self, json: &str) -> Result<()> {
        let mut set = redis::cmd("SET");
        set.arg(self.keys.config()).arg(json);
        if json.len() <= super::PIPELINE_BYTES {
            let () = set.query_async(&mut self.con.clone()).await?;
        } else {
            // Megabytes take longer than the shared connection allows.
            let timeouts = Timeouts { connect: super::TIMEOUTS.connect, response: Duration::from_secs(60) };
            let mut con = Connection::open(&self.topology, timeouts).await?;
            let () = set.query_async(&mut con).await?;
        }
        Ok(())
    }

    /// The deployed job table (JSON), if a clock has published one.
    pub async fn deployed_config(&self) -> Result<Option<String>> {
        Ok(redis::cmd("GET").arg(self.keys.config()).query_async(&mut self.con.clone()).await?)
    }

    /// The dashboards' shared CSRF secret: `candidate` if none is set yet
    /// (`SET NX`), else the one already set, so every dashboard on this
    /// Redis signs with the same one.
    pub async fn web_secret(&self, candidate: &str) -> Result<String> {
        let key = self.keys.web_secret();
        let _: Option<String> =
            redis::cmd("SET").arg(&key).arg(candidate).arg("NX").query_async(&mut self.con.clone()).await?;
        let secret: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut self.con.clone()).await?;
        // Deleted between the two commands: this dashboard's candidate
        // serves until the next start.
        Ok(secret.unwrap_or_else(|| candidate.to_owned()))
    }

    /// Records a clock's entry (a JSON object) in the clock registry, adding
    /// `redis_seen_ms`: when Redis received it, on Redis's clock.
    pub async fn announce_clock(&self, id: &str, info: &str) -> Result<()> {
        let keys = [self.keys.clocks()];
        let _: i64 =
            self.run_script(&scripts::ANNOUNCE_CLOCK, &keys, &[id.to_owned(), info.to_owned()]).await?;
        Ok(())
    }

    /// Removes clocks from the registry.
    pub async fn forget_clocks(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let _: i64 =
            redis::cmd("HDEL").arg(self.keys.clocks()).arg(ids).query_async(&mut self.con.clone()).await?;
        Ok(())
    }

    /// The clock registry (id -> JSON) and Redis's time (Unix ms) when it
    /// was read, to judge each entry's `redis_seen_ms` by.
    pub async fn clocks(&self) -> Result<(i64, HashMap<String, String>)> {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut self.con.clone()).await?;
        let entries =
            redis::cmd("HGETALL").arg(self.keys.clocks()).query_async(&mut self.con.clone()).await?;
        Ok((secs * 1000 + micros / 1000, entries))
    }
}
