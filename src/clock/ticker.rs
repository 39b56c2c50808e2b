//! The leading clock's work: keep every enabled job's next due instant in a
//! min-heap, and at each due instant push what is due, pipelined.
//! Time is an argument, so tests drive it instant by instant.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::due::{self, Step};
use crate::config::{Config, Job, Overlap, QueueName};
use crate::formats;
use crate::metrics::{METRICS, TickLabels};
use crate::notify::{self, Event, Notifier};
use crate::store::{
    self, INFLIGHT_MARGIN, Sequences, Store, SyncJob, Synced, TickAction, TickOp, TickStatus,
};
use crate::text;

/// A job the ticker keeps on its heap, by index into `tracked`.
struct Tracked {
    job: usize,
    /// [`due::schedule_hash`]: kept as a number, written out per tick.
    fingerprint: u64,
    /// The last tick handled (pushed, skipped or found already handled).
    last: i64,
}

/// What one [`Ticker::fire_due`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    pub pushed: u64,
    pub duplicate: u64,
    pub overlap: u64,
    pub missed: u64,
    pub paused: u64,
}

impl Fired {
    /// Every tick handled, missed ones counted one by one.
    pub fn ticks(&self) -> u64 {
        self.pushed + self.duplicate + self.overlap + self.missed + self.paused
    }
}

pub struct Ticker {
    config: Arc<Config>,
    store: Store,
    /// This leadership's term; pushes from older terms are refused.
    term: u64,
    /// Each queue's write sequence, to notice state a failover lost.
    seqs: Sequences,
    tracked: Vec<Tracked>,
    /// `(due instant in Unix ms, entry)`, earliest first.
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    /// The next instant's batch, built ahead by [`Ticker::prepare`].
    prepared: Option<Batch>,
    notifier: Notifier,
    memory: Memory,
}

/// The ticks due at one instant, decided and with their payloads built.
struct Batch {
    /// The instant (Unix ms) the payloads were built for, their `enqueued_at`.
    at_ms: i64,
    ops: Vec<TickOp>,
    /// Each due heap entry with what is due of its job.
    due: Vec<(usize, due::Due)>,
    /// The script calls for `ops`, when built ahead.
    built: Option<store::BuiltEnqueue>,
}

/// What a clock remembers of the ticks it handled while leading, across
/// its leadership terms: per job of its config (by index), the schedule
/// hash and the last tick handled. When Redis loses a queue's state (a
/// restart without persistence, a `FLUSHALL`), the next leadership
/// restores it from here instead of starting every job from now, so the
/// ticks of the outage follow the catch-up rules. Cheap to clone.
#[derive(Clone, Default)]
pub struct Memory(Arc<Mutex<Vec<Remembered>>>);

/// A job's schedule hash and last handled tick, once it has one.
type Remembered = Option<(u64, i64)>;

impl Memory {
    fn remembered(&self, job: usize, fingerprint: u64) -> Option<i64> {
        let known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        known.get(job).copied().flatten().filter(|(f, _)| *f == fingerprint).map(|(_, last)| last)
    }

    fn remember(&self, jobs: impl Iterator<Item = (usize, u64, i64)>) {
        let mut known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for (job, fingerprint, last) in jobs {
            if known.len() <= job {
                known.resize(job + 1, None);
            }
            known[job] = Some((fingerprint, last));
        }
    }
}

impl Ticker {
    /// [`Ticker::resume`] with nothing remembered and no notifier.
    pub async fn start(
        config: Arc<Config>,
        store: Store,
        term: u64,
        now: DateTime<Utc>,
    ) -> store::Result<Ticker> {
        Ticker::resume(config, store, term, now, Memory::default(), Notifier::default()).await
    }

