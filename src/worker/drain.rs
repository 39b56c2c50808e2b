//! The running jobs' keeper: idle while the worker takes payloads; when
//! stopped (after the fetchers, before the heartbeat), it lets running jobs
//! finish within the grace period, then stops them, which puts their
//! payloads back on the pending list.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Ctx;

/// Waits for `stop`, then drains `runs` as described in the module docs.
pub(super) async fn run(ctx: Arc<Ctx>, runs: TaskTracker, grace: Duration, stop: CancellationToken) {
    stop.cancelled().await;
    runs.close();
    tracing::info!(worker = %ctx.me.0, running = runs.len(), "stopping: no new payloads; waiting for running jobs");
    if tokio::time::timeout(grace, runs.wait()).await.is_err() {
        tracing::warn!(worker = %ctx.me.0, running = runs.len(), "shutdown timeout: stopping running jobs");
        ctx.stop_runs.cancel();
        runs.wait().await;
    }
}
