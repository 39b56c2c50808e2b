//! Taking payloads: one fetcher per queue, all sharing the worker's
//! concurrency permits.
//!
//! A fetcher holds a permit while it blocks on its queue, so that what it
//! takes can run at once and a worker never holds more payloads than it can
//! run (a payload held back in one worker is one an idle worker could have
//! run). But a fetcher blocked on an empty queue must not keep a permit that
//! another queue's fetcher waits for: it lets go of the permit and keeps
//! blocking. If its take then returns a payload and no permit is free, the
//! payload goes back to the oldest end of its pending list, for this worker
//! or another to take when a permit is free.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ledger::Held;
use super::{BACKOFF, Ctx};
use crate::backoff::Backoff;
use crate::config::QueueName;
use crate::error_chain::error_chain;
use crate::store::{Error, Result, Taker};

/// A blocking take returns after this long without a payload, so a fetcher
/// notices a dead connection promptly.
const TAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// The worker's concurrency permits.
pub(super) struct Permits {
    semaphore: Arc<Semaphore>,
    /// Fetchers waiting for a permit.
    waiting: AtomicUsize,
    /// Tells fetchers blocked on an empty queue that a permit is wanted.
    wanted: Notify,
}

/// Counts a fetcher as waiting for as long as it lives, even if the wait is
/// cancelled.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Permits {
    pub(super) fn new(n: usize) -> Permits {
        Permits {
            semaphore: Arc::new(Semaphore::new(n.max(1))),
            waiting: AtomicUsize::new(0),
            wanted: Notify::new(),
        }
    }

    /// A free permit, waiting for one if need be (first come, first served);
    /// while it waits, fetchers blocked on empty queues give theirs up.
    pub(super) async fn acquire(&self) -> OwnedSemaphorePermit {
        if let Some(permit) = self.try_acquire() {
            return permit;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        self.wanted.notify_waiters();
        self.semaphore.clone().acquire_owned().await.expect("the semaphore is never closed")
    }

    pub(super) fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        self.semaphore.clone().try_acquire_owned().ok()
    }

    /// Whether a fetcher is waiting for a permit.
    pub(super) fn contended(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Resolves once a fetcher is waiting for a permit (at once if one is).
    async fn wanted(&self) {
        let notified = self.wanted.notified();
        tokio::pin!(notified);
        // Registered before the check, so a wait that starts in between
        // still wakes this one.
        notified.as_mut().enable();
        if self.contended() {
            return;
        }
        notified.await;
    }
}

/// Takes payloads from one queue while a permit is free, and starts a run
/// for each; returns when `stop` is cancelled.
pub(super) async fn run(ctx: Arc<Ctx>, queue: QueueName, runs: TaskTracker, stop: CancellationToken) {
    let mut conn = None;
    let mut backoff = BACKOFF;
    loop {
        let permit = tokio::select! {
            permit = ctx.permits.acquire() => permit,
            _ = stop.cancelled() => return,
        };
        if conn.is_none() {
            match ctx.store.taker().await {
                Ok(taker) => conn = Some(taker),
                Err(e) => {
                    tracing::warn!(queue = %queue, error = %error_chain(&e), "cannot connect to take payloads; retrying");
                    drop(permit);
                    if sleep_or_stop(&mut backoff, &stop).await {
                        return;
                    }
                    continue;
                }
            }
        }
        let taker = conn.as_mut().expect("connected above");
        // A take abandoned on shutdown may still complete in Redis: the
        // payload then sits in this worker's in-progress list, which is put
        // back on the pending list before the worker exits.
        let Some((taken, permit)) = take(&ctx, taker, &queue, permit, &stop).await else { return };
        match taken {
            Ok(Some(held)) => {
                backoff.reset();
                let Some(permit) = permit.or_else(|| ctx.permits.try_acquire()) else {
                    give_back(&ctx, taker, &queue, held, &runs, &stop).await;
                    continue;
                };
                runs.spawn(super::process::process(ctx.clone(), queue.clone(), held, permit));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(queue = %queue, error = %error_chain(&e), "take failed; reconnecting");
                conn = None;
                if sleep_or_stop(&mut backoff, &stop).await {
                    return;
                }
            }
        }
    }
}

/// One blocking take, holding `permit` until another queue's fetcher wants
/// it. `None` if the worker is told to stop first.
async fn take(
    ctx: &Ctx,
    taker: &mut Taker,
    queue: &QueueName,
    permit: OwnedSemaphorePermit,
    stop: &CancellationToken,
) -> Option<(Result<Option<Held>>, Option<OwnedSemaphorePermit>)> {
    let ticket = ctx.ledger.take();
    let mut permit = Some(permit);
    let taken = {
        let take = taker.take(queue, &ctx.me.0, TAKE_TIMEOUT);
        tokio::pin!(take);
        loop {
            tokio::select! {
                taken = &mut take => break taken,
                _ = stop.cancelled() => return None,
                _ = ctx.permits.wanted(), if permit.is_some() && ctx.several_queues => {
                    tracing::trace!(queue = %queue, "queue empty; permit handed to another queue");
                    permit = None;
                }
            }
        }
    };
    let taken = match taken {
        Ok(raw) => Ok(ticket.replied(raw)),
        Err(Error::Unreplicated { payload }) => {
            // Given back while the take still counts as open, so this worker
            // never judges the payload stranded while it is on its way back.
            if let Err(e) = taker.give_back(queue, &ctx.me.0, &payload).await {
                tracing::warn!(queue = %queue, error = %error_chain(&e), "cannot give back an unreplicated take");
            }
            ticket.gave_back(&payload);
            Err(Error::Unreplicated { payload })
        }
        Err(e) => Err(e),
    };
    Some((taken, permit))
}

/// A payload taken when no permit was free goes back to the oldest end of its
/// pending list. If that fails, it runs once a permit is free instead: it must
/// not wait in this worker's in-progress list until the worker stops. A stop
/// meanwhile leaves it there, to go back on the pending list unrun as the
/// worker exits; waiting on for a permit would hold the shutdown up past its
/// timeout, which only starts once every fetcher has returned.
async fn give_back(
    ctx: &Arc<Ctx>,
    taker: &mut Taker,
    queue: &QueueName,
    held: Held,
    runs: &TaskTracker,
    stop: &CancellationToken,
) {
    held.giving_back();
    let Err(e) = taker.give_back(queue, &ctx.me.0, held.raw()).await else {
        tracing::debug!(queue = %queue, "no free permit; payload given back");
        return;
    };
    tracing::warn!(queue = %queue, error = %error_chain(&e), "cannot give a payload back; running it when a permit is free");
    tokio::select! {
        permit = ctx.permits.acquire() => {
            runs.spawn(super::process::process(ctx.clone(), queue.clone(), held, permit));
        }
        _ = stop.cancelled() => {}
    }
}

/// Sleeps for the backoff's next delay; `true` if told to stop first.
async fn sleep_or_stop(backoff: &mut Backoff, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(backoff.next_delay()) => false,
    }
}
