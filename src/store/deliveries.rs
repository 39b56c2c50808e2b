//! The log of alert deliveries (`Pdeliveries`): one capped list for the
//! deployment, written by whichever process delivered, read by the
//! dashboard. Single-key operations.

use super::{Result, Store};

/// Deliveries kept: a few days of a busy deployment's alerts, bounded by
/// construction (each push trims in the same transaction).
pub const DELIVERIES_CAP: usize = 200;

impl Store {
    /// Logs one delivery (its JSON) at the head of the list and trims the
    /// list to [`DELIVERIES_CAP`], in one transaction.
    pub async fn record_delivery(&self, entry: &str) -> Result<()> {
        let _: () = redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(self.keys.deliveries())
            .arg(entry)
            .ignore()
            .cmd("LTRIM")
            .arg(self.keys.deliveries())
            .arg(0)
            .arg(DELIVERIES_CAP - 1)
            .ignore()
            .query_async(&mut self.con.clone())
            .await?;
        Ok(())
    }

    /// The newest `limit` deliveries (at most [`DELIVERIES_CAP`]), as
    /// stored, newest first.
    pub async fn deliveries(&self, limit: usize) -> Result<Vec<String>> {
        let limit = limit.min(DELIVERIES_CAP);
        if limit == 0 {
            return Ok(Vec::new());
        }
        Ok(redis::cmd("LRANGE")
            .arg(self.keys.deliveries())
            .arg(0)
            .arg(limit - 1)
            .query_async(&mut self.con.clone())
            .await?)
    }
}
