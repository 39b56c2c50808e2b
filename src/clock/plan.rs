//! Which of a job's ticks to push now: the catch-up policy as a pure
//! function of the job, its last handled tick and the current instant, so
//! every restart scenario is tested without waiting.

use crate::config::{CatchUp, Job};
use crate::hash::{fnv1a, splitmix64};

/// A tick up to this many seconds old is late, not missed: it is pushed
/// whatever the job's `catch_up` policy says. This covers a clock that
/// crashed between deciding a tick and pushing it and was restarted, or
/// replaced by a standby, within a minute.
pub const GRACE_SECS: i64 = 60;

/// With `catch_up = "all"`, at most this many missed ticks of one job are
/// pushed (the newest); older ones are recorded as missed.
pub const MAX_CATCH_UP: usize = 10_000;

/// One step of a plan, in tick order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// Push the payload of this tick (Unix seconds).
    Push(i64),
    /// Record `count` missed ticks, the newest being `tick`, without pushing.
    Miss { tick: i64, count: u64 },
}

/// A job's plan at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Planned>,
    /// The job's first tick after the plan that is not yet due, if any.
    pub next: Option<i64>,
}

/// Plans the ticks of `job` after `last` (its last handled tick) that are
/// due at `now_ms` (Unix milliseconds). A tick is due once its instant plus
/// its jitter has passed; ticks older than [`GRACE_SECS`] are missed and
/// handled per the job's `catch_up`; ticks older than `catch_up_window` are
/// never pushed.
pub fn plan(job: &Job, last: i64, now_ms: i64) -> Plan {
    let now = now_ms.div_euclid(1000);
    let window_start = now.saturating_sub(job.catch_up_window.as_secs() as i64);
    let mut missed = Vec::new();
    let mut late = Vec::new();
    let mut cursor = last.max(window_start - 1);
    let next = loop {
        let Some(tick) = job.schedule.next_after_secs(cursor) else { break None };
        let is_missed = tick < now - GRACE_SECS;
        if !is_missed && tick * 1000 + jitter_ms(job, tick) > now_ms {
            break Some(tick);
        }
        if is_missed {
            missed.push(tick)
        } else {
            late.push(tick)
        }
        cursor = tick;
    };
    let mut steps = catch_up(job.catch_up, &missed);
    steps.extend(late.into_iter().map(Planned::Push));
    Plan { steps, next }
}

fn catch_up(policy: CatchUp, missed: &[i64]) -> Vec<Planned> {
    if missed.is_empty() {
        return Vec::new();
    }
    let pushed = match policy {
        CatchUp::None => 0,
        CatchUp::Latest => 1,
        CatchUp::All => missed.len().min(MAX_CATCH_UP),
    };
    let skipped = missed.len() - pushed;
    let mut steps = Vec::with_capacity(pushed + 1);
    if skipped > 0 {
        steps.push(Planned::Miss { tick: missed[skipped - 1], count: skipped as u64 });
    }
    steps.extend(missed[skipped..].iter().map(|&t| Planned::Push(t)));
    steps
}

/// The deterministic delay, in milliseconds up to the job's `jitter`, of a
/// tick: the same on every clock, so clocks agree on when a tick is due.
pub fn jitter_ms(job: &Job, tick: i64) -> i64 {
    let max = job.jitter.as_secs() as i64 * 1000;
    if max == 0 {
        return 0;
    }
    let seed = fnv1a(job.name.as_str().as_bytes()) ^ (tick as u64);
    (splitmix64(seed) % (max as u64 + 1)) as i64
}

/// Identifies a job's schedule: when it changes, the job starts fresh.
pub fn fingerprint(job: &Job) -> String {
    fingerprint_text(schedule_hash(job))
}

/// The hash [`fingerprint`] writes out; what a clock keeps per job.
pub fn schedule_hash(job: &Job) -> u64 {
    fnv1a(format!("{}|{}", job.schedule, job.timezone.name()).as_bytes())
}

/// [`fingerprint`] of a [`schedule_hash`].
pub fn fingerprint_text(hash: u64) -> String {
    format!("{hash:016x}")
}
