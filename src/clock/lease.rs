//! The leader lease: one clock leads, the others stand by. The lease only
//! keeps clocks from doing the same work; correctness does not depend on it,
//! since the enqueue script pushes each tick at most once whoever calls it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::time::TimeSource;

/// A registry entry is stale (its clock is gone) once it has not been
/// refreshed for this long; `clock status` ignores it and the next leader
/// removes it.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// What each clock publishes about itself in `Pclocks` every
/// [`INTERVAL`]; `clock status` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockInfo {
    pub id: String,
    pub host: String,
    pub pid: u32,
    #[serde(with = "crate::payload::rfc3339_millis")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "crate::payload::rfc3339_millis")]
    pub seen_at: DateTime<Utc>,
    /// When it started leading; `null` for a standby.
    pub leading_since: Option<DateTime<Utc>>,
    /// Fingerprint of its job table ([`crate::deploy::fingerprint`]).
    #[serde(default)]
    pub config: String,
    /// Redis time minus its system time, in milliseconds.
    #[serde(default)]
    pub offset_ms: i64,
}

impl ClockInfo {
    /// Whether this clock's config supersedes `other`'s: a different config,
    /// started later (ties broken by the larger id). The newest deploy wins.
    pub fn supersedes(&self, other: &ClockInfo) -> bool {
        self.config != other.config && (self.started_at, &self.id) > (other.started_at, &other.id)
    }
}

/// How long a lease lives without renewal. A standby takes over at most
/// this long (plus one retry interval) after a leader dies without
/// releasing it; a leader that stops cleanly releases it at once.
pub const TTL: Duration = Duration::from_secs(3);

/// Renewals and standby retries happen this often: three chances to renew
/// before the lease lapses.
pub const INTERVAL: Duration = Duration::from_secs(1);

pub struct Lease {
    store: Store,
    id: String,
    time: Arc<dyn TimeSource>,
    started_at: DateTime<Utc>,
    config: String,
}

impl Lease {
    /// `config` is the fingerprint of this clock's job table.
    pub fn new(store: Store, id: String, time: Arc<dyn TimeSource>, config: String) -> Lease {
        let started_at = time.now();
        Lease { store, id, time, started_at, config }
    }

    fn info(&self, leading_since: Option<DateTime<Utc>>) -> ClockInfo {
        ClockInfo {
            id: self.id.clone(),
            host: self.id.split(':').next().unwrap_or_default().to_owned(),
            pid: std::process::id(),
            started_at: self.started_at,
            seen_at: self.time.now(),
            leading_since,
            config: self.config.clone(),
            offset_ms: self.time.offset_ms(),
        }
    }

    /// A live clock whose config supersedes this one's (the newest of them).
    async fn newer_config(&self) -> Option<ClockInfo> {
        let entries = self.store.clocks().await.ok()?;
        let me = self.info(None);
        let now = self.time.now();
        entries
            .values()
            .filter_map(|json| serde_json::from_str::<ClockInfo>(json).ok())
            .filter(|c| (now - c.seen_at).to_std().is_ok_and(|age| age <= STALE_AFTER) || c.seen_at >= now)
            .filter(|c| c.supersedes(&me))
            .max_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)))
    }

    /// Publishes this clock's [`ClockInfo`]; failures only delay status.
    async fn announce(&self, leading_since: Option<DateTime<Utc>>) {
        let info = self.info(leading_since);
        let json = serde_json::to_string(&info).expect("clock info serialises");
        if let Err(e) = self.store.announce_clock(&self.id, &json).await {
            tracing::debug!(clock = %self.id, error = %error_chain(&e), "cannot announce clock");
        }
    }

    /// Removes registry entries of clocks that stopped refreshing them.
    pub async fn prune_registry(&self) {
        let Ok(entries) = self.store.clocks().await else { return };
        let now = self.time.now();
        let stale: Vec<String> = entries
            .iter()
            .filter(|(_, json)| {
                serde_json::from_str::<ClockInfo>(json)
                    .map_or(true, |c| (now - c.seen_at).to_std().is_ok_and(|age| age > STALE_AFTER * 6))
            })
            .map(|(id, _)| id.clone())
            .collect();
        let _ = self.store.forget_clocks(&stale).await;
    }

    /// Removes this clock from the registry (on a clean stop).
    pub async fn forget(&self) {
        let _ = self.store.forget_clocks(std::slice::from_ref(&self.id)).await;
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits until this clock holds the lease; `false` if told to stop first.
    pub async fn acquire(&self, shutdown: &Shutdown) -> bool {
        let mut announced = false;
        let mut deferring = false;
        loop {
            self.announce(None).await;
            // A clock with a newer config is taking over: do not compete.
            let newer = self.newer_config().await;
            if let Some(newer) = &newer
                && !deferring
            {
                tracing::info!(clock = %self.id, newer = %newer.id, "standing by for a clock with a newer config");
            }
            deferring = newer.is_some();
            let attempt =
                if deferring { Ok(false) } else { self.store.try_acquire_lease(&self.id, TTL).await };
            match attempt {
                Ok(true) => return true,
                Ok(false) if !announced => {
                    let leader = self.store.leader().await.ok().flatten().unwrap_or_default();
                    tracing::info!(clock = %self.id, leader = %leader, "standing by");
                    announced = true;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(clock = %self.id, error = %error_chain(&e), "cannot reach redis; retrying")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
        }
    }

    /// Renews the lease until `done` is cancelled; cancels `lost` when the
    /// lease is taken by another clock or cannot be renewed before it lapses.
    pub async fn keep(&self, lost: CancellationToken, done: CancellationToken) {
        let mut renewed_at = Instant::now();
        let leading_since = self.time.now();
        self.announce(Some(leading_since)).await;
        loop {
            tokio::select! {
                _ = done.cancelled() => return,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
            match self.store.renew_lease(&self.id, TTL).await {
                Ok(true) => {
                    renewed_at = Instant::now();
                    self.announce(Some(leading_since)).await;
                    if let Some(newer) = self.newer_config().await
                        && self.store.handover_lease(&self.id, &newer.id, TTL).await.unwrap_or(false)
                    {
                        tracing::info!(clock = %self.id, to = %newer.id, "leader lease handed to a clock with a newer config");
                        lost.cancel();
                        return;
                    }
                }
                Ok(false) => {
                    tracing::warn!(clock = %self.id, "leader lease taken by another clock");
                    lost.cancel();
                    return;
                }
                Err(e) if renewed_at.elapsed() + INTERVAL >= TTL => {
                    tracing::warn!(clock = %self.id, error = %error_chain(&e), "cannot renew leader lease; standing down");
                    lost.cancel();
                    return;
                }
                Err(e) => {
                    tracing::warn!(clock = %self.id, error = %error_chain(&e), "lease renewal failed; retrying")
                }
            }
        }
    }

    /// Gives the lease up so a standby takes over at once.
    pub async fn release(&self) {
        match self.store.release_lease(&self.id).await {
            Ok(true) => tracing::info!(clock = %self.id, "leader lease released"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(clock = %self.id, error = %error_chain(&e), "cannot release leader lease")
            }
        }
    }
}

/// An error and its sources, `: `-separated, for one log field.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
