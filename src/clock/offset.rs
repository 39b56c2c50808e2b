//! Clock-skew tolerance: clocks take tick decisions on Redis's time, not
//! their own. The offset between the two is measured at start and every
//! [`EVERY`], reported as a metric and in `clock status`, and a warning is
//! logged when it is larger than [`WARN_ABOVE_MS`].

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error_chain::error_chain;
use crate::store::{self, Store};
use crate::time::{RedisTime, TimeSource};

pub const EVERY: Duration = Duration::from_secs(30);
pub const WARN_ABOVE_MS: i64 = 1000;

/// Round trips per measurement; the fastest one is used.
const SAMPLES: usize = 5;

/// Measures Redis time minus local time and applies it to `time`. Returns
/// the offset in milliseconds.
///
/// Redis read its clock somewhere within the round trip, so one sample
/// only bounds the offset to an interval as wide as the round trip, and a
/// slow reply (a busy event loop, a scheduling delay) skews the midpoint.
/// The fastest of [`SAMPLES`] round trips gives the tightest interval, and
/// the correction applied is the smallest one inside it: none at all when
/// the clocks agree within the measurement's precision, as on one machine.
/// All in microseconds, since every push moves by the error of the offset.
pub async fn measure(store: &Store, time: &RedisTime) -> store::Result<i64> {
    let mut best: Option<(i64, i64)> = None;
    for _ in 0..SAMPLES {
        let before = time.local().timestamp_micros();
        let redis = store.redis_time_us().await?;
        let after = time.local().timestamp_micros();
        let rtt = (after - before).max(0);
        if best.is_none_or(|(best_rtt, _)| rtt < best_rtt) {
            best = Some((rtt, redis - before.midpoint(after)));
        }
    }
    let (rtt, midpoint) = best.unwrap_or_default();
    let offset_us = smallest_within(midpoint, rtt / 2);
    time.set_offset_us(offset_us);
    crate::metrics::METRICS.clock_offset.set(offset_us as f64 / 1e6);
    let offset = offset_us / 1000;
    if offset.abs() > WARN_ABOVE_MS {
        tracing::warn!(offset_ms = offset, "system clock differs from Redis's; ticks follow Redis's time");
    }
    Ok(offset)
}

/// Re-measures every [`EVERY`] until `stop` (after a first [`measure`]
/// at start), if `time` is corrected to Redis's.
pub async fn run(store: Store, time: Arc<dyn TimeSource>, stop: CancellationToken) {
    let Some(calibrated) = time.calibration() else { return stop.cancelled().await };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        let measured = tokio::select! {
            _ = stop.cancelled() => return,
            measured = measure(&store, calibrated) => measured,
        };
        if let Err(e) = measured {
            tracing::debug!(error = %error_chain(&e), "cannot measure clock offset");
        }
    }
}

/// The value in `[estimate - error, estimate + error]` nearest zero.
fn smallest_within(estimate: i64, error: i64) -> i64 {
    estimate.signum() * (estimate.abs() - error).max(0)
}

#[cfg(test)]
mod tests {
    use super::smallest_within;

    #[test]
    fn the_correction_is_the_smallest_the_measurement_allows() {
        assert_eq!(smallest_within(400, 500), 0);
        assert_eq!(smallest_within(-400, 500), 0);
        assert_eq!(smallest_within(2_000, 500), 1_500);
        assert_eq!(smallest_within(-2_000, 500), -1_500);
        assert_eq!(smallest_within(0, 0), 0);
    }
}
