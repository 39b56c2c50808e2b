//! The leader lease and leadership terms: single-key operations on keys
//! outside every queue's hash tag.

use std::time::Duration;

use super::{Result, Store, scripts};

impl Store {
    /// Takes the leader lease if nobody holds it (or extends it if this
    /// clock does); `true` if this clock now leads.
    pub async fn try_acquire_lease(&self, id: &str, ttl: Duration) -> Result<bool> {
        let args = [id.to_owned(), ttl.as_millis().to_string()];
        let acquired: i64 = self.run_script(&scripts::ACQUIRE_LEASE, &[self.keys.leader()], &args).await?;
        Ok(acquired == 1)
    }

    /// A new leadership term: strictly larger than every earlier one.
    pub async fn next_term(&self) -> Result<u64> {
        Ok(redis::cmd("INCR").arg(self.keys.term()).query_async(&mut self.con.clone()).await?)
    }

    /// Extends the lease; `false` if this clock no longer holds it.
    pub async fn renew_lease(&self, id: &str, ttl: Duration) -> Result<bool> {
        let renewed: i64 = self
            .run_script(
                &scripts::RENEW_LEASE,
                &[self.keys.leader()],
                &[id.into(), ttl.as_millis().to_string()],
            )
            .await?;
        Ok(renewed == 1)
    }

    /// Passes the lease to `to` if this clock holds it.
    pub async fn handover_lease(&self, id: &str, to: &str, ttl: Duration) -> Result<bool> {
        let args = [id.to_owned(), to.to_owned(), ttl.as_millis().to_string()];
        let done: i64 = self.run_script(&scripts::HANDOVER_LEASE, &[self.keys.leader()], &args).await?;
        Ok(done == 1)
    }

    /// Gives the lease up if this clock holds it.
    pub async fn release_lease(&self, id: &str) -> Result<bool> {
        let released: i64 = self.run_script(&scripts::RELEASE_LEASE, &[self.keys.leader()], &[id]).await?;
        Ok(released == 1)
    }

    /// The id of the clock holding the lease, if any.
    pub async fn leader(&self) -> Result<Option<String>> {
        Ok(redis::cmd("GET").arg(self.keys.leader()).query_async(&mut self.con.clone()).await?)
    }
}
