//! The log of deliveries: every webhook, email and ping that went out,
//! failed or was dropped, for the dashboard's `/alerts` (`Pdeliveries`).
//!
//! Recording never holds a delivery up: [`note`] puts the entry on a
//! bounded process-wide buffer ([`BUFFER`]) without waiting, and drops it
//! (counted in [`unrecorded`]) when the buffer is full; the recorder loop
//! ([`super::recorder`]), under the daemon's supervisor, writes the entries
//! to Redis. Without a running recorder nothing is buffered. The target is
//! shown by host (or an address's domain) only: URLs carry secrets.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc};

use crate::time::{SystemTime, TimeSource};

/// Entries waiting for the recorder; past it they are dropped and counted.
pub const BUFFER: usize = 256;
/// An error longer than this is cut: the log is for a glance.
const ERROR_MAX: usize = 200;

/// How the alert went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    /// Every attempt failed; `error` is the last one's.
    Failed,
    /// Never sent: the channel's queue was full.
    Dropped,
}

/// Where an alert went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Webhook,
    Email,
    Ping,
}

/// One entry of the log (a public contract: docs/redis.md, `/api/alerts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// When the delivery ended, RFC 3339 UTC.
    pub at: String,
    pub channel: Channel,
    /// The event, or a ping's kind (`start`, `success`, `fail`, `heartbeat`).
    pub event: String,
    /// The job, `*` for an event about the deployment (and a heartbeat).
    pub job: String,
    /// The receiver's scheme and host (`https://hooks.slack.com/…`), or
    /// the domain of an email's first address (`@example.com`).
    pub target: String,
    pub outcome: Outcome,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

struct Log {
    tx: mpsc::Sender<Delivery>,
    /// Taken by the running recorder; a restarted one takes it again.
    rx: Mutex<mpsc::Receiver<Delivery>>,
    recording: AtomicBool,
    unrecorded: AtomicU64,
}

static LOG: LazyLock<Log> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel(BUFFER);
    Log { tx, rx: Mutex::new(rx), recording: AtomicBool::new(false), unrecorded: AtomicU64::new(0) }
});

/// Buffers `entry` for the recorder, if one runs; never waits.
pub fn note(entry: Delivery) {
    if LOG.recording.load(Ordering::Relaxed) && LOG.tx.try_send(entry).is_err() {
        LOG.unrecorded.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether a recorder runs, so [`note`] buffers.
pub fn recording() -> bool {
    LOG.recording.load(Ordering::Relaxed)
}

/// Entries not logged: the buffer was full, or Redis refused the write.
pub fn unrecorded() -> u64 {
    LOG.unrecorded.load(Ordering::Relaxed)
}

pub(super) fn count_unrecorded() {
    LOG.unrecorded.fetch_add(1, Ordering::Relaxed);
}

/// The buffer's receiving end, held while the recorder runs: while it is
/// held, [`note`] buffers.
pub(super) struct Recording(tokio::sync::MutexGuard<'static, mpsc::Receiver<Delivery>>);

impl Recording {
    pub(super) async fn start() -> Recording {
        let rx = LOG.rx.lock().await;
        LOG.recording.store(true, Ordering::Relaxed);
        Recording(rx)
    }

    pub(super) async fn next(&mut self) -> Option<Delivery> {
        self.0.recv().await
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        LOG.recording.store(false, Ordering::Relaxed);
    }
}

/// Notes an alert for `target` that was never sent: its queue was full.
pub fn dropped(channel: Channel, event: &str, job: &str, target: String) {
    note(entry(channel, event, job, target, Outcome::Dropped, 0, None, Instant::now()));
}

/// An entry ending now, of a delivery begun at `started`; the error is
/// cut to a glance.
#[allow(clippy::too_many_arguments)]
pub fn entry(
    channel: Channel,
    event: &str,
    job: &str,
    target: String,
    outcome: Outcome,
    attempts: u32,
    error: Option<&str>,
    started: Instant,
) -> Delivery {
    Delivery {
        at: crate::text::utc(SystemTime.now()),
        channel,
        event: event.to_owned(),
        job: job.to_owned(),
        target,
        outcome,
        attempts,
        error: error.map(|e| e.chars().take(ERROR_MAX).collect()),
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// A URL as the log shows it: scheme and host.
pub fn url_target(url: &str) -> String {
    crate::config::host_only(url)
}

/// An error's text without the URL it may quote (its path and query are
/// the secret part).
pub fn url_error(error: &str, url: &str) -> String {
    let host = crate::config::host_only(url);
    let path = url.split_once("://").and_then(|(_, rest)| rest.find(['/', '?', '#']).map(|i| &rest[i..]));
    let error = error.replace(url, &host);
    match path.filter(|p| p.len() > 1) {
        Some(path) => error.replace(path, "/…"),
        None => error,
    }
}

/// Email addresses as the log shows them: the first one's domain.
pub fn email_target(to: &[String]) -> String {
    let first = to.first().map(String::as_str).unwrap_or("");
    let address = first.rsplit_once('<').map_or(first, |(_, a)| a.trim_end_matches('>'));
    match address.rsplit_once('@') {
        Some((_, domain)) => format!("@{domain}"),
        None => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_errors_never_show_a_url_path_or_a_mailbox() {
        let url = "https://hooks.slack.com/services/T0/B0/s3cret?token=abc";
        assert_eq!(url_target(url), "https://hooks.slack.com/…");
        let said = format!("bad uri {url}: nope; also /services/T0/B0/s3cret?token=abc");
        let shown = url_error(&said, url);
        assert!(!shown.contains("s3cret") && !shown.contains("abc"), "{shown}");
        assert_eq!(email_target(&["Ops <ops@example.com>".into(), "b@c.d".into()]), "@example.com");
        assert_eq!(email_target(&[]), "-");
    }
}
