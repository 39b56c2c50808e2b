//! The only module that talks to Redis: one async method per operation,
//! over a connection to one server, a Redis Cluster or the primary Sentinel
//! names (`connection`), each reconnecting on its own.
//! Key names live in [`keys`], Lua scripts in `scripts` (`src/store/scripts/*.lua`).
//! The operations are grouped by what they serve: the leader lease
//! (`lease`), watching it from outside the clocks (`leader_watch`), pushing
//! ticks (`enqueue`), the clock's start-up sync (`sync`), the worker's
//! queue (`queue`), the watch for runs that do not happen (`monitor`), the log of alert
//! deliveries (`deliveries`), the
//! CLI and dashboard (`ops`, and `health` for what is
//! wrong right now), all over
//! the pipelining helpers (`pipeline`).

mod connection;
mod deliveries;
mod enqueue;
mod error;
mod health;
mod job_hash;
mod job_log;
pub mod keys;
mod leader_watch;
mod lease;
mod monitor;
mod ops;
mod pipeline;
mod queue;
mod queue_view;
mod scripts;
mod slots;
mod sync;

use std::time::Duration;

use connection::{Connection, Timeouts};
use pipeline::{PIPELINE_BYTES, Wait};

pub use deliveries::DELIVERIES_CAP;
pub use enqueue::{
    BuiltEnqueue, Sequences, TICK_LOG_CAP, TICK_LOG_MAX, TickAction, TickOp, TickStatus, WAITING_CAP,
};
pub use error::{Error, Result};
pub use health::{LeaderLease, QueueHealth};
pub use job_hash::JobHash;
pub use keys::{Destination, Keys};
pub use leader_watch::LeaderWatch;
pub use lease::{LEADER_CHANGES_CAP, LeaderChange};
pub use monitor::{Episode, LATE_CAP, LatePayload, QueueLook, WATCH_GAP};
pub use ops::QueueCounts;
pub use queue::{DEAD_CAP, Finish, HISTORY_CAP, Requeue, Taker};
pub use queue_view::{MINUTES, MinuteCount, QueueView, WORKERS_SHOWN, WorkerView, per_minute};
pub use slots::check_cluster_slots;
pub use sync::{SyncJob, Synced};

use crate::config::{RedisSettings, Topology};

/// An in-flight marker outlives the job's timeout by this much, so a
/// payload whose worker vanished blocks its job for a bounded time only.
/// The clock sets the marker with a push; the worker extends it when a run
/// starts and when it schedules a retry.
pub const INFLIGHT_MARGIN: Duration = Duration::from_secs(300);

/// Timeouts of the shared connection.
const TIMEOUTS: Timeouts = Timeouts { connect: Duration::from_secs(5), response: Duration::from_secs(5) };

/// A handle to Redis; cheap to clone.
#[derive(Clone)]
pub struct Store {
    topology: std::sync::Arc<Topology>,
    con: Connection,
    keys: Keys,
    wait: Option<Wait>,
}

impl Store {
    /// Connects, retrying a few times within a second. Once connected, a
    /// lost connection is re-established on demand with capped exponential
    /// backoff; callers retry failed operations.
    pub async fn connect(settings: &RedisSettings) -> Result<Store> {
        // rediss:// needs a process-wide TLS crypto provider; installing it
        // twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let topology = settings
            .topology()
            .map_err(|e| Error::Url { url: settings.redacted_url(), reason: e.to_string() })?;
        let con = Connection::open(&topology, TIMEOUTS).await.map_err(|e| match e.kind() {
            redis::ErrorKind::InvalidClientConfig => {
                Error::Url { url: settings.redacted_url(), reason: e.to_string() }
            }
            _ => Error::Redis(e),
        })?;
        let wait = (settings.wait_replicas > 0)
            .then_some(Wait { replicas: settings.wait_replicas, timeout_ms: settings.wait_timeout_ms });
        Ok(Store { topology: std::sync::Arc::new(topology), con, keys: Keys::new(&settings.prefix), wait })
    }

    /// A handle to the same Redis on a connection of its own, whose
    /// connects and replies time out after `timeout`. For work that must
    /// not queue behind other traffic or wait out the shared connection's
    /// longer timeouts: the leader lease is renewed on one, with a timeout
    /// well inside the lease's lifetime. The connection's background task
    /// runs on the runtime this is called on.
    pub async fn dedicated(&self, timeout: Duration) -> Result<Store> {
        let con = Connection::open(&self.topology, Timeouts { connect: timeout, response: timeout }).await?;
        Ok(Store { con, ..self.clone() })
    }

    /// Whether Redis is a cluster.
    pub fn is_cluster(&self) -> bool {
        self.con.is_cluster()
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }
}
