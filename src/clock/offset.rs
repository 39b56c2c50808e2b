//! Clock-skew tolerance: clocks take tick decisions on Redis's time, not
//! their own. The offset between the two is measured at start and every
//! [`EVERY`], reported as a metric and in `clock status`, and a warning is
//! logged when it is larger than [`WARN_ABOVE_MS`].

use std::sync::Arc;
use std::time::Duration;

use crate::shutdown::Shutdown;
use crate::store::{self, Store};
use crate::time::RedisTime;

pub const EVERY: Duration = Duration::from_secs(30);
pub const WARN_ABOVE_MS: i64 = 1000;

/// Measures Redis time minus local time, halfway through the round trip,
/// and applies it to `time`. In microseconds: an offset rounded to whole
/// milliseconds would move every push by up to a millisecond, early or late.
/// Returns the offset in milliseconds.
pub async fn measure(store: &Store, time: &RedisTime) -> store::Result<i64> {
    let before = time.local().timestamp_micros();
    let redis = store.redis_time_us().await?;
    let after = time.local().timestamp_micros();
    let offset_us = redis - before.midpoint(after);
    time.set_offset_us(offset_us);
    crate::metrics::METRICS.clock_offset.set(offset_us as f64 / 1e6);
    let offset = offset_us / 1000;
    if offset.abs() > WARN_ABOVE_MS {
        tracing::warn!(offset_ms = offset, "system clock differs from Redis's; ticks follow Redis's time");
    }
    Ok(offset)
}

/// Re-measures every [`EVERY`] until `shutdown` (after a first [`measure`]
/// at start).
pub async fn run(store: Store, time: Arc<RedisTime>, shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        if let Err(e) = measure(&store, &time).await {
            tracing::debug!(error = %super::error_chain(&e), "cannot measure clock offset");
        }
    }
}
