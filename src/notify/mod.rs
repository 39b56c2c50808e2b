//! Alerts: webhooks told about failed, dead, missed, skipped and recovered
//! runs. Delivery happens on a background task with a bounded queue, at
//! most four deliveries at once, a timeout and retries, so it never blocks
//! a tick or a job and a slow receiver costs a fixed number of threads; a
//! failed or dropped delivery is logged and counted, never fatal. Each body is the documented
//! JSON plus a Slack-compatible `text`, so a Slack incoming webhook works as
//! is.
//!
//! The [`Notifier`] owns its delivery tasks, as a daemon's supervisor owns
//! its loops:
//!
//! | task | does | when it ends or panics |
//! |---|---|---|
//! | `webhooks` | takes notifications off their queue, one task per delivery (at most four at once, each with its retries), owned by the loop | not restarted: alerts are never worth stopping a daemon for; a panic is logged when the daemon stops |
//! | `email` | sends notifications by email, one at a time, rate-limited | the same |
//!
//! [`Notifier::stop`], called by `clock::run` and `worker::run` once their
//! loops have stopped (so nothing more is sent), closes the queues: the
//! tasks deliver what is queued and end. What is not delivered within
//! [`STOP_DEADLINE`] is dropped with a warning, and the tasks are aborted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use crate::config::{ANY_JOB, EmailSettings, Event, Webhook};
use record::{Channel, Outcome};

pub mod build;
pub mod email;
pub mod ping;
pub mod record;
pub mod recorder;

/// The JSON body posted to a webhook (a public contract, see docs/operations.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub event: Event,
    pub job: String,
    pub queue: String,
    /// The payload id, for run events.
    pub id: Option<String>,
    /// The tick (run events), or the newest missed or skipped tick.
    pub scheduled_at: Option<String>,
    pub attempt: Option<u32>,
    /// Why: `exit status 3`, `timed out after 10m`, `paused`, …
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    /// How many ticks (missed).
    pub count: Option<u64>,
    /// Seconds: since the tick (`late`), since the run started
    /// (`long_running`), since the queue's last worker was seen (`unserved`,
    /// `served`), or since a clock last held the lease (`no_leader`,
    /// `leader_back`).
    pub elapsed_secs: Option<u64>,
    /// Payloads waiting on the queue (`late`, `unserved`).
    pub depth: Option<u64>,
    /// Live workers serving the queue (`late`, `unserved`, `served`).
    pub workers: Option<u64>,
    /// When the event happened, RFC 3339 UTC.
    pub at: String,
    /// A one-line summary for chat tools.
    pub text: String,
    /// Whether `job` names a job of the config. A payload can name any
    /// job, so only a configured name may key per-job state (the email
    /// rate limit); the others share one key. Not part of the body.
    #[serde(skip)]
    pub job_configured: bool,
}

impl Notification {
    /// The job name to key per-job state by: the job's, or `unknown` for a
    /// name that is not in the config.
    pub fn job_key(&self) -> &str {
        if self.job_configured { &self.job } else { crate::metrics::UNKNOWN_JOB }
    }
}

/// How many notifications went out, and how many could not be delivered.
#[derive(Debug, Default)]
pub struct Counters {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    /// When a drop was last logged, and how many drops were not logged since.
    drop_log: std::sync::Mutex<(Option<Instant>, u64)>,
}

impl Counters {
    /// Counts a notification dropped because its queue was full, and logs
    /// it at most once per [`DROP_LOG_EVERY`] (with the drops since).
    fn dropped(&self, channel: &'static str) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        count("dropped");
        let mut log = self.drop_log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        log.1 += 1;
        if log.0.is_none_or(|at| at.elapsed() >= DROP_LOG_EVERY) {
            tracing::warn!(channel, dropped = log.1, "notification queue full; notifications dropped");
            *log = (Some(Instant::now()), 0);
        }
    }
}

/// Queue capacity; past it new notifications are dropped (and counted)
/// rather than slowing the clock or a worker down.
const QUEUE: usize = 1000;
/// Webhook deliveries in flight at once: each holds a blocking thread while
/// it waits for the receiver, so a slow receiver costs at most this many.
const CONCURRENT_DELIVERIES: usize = 4;
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(5);
const ATTEMPTS: u32 = 3;
/// How long [`Notifier::stop`] lets queued notifications go out: one
/// attempt at the receiver's [`TIMEOUT`] and a little, inside the clock's
/// stop deadline and Heroku's 30 s.
pub const STOP_DEADLINE: Duration = Duration::from_secs(6);

/// A handle to the delivery tasks; cheap to clone. Sends nothing when there
/// are no webhooks and no email, or once stopped.
#[derive(Clone, Default)]
pub struct Notifier {
    hooks: Arc<Vec<Webhook>>,
    email: Option<Arc<EmailSettings>>,
    /// The queues and the tasks that deliver them, until [`Notifier::stop`]
    /// takes them; shared by every clone.
    open: Arc<Mutex<Option<Open>>>,
    pub counters: Arc<Counters>,
}

/// What a running [`Notifier`] owns. Dropping the senders closes the
/// queues; dropping the set aborts the tasks.
struct Open {
    webhooks: Option<mpsc::Sender<Notification>>,
    email: Option<mpsc::Sender<Notification>>,
    tasks: JoinSet<&'static str>,
}

