//! Owns a daemon's background loops: starts each by name, restarts one
//! that ends or panics before it was told to stop, gives up (and stops the
//! daemon with a non-zero exit) when a loop keeps failing, and stops them
//! all in order within a deadline.
//!
//! The shape is sidekiq's launcher and asynq's server: every loop is
//! `async fn run(deps, stop)` that returns when `stop` is cancelled, so a
//! loop that returns while `stop` is not cancelled has failed, whatever it
//! returned. Loops stop in the reverse order of starting, as destructors
//! run: a daemon starts what others depend on first (the clock's lease
//! keeper before its leader loop), so the dependents stop before it.
//!
//! A task that no restart policy fits, because it has nothing to restart
//! from or is not worth stopping a daemon for (the signal listener, the
//! metrics endpoint, a Sentinel connection's watch), is an [`Owned`]: its
//! holder waits for it with a deadline or drops it, which aborts it; a
//! panic is logged with its name.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;

/// What happens when a loop ends or panics without being told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Start it again after a backoff (100 ms doubling to 5 s); give up as
    /// [`Policy::Fatal`] does if it fails [`RESTART_LIMIT`] times within
    /// [`RESTART_WINDOW`].
    Restart,
    /// Stop the daemon at once: it cannot do its work without this loop.
    Fatal,
}

/// A loop that fails this many times within [`RESTART_WINDOW`] is not
/// restarted again: the failure is not transient, and a platform restart
/// of the process (with its crash in the logs) serves better than a loop
/// that spins.
pub const RESTART_LIMIT: usize = 5;
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// Why a daemon stopped other than by being told to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("background loop {name:?} failed: {reason}")]
pub struct Failure {
    pub name: &'static str,
    pub reason: String,
}

struct Loop {
    name: &'static str,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

/// The loops of one daemon; see the module docs.
pub struct Supervisor {
    loops: Vec<Loop>,
    failed: CancellationToken,
    failure: Arc<Mutex<Option<Failure>>>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor::new()
    }
}

impl Supervisor {
    pub fn new() -> Supervisor {
        Supervisor { loops: Vec::new(), failed: CancellationToken::new(), failure: Arc::default() }
    }

    /// Starts the loop `make(stop)` under `name`; `make` is called again for
    /// each restart.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, policy: Policy, make: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let watch = Watch {
            name,
            policy,
            stop: stop.clone(),
            failed: self.failed.clone(),
            failure: self.failure.clone(),
        };
        let handle = tokio::spawn(watch.run(make));
        self.loops.push(Loop { name, stop, handle });
    }

    /// Cancelled when a loop has failed for good: the daemon should stop.
    pub fn failed(&self) -> CancellationToken {
        self.failed.clone()
    }

    /// Stops every loop, the last started first, within `deadline` in all;
    /// a loop still running then is aborted (and logged). Returns the
    /// failure that stopped the daemon, if one did.
    pub async fn stop(self, deadline: Duration) -> Result<(), Failure> {
        let until = Instant::now() + deadline;
        for Loop { name, stop, mut handle } in self.loops.into_iter().rev() {
            stop.cancel();
            if tokio::time::timeout_at(until, &mut handle).await.is_err() {
                tracing::error!(
                    task = name,
                    deadline_ms = deadline.as_millis() as u64,
                    "background loop did not stop in time; aborted"
                );
                handle.abort();
            }
        }
        match self.failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }
}

/// Runs one loop, restarting it per its policy.
struct Watch {
    name: &'static str,
    policy: Policy,
    stop: CancellationToken,
    failed: CancellationToken,
    failure: Arc<Mutex<Option<Failure>>>,
}

