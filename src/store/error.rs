//! What a Redis operation can fail with.

use redis::RedisError;

use crate::config::QueueName;

#[cfg(doc)]
use super::Taker;

/// Why a Redis operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid Redis URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("redis")]
    Redis(#[from] RedisError),
    #[error("unexpected reply from Redis: {0}")]
    Reply(String),
    /// A task sending one node's share of a pipeline panicked or was
    /// cancelled (the runtime shutting down): its replies are unknown.
    #[error("a pipeline task did not finish")]
    Task(#[source] tokio::task::JoinError),
    /// A leader with a newer term has written to the queue: this clock no
    /// longer leads.
    #[error("fenced: a clock with a newer leadership term leads")]
    Fenced,
    /// A queue's tick state lost writes this clock made (a failover to a
    /// replica that had not received them): reload it and catch up.
    #[error("the tick state of queue {0} lost writes (a Redis failover?); reloading it")]
    RolledBack(QueueName),
    /// A take did not reach `[redis] wait_replicas` replicas in time: the
    /// payload must not run, and goes back to pending (see
    /// [`Taker::give_back`]).
    #[error("the take did not reach enough replicas in time; the payload goes back unrun")]
    Unreplicated { payload: Vec<u8> },
    /// A write did not reach `[redis] wait_replicas` replicas of the node
    /// the sentinels name as primary in time: it stands on the node it was
    /// sent to, but a failover could take it back, so the caller sends it
    /// again (the worker's records of runs are idempotent).
    #[error("{0} did not reach enough replicas of the primary in time")]
    Unacknowledged(&'static str),
}

pub type Result<T> = std::result::Result<T, Error>;
