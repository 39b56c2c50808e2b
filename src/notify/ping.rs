//! Outside monitors (healthchecks.io, Cronitor, …): a job's `ping_url` is
//! requested when each run starts, succeeds and fails, and the leading
//! clock requests `[monitor] heartbeat_url`. Such a monitor notices what
//! campanile cannot report itself: a job that stopped running at all.
//!
//! A run never waits for a ping: requests are queued (at most [`QUEUE`],
//! beyond which they are dropped and counted) and sent in the background,
//! at most [`IN_FLIGHT`] at once, each within [`TIMEOUT`]. The end of a run
//! is sent only once its start has been answered (or given up on), so the
//! monitor sees start then success even for a run of a few milliseconds.
//! URLs carry secrets (the check's id is its password): a failure is logged
//! with the host only.

use std::sync::LazyLock;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::record::{self, Channel, Outcome};
use crate::config::PingUrls;
use crate::metrics::{METRICS, labels};

/// Requests waiting to be sent; past it new ones are dropped (and counted)
/// rather than held for a monitor that does not answer.
pub const QUEUE: usize = 1000;
/// Requests in flight at once: each holds a blocking thread while it waits
/// for the monitor, so a slow one costs at most this many.
pub const IN_FLIGHT: usize = 4;
/// How long one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// What a request reports; the `kind` label of `campanile_pings_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Start,
    Success,
    Fail,
    Heartbeat,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::Success => "success",
            Kind::Fail => "fail",
            Kind::Heartbeat => "heartbeat",
        }
    }
}

/// One queued request; `after` is answered (or dropped) once the request
/// this one must follow is done, `done` likewise for this one.
struct Request {
    kind: Kind,
    /// The run's job, for the log of deliveries.
    job: String,
    url: String,
    after: Option<oneshot::Receiver<()>>,
    done: Option<oneshot::Sender<()>>,
}

/// A handle to the background sender; cheap to clone. Disabled (sends
/// nothing) when no job has a `ping_url`.
#[derive(Clone, Default)]
pub struct Pinger {
    tx: Option<mpsc::Sender<Request>>,
    /// The sender and every request in flight, so [`Pinger::drain`] can
    /// wait for them.
    tasks: TaskTracker,
    /// Tells the sender to send what is queued and stop.
    closing: CancellationToken,
}

impl Pinger {
    /// Starts the background sender (inside a tokio runtime) if `enabled`.
    /// It ends at [`Pinger::drain`], or when the last handle is dropped.
    pub fn start(enabled: bool) -> Pinger {
        let (tasks, closing) = (TaskTracker::new(), CancellationToken::new());
        let tx = enabled.then(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tasks.spawn(send_queued(rx, tasks.clone(), closing.clone()));
            tx
        });
        Pinger { tx, tasks, closing }
    }

    /// Sends what is queued and waits for the requests in flight, within
    /// `within`: a worker stopping after its last runs still reports their
    /// ends, rather than leaving a monitor waiting for a run that is over.
    pub async fn drain(&self, within: Duration) {
        self.closing.cancel();
        self.tasks.close();
        if tokio::time::timeout(within, self.tasks.wait()).await.is_err() {
            tracing::warn!(within_ms = within.as_millis() as u64, "pings still in flight at exit; abandoned");
        }
    }

    /// A run of `job` has started: requests `urls.start` (if set) and
    /// returns what reports the run's end after it.
    pub fn run_started(&self, job: &str, urls: Option<&PingUrls>) -> RunPings {
        let Some(urls) = urls.filter(|_| self.tx.is_some()) else { return RunPings::default() };
        let started = urls.start.as_ref().and_then(|url| self.queue(Kind::Start, job, url, None));
        RunPings { pinger: self.clone(), job: job.to_owned(), urls: Some(urls.clone()), started }
    }

    /// Queues a request; returns what says it is done, unless it was dropped.
    fn queue(
        &self,
        kind: Kind,
        job: &str,
        url: &str,
        after: Option<oneshot::Receiver<()>>,
    ) -> Option<oneshot::Receiver<()>> {
        let tx = self.tx.as_ref()?;
        let (done, finished) = oneshot::channel();
        let request = Request { kind, job: job.to_owned(), url: url.to_owned(), after, done: Some(done) };
        match tx.try_send(request) {
            Ok(()) => Some(finished),
            Err(_) => {
                dropped(kind, job, url);
                None
            }
        }
    }
}

