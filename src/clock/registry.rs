//! The clock registry: every clock, leading or standing by, says every
//! [`INTERVAL`] who it is, which job table it runs and whether it leads.
//! `clock status` shows it; a clock with an older job table hands the lease
//! to one with a newer table ([`ClockInfo::supersedes`]).
//!
//! Whether an entry is alive is judged on Redis's clock only: Redis stamps
//! each entry when it arrives (`redis_seen_ms`) and readers compare that
//! stamp with Redis's `TIME`. A clock's own time (which may be far off, and
//! whose measured offset may be missing) never decides it, so a dead clock
//! stops counting [`STALE_AFTER`] after its last word, whatever its system
//! clock said.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::leadership::Leadership;
use crate::error_chain::error_chain;
use crate::store::{self, Store};
use crate::time::TimeSource;

/// How often a clock refreshes its entry.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// An entry is stale (its clock is gone) once Redis has not heard from it
/// for this long: `clock status` ignores it, and a standby no longer defers
/// to it.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// How long a stopping clock waits for Redis to remove its entry.
const GOODBYE: Duration = Duration::from_millis(500);

/// A stale entry is removed by the leader once it is this old.
const PRUNE_AFTER: Duration = Duration::from_secs(60);

/// What each clock publishes about itself in `Pclocks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockInfo {
    pub id: String,
    pub host: String,
    pub pid: u32,
    #[serde(with = "crate::payload::rfc3339_millis")]
    pub started_at: DateTime<Utc>,
    /// When the clock wrote the entry, on its own clock (shown, never
    /// judged).
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
    /// When Redis received the entry, Unix ms on Redis's clock; added by
    /// Redis, never sent by the clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_seen_ms: Option<i64>,
}

impl ClockInfo {
    /// Whether this clock's config supersedes `other`'s: a different config,
    /// started later (ties broken by the larger id). The newest deploy wins.
    pub fn supersedes(&self, other: &ClockInfo) -> bool {
        self.config != other.config && (self.started_at, &self.id) > (other.started_at, &other.id)
    }

    /// How long before `redis_now_ms` (Redis's clock) Redis last heard from
    /// this clock; `None` for an entry Redis did not stamp.
    fn silent_for(&self, redis_now_ms: i64) -> Option<Duration> {
        let seen = self.redis_seen_ms?;
        // Redis's own clock stepping back makes a stamp look recent for
        // longer; it is never a reason to count an entry alive forever.
        Some(Duration::from_millis(redis_now_ms.abs_diff(seen)))
    }
}

/// The registry entries of clocks Redis heard from within [`STALE_AFTER`].
pub async fn live_clocks(store: &Store) -> store::Result<Vec<ClockInfo>> {
    let (now, entries) = store.clocks().await?;
    Ok(entries
        .values()
        .filter_map(|json| serde_json::from_str::<ClockInfo>(json).ok())
        .filter(|c| c.silent_for(now).is_some_and(|silent| silent <= STALE_AFTER))
        .collect())
}

/// What the registry loop needs.
pub struct Registry {
    pub store: Store,
    pub id: String,
    pub time: Arc<dyn TimeSource>,
    pub started_at: DateTime<Utc>,
    /// Fingerprint of this clock's job table.
    pub config: String,
}

impl Registry {
    /// This clock's entry now.
    pub fn info(&self, leading_since: Option<DateTime<Utc>>) -> ClockInfo {
        ClockInfo {
            id: self.id.clone(),
            host: self.id.split(':').next().unwrap_or_default().to_owned(),
            pid: std::process::id(),
            started_at: self.started_at,
            seen_at: self.time.now(),
            leading_since,
            config: self.config.clone(),
            offset_ms: self.time.offset_ms(),
            redis_seen_ms: None,
        }
    }

    async fn announce(&self, leading_since: Option<DateTime<Utc>>) {
        let json = serde_json::to_string(&self.info(leading_since)).expect("clock info serialises");
        if let Err(e) = self.store.announce_clock(&self.id, &json).await {
            tracing::debug!(clock = %self.id, error = %error_chain(&e), "cannot announce clock");
        }
    }

    /// Removes entries Redis has not heard from for [`PRUNE_AFTER`], and
    /// entries that do not parse.
    async fn prune(&self) {
        let Ok((now, entries)) = self.store.clocks().await else { return };
        let stale: Vec<String> = entries
            .iter()
            .filter(|(_, json)| {
                serde_json::from_str::<ClockInfo>(json)
                    .map_or(true, |c| c.silent_for(now).is_none_or(|silent| silent > PRUNE_AFTER))
            })
            .map(|(id, _)| id.clone())
            .collect();
        let _ = self.store.forget_clocks(&stale).await;
    }

    async fn refresh(&self, leading_since: Option<DateTime<Utc>>, prune: bool) {
        self.announce(leading_since).await;
        if prune {
            self.prune().await;
        }
    }

    /// Refreshes this clock's entry every [`INTERVAL`] (and at once when it
    /// starts or stops leading); while leading, prunes stale entries. On
    /// `stop`, removes this clock's entry.
    pub async fn run(&self, mut leadership: watch::Receiver<Leadership>, stop: CancellationToken) {
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            let since = leadership.borrow_and_update().since();
            // A call waiting on an unreachable Redis must not hold up a stop.
            let prune = since.is_some() && pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_AFTER);
            tokio::select! {
                _ = stop.cancelled() => break,
                () = self.refresh(since, prune) => {}
            }
            if prune {
                pruned_at = Some(tokio::time::Instant::now());
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = leadership.changed() => {}
                _ = tokio::time::sleep(INTERVAL) => {}
            }
        }
        // With Redis unreachable, give up soon: the entry goes stale anyway.
        let goodbye = self.store.forget_clocks(std::slice::from_ref(&self.id));
        let _ = tokio::time::timeout(GOODBYE, goodbye).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(redis_seen_ms: Option<i64>) -> ClockInfo {
        let t = DateTime::from_timestamp(0, 0).unwrap();
        ClockInfo {
            id: "h:1:ab".into(),
            host: "h".into(),
            pid: 1,
            started_at: t,
            seen_at: t,
            leading_since: None,
            config: String::new(),
            offset_ms: 0,
            redis_seen_ms,
        }
    }

    #[test]
    fn silence_is_measured_on_redis_time_only() {
        assert_eq!(stamped(Some(1_000)).silent_for(11_000), Some(Duration::from_secs(10)));
        // A stamp ahead of Redis's clock (its clock stepped back) ages too.
        assert_eq!(stamped(Some(20_000)).silent_for(5_000), Some(Duration::from_secs(15)));
        assert_eq!(stamped(None).silent_for(5_000), None);
    }

    #[test]
    fn the_clock_never_sends_a_redis_stamp() {
        let json = serde_json::to_string(&stamped(None)).unwrap();
        assert!(!json.contains("redis_seen_ms") && json.ends_with('}'), "{json}");
    }
}
