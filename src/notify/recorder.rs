//! The recorder loop: writes the entries [`super::record::note`] buffered
//! to the deliveries log in Redis. A failed write is logged and counted
//! (`campanile_redis_errors_total`, [`super::record::unrecorded`]) and the
//! entry dropped: the log is for the dashboard, never worth holding an
//! alert for. Runs under its daemon's supervisor; a restarted one takes
//! the buffer over.

use tokio_util::sync::CancellationToken;

use super::record::{self, Recording};
use crate::error_chain::error_chain;
use crate::store::Store;

/// Writes buffered entries until `stop`.
pub async fn run(store: Store, stop: CancellationToken) {
    let mut recording = Recording::start().await;
    loop {
        let entry = tokio::select! {
            _ = stop.cancelled() => return,
            entry = recording.next() => entry,
        };
        let Some(entry) = entry else { return };
        let json = serde_json::to_string(&entry).expect("a delivery serialises");
        if let Err(e) = store.record_delivery(&json).await {
            crate::metrics::METRICS.redis_errors.inc();
            record::count_unrecorded();
            tracing::warn!(error = %error_chain(&e), "cannot log an alert delivery");
        }
    }
}