    /// Loads every enabled job's tick state from Redis (jobs new to Redis, or
    /// whose schedule changed, start from `now`; jobs of a queue whose state
    /// Redis lost get back what `memory` holds, with a warning and a
    /// `missed` alert) and makes every job due at once, so the first
    /// [`Ticker::fire_due`] applies the catch-up policies. Missed and
    /// skipped ticks go to `notifier`.
    pub async fn resume(
        config: Arc<Config>,
        store: Store,
        term: u64,
        now: DateTime<Utc>,
        memory: Memory,
        notifier: Notifier,
    ) -> store::Result<Ticker> {
        store.load_scripts().await?;
        let mut by_queue: BTreeMap<&QueueName, Vec<usize>> = BTreeMap::new();
        for (i, job) in config.jobs.iter().enumerate().filter(|(_, j)| j.enabled) {
            by_queue.entry(&job.queue).or_default().push(i);
        }
        let mut tracked = Vec::new();
        let mut seqs = Sequences::new();
        for (queue, jobs) in by_queue {
            let hashes: Vec<u64> = jobs.iter().map(|&i| due::schedule_hash(&config.jobs[i])).collect();
            let texts: Vec<String> = hashes.iter().map(|&h| due::fingerprint_text(h)).collect();
            let args: Vec<SyncJob<'_>> = jobs
                .iter()
                .zip(&texts)
                .zip(&hashes)
                .map(|((&i, f), &h)| SyncJob {
                    name: &config.jobs[i].name,
                    fingerprint: f.as_str(),
                    remembered: memory.remembered(i, h),
                })
                .collect();
            let states = store.sync_ticks(queue, now.timestamp(), term, &args, &mut seqs).await?;
            let mut restored = 0u64;
            for ((&job, fingerprint), (last, synced)) in jobs.iter().zip(hashes).zip(states) {
                match synced {
                    Synced::Fresh => {
                        tracing::info!(job = %config.jobs[job].name, queue = %queue, "job starts from now")
                    }
                    Synced::Restored => restored += 1,
                    Synced::Kept => {}
                }
                tracked.push(Tracked { job, fingerprint, last });
            }
            if restored > 0 {
                report_lost_state(&notifier, queue, restored, now);
            }
        }
        memory.remember(tracked.iter().map(|s| (s.job, s.fingerprint, s.last)));
        let heap = (0..tracked.len()).map(|s| Reverse((i64::MIN, s))).collect();
        Ok(Ticker { config, store, term, seqs, tracked, heap, prepared: None, notifier, memory })
    }

