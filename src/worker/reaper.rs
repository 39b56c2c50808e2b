//! Recovers payloads of workers that died mid-job: once a worker's lease on
//! a queue lapses, its in-progress payloads go back to the pending list with
//! `attempt` incremented (or to the dead letters once the job's attempts are
//! used up). Every worker runs this; the requeue script makes concurrent
//! recoveries safe.

use std::sync::Arc;
use std::time::Duration;

use super::{WorkerId, lost_run_replacement};
use crate::config::{Config, QueueName};
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
                tracing::warn!(queue = %queue, error = %crate::clock::error_chain(&e), "cannot recover lost payloads");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

async fn reap_queue(
    config: &Config,
    store: &Store,
    queue: &QueueName,
    me: &WorkerId,
    time: &dyn TimeSource,
) -> crate::store::Result<()> {
    for worker in store.workers(queue).await? {
        if worker == me.0 || store.worker_alive(queue, &worker).await? {
            continue;
        }
        let taken = store.in_progress(queue, &worker).await?;
        let moves: Vec<_> = taken
            .iter()
            .map(|raw| {
                let (to, replacement) = lost_run_replacement(config, queue, raw, &worker, time.now());
                (raw.clone(), to, replacement)
            })
            .collect();
        if let Some(moved) = store.requeue(queue, &worker, true, &moves).await?
            && moved > 0
        {
            tracing::warn!(queue = %queue, worker = %worker, count = moved, "recovered payloads of a lost worker");
        }
    }
    Ok(())
}
