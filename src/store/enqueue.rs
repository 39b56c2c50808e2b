//! Pushing ticks: each recorded and pushed at most once, by `enqueue.lua`,
//! one script call per queue, pipelined.

use std::fmt::Write as _;

use redis::RedisError;

use super::keys::bullmq_keys;
use super::{Destination, Error, Result, Store, scripts};
use crate::config::{Format, JobName, QueueName};

/// Per queue, the write sequence of its tick state as this leader last saw
/// it; see [`Store::enqueue`].
pub type Sequences = std::collections::BTreeMap<QueueName, u64>;

/// Ticks per script call: bounds how long one call blocks Redis (about
/// 3 ms per thousand ticks) while a batch still travels in few round trips.
/// `enqueue.lua` unpacks two arguments per tick onto the Lua stack, which
/// holds at most 8,000, so this must stay below 4,000.
const TICKS_PER_CALL: usize = 1000;

/// The most payloads a queue's waiting set (`P{Q}:waiting`) watches for
/// `late`: a queue no worker serves grows it by every push until the
/// leading clock moves the overdue ones out, and a push past this is not
/// watched (and is counted as `<job>:unwatched`) rather than let it grow
/// without bound.
pub const WAITING_CAP: usize = 10_000;

/// The entries of a job's tick log (`P{Q}:tick_log:<job>`) that are read
/// and kept: about as many as its run history, whose entries it is shown
/// beside. `enqueue.lua` trims the log back to this many once it holds a
/// tenth more ([`TICK_LOG_MAX`]), so most pushes cost one command, not two.
pub const TICK_LOG_CAP: usize = 100;

/// The most entries a tick log holds between trims.
pub const TICK_LOG_MAX: usize = TICK_LOG_CAP + TICK_LOG_CAP / 10;

/// What to do with one tick in [`Store::enqueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickAction {
    /// Push this payload (JSON, with this id) unless the tick was already
    /// handled.
    Push { payload: String, id: String },
    /// Record `count` ticks, the newest being this one, as missed (per the
    /// job's catch-up policy) without pushing anything.
    Miss { count: u64 },
    /// Record `count` ticks, the newest being this one, as skipped for
    /// overlap (a newer tick of the job is pushed in the same batch).
    Overlap { count: u64 },
}

impl TickAction {
    /// How many ticks the action stands for.
    pub fn count(&self) -> u64 {
        match self {
            TickAction::Push { .. } => 1,
            TickAction::Miss { count } | TickAction::Overlap { count } => *count,
        }
    }
}

/// One tick of one job, for [`Store::enqueue`].
#[derive(Debug, Clone)]
pub struct TickOp {
    pub queue: QueueName,
    pub job: JobName,
    /// The tick instant, Unix seconds.
    pub tick: i64,
    /// The job's schedule fingerprint, recorded with the tick.
    pub fingerprint: String,
    pub action: TickAction,
    /// With `overlap = "skip"`: when the in-flight marker set with the push
    /// expires unless the run ends first (Unix ms, Redis time); `None` when
    /// overlap is allowed.
    pub inflight_until: Option<i64>,
    /// The job's format, which decides the list the payload goes to.
    pub format: Format,
    /// When a pushed payload that has not started counts as late (Unix ms):
    /// the tick plus the job's `start_within`; `None` when the job's
    /// payloads are not watched (`start_within = "off"`, another format).
    pub start_deadline: Option<i64>,
}

/// The script calls for a batch of ticks, built by [`Store::build_enqueue`]
/// and sent by [`Store::send_enqueue`].
pub struct BuiltEnqueue {
    /// Each call's ticks, as indices into the ops.
    calls: Vec<Vec<usize>>,
    cmds: Vec<(String, redis::Cmd)>,
}

/// What [`Store::enqueue`] did with a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickStatus {
    Pushed,
    /// Already handled by this or another clock.
    Duplicate,
    /// Skipped: the job's previous payload is still in flight.
    Overlap,
    /// Recorded as missed.
    Missed,
    /// Skipped: the job is paused.
    Paused,
}

impl Store {
    /// Records and pushes ticks, each at most once, pipelined: one script
    /// call per queue (and per `TICKS_PER_CALL` ticks), one round trip per
    /// megabyte of calls on a single server. Ticks
    /// of one job must come in increasing order. Returns a status per tick,
    /// in the order given.
    ///
    /// `seqs` holds each queue's write sequence from [`Store::sync_ticks`]
    /// and is advanced here; a queue whose state is behind it has lost writes
    /// and fails the call with [`Error::RolledBack`].
    ///
    /// `at_ms` is the instant the ticks go out (Unix ms, Redis time): an
    /// in-flight marker that expires by then counts as absent.
    pub async fn enqueue(
        &self,
        term: u64,
        seqs: &mut Sequences,
        ops: &[TickOp],
        at_ms: i64,
    ) -> Result<Vec<TickStatus>> {
        let built = self.build_enqueue(term, seqs, ops, at_ms);
        self.send_enqueue(built, seqs, ops).await
    }

