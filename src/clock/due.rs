//! Which of a job's ticks to push now: the catch-up policy as a pure
//! function of the job, its last handled tick and the current instant, so
//! every restart scenario is tested without waiting.

use std::collections::VecDeque;

use crate::config::{CatchUp, Job, Overlap};
use crate::hash::{fnv1a, splitmix64};
use crate::schedule::Schedule;

/// A tick up to this many seconds old is late, not missed: it is pushed
/// whatever the job's `catch_up` policy says. This covers a clock that
/// crashed between deciding a tick and pushing it and was restarted, or
/// replaced by a standby, within a minute.
pub const GRACE_SECS: i64 = 60;

/// With `catch_up = "all"`, at most this many missed ticks of one job are
/// pushed (the newest); older ones are recorded as missed.
pub const MAX_CATCH_UP: usize = 10_000;

/// One step of what is due, in tick order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Push the payload of this tick (Unix seconds).
    Push(i64),
    /// Record `count` missed ticks, the newest being `tick`, without pushing.
    Miss { tick: i64, count: u64 },
    /// Record `count` ticks of an `overlap = "skip"` job, the newest being
    /// `tick`, as skipped for overlap: a newer tick due at the same instant
    /// is pushed instead (see [`ticks`]).
    Overlap { tick: i64, count: u64 },
}

impl Step {
    /// The tick the step records (the newest one it stands for).
    pub fn tick(self) -> i64 {
        match self {
            Step::Push(t) | Step::Miss { tick: t, .. } | Step::Overlap { tick: t, .. } => t,
        }
    }
}

/// What is due of a job at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub steps: Vec<Step>,
    /// The job's first tick after these steps that is not yet due, if any.
    pub next: Option<i64>,
}

/// Decides the ticks of `job` after `last` (its last handled tick) that are
/// due at `now_ms` (Unix milliseconds). A tick is due once its instant plus
/// its jitter has passed; ticks older than [`GRACE_SECS`] are missed and
/// handled per the job's `catch_up`; ticks older than `catch_up_window` are
/// never pushed.
///
/// Missed ticks are counted, not collected: only the newest ones the policy
/// pushes (none, one, or up to [`MAX_CATCH_UP`]) are held, so a month's
/// outage of an every-second job is decided in constant memory. An interval
/// schedule is counted arithmetically; a cron schedule is walked.
///
/// A job with `overlap = "skip"` runs one payload at a time, so of the ticks
/// that would be pushed (caught up or late) only the newest is pushed; the
/// older ones are recorded as skipped for overlap, as they would be once the
/// first push marked the job in flight.
pub fn ticks(job: &Job, last: i64, now_ms: i64) -> Due {
    let now = now_ms.div_euclid(1000);
    let window_start = now.saturating_sub(job.catch_up_window.as_secs() as i64);
    let cursor = last.max(window_start - 1);
    // The newest instant a missed tick can have.
    let cutoff = now - GRACE_SECS - 1;
    let keep = match job.catch_up {
        CatchUp::None => 0,
        CatchUp::Latest => 1,
        CatchUp::All => MAX_CATCH_UP,
    };
    let missed = newest_ticks(&job.schedule, cursor, cutoff, keep + 1);
    let caught_up = missed.newest.len().min(keep);
    let mut pushes: Vec<i64> = missed.newest.iter().skip(missed.newest.len() - caught_up).copied().collect();
    let mut steps = Vec::new();
    let skipped = missed.count - caught_up as u64;
    if skipped > 0 {
        let tick = missed.newest[missed.newest.len() - caught_up - 1];
        steps.push(Step::Miss { tick, count: skipped });
    }
    drop(missed);
    let mut cursor = cursor.max(cutoff);
    let next = loop {
        let Some(tick) = job.schedule.next_after_secs(cursor) else { break None };
        if tick * 1000 + jitter_ms(job, tick) > now_ms {
            break Some(tick);
        }
        pushes.push(tick);
        cursor = tick;
    };
    if job.overlap == Overlap::Skip && pushes.len() > 1 {
        let newest = pushes[pushes.len() - 1];
        let tick = pushes[pushes.len() - 2];
        steps.push(Step::Overlap { tick, count: pushes.len() as u64 - 1 });
        pushes = vec![newest];
    }
    steps.reserve_exact(pushes.len());
    steps.extend(pushes.into_iter().map(Step::Push));
    Due { steps, next }
}

/// How many ticks of a schedule fall in `(after, until]`, and the newest
/// `keep` of them, oldest first.
struct Counted {
    count: u64,
    newest: VecDeque<i64>,
}

fn newest_ticks(schedule: &Schedule, after: i64, until: i64, keep: usize) -> Counted {
    if after >= until {
        return Counted { count: 0, newest: VecDeque::new() };
    }
    if let Schedule::Every { period, offset } = schedule {
        let (p, o) = (period.as_secs() as i64, offset.as_secs() as i64);
        // Ticks are o + k * p: k runs over (first..=last).
        let first = (after - o).div_euclid(p) + 1;
        let last = (until - o).div_euclid(p);
        let count = (last - first + 1).max(0) as u64;
        let from = last - (count.min(keep as u64) as i64) + 1;
        let newest = (from..=last).map(|k| o + k * p).collect();
        return Counted { count, newest };
    }
    let mut counted = Counted { count: 0, newest: VecDeque::with_capacity(keep.min(64)) };
    let mut cursor = after;
    while let Some(tick) = schedule.next_after_secs(cursor).filter(|&t| t <= until) {
        counted.count += 1;
        if counted.newest.len() == keep {
            counted.newest.pop_front();
        }
        if keep > 0 {
            counted.newest.push_back(tick);
        }
        cursor = tick;
    }
    counted
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