    /// When the next tick falls due, if any job has one.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let heap = self.heap.peek().map(|Reverse((ms, _))| *ms);
        let prepared = self.prepared.as_ref().map(|b| b.at_ms);
        heap.into_iter().chain(prepared).min().and_then(DateTime::from_timestamp_millis)
    }

    /// Decides the ticks due at `at` and builds their payloads ahead, so that
    /// [`Ticker::fire_due`] at that instant only sends them: the work of
    /// building a batch is done before its instant, not after it.
    pub fn prepare(&mut self, at: DateTime<Utc>) {
        self.unprepare();
        let mut batch = self.take_due(at);
        if !batch.ops.is_empty() {
            batch.built = Some(self.store.build_enqueue(self.term, &self.seqs, &batch.ops, batch.at_ms));
        }
        self.prepared = Some(batch);
    }

    /// Whether the batch for `at` is built.
    pub fn is_prepared(&self, at: DateTime<Utc>) -> bool {
        self.prepared.as_ref().is_some_and(|b| b.at_ms == at.timestamp_millis())
    }

    /// Puts a prepared batch's entries back on the heap, due at its instant.
    fn unprepare(&mut self) {
        if let Some(batch) = self.prepared.take() {
            self.requeue(batch);
        }
    }

    fn requeue(&mut self, batch: Batch) {
        self.heap.extend(batch.due.into_iter().map(|(entry, _)| Reverse((batch.at_ms, entry))));
    }

    /// Takes every heap entry due at `at` off the heap and decides its ticks.
    fn take_due(&mut self, at: DateTime<Utc>) -> Batch {
        let at_ms = at.timestamp_millis();
        let mut ops = Vec::new();
        let mut due = Vec::new();
        while let Some(&Reverse((ms, entry))) = self.heap.peek() {
            if ms > at_ms {
                break;
            }
            self.heap.pop();
            let s = &self.tracked[entry];
            let job = &self.config.jobs[s.job];
            let decided = due::ticks(job, s.last, at_ms);
            // Each push's next tick, for its start deadline: the pushes are
            // consecutive ticks and come last in a job's steps.
            let next_ticks = decided.steps.iter().skip(1).map(|step| Some(step.tick())).chain([decided.next]);
            ops.extend(
                decided
                    .steps
                    .iter()
                    .zip(next_ticks)
                    .map(|(step, next)| tick_op(job, s.fingerprint, *step, next, at)),
            );
            due.push((entry, decided));
        }
        Batch { at_ms, ops, due, built: None }
    }

    /// Pushes every tick due at `now`, pipelined ([`Store::enqueue`]). A batch
    /// prepared for this very millisecond is sent as built; one prepared for
    /// an instant that has passed is decided again, so that each payload's
    /// `enqueued_at` is the instant it was sent.
    pub async fn fire_due(&mut self, now: DateTime<Utc>) -> store::Result<Fired> {
        let now_ms = now.timestamp_millis();
        let batch = match self.prepared.take() {
            Some(batch) if batch.at_ms == now_ms => batch,
            Some(batch) if batch.at_ms > now_ms => {
                self.prepared = Some(batch);
                return Ok(Fired::default());
            }
            Some(stale) => {
                self.requeue(stale);
                self.take_due(now)
            }
            None => self.take_due(now),
        };
        // Every line of the batch (its ticks, a failed push) carries the
        // instant and how many jobs were due then.
        let span = tracing::info_span!("ticks", at = %text::utc_millis(now), jobs = batch.due.len());
        self.fire(batch, now).instrument(span).await
    }

    async fn fire(&mut self, mut batch: Batch, now: DateTime<Utc>) -> store::Result<Fired> {
        let statuses = match batch.built.take() {
            _ if batch.ops.is_empty() => Vec::new(),
            Some(built) => self.store.send_enqueue(built, &mut self.seqs, &batch.ops).await?,
            None => self.store.enqueue(self.term, &mut self.seqs, &batch.ops, batch.at_ms).await?,
        };
        // One write to stderr for the batch's lines, not one per tick.
        let fired = crate::logging::batched(|| self.report(&batch.ops, &statuses, now));
        let mut handled = Vec::with_capacity(batch.due.len());
        for (entry, decided) in batch.due {
            if let Some(last) = decided.steps.last().map(|s| s.tick()) {
                self.tracked[entry].last = last;
                let s = &self.tracked[entry];
                handled.push((s.job, s.fingerprint, last));
            }
            if let Some(next) = decided.next {
                let job = &self.config.jobs[self.tracked[entry].job];
                self.heap.push(Reverse((next * 1000 + due::jitter_ms(job, next), entry)));
            }
        }
        self.memory.remember(handled.into_iter());
        Ok(fired)
    }

    fn report(&self, ops: &[TickOp], statuses: &[TickStatus], now: DateTime<Utc>) -> Fired {
        let mut fired = Fired::default();
        let now_text = text::utc(now);
        for (op, status) in ops.iter().zip(statuses) {
            let tick = DateTime::from_timestamp(op.tick, 0).unwrap_or_default();
            let tick_text = text::utc(tick);
            let lateness_ms = (now - tick).num_milliseconds();
            let (job, queue) = (op.job.as_str(), op.queue.as_str());
            let labels = || TickLabels::new(&op.job, &op.queue);
            match status {
                TickStatus::Pushed => {
                    fired.pushed += 1;
                    METRICS.ticks_enqueued.get_or_create(&labels()).inc();
                    METRICS.tick_lateness.observe(lateness_ms.max(0) as f64 / 1000.0);
                    tracing::info!(job, queue, tick = %tick_text, lateness_ms, "tick enqueued");
                }
                TickStatus::Duplicate => {
                    fired.duplicate += 1;
                    tracing::debug!(job, queue, tick = %tick_text, "tick already enqueued");
                }
                TickStatus::Overlap => {
                    let count = op.action.count();
                    fired.overlap += count;
                    METRICS.ticks_skipped.get_or_create(&labels().with_reason("overlap")).inc_by(count);
                    let reason = "previous run still in flight";
                    tracing::info!(job, queue, tick = %tick_text, count, reason, "tick skipped");
                    self.notifier.send(notify::build::tick(
                        Event::Skipped,
                        job,
                        queue,
                        &tick_text,
                        count,
                        reason,
                        &now_text,
                    ));
                }
                TickStatus::Paused => {
                    fired.paused += 1;
                    METRICS.ticks_skipped.get_or_create(&labels().with_reason("paused")).inc();
                    tracing::info!(job, queue, tick = %tick_text, reason = "paused", "tick skipped");
                    self.notifier.send(notify::build::tick(
                        Event::Skipped,
                        job,
                        queue,
                        &tick_text,
                        1,
                        "paused",
                        &now_text,
                    ));
                }
                TickStatus::Missed => {
                    let count = op.action.count();
                    fired.missed += count;
                    METRICS.ticks_missed.get_or_create(&labels()).inc_by(count);
                    let reason = "catch_up policy";
                    tracing::warn!(job, queue, newest = %tick_text, count, reason, "missed ticks skipped");
                    self.notifier.send(notify::build::tick(
                        Event::Missed,
                        job,
                        queue,
                        &tick_text,
                        count,
                        reason,
                        &now_text,
                    ));
                }
            }
        }
        fired
    }
}