    /// The script calls of [`Store::enqueue`], built ahead of their instant
    /// so that the instant itself only sends them. Each call carries the
    /// write sequence `seqs` holds now, so the batch must be the next push
    /// to its queues, as a ticker's prepared batch is; sent later, its
    /// rollback check would compare with an older sequence (weaker, never
    /// wrong: exactly-once rests on each job's recorded tick).
    pub fn build_enqueue(&self, term: u64, seqs: &Sequences, ops: &[TickOp], at_ms: i64) -> BuiltEnqueue {
        // Group by queue, keeping each queue's ticks in the given order.
        let mut order: Vec<usize> = (0..ops.len()).collect();
        order.sort_by(|&a, &b| ops[a].queue.cmp(&ops[b].queue));
        let mut calls: Vec<Vec<usize>> = Vec::new();
        for group in order.chunk_by(|&a, &b| ops[a].queue == ops[b].queue) {
            calls.extend(group.chunks(TICKS_PER_CALL).map(<[usize]>::to_vec));
        }
        let cmds = calls
            .iter()
            .map(|call| {
                let seen = seqs.get(&ops[call[0]].queue).copied().unwrap_or(0);
                self.enqueue_call(term, seen, ops, call, at_ms)
            })
            .collect();
        BuiltEnqueue { calls, cmds }
    }

    /// Sends what [`Store::build_enqueue`] built for `ops`, as
    /// [`Store::enqueue`] does, and advances `seqs`.
    pub async fn send_enqueue(
        &self,
        built: BuiltEnqueue,
        seqs: &mut Sequences,
        ops: &[TickOp],
    ) -> Result<Vec<TickStatus>> {
        let BuiltEnqueue { calls, cmds } = built;
        let replies = self.query_slotted(cmds, &[&*scripts::ENQUEUE], self.wait).await?;
        let mut statuses = vec![TickStatus::Duplicate; ops.len()];
        for (call, reply) in calls.iter().zip(replies) {
            let reply: String = redis::from_redis_value(reply).map_err(RedisError::from)?;
            let queue = &ops[call[0]].queue;
            let (letters, seq) = match reply.as_str() {
                "fenced" => return Err(Error::Fenced),
                "rolledback" => return Err(Error::RolledBack(queue.clone())),
                reply => reply.split_once('|').unwrap_or((reply, "")),
            };
            let Ok(seq) = seq.parse::<u64>() else {
                return Err(Error::Reply(format!("enqueue returned {reply:?}")));
            };
            let known = seqs.entry(queue.clone()).or_default();
            *known = (*known).max(seq);
            if letters.len() != call.len() {
                return Err(Error::Reply(format!(
                    "enqueue returned {} statuses for {} ticks",
                    letters.len(),
                    call.len()
                )));
            }
            for (&i, status) in call.iter().zip(letters.bytes()) {
                statuses[i] = match status {
                    b'P' => TickStatus::Pushed,
                    b'D' => TickStatus::Duplicate,
                    b'O' => TickStatus::Overlap,
                    b'M' => TickStatus::Missed,
                    b'A' => TickStatus::Paused,
                    other => {
                        return Err(Error::Reply(format!("unknown enqueue status {:?}", other as char)));
                    }
                };
            }
        }
        Ok(statuses)
    }

