//! Recovers payloads of workers that died mid-job: once a worker's lease on
//! a queue lapses, its in-progress payloads go back to the pending list with
//! `attempt` incremented (or to the dead letters once the job's attempts are
//! used up). Every worker runs this; the requeue script makes concurrent
//! recoveries safe.
//!
//! A live worker also looks at its own in-progress lists: a payload there
//! that its ledger finds stranded (moved there by a take whose reply was
//! lost) goes back to the oldest end of the pending list, attempt unchanged,
//! since it never ran.

use std::sync::Arc;
use std::time::Duration;

use super::WorkerId;
use super::ledger::{Ledger, Suspects};
use super::outcome::lost_run_replacement;
use crate::config::{Config, QueueName};
use crate::metrics::METRICS;
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::time::TimeSource;

/// How often each worker looks for dead ones.
pub const EVERY: Duration = Duration::from_secs(5);

pub async fn run(
    config: Arc<Config>,
    store: Store,
    queues: Vec<QueueName>,
    me: WorkerId,
    time: Arc<dyn TimeSource>,
    shutdown: Shutdown,
) {
    loop {
        for queue in &queues {
            if let Err(e) = reap_queue(&config, &store, queue, &me, time.as_ref()).await {
                tracing::warn!(queue = %queue, error = %crate::error_chain::error_chain(&e), "cannot recover lost payloads");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// Looks at every worker registered on `queue`; a failure on one lost
/// worker is logged and counted, and the pass goes on to the next.
async fn reap_queue(
    config: &Config,
    store: &Store,
    queue: &QueueName,
    me: &WorkerId,
    time: &dyn TimeSource,
) -> crate::store::Result<()> {
    for worker in store.workers(queue).await? {
        if worker == me.0 {
            continue;
        }
        if let Err(e) = reap_worker(config, store, queue, &worker, time).await {
            METRICS.recovery_errors.inc();
            tracing::warn!(queue = %queue, worker = %worker, error = %crate::error_chain::error_chain(&e), "cannot recover a lost worker's payloads");
        }
    }
    Ok(())
}

/// Puts back the payloads of `worker` if its lease has lapsed.
async fn reap_worker(
    config: &Config,
    store: &Store,
    queue: &QueueName,
    worker: &str,
    time: &dyn TimeSource,
) -> crate::store::Result<()> {
    if store.worker_alive(queue, worker).await? {
        return Ok(());
    }
    let taken = store.in_progress(queue, worker).await?;
    let moves: Vec<_> = taken
        .iter()
        .map(|raw| {
            let (to, replacement) = lost_run_replacement(config, queue, raw, worker, time.now());
            (raw.clone(), to, replacement)
        })
        .collect();
    if let Some(moved) = store.requeue(queue, worker, true, &moves).await?
        && moved > 0
    {
        tracing::warn!(queue = %queue, worker = %worker, count = moved, "recovered payloads of a lost worker");
    }
    Ok(())
}

/// Gives back this worker's stranded payloads, judged one look after they
/// were first seen; returns when `stop` is cancelled, as the worker stops
/// taking payloads (what is left then goes back as the worker exits).
pub(super) async fn run_own(
    store: Store,
    queues: Vec<QueueName>,
    me: WorkerId,
    ledger: Arc<Ledger>,
    stop: Shutdown,
) {
    let mut suspects: Vec<Option<Suspects>> = queues.iter().map(|_| None).collect();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        for (queue, suspects) in queues.iter().zip(&mut suspects) {
            if let Err(e) = check_own(&store, queue, &me, &ledger, suspects).await {
                tracing::warn!(queue = %queue, error = %crate::error_chain::error_chain(&e), "cannot check for stranded payloads");
            }
        }
    }
}

async fn check_own(
    store: &Store,
    queue: &QueueName,
    me: &WorkerId,
    ledger: &Ledger,
    suspects: &mut Option<Suspects>,
) -> crate::store::Result<()> {
    if let Some(earlier) = suspects {
        let Some(stranded) = ledger.stranded(earlier) else { return Ok(()) };
        *suspects = None;
        for raw in stranded {
            if store.give_back(queue, &me.0, &raw).await? {
                tracing::warn!(queue = %queue, "a payload taken without this worker learning of it (reply lost) is back on the pending list");
            }
        }
    }
    *suspects = Some(ledger.suspects(store.in_progress(queue, &me.0).await?));
    Ok(())
}