/// Redis lost a queue's tick state and this clock restored `jobs` jobs from
/// memory: a warning and a `missed` alert (job `*`), since the payloads
/// pending at the time were lost with it.
fn report_lost_state(notifier: &Notifier, queue: &QueueName, jobs: u64, now: DateTime<Utc>) {
    let reason = "Redis lost campanile's state";
    tracing::warn!(queue = %queue, jobs, reason, "tick state restored from the leading clock's memory");
    let now_text = text::utc(now);
    let mut alert =
        notify::build::tick(Event::Missed, "*", queue.as_str(), &now_text, jobs, reason, &now_text);
    alert.scheduled_at = None;
    alert.text = format!(
        ":rotating_light: campanile: Redis lost campanile's state for queue `{queue}`; \
         {jobs} job(s) restored from the leading clock's memory, pending payloads may be lost"
    );
    notifier.send(alert);
}

/// The op for one step of what is due of `job`; `next` is the job's next tick
/// after the step's (Unix seconds), if any.
fn tick_op(job: &Job, fingerprint: u64, step: Step, next: Option<i64>, now: DateTime<Utc>) -> TickOp {
    let (tick, action) = match step {
        Step::Push(tick) => {
            let at = DateTime::from_timestamp(tick, 0).unwrap_or_default();
            let pushed = formats::for_tick(job, at, now);
            (tick, TickAction::Push { payload: pushed.json, id: pushed.id })
        }
        Step::Miss { tick, count } => (tick, TickAction::Miss { count }),
        Step::Overlap { tick, count } => (tick, TickAction::Overlap { count }),
    };
    TickOp {
        queue: job.queue.clone(),
        job: job.name.clone(),
        tick,
        fingerprint: due::fingerprint_text(fingerprint),
        action,
        inflight_until: (job.overlap == Overlap::Skip).then(|| {
            now.timestamp_millis() + (job.timeout.as_duration() + INFLIGHT_MARGIN).as_millis() as i64
        }),
        format: job.format.clone(),
        start_deadline: match step {
            Step::Push(tick) => job.start_deadline_given(tick * 1000, next),
            _ => None,
        },
    }
}
