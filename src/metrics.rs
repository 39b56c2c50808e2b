//! Prometheus metrics, opt-in with `--metrics-addr` (or
//! `CAMPANILE_METRICS_ADDR`) on `clock` and `worker`: an HTTP endpoint
//! answering `GET /metrics` in the OpenMetrics text format, with a cap on
//! connections and a read timeout, so idle or slow clients cannot pile up. Names are a
//! public contract (docs/operations.md, "Metrics"); `tests/metrics.rs` pins them.

use std::sync::LazyLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::shutdown::Shutdown;

type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// Every metric campanile exports. Label values are job and queue names,
/// which the config bounds.
pub struct Metrics {
    pub ticks_enqueued: Family<TickLabels, Counter>,
    pub ticks_missed: Family<TickLabels, Counter>,
    pub ticks_skipped: Family<TickLabels, Counter>,
    pub tick_lateness: Histogram,
    pub clock_leader: Gauge,
    pub clock_offset: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub runs_started: Family<Labels, Counter>,
    pub runs_finished: Family<Labels, Counter>,
    pub runs_dead: Family<Labels, Counter>,
    pub run_duration: HistogramFamily,
    pub queue_depth: Family<Labels, Gauge>,
    pub redis_errors: Counter,
    pub recovery_errors: Counter,
    pub notifications: Family<Labels, Counter>,
    /// Events detected, by `event`, whether or not a webhook wants them.
    pub events: Family<Labels, Counter>,
    /// Requests to outside monitors (`ping_url`, `[monitor] heartbeat_url`),
    /// by `kind` (start, success, fail, heartbeat) and `result`.
    pub pings: Family<Labels, Counter>,
    /// Age of the oldest payload waiting on each queue's pending list.
    pub oldest_pending: Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Workers whose lease is live, per queue.
    pub live_workers: Family<Labels, Gauge>,
    /// Seconds since a clock last renewed the leader lease, as this process
    /// last saw it (workers and `clock web`, every second); with no leader,
    /// how long none has held it.
    pub leader_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    registry: Registry,
}

fn lateness_histogram() -> Histogram {
    Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 60.0])
}

fn duration_histogram() -> Histogram {
    Histogram::new([0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0])
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("campanile");
    let m = Metrics {
        ticks_enqueued: Family::default(),
        ticks_missed: Family::default(),
        ticks_skipped: Family::default(),
        tick_lateness: lateness_histogram(),
        clock_leader: Gauge::default(),
        clock_offset: Gauge::default(),
        runs_started: Family::default(),
        runs_finished: Family::default(),
        runs_dead: Family::default(),
        run_duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
        queue_depth: Family::default(),
        redis_errors: Counter::default(),
        recovery_errors: Counter::default(),
        notifications: Family::default(),
        events: Family::default(),
        pings: Family::default(),
        oldest_pending: Family::default(),
        live_workers: Family::default(),
        leader_age: Gauge::default(),
        registry: Registry::default(),
    };
    registry.register("ticks_enqueued", "Ticks pushed onto a pending list", m.ticks_enqueued.clone());
    registry.register(
        "ticks_missed",
        "Ticks dropped by the catch-up policy or window",
        m.ticks_missed.clone(),
    );
    registry.register("ticks_skipped", "Ticks skipped (reason: overlap or paused)", m.ticks_skipped.clone());
    registry.register("tick_lateness_seconds", "Push instant minus tick instant", m.tick_lateness.clone());
    registry.register("clock_leader", "1 while this clock holds the leader lease", m.clock_leader.clone());
    registry.register(
        "clock_offset_seconds",
        "Redis time minus this clock's system time",
        m.clock_offset.clone(),
    );
    registry.register("runs_started", "Runs started by this worker", m.runs_started.clone());
    registry.register(
        "runs_finished",
        "Runs finished (outcome: success, failed, timed_out)",
        m.runs_finished.clone(),
    );
    registry.register("runs_dead", "Payloads dead-lettered by this worker", m.runs_dead.clone());
    registry.register("run_duration_seconds", "Run durations", m.run_duration.clone());
    registry.register(
        "queue_depth",
        "Payloads per queue and state (pending, in_progress, retry, dead)",
        m.queue_depth.clone(),
    );
    registry.register("redis_errors", "Redis operations that failed", m.redis_errors.clone());
    registry.register(
        "recovery_errors",
        "Lost workers whose payloads could not be recovered on a pass",
        m.recovery_errors.clone(),
    );
    registry.register(
        "notifications",
        "Webhook deliveries (result: delivered, failed, dropped)",
        m.notifications.clone(),
    );
    registry.register(
        "events",
        "Events detected (event: failed, dead, missed, skipped, recovered, late, long_running, unserved, served, no_leader, leader_back)",
        m.events.clone(),
    );
    registry.register(
        "pings",
        "Requests to outside monitors (kind: start, success, fail, heartbeat; result: delivered, failed, dropped)",
        m.pings.clone(),
    );
    registry.register(
        "oldest_pending_seconds",
        "Age of the oldest payload on each queue's pending list",
        m.oldest_pending.clone(),
    );
    registry.register("live_workers", "Workers with a live lease, per queue", m.live_workers.clone());
    registry.register(
        "leader_age_seconds",
        "Seconds since a clock last renewed the leader lease",
        m.leader_age.clone(),
    );
    Metrics { registry, ..m }
});

