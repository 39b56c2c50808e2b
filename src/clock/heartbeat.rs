//! `[monitor] heartbeat_url`: while this clock leads, it requests the URL
//! every `heartbeat_every`, so an outside monitor (healthchecks.io,
//! Cronitor, …) raises the alarm when no clock leads: when every clock has
//! died, the heartbeats stop. A standby never sends one.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Leadership;
use crate::notify::ping::{self, Kind};

fn leads(l: &Leadership) -> bool {
    matches!(l, Leadership::Leading { .. })
}

/// Sends a heartbeat when this clock starts leading and every `every`
/// while it leads, until `stop`.
pub(super) async fn run(
    url: String,
    every: Duration,
    mut leadership: watch::Receiver<Leadership>,
    stop: CancellationToken,
) {
    loop {
        let leading = tokio::select! {
            _ = stop.cancelled() => return,
            leading = leadership.wait_for(leads) => leading.is_ok(),
        };
        if !leading {
            // The lease keeper is gone; the supervisor restarts both.
            return stop.cancelled().await;
        }
        while leads(&leadership.borrow_and_update()) {
            let next = tokio::time::Instant::now() + every;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ping::send(Kind::Heartbeat, crate::config::ANY_JOB, &url) => {}
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep_until(next) => {}
                _ = leadership.wait_for(|l| !leads(l)) => {}
            }
        }
        tracing::debug!("heartbeats paused: this clock no longer leads");
    }
}
