//! What a job's page reads besides its history: the clock's decisions on
//! its ticks and its dead-letter count, each one bounded read.

use super::{Result, Store};
use crate::config::QueueName;

impl Store {
    /// The newest `limit` entries of a job's tick log (JSON), newest first.
    pub async fn tick_log(&self, queue: &QueueName, job: &str, limit: usize) -> Result<Vec<String>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        Ok(redis::cmd("LRANGE")
            .arg(self.keys.tick_log(queue, job))
            .arg(0)
            .arg(limit as i64 - 1)
            .query_async(&mut self.con.clone())
            .await?)
    }

    /// How many dead letters of `job` the queue's dead-letter list holds,
    /// from the counts the scripts keep with it (`dead_count.lua`).
    pub async fn dead_count(&self, queue: &QueueName, job: &str) -> Result<u64> {
        let count: Option<u64> = redis::cmd("HGET")
            .arg(self.keys.dead_count(queue))
            .arg(job)
            .query_async(&mut self.con.clone())
            .await?;
        Ok(count.unwrap_or(0))
    }

    /// A queue's dead-letter counts as stored: per job, and `__all`.
    pub async fn dead_counts(&self, queue: &QueueName) -> Result<std::collections::HashMap<String, u64>> {
        Ok(redis::cmd("HGETALL").arg(self.keys.dead_count(queue)).query_async(&mut self.con.clone()).await?)
    }
}
