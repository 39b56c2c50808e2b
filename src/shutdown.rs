//! The stop signal every loop selects on. Heroku sends SIGTERM and kills
//! the process 30 seconds later; SIGINT is Ctrl-C on a terminal.

use tokio_util::sync::CancellationToken;

use crate::supervisor::Owned;

/// Cancelled once, when the process should stop.
pub type Shutdown = CancellationToken;

/// A [`Shutdown`] cancelled on SIGTERM or SIGINT, and the task that listens
/// for them: the caller holds it as long as signals should stop the
/// process (dropping it stops listening).
/// The handlers are installed before this returns, so a signal that comes
/// at any later instant stops the process through `Shutdown`.
pub fn on_signals() -> (Shutdown, Owned) {
    use tokio::signal::unix::{SignalKind, signal};
    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    let listener = Owned::spawn("signals", async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
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
    (shutdown, listener)
}