/// The labels of the tick families: `job`, `queue` and, for skipped ticks,
/// `reason`. The names are shared with the config rather than copied: a
/// clock keeps a label set per job, and has up to 100,000 jobs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TickLabels {
    pub job: Arc<str>,
    pub queue: Arc<str>,
    pub reason: Option<&'static str>,
}

impl TickLabels {
    pub fn new(job: impl Into<Arc<str>>, queue: impl Into<Arc<str>>) -> TickLabels {
        TickLabels { job: job.into(), queue: queue.into(), reason: None }
    }

    pub fn with_reason(self, reason: &'static str) -> TickLabels {
        TickLabels { reason: Some(reason), ..self }
    }
}

impl EncodeLabelSet for TickLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        let (job, queue) = (&*self.job, &*self.queue);
        match self.reason {
            None => [("job", job), ("queue", queue)].encode(encoder),
            Some(reason) => [("job", job), ("queue", queue), ("reason", reason)].encode(encoder),
        }
    }
}

/// The `job` label of a name taken from a payload that names no job of the
/// config: payloads can carry any name, labels must stay bounded.
pub const UNKNOWN_JOB: &str = "unknown";

/// Labels from pairs.
pub fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// The metrics in the OpenMetrics text format.
pub fn render() -> String {
    let mut out = String::new();
    encode(&mut out, &METRICS.registry).expect("writing to a String cannot fail");
    out
}

/// Connections served at once; past it, new ones wait in the kernel's
/// accept backlog until one closes.
const MAX_CONNECTIONS: usize = 64;
/// A connection that sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection is closed once it has been open this long and is waiting
/// for bytes, so a sender trickling a byte at a time cannot hold its place under the cap.
const MAX_LIFETIME: Duration = Duration::from_secs(60);

/// Serves `GET /metrics` (and `GET /`) on `listener` until `shutdown`: at
/// most [`MAX_CONNECTIONS`] connections at once, each closed after
/// [`IDLE_TIMEOUT`] without a byte.
pub async fn serve(listener: tokio::net::TcpListener, shutdown: Shutdown) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "metrics endpoint listening");
    let app = axum::Router::new().route("/metrics", get(scrape)).route("/", get(scrape));
    let listener = Capped { listener, permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)) };
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

async fn scrape() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], render())
}

/// A listener that hands out at most [`MAX_CONNECTIONS`] connections at a
/// time, each with the read deadlines of [`Deadlined`].
struct Capped {
    listener: tokio::net::TcpListener,
    permits: Arc<Semaphore>,
}

