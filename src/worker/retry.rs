//! When a failed run is tried again, and the loop that moves due retries
//! back onto the pending list.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Job, QueueName};
use crate::hash::fnv1a;
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::time::TimeSource;

/// Retries never wait longer than this (before jitter).
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// How often due retries are promoted.
pub const PROMOTE_EVERY: Duration = Duration::from_secs(1);

/// The wait before attempt `attempt + 1` after attempt `attempt` failed:
/// `retry_delay × 3^(attempt-1)`, capped at [`MAX_DELAY`], plus up to 25%
/// jitter derived from the payload id (so retries of many jobs that failed
/// together spread out).
pub fn backoff(job: &Job, id: &str, attempt: u32) -> Duration {
    let base = job.retry_delay.as_duration();
    let exp = 3u32.saturating_pow(attempt.saturating_sub(1));
    let delay = base.saturating_mul(exp).min(MAX_DELAY);
    let fraction = (fnv1a(format!("{id}#{attempt}").as_bytes()) % 1000) as f64 / 4000.0;
    delay + delay.mul_f64(fraction)
}

/// Promotes due retries on every queue until `shutdown`.
pub async fn run(store: Store, queues: Vec<QueueName>, time: Arc<dyn TimeSource>, shutdown: Shutdown) {
    loop {
        for queue in &queues {
            match store.promote_retries(queue, time.now().timestamp_millis()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(queue = %queue, count = n, "retries due, back on the queue"),
                Err(e) => {
                    tracing::warn!(queue = %queue, error = %crate::error_chain::error_chain(&e), "cannot promote retries")
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PROMOTE_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn job(retry_delay: &str) -> Job {
        let text = format!("[jobs.j]\nevery = \"1m\"\ncommand = \"x\"\nretry_delay = \"{retry_delay}\"\n");
        let config =
            Config::parse(&text, std::path::Path::new("t.toml"), chrono::DateTime::UNIX_EPOCH).unwrap();
        config.jobs[0].clone()
    }

    #[test]
    fn delays_triple_with_up_to_a_quarter_of_jitter_and_are_capped() {
        let job = job("10s");
        for (attempt, base) in [(1, 10), (2, 30), (3, 90), (4, 270)] {
            let d = backoff(&job, "j@2026-11-23T08:00:00Z", attempt);
            let base = Duration::from_secs(base);
            assert!(d >= base && d <= base + base / 4, "attempt {attempt}: {d:?}");
        }
        let d = backoff(&job, "x", 30);
        assert!(d >= MAX_DELAY && d <= MAX_DELAY + MAX_DELAY / 4);
    }

    #[test]
    fn jitter_is_deterministic_per_payload_and_spreads_across_payloads() {
        let job = job("1m");
        assert_eq!(backoff(&job, "a", 1), backoff(&job, "a", 1));
        let distinct: std::collections::HashSet<_> =
            (0..20).map(|i| backoff(&job, &format!("j@{i}"), 1)).collect();
        assert!(distinct.len() > 10);
    }
}
