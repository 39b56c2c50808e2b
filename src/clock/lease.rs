//! The leader lease: one clock leads, the others stand by. The lease only
//! keeps clocks from doing the same work; correctness does not depend on it,
//! since the enqueue script pushes each tick at most once whoever calls it.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::shutdown::Shutdown;
use crate::store::Store;

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
}

impl Lease {
    pub fn new(store: Store, id: String) -> Lease {
        Lease { store, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits until this clock holds the lease; `false` if told to stop first.
    pub async fn acquire(&self, shutdown: &Shutdown) -> bool {
        let mut announced = false;
        loop {
            match self.store.try_acquire_lease(&self.id, TTL).await {
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
        loop {
            tokio::select! {
                _ = done.cancelled() => return,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
            match self.store.renew_lease(&self.id, TTL).await {
                Ok(true) => renewed_at = Instant::now(),
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