    /// One enqueue script call, with the key that routes it.
    fn enqueue_call(
        &self,
        term: u64,
        seen: u64,
        ops: &[TickOp],
        call: &[usize],
        at_ms: i64,
    ) -> (String, redis::Cmd) {
        let queue = &ops[call[0]].queue;
        let destinations: Vec<Destination> =
            call.iter().map(|&i| self.keys.destination(queue, &ops[i].format)).collect();
        let marker = |i: usize| match (&ops[i].action, ops[i].inflight_until) {
            (TickAction::Push { id, .. }, Some(until)) => Some((id, until)),
            _ => None,
        };
        // Only campanile's own payloads: a worker of another tool never
        // clears the waiting set.
        let watch = |i: usize| match (&ops[i].action, ops[i].start_deadline, &ops[i].format) {
            (TickAction::Push { id, .. }, Some(deadline), Format::Campanile) => Some((id, deadline)),
            _ => None,
        };
        // The script's fast path: see `enqueue.lua`.
        let uniform = {
            let mut jobs = std::collections::HashSet::with_capacity(call.len());
            call.iter().zip(&destinations).all(|(&i, to)| {
                matches!(ops[i].action, TickAction::Push { .. })
                    && !to.right
                    && to.queues.is_none()
                    && to.job_hash.is_none()
                    && to.list == destinations[0].list
                    && jobs.insert(ops[i].job.as_str())
            })
        };
        let marked = call.iter().filter(|&&i| marker(i).is_some()).count();
        let watched = call.iter().filter(|&&i| watch(i).is_some()).count();
        let mut cmd = redis::cmd("EVALSHA");
        // BullMQ's further keys, for the ticks that add a BullMQ job (spec "b").
        let adds_bullmq = |i: usize, to: &Destination| {
            to.bullmq.is_some() && matches!(ops[i].action, TickAction::Push { .. })
        };
        let bullmq_adds = call.iter().zip(&destinations).filter(|&(&i, to)| adds_bullmq(i, to)).count();
        // The destinations, then each tick's log.
        let keys = if uniform { 6 } else { 5 + 3 * call.len() + 6 * bullmq_adds } + call.len();
        cmd.arg(scripts::ENQUEUE.script.get_hash()).arg(keys);
        cmd.arg(self.keys.ticks(queue))
            .arg(self.keys.stats(queue))
            .arg(self.keys.paused(queue))
            .arg(self.keys.inflight(queue))
            .arg(self.keys.waiting(queue));
        if uniform {
            cmd.arg(&destinations[0].list);
        } else {
            for (&i, to) in call.iter().zip(&destinations) {
                cmd.arg(&to.list).arg(to.queues.as_ref().unwrap_or(&to.list));
                match (&to.job_hash, &ops[i].action) {
                    (Some(prefix), TickAction::Push { id, .. }) => cmd.arg(format!("{prefix}{id}")),
                    _ => cmd.arg(&to.list),
                };
                if let Some(base) = to.bullmq.as_ref().filter(|_| adds_bullmq(i, to)) {
                    cmd.arg(&bullmq_keys(base));
                }
            }
        }
        for &i in call {
            cmd.arg(self.keys.tick_log(queue, ops[i].job.as_str()));
        }
        cmd.arg(call.len())
            .arg(term)
            .arg(seen)
            .arg(if uniform { "uniform" } else { "each" })
            .arg(marked)
            .arg(queue.as_str())
            .arg(at_ms)
            .arg(watched)
            .arg(WAITING_CAP)
            .arg(TICK_LOG_CAP);
        let mut text = String::new();
        for &i in call {
            let op = &ops[i];
            text.clear();
            let _ = write!(text, "{}|{}", op.tick, op.fingerprint);
            cmd.arg(op.job.as_str()).arg(&text);
        }
        for &i in call {
            match &ops[i].action {
                TickAction::Push { payload, .. } => cmd.arg(payload),
                TickAction::Miss { count } | TickAction::Overlap { count } => cmd.arg(count),
            };
        }
        for &i in call {
            cmd.arg(ops[i].tick);
        }
        for (&i, to) in call.iter().zip(&destinations) {
            text.clear();
            if let TickAction::Miss { .. } = ops[i].action {
                text.push('m');
            } else if let TickAction::Overlap { .. } = ops[i].action {
                text.push('o');
            } else {
                text.push(if to.right { 'r' } else { 'l' });
                if to.queues.is_some() {
                    text.push(if to.queues_hold_keys { 'S' } else { 's' });
                }
                if to.job_hash.is_some() {
                    text.push('h');
                }
                if adds_bullmq(i, to) {
                    text.push('b');
                }
                if marker(i).is_some() {
                    text.push('k');
                }
                if watch(i).is_some() {
                    text.push('w');
                }
            }
            cmd.arg(&text);
        }
        for &i in call {
            text.clear();
            let _ = write!(text, "{}:enqueued", ops[i].job);
            cmd.arg(&text);
        }
        for &i in call {
            if let Some((id, until)) = marker(i) {
                text.clear();
                let _ = write!(text, "{id}|{until}");
                cmd.arg(ops[i].job.as_str()).arg(&text);
            }
        }
        for &i in call {
            if let Some((id, deadline)) = watch(i) {
                cmd.arg(deadline).arg(id);
            }
        }
        (self.keys.ticks(queue), cmd)
    }
}