/// The pings of one run still to come: its end, after its start.
#[derive(Default)]
pub struct RunPings {
    pinger: Pinger,
    job: String,
    urls: Option<PingUrls>,
    started: Option<oneshot::Receiver<()>>,
}

impl RunPings {
    /// The run is over: requests its `success` or `fail` URL (if set), after
    /// the start request is done.
    pub fn finished(self, success: bool) {
        let Some(urls) = self.urls else { return };
        let (kind, url) = if success { (Kind::Success, urls.success) } else { (Kind::Fail, urls.fail) };
        if let Some(url) = url {
            self.pinger.queue(kind, &self.job, &url, self.started);
        }
    }
}

/// Takes requests off the queue while fewer than [`IN_FLIGHT`] are in
/// flight; each on its own task.
/// Once `closing`, takes what is queued and nothing more.
async fn send_queued(mut rx: mpsc::Receiver<Request>, tasks: TaskTracker, closing: CancellationToken) {
    let in_flight = std::sync::Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let request = tokio::select! {
            biased;
            request = rx.recv() => request,
            _ = closing.cancelled() => {
                rx.close();
                rx.recv().await
            }
        };
        let Some(request) = request else { return };
        // A request waiting for its run's start goes in flight after the
        // start did (the queue is in order), so it never waits for a start
        // that waits to go in flight.
        let permit = in_flight.clone().acquire_owned().await.expect("the semaphore is never closed");
        tasks.spawn(async move {
            let _permit = permit;
            let Request { kind, job, url, after, done } = request;
            if let Some(after) = after {
                let _ = after.await;
            }
            send(kind, &job, &url).await;
            drop(done);
        });
    }
}

static AGENT: LazyLock<ureq::Agent> = LazyLock::new(|| {
    ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).http_status_as_error(true).build().into()
});

/// Requests `url` (GET) within [`TIMEOUT`], logging a failure with the host
/// only and counting the result, and noting it for the log of deliveries
/// under `job`; `true` if the monitor answered 2xx/3xx.
pub async fn send(kind: Kind, job: &str, url: &str) -> bool {
    let (owned, started) = (url.to_owned(), Instant::now());
    let sent = tokio::task::spawn_blocking(move || AGENT.get(&owned).call().map(|_| ())).await;
    let (result, error) = match sent {
        Ok(Ok(())) => ("delivered", None),
        Ok(Err(e)) => {
            tracing::warn!(kind = kind.name(), url = %super::redact_url(url), error = %e, "ping failed");
            ("failed", Some(record::url_error(&e.to_string(), url)))
        }
        Err(e) => {
            tracing::warn!(kind = kind.name(), error = %e, "ping task failed");
            ("failed", Some(e.to_string()))
        }
    };
    count(kind, result);
    let outcome = if error.is_none() { Outcome::Delivered } else { Outcome::Failed };
    let target = record::url_target(url);
    record::note(record::entry(
        Channel::Ping,
        kind.name(),
        job,
        target,
        outcome,
        1,
        error.as_deref(),
        started,
    ));
    result == "delivered"
}

fn count(kind: Kind, result: &str) {
    METRICS.pings.get_or_create(&labels(&[("kind", kind.name()), ("result", result)])).inc();
}

/// When a drop was last logged, and the drops not logged since.
static DROP_LOG: Mutex<(Option<Instant>, u64)> = Mutex::new((None, 0));

/// Counts a request dropped because the queue was full; logs at most once
/// per [`DROP_LOG_EVERY`], with the drops since.
fn dropped(kind: Kind, job: &str, url: &str) {
    count(kind, "dropped");
    record::dropped(Channel::Ping, kind.name(), job, record::url_target(url));
    let mut log = DROP_LOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    log.1 += 1;
    if log.0.is_none_or(|at| at.elapsed() >= DROP_LOG_EVERY) {
        tracing::warn!(dropped = log.1, "ping queue full; pings dropped");
        *log = (Some(Instant::now()), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_disabled_pinger_sends_nothing_and_never_blocks() {
        let urls = PingUrls { start: Some("http://127.0.0.1:1/s".into()), ..Default::default() };
        let pings = Pinger::default().run_started("job", Some(&urls));
        assert!(pings.urls.is_none());
        pings.finished(true);
    }
}