impl Listener for Capped {
    type Io = Deadlined;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Deadlined, std::net::SocketAddr) {
        let permit = self.permits.clone().acquire_owned().await.expect("the semaphore is never closed");
        let (stream, addr) = Listener::accept(&mut self.listener).await;
        (Deadlined::new(stream, permit), addr)
    }

    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }
}

/// A connection whose reads fail with `TimedOut` after [`IDLE_TIMEOUT`]
/// without a byte, or once it is older than [`MAX_LIFETIME`]; it holds its
/// place under the cap until dropped.
struct Deadlined {
    stream: tokio::net::TcpStream,
    opened: Instant,
    deadline: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl Deadlined {
    fn new(stream: tokio::net::TcpStream, permit: OwnedSemaphorePermit) -> Deadlined {
        let opened = Instant::now();
        Deadlined { stream, opened, deadline: Box::pin(tokio::time::sleep(IDLE_TIMEOUT)), _permit: permit }
    }

    fn next_deadline(&self) -> Instant {
        (Instant::now() + IDLE_TIMEOUT).min(self.opened + MAX_LIFETIME)
    }
}

impl AsyncRead for Deadlined {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                let next = self.next_deadline();
                self.deadline.as_mut().reset(next);
                Poll::Ready(result)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "idle connection")))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Deadlined {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_its_documented_name() {
        let l = |pairs: &[(&'static str, &str)]| labels(pairs);
        let tick = TickLabels::new("j", "q");
        METRICS.ticks_enqueued.get_or_create(&tick).inc();
        METRICS.ticks_missed.get_or_create(&tick).inc();
        METRICS.ticks_skipped.get_or_create(&tick.clone().with_reason("paused")).inc();
        METRICS.runs_started.get_or_create(&l(&[("job", "j")])).inc();
        METRICS.runs_finished.get_or_create(&l(&[("job", "j"), ("outcome", "success")])).inc();
        METRICS.runs_dead.get_or_create(&l(&[("job", "j")])).inc();
        METRICS.run_duration.get_or_create(&l(&[("job", "j")])).observe(0.2);
        METRICS.queue_depth.get_or_create(&l(&[("queue", "q"), ("state", "pending")])).set(3);
        METRICS.notifications.get_or_create(&l(&[("result", "delivered")])).inc();
        METRICS.events.get_or_create(&l(&[("event", "late")])).inc();
        METRICS.pings.get_or_create(&l(&[("kind", "start"), ("result", "delivered")])).inc();
        METRICS.oldest_pending.get_or_create(&l(&[("queue", "q")])).set(1.5);
        METRICS.live_workers.get_or_create(&l(&[("queue", "q")])).set(2);
        METRICS.leader_age.set(0.5);
        let text = render();
        let types: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).collect();
        assert_eq!(
            types,
            [
                "campanile_ticks_enqueued counter",
                "campanile_ticks_missed counter",
                "campanile_ticks_skipped counter",
                "campanile_tick_lateness_seconds histogram",
                "campanile_clock_leader gauge",
                "campanile_clock_offset_seconds gauge",
                "campanile_runs_started counter",
                "campanile_runs_finished counter",
                "campanile_runs_dead counter",
                "campanile_run_duration_seconds histogram",
                "campanile_queue_depth gauge",
                "campanile_redis_errors counter",
                "campanile_recovery_errors counter",
                "campanile_notifications counter",
                "campanile_events counter",
                "campanile_pings counter",
                "campanile_oldest_pending_seconds gauge",
                "campanile_live_workers gauge",
                "campanile_leader_age_seconds gauge",
            ]
        );
        assert!(text.contains(r#"campanile_ticks_skipped_total{job="j",queue="q",reason="paused"} 1"#));
        assert!(text.contains(r#"campanile_queue_depth{queue="q",state="pending"} 3"#));
    }
}