impl Notifier {
    /// Starts delivering to `hooks` and by `email` (must be called inside a
    /// tokio runtime); [`Notifier::stop`] ends it.
    pub fn start(hooks: Vec<Webhook>, email: Option<EmailSettings>) -> Notifier {
        let counters = Arc::new(Counters::default());
        let hooks = Arc::new(hooks);
        let mut tasks = JoinSet::new();
        let webhooks = (!hooks.is_empty()).then(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let deliver = deliver(rx, hooks.clone(), counters.clone());
            tasks.spawn(async move {
                deliver.await;
                "webhooks"
            });
            tx
        });
        let email_tx = email.as_ref().map(|settings| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let deliver = email::deliver(settings.clone(), rx);
            tasks.spawn(async move {
                deliver.await;
                "email"
            });
            tx
        });
        Notifier {
            hooks,
            email: email.map(Arc::new),
            open: Arc::new(Mutex::new(Some(Open { webhooks, email: email_tx, tasks }))),
            counters,
        }
    }

    /// Queues a notification for every webhook (and the email settings) that
    /// wants it; never waits.
    pub fn send(&self, n: Notification) {
        crate::metrics::METRICS
            .events
            .get_or_create(&crate::metrics::labels(&[("event", n.event.name())]))
            .inc();
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(open) = open.as_ref() else { return };
        if let (Some(tx), Some(settings)) = (&open.email, &self.email)
            && settings.wants(n.event, &n.job)
            && tx.try_send(n.clone()).is_err()
        {
            self.counters.dropped("email");
            record::dropped(Channel::Email, n.event.name(), &n.job, record::email_target(&settings.to));
        }
        let Some(tx) = &open.webhooks else { return };
        if !self.hooks.iter().any(|h| h.wants(n.event, &n.job)) {
            return;
        }
        if let Err(e) = tx.try_send(n) {
            self.counters.dropped("webhook");
            let n = e.into_inner();
            for hook in self.hooks.iter().filter(|h| h.wants(n.event, &n.job)) {
                record::dropped(Channel::Webhook, n.event.name(), &n.job, record::url_target(&hook.url));
            }
        }
    }

    /// Closes the queues and waits up to `deadline` for what is queued and
    /// in flight to go out; then aborts what is left (logged). Notifications
    /// sent afterwards, by any clone, are not delivered.
    pub async fn stop(&self, deadline: Duration) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(Open { webhooks, email, mut tasks }) = open else { return };
        drop((webhooks, email));
        let drained = tokio::time::timeout(deadline, async {
            while let Some(ended) = tasks.join_next().await {
                if let Err(e) = ended {
                    tracing::error!(error = %e, "notification delivery task failed");
                }
            }
        });
        if drained.await.is_err() {
            tracing::warn!(
                deadline_ms = deadline.as_millis() as u64,
                "notifications not delivered by the stop deadline; dropped"
            );
        }
    }
}

/// Takes notifications off the queue while fewer than
/// [`CONCURRENT_DELIVERIES`] are in flight: with every delivery in flight
/// held up by a slow receiver, the queue fills and further notifications
/// are dropped (and counted) by [`Notifier::send`]. Once the queue is closed
/// and empty, waits for the deliveries in flight; they are its tasks, so
/// aborting it aborts them.
async fn deliver(mut rx: mpsc::Receiver<Notification>, hooks: Arc<Vec<Webhook>>, counters: Arc<Counters>) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).http_status_as_error(true).build().into();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_DELIVERIES));
    let mut inflight = JoinSet::new();
    while let Some(n) = rx.recv().await {
        // Finished deliveries, so the set holds at most the deliveries in flight.
        while inflight.try_join_next().is_some() {}
        let body = serde_json::to_string(&n).expect("a notification serialises");
        for hook in hooks.iter().filter(|h| h.wants(n.event, &n.job)) {
            let permit = in_flight.clone().acquire_owned().await.expect("the semaphore is never closed");
            let (agent, url, body, counters, n) =
                (agent.clone(), hook.url.clone(), body.clone(), counters.clone(), n.clone());
            // Each delivery on its own task, counted in flight until done.
            inflight.spawn(async move {
                let _permit = permit;
                let (started, mut last_error) = (Instant::now(), String::new());
                let logged = |outcome, attempts, error: Option<&str>| {
                    let error = error.map(|e| record::url_error(e, &url));
                    let (event, target) = (n.event.name(), record::url_target(&url));
                    let entry = record::entry(
                        Channel::Webhook,
                        event,
                        &n.job,
                        target,
                        outcome,
                        attempts,
                        error.as_deref(),
                        started,
                    );
                    record::note(entry);
                };
                for attempt in 1..=ATTEMPTS {
                    let (a, u, b) = (agent.clone(), url.clone(), body.clone());
                    let sent = tokio::task::spawn_blocking(move || {
                        a.post(&u).header("content-type", "application/json").send(b.as_bytes()).map(|_| ())
                    })
                    .await;
                    match sent {
                        Ok(Ok(())) => {
                            counters.delivered.fetch_add(1, Ordering::Relaxed);
                            count("delivered");
                            logged(Outcome::Delivered, attempt, None);
                            return;
                        }
                        Ok(Err(e)) if attempt < ATTEMPTS => {
                            let url = redact_url(&url);
                            tracing::debug!(%url, error = %e, attempt, "webhook failed; retrying");
                            last_error = e.to_string();
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(url = %redact_url(&url), error = %e, "webhook delivery failed");
                            last_error = e.to_string();
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "webhook task failed");
                            last_error = e.to_string();
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
                }
                counters.failed.fetch_add(1, Ordering::Relaxed);
                count("failed");
                logged(Outcome::Failed, ATTEMPTS, Some(&last_error));
            });
        }
    }
    while inflight.join_next().await.is_some() {}
}

fn count(result: &str) {
    crate::metrics::METRICS.notifications.get_or_create(&crate::metrics::labels(&[("result", result)])).inc();
}

/// Webhook URLs carry secrets in their path (Slack's do): log the host only.
fn redact_url(url: &str) -> String {
    crate::config::host_only(url)
}
