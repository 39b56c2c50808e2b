//! The stop signal every loop selects on. Heroku sends SIGTERM and kills
//! the process 30 seconds later; SIGINT is Ctrl-C on a terminal.

use tokio_util::sync::CancellationToken;

/// Cancelled once, when the process should stop.
pub type Shutdown = CancellationToken;

/// A [`Shutdown`] cancelled on SIGTERM or SIGINT.
pub fn on_signals() -> Shutdown {
    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "stopping");
        trigger.cancel();
    });
    shutdown
}
