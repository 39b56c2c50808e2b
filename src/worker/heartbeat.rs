//! The worker's leases and the queue-depth gauges: the two loops that only
//! report this worker's state to Redis and back.

use tokio_util::sync::CancellationToken;

use super::{HEARTBEAT_EVERY, LEASE_TTL, WorkerId};
use crate::config::QueueName;
use crate::error_chain::error_chain;
use crate::metrics::{METRICS, labels};
use crate::store::Store;

/// Keeps this worker's leases alive until `stop`: the worker stops it only
/// once its running jobs are over, so their leases do not lapse meanwhile.
/// `about` is the leases' value (see [`Store::heartbeat`]).
pub(super) async fn run(
    store: Store,
    queues: Vec<QueueName>,
    me: WorkerId,
    about: String,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
        }
        if let Err(e) = store.heartbeat(&queues, &me.0, &about, LEASE_TTL).await {
            tracing::warn!(worker = %me.0, error = %error_chain(&e), "heartbeat failed");
        }
    }
}

/// Refreshes the queue-depth gauges, the oldest pending payload's age and
/// the live workers every few seconds until `stop`.
pub(super) async fn depths(store: Store, queues: Vec<QueueName>, stop: CancellationToken) {
    loop {
        for queue in &queues {
            match store.look_at_queue(queue).await {
                Ok(look) => {
                    let l = labels(&[("queue", queue.as_str())]);
                    METRICS.oldest_pending.get_or_create(&l).set(look.oldest_pending_secs());
                    METRICS.live_workers.get_or_create(&l).set(look.live_workers as i64);
                }
                Err(_) => {
                    METRICS.redis_errors.inc();
                }
            }
            let Ok(counts) = store.queue_counts(queue).await else {
                METRICS.redis_errors.inc();
                continue;
            };
            for (state, n) in [
                ("pending", counts.pending),
                ("in_progress", counts.in_progress),
                ("retry", counts.retry),
                ("dead", counts.dead),
            ] {
                METRICS
                    .queue_depth
                    .get_or_create(&labels(&[("queue", queue.as_str()), ("state", state)]))
                    .set(n as i64);
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
        }
    }
}
