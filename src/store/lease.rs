//! The leader lease and leadership terms, on keys outside every queue's
//! hash tag: single-key operations, but for the log of acquisitions, which
//! shares the lease's slot ([`super::keys::Keys::leader_changes`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Result, Store, scripts};

/// Acquisitions of the lease kept in its log: enough to see a flapping
/// leader over an hour (one a minute and some), bounded by construction.
pub const LEADER_CHANGES_CAP: usize = 50;

/// One acquisition of the lease, as its log holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderChange {
    /// The clock that took the lease (`host:pid:nonce`).
    pub clock: String,
    /// `acquired` (nobody held it) or `handover` (from `from`).
    pub via: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// When, Unix ms on Redis's clock.
    pub at_ms: i64,
}

impl Store {
    /// Takes the leader lease if nobody holds it (or extends it if this
    /// clock does); `true` if this clock now leads.
    pub async fn try_acquire_lease(&self, id: &str, ttl: Duration) -> Result<bool> {
        let args = [id.to_owned(), ttl.as_millis().to_string(), LEADER_CHANGES_CAP.to_string()];
        let keys = [self.keys.leader(), self.keys.leader_changes()];
        let acquired: i64 = self.run_script(&scripts::ACQUIRE_LEASE, &keys, &args).await?;
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
        let args =
            [id.to_owned(), to.to_owned(), ttl.as_millis().to_string(), LEADER_CHANGES_CAP.to_string()];
        let keys = [self.keys.leader(), self.keys.leader_changes()];
        let done: i64 = self.run_script(&scripts::HANDOVER_LEASE, &keys, &args).await?;
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

    /// The newest `limit` acquisitions of the lease (at most
    /// [`LEADER_CHANGES_CAP`]), newest first; an entry that does not parse
    /// is skipped.
    pub async fn leader_changes(&self, limit: usize) -> Result<Vec<LeaderChange>> {
        let limit = limit.min(LEADER_CHANGES_CAP);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let raw: Vec<String> = redis::cmd("LRANGE")
            .arg(self.keys.leader_changes())
            .arg(0)
            .arg(limit - 1)
            .query_async(&mut self.con.clone())
            .await?;
        Ok(raw.iter().filter_map(|r| serde_json::from_str(r).ok()).collect())
    }
}
