//! The monitor loop: while this clock leads, every second, watch each queue
//! that campanile's workers must serve (one with an enabled job of
//! campanile's format) for runs that do not happen, and report them:
//!
//! - `late`: a pushed payload that has not started by its start deadline
//!   (its tick plus the job's `start_within`), once per payload;
//! - `unserved`: no live worker on the queue for `[monitor]
//!   unserved_after`, then `served` once one is back, once per episode.
//!
//! The watch is one script call per queue (`Store::watch_queue`), which
//! decides what to report atomically in Redis: two clocks, or a leadership
//! that changes hands, never report a payload or an episode twice. It also
//! refreshes the queue's gauges, `campanile_oldest_pending_seconds` and
//! `campanile_live_workers`, which a standby clock drops.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::leadership::Leadership;
use crate::config::{Config, Event, QueueName};
use crate::error_chain::error_chain;
use crate::metrics::{METRICS, labels};
use crate::notify::{Notifier, build};
use crate::store::{Episode, LatePayload, QueueLook, Store};
use crate::text;

/// How often the leading clock watches its queues: `late` and `unserved`
/// come at most this much after their deadline.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// What the monitor loop needs.
pub struct Monitor {
    pub config: Arc<Config>,
    pub store: Store,
    pub notifier: Notifier,
}

impl Monitor {
    /// Watches the queues every [`INTERVAL`] while `leadership` says this
    /// clock leads, until `stop`.
    pub async fn run(self, leadership: watch::Receiver<Leadership>, stop: CancellationToken) {
        let queues = self.config.served_queues();
        let mut gauges_set = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
            if *leadership.borrow() == Leadership::Standby {
                if gauges_set {
                    clear_gauges();
                    gauges_set = false;
                }
                continue;
            }
            for queue in &queues {
                self.watch(queue).await;
            }
            gauges_set = !queues.is_empty();
        }
    }

    /// One queue's watch, reported.
    async fn watch(&self, queue: &QueueName) {
        let unserved_after = self.config.monitor.unserved_after.as_duration();
        match self.store.watch_queue(queue, unserved_after).await {
            Ok(look) => self.report(queue, &look),
            Err(e) => {
                METRICS.redis_errors.inc();
                tracing::warn!(queue = %queue, error = %error_chain(&e), "cannot watch the queue; retrying");
            }
        }
    }

    fn report(&self, queue: &QueueName, look: &QueueLook) {
        set_gauges(queue, look);
        let at = text::utc(look.now);
        for late in &look.late {
            self.notifier.send(late_alert(&self.config, queue, look, late, &at));
        }
        let Some(episode) = look.episode else { return };
        let (event, span) = match episode {
            Episode::Unserved(span) => {
                tracing::warn!(queue = %queue, unserved_secs = span.as_secs(), depth = look.depth, "queue unserved: no live worker");
                (Event::Unserved, span)
            }
            Episode::Served(span) => {
                tracing::info!(queue = %queue, unserved_secs = span.as_secs(), workers = look.live_workers, "queue served again");
                (Event::Served, span)
            }
        };
        let alert = build::queue(event, queue.as_str(), span.as_secs(), look.depth, look.live_workers, &at);
        self.notifier.send(alert);
    }
}

/// The `late` alert for `late`, a payload id `<job>@<tick>` (or
/// `<job>@manual-<instant>` for `clock trigger`): how long since its tick.
fn late_alert(
    config: &Config,
    queue: &QueueName,
    look: &QueueLook,
    late: &LatePayload,
    at: &str,
) -> crate::notify::Notification {
    let (job, tick) = late.id.rsplit_once('@').unwrap_or((&late.id, ""));
    let tick = tick.strip_prefix("manual-").unwrap_or(tick);
    let since = DateTime::parse_from_rfc3339(tick)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| DateTime::from_timestamp_millis(late.deadline_ms).unwrap_or(look.now));
    let waited = (look.now - since).num_seconds().max(0) as u64;
    tracing::warn!(job, queue = %queue, id = %late.id, waited_secs = waited, depth = look.depth, workers = look.live_workers, "payload late: not started");
    let mut alert =
        build::late(job, queue.as_str(), &late.id, tick, waited, look.depth, look.live_workers, at);
    alert.job_configured = config.job(job).is_some();
    alert
}

/// The queue's gauges from the leader's look at it.
fn set_gauges(queue: &QueueName, look: &QueueLook) {
    let l = labels(&[("queue", queue.as_str())]);
    METRICS.oldest_pending.get_or_create(&l).set(look.oldest_pending_secs());
    METRICS.live_workers.get_or_create(&l).set(look.live_workers as i64);
}

/// A standby clock shows no queue gauges: the leader's are the ones to
/// read.
fn clear_gauges() {
    METRICS.oldest_pending.clear();
    METRICS.live_workers.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(now: &str) -> QueueLook {
        QueueLook {
            now: DateTime::parse_from_rfc3339(now).unwrap().with_timezone(&Utc),
            depth: 3,
            live_workers: 0,
            oldest_enqueued_at: None,
            episode: None,
            late: Vec::new(),
        }
    }

    #[test]
    fn a_late_alert_counts_the_wait_from_the_tick() {
        let config = Config::parse(
            "[jobs.report]\nevery = \"1m\"\ncommand = \"true\"\n",
            std::path::Path::new("t.toml"),
            DateTime::UNIX_EPOCH,
        )
        .unwrap();
        let queue = QueueName::new("default").unwrap();
        let late = LatePayload { id: "report@2026-11-23T08:00:00Z".into(), deadline_ms: 0 };
        let alert = late_alert(&config, &queue, &look("2026-11-23T08:01:05Z"), &late, "x");
        assert_eq!(alert.job, "report");
        assert_eq!(alert.scheduled_at.as_deref(), Some("2026-11-23T08:00:00Z"));
        assert_eq!((alert.elapsed_secs, alert.depth, alert.workers), (Some(65), Some(3), Some(0)));
        assert!(alert.job_configured);

        let manual = LatePayload { id: "gone@manual-2026-11-23T08:00:30.250Z".into(), deadline_ms: 0 };
        let alert = late_alert(&config, &queue, &look("2026-11-23T08:01:05Z"), &manual, "x");
        assert_eq!((alert.job.as_str(), alert.elapsed_secs), ("gone", Some(34)));
        assert_eq!(alert.scheduled_at.as_deref(), Some("2026-11-23T08:00:30.250Z"));
        assert!(!alert.job_configured, "a job the config does not name keys no per-job state");
    }
}