impl Watch {
    async fn run<F, Fut>(self, mut make: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut failures: Vec<Instant> = Vec::new();
        loop {
            // Its own task, so a panic is caught here; the guard aborts it
            // if this watch is aborted at the deadline.
            let mut task = AbortOnDrop(tokio::spawn(make(self.stop.clone())));
            let ended = (&mut task.0).await;
            if self.stop.is_cancelled() {
                return;
            }
            let reason = match ended {
                Ok(()) => "ended without being told to stop".to_owned(),
                Err(e) if e.is_panic() => format!("panicked: {}", panic_message(e.into_panic())),
                Err(e) => e.to_string(),
            };
            let now = Instant::now();
            failures.retain(|at| now.duration_since(*at) < RESTART_WINDOW);
            failures.push(now);
            if self.policy == Policy::Fatal || failures.len() >= RESTART_LIMIT {
                tracing::error!(task = self.name, reason = %reason, failures = failures.len(), "background loop failed; stopping");
                let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
                failure.get_or_insert(Failure { name: self.name, reason });
                self.failed.cancel();
                return;
            }
            let delay = backoff.next_delay();
            tracing::error!(task = self.name, reason = %reason, restart_in_ms = delay.as_millis() as u64, "background loop failed; restarting");
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// A task outside any [`Supervisor`], owned by whoever holds this: not
/// restarted; [`Owned::stop`] waits for it up to a deadline, and dropping
/// it aborts it. Its panic is logged with its name.
pub struct Owned {
    name: &'static str,
    handle: AbortOnDrop,
}

impl Owned {
    pub fn spawn<Fut>(name: &'static str, task: Fut) -> Owned
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(async move {
            // Its own task, so a panic is caught here; the guard aborts it
            // when this one is aborted.
            let mut task = AbortOnDrop(tokio::spawn(task));
            if let Err(e) = (&mut task.0).await
                && e.is_panic()
            {
                let reason = panic_message(e.into_panic());
                tracing::error!(task = name, reason = %reason, "background task panicked; not restarted");
            }
        });
        Owned { name, handle: AbortOnDrop(handle) }
    }

    /// Waits for the task to end (its holder has told it to, e.g. by
    /// cancelling the shutdown token it watches) up to `deadline`, then
    /// aborts it (logged).
    pub async fn stop(mut self, deadline: Duration) {
        if tokio::time::timeout(deadline, &mut self.handle.0).await.is_err() {
            tracing::error!(
                task = self.name,
                deadline_ms = deadline.as_millis() as u64,
                "background task did not stop in time; aborted"
            );
        }
    }
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => {
            payload.downcast::<&str>().map_or_else(|_| "(no message)".to_owned(), |s| (*s).to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_panics_is_restarted_and_stops_when_told() {
        let starts = Arc::new(AtomicUsize::new(0));
        let mut supervisor = Supervisor::new();
        let counted = starts.clone();
        supervisor.spawn("flaky", Policy::Restart, move |stop| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    panic!("boom {n}");
                }
                stop.cancelled().await;
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        assert!(!supervisor.failed().is_cancelled());
        assert_eq!(supervisor.stop(Duration::from_secs(1)).await, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_keeps_failing_stops_the_daemon() {
        let mut supervisor = Supervisor::new();
        supervisor.spawn("broken", Policy::Restart, |_stop| async {});
        supervisor.failed().cancelled().await;
        let failure = supervisor.stop(Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(failure.name, "broken");
        assert_eq!(failure.reason, "ended without being told to stop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_loop_stops_the_daemon_at_its_first_failure() {
        let mut supervisor = Supervisor::new();
        supervisor.spawn("vital", Policy::Fatal, |_stop| async { panic!("lost it") });
        supervisor.failed().cancelled().await;
        let failure = supervisor.stop(Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(failure, Failure { name: "vital", reason: "panicked: lost it".into() });
    }

    #[tokio::test(start_paused = true)]
    async fn an_owned_task_is_awaited_until_its_deadline_then_aborted_and_aborted_when_dropped() {
        let stop = CancellationToken::new();
        let ended = Arc::new(AtomicUsize::new(0));
        let counted = ended.clone();
        let task = Owned::spawn("polite", {
            let stop = stop.clone();
            async move {
                stop.cancelled().await;
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        stop.cancel();
        task.stop(Duration::from_secs(1)).await;
        assert_eq!(ended.load(Ordering::SeqCst), 1, "waited for");

        let started = Instant::now();
        Owned::spawn("stuck", std::future::pending()).stop(Duration::from_secs(2)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(2));

        let guard = Arc::new(());
        let held = guard.clone();
        let dropped = Owned::spawn("dropped", async move {
            let _held = held;
            std::future::pending::<()>().await
        });
        tokio::task::yield_now().await;
        assert_eq!(Arc::strong_count(&guard), 2);
        drop(dropped);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(Arc::strong_count(&guard), 1, "dropping it aborts the task (and its inner task)");
    }

    #[tokio::test(start_paused = true)]
    async fn loops_stop_in_reverse_order_and_a_stuck_one_is_aborted_at_the_deadline() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut supervisor = Supervisor::new();
        supervisor.spawn("stuck", Policy::Restart, |_stop| std::future::pending());
        for name in ["first", "second"] {
            let order = order.clone();
            supervisor.spawn(name, Policy::Restart, move |stop| {
                let order = order.clone();
                async move {
                    stop.cancelled().await;
                    order.lock().unwrap().push(name);
                }
            });
        }
        tokio::task::yield_now().await;
        let started = Instant::now();
        assert_eq!(supervisor.stop(Duration::from_secs(2)).await, Ok(()));
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(*order.lock().unwrap(), ["second", "first"]);
    }
}
