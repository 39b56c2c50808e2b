//! The only module that talks to Redis: one async method per operation,
//! over a connection to one server, a Redis Cluster or the primary Sentinel
//! names (`connection`), each reconnecting on its own.
//! Key names live in [`keys`], Lua scripts in `scripts` (`src/store/scripts/*.lua`).

mod connection;
pub mod keys;
mod ops;
mod queue;
mod scripts;

use std::fmt::Write as _;
use std::time::Duration;

use redis::{Pipeline, RedisError, Value};

use connection::{Connection, Timeouts};
use scripts::Lua;

pub use keys::{Destination, Keys};
pub use ops::QueueCounts;
pub use queue::{DEAD_CAP, Finish, HISTORY_CAP, Requeue, Taker};

use crate::config::{Format, JobName, QueueName, RedisSettings, Topology};

/// Why a Redis operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid Redis URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("redis")]
    Redis(#[from] RedisError),
    #[error("unexpected reply from Redis: {0}")]
    Reply(String),
    /// A leader with a newer term has written to the queue: this clock no
    /// longer leads.
    #[error("fenced: a clock with a newer leadership term leads")]
    Fenced,
    /// A queue's tick state lost writes this clock made (a failover to a
    /// replica that had not received them): reload it and catch up.
    #[error("the tick state of queue {0} lost writes (a Redis failover?); reloading it")]
    RolledBack(QueueName),
    /// A take did not reach `[redis] wait_replicas` replicas in time: the
    /// payload must not run, and goes back to pending (see
    /// [`Taker::give_back`]).
    #[error("the take did not reach enough replicas in time; the payload goes back unrun")]
    Unreplicated { payload: Vec<u8> },
}

/// Per queue, the write sequence of its tick state as this leader last saw
/// it; see [`Store::enqueue`].
pub type Sequences = std::collections::BTreeMap<QueueName, u64>;

pub type Result<T> = std::result::Result<T, Error>;

/// Ticks per script call: bounds how long one call blocks Redis (about
/// 3 ms per thousand ticks) while a batch still travels in few round trips.
/// `enqueue.lua` unpacks two arguments per tick onto the Lua stack, which
/// holds at most 8,000, so this must stay below 4,000.
const TICKS_PER_CALL: usize = 1000;

/// Jobs per `sync.lua` call at start-up, for the same reason as
/// [`TICKS_PER_CALL`]: a queue of 100,000 jobs is 100 short calls, not one
/// of 200,000 arguments that blocks Redis.
const JOBS_PER_SYNC: usize = 1000;

/// About how many bytes of commands go in one pipeline on a single server;
/// see [`Store::query_in_pipelines`].
const PIPELINE_BYTES: usize = 1 << 20;

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

/// One job for [`Store::sync_ticks`].
#[derive(Debug, Clone, Copy)]
pub struct SyncJob<'a> {
    pub name: &'a JobName,
    /// The job's schedule fingerprint.
    pub fingerprint: &'a str,
    /// The last tick this clock handled for the job with this fingerprint,
    /// if it led before.
    pub remembered: Option<i64>,
}

/// Where a job's state came from in [`Store::sync_ticks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// Redis had it.
    Kept,
    /// New to Redis, or its schedule changed: it starts from now.
    Fresh,
    /// Redis had lost it; the remembered tick was restored.
    Restored,
}

/// Reads one `sync.lua` reply for `chunk` into `states`, advancing `seq`;
/// returns whether restoring was on.
fn sync_reply(
    chunk: &[SyncJob<'_>],
    reply: Value,
    states: &mut Vec<(i64, Synced)>,
    seq: &mut u64,
) -> Result<bool> {
    let flat: Vec<i64> = redis::from_redis_value(reply).map_err(RedisError::from)?;
    if flat.is_empty() {
        return Err(Error::Fenced);
    }
    if flat.len() != chunk.len() * 2 + 2 {
        return Err(Error::Reply(format!("sync returned {} values for {} jobs", flat.len(), chunk.len())));
    }
    let (pairs, tail) = flat.split_at(chunk.len() * 2);
    for pair in pairs.chunks(2) {
        let synced = match pair[1] {
            0 => Synced::Kept,
            1 => Synced::Fresh,
            _ => Synced::Restored,
        };
        states.push((pair[0], synced));
    }
    *seq = (*seq).max(tail[1] as u64);
    Ok(tail[0] == 1)
}

/// An in-flight marker outlives the job's timeout by this much, so a
/// payload whose worker vanished blocks its job for a bounded time only.
/// The clock sets the marker with a push; the worker extends it when a run
/// starts and when it schedules a retry.
pub const INFLIGHT_MARGIN: Duration = Duration::from_secs(300);

/// Timeouts of the shared connection.
const TIMEOUTS: Timeouts = Timeouts { connect: Duration::from_secs(5), response: Duration::from_secs(5) };

/// A handle to Redis; cheap to clone.
#[derive(Clone)]
pub struct Store {
    topology: std::sync::Arc<Topology>,
    con: Connection,
    keys: Keys,
    wait: Option<Wait>,
}

/// `[redis] wait_replicas`: pushes and takes are followed by `WAIT`.
#[derive(Debug, Clone, Copy)]
struct Wait {
    replicas: u32,
    timeout_ms: u64,
}

impl Wait {
    /// Appends the `WAIT` that follows a pipeline's writes on the same node.
    fn add_to(self, pipe: &mut Pipeline) {
        pipe.cmd("WAIT").arg(self.replicas).arg(self.timeout_ms);
    }

    /// Takes the `WAIT` reply off the end of `replies`; `false`, with a
    /// warning, if fewer replicas than asked have the writes (they stand
    /// regardless).
    fn check(self, replies: &mut Vec<Value>, what: &str) -> bool {
        let acked: Option<u32> = replies.pop().and_then(|v| redis::from_redis_value(v).ok());
        let enough = acked.is_some_and(|n| n >= self.replicas);
        if !enough {
            crate::metrics::METRICS.redis_errors.inc();
            tracing::warn!(
                replicas = self.replicas,
                acknowledged = acked.unwrap_or(0),
                timeout_ms = self.timeout_ms,
                "{what} not yet on enough replicas; a failover now could take it back"
            );
        }
        enough
    }
}

impl Store {
    /// Connects, retrying a few times within a second. Once connected, a
    /// lost connection is re-established on demand with capped exponential
    /// backoff; callers retry failed operations.
    pub async fn connect(settings: &RedisSettings) -> Result<Store> {
        // rediss:// needs a process-wide TLS crypto provider; installing it
        // twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let topology =
            settings.topology().map_err(|reason| Error::Url { url: settings.redacted_url(), reason })?;
        let con = Connection::open(&topology, TIMEOUTS).await.map_err(|e| match e.kind() {
            redis::ErrorKind::InvalidClientConfig => {
                Error::Url { url: settings.redacted_url(), reason: e.to_string() }
            }
            _ => Error::Redis(e),
        })?;
        let wait = (settings.wait_replicas > 0)
            .then_some(Wait { replicas: settings.wait_replicas, timeout_ms: settings.wait_timeout_ms });
        Ok(Store { topology: std::sync::Arc::new(topology), con, keys: Keys::new(&settings.prefix), wait })
    }

    /// A handle to the same Redis on a connection of its own, whose
    /// connects and replies time out after `timeout`. For work that must
    /// not queue behind other traffic or wait out the shared connection's
    /// longer timeouts: the leader lease is renewed on one, with a timeout
    /// well inside the lease's lifetime. The connection's background task
    /// runs on the runtime this is called on.
    pub async fn dedicated(&self, timeout: Duration) -> Result<Store> {
        let con = Connection::open(&self.topology, Timeouts { connect: timeout, response: timeout }).await?;
        Ok(Store { con, ..self.clone() })
    }

    /// Whether Redis is a cluster.
    pub fn is_cluster(&self) -> bool {
        self.con.is_cluster()
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Takes the leader lease if nobody holds it (or extends it if this
    /// clock does); `true` if this clock now leads.
    pub async fn try_acquire_lease(&self, id: &str, ttl: Duration) -> Result<bool> {
        let args = [id.to_owned(), ttl.as_millis().to_string()];
        let acquired: i64 = self.run_script(&scripts::ACQUIRE_LEASE, &[self.keys.leader()], &args).await?;
        Ok(acquired == 1)
    }

    /// A new leadership term: strictly larger than every earlier one.
    pub async fn next_term(&self) -> Result<u64> {
        Ok(redis::cmd("INCR").arg(self.keys.term()).query_async(&mut self.con.clone()).await?)
    }

    /// Extends the lease; `false` if this clock no longer holds it.
    pub async fn renew_lease(&self, id: &str, ttl: Duration) -> Result<bool> {
        let renewed: i64 = self
            .run_script(
                &scripts::RENEW_LEASE,
                &[self.keys.leader()],
                &[id.into(), ttl.as_millis().to_string()],
            )
            .await?;
        Ok(renewed == 1)
    }

    /// Passes the lease to `to` if this clock holds it.
    pub async fn handover_lease(&self, id: &str, to: &str, ttl: Duration) -> Result<bool> {
        let args = [id.to_owned(), to.to_owned(), ttl.as_millis().to_string()];
        let done: i64 = self.run_script(&scripts::HANDOVER_LEASE, &[self.keys.leader()], &args).await?;
        Ok(done == 1)
    }

    /// Gives the lease up if this clock holds it.
    pub async fn release_lease(&self, id: &str) -> Result<bool> {
        let released: i64 = self.run_script(&scripts::RELEASE_LEASE, &[self.keys.leader()], &[id]).await?;
        Ok(released == 1)
    }

    /// The id of the clock holding the lease, if any.
    pub async fn leader(&self) -> Result<Option<String>> {
        Ok(redis::cmd("GET").arg(self.keys.leader()).query_async(&mut self.con.clone()).await?)
    }

    /// Loads the pipelined scripts into Redis ahead of time, so the first due
    /// tick does not pay an extra round trip to find them missing.
    pub async fn load_scripts(&self) -> Result<()> {
        self.load(&[&*scripts::ENQUEUE, &*scripts::SYNC, &*scripts::FINISH, &*scripts::RETRY]).await
    }

    /// `SCRIPT LOAD`s, one command each: on a cluster each goes to every
    /// node.
    async fn load(&self, scripts: &[&Lua]) -> Result<()> {
        let mut con = self.con.clone();
        for lua in scripts {
            let _: Value = redis::cmd("SCRIPT").arg("LOAD").arg(lua.source).query_async(&mut con).await?;
        }
        Ok(())
    }

    /// Loads each job's last tick for one queue, starting jobs that are new
    /// or whose schedule changed from `now`, and records the queue's write
    /// sequence in `seqs`. A job's remembered last tick (this clock pushed
    /// it while leading before) is restored if Redis lost the queue's state
    /// since: see `sync.lua`. The jobs go out [`JOBS_PER_SYNC`] to a script
    /// call: the first call alone (it finds out whether the state was lost),
    /// the rest pipelined.
    pub async fn sync_ticks(
        &self,
        queue: &QueueName,
        now: i64,
        term: u64,
        jobs: &[SyncJob<'_>],
        seqs: &mut Sequences,
    ) -> Result<Vec<(i64, Synced)>> {
        let call = |chunk: &[SyncJob<'_>], restoring: &str| {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(scripts::SYNC.script.get_hash())
                .arg(1)
                .arg(self.keys.ticks(queue))
                .arg(now)
                .arg(term)
                .arg(restoring);
            for job in chunk {
                cmd.arg(job.name.as_str()).arg(job.fingerprint);
                match job.remembered {
                    Some(tick) => cmd.arg(tick),
                    None => cmd.arg(""),
                };
            }
            (self.keys.ticks(queue), cmd)
        };
        let mut chunks = jobs.chunks(JOBS_PER_SYNC);
        let Some(first) = chunks.next() else {
            return Ok(Vec::new());
        };
        let mut replies = self.query_slotted(vec![call(first, "auto")], &[&*scripts::SYNC], None).await?;
        let mut states = Vec::with_capacity(jobs.len());
        let mut seq = 0;
        let restoring = sync_reply(first, replies.remove(0), &mut states, &mut seq)?;
        let rest: Vec<_> =
            chunks.clone().map(|chunk| call(chunk, if restoring { "1" } else { "0" })).collect();
        if !rest.is_empty() {
            let replies = self.query_slotted(rest, &[&*scripts::SYNC], None).await?;
            for (chunk, reply) in chunks.zip(replies) {
                sync_reply(chunk, reply, &mut states, &mut seq)?;
            }
        }
        seqs.insert(queue.clone(), seq);
        Ok(states)
    }

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
        // The script's fast path: see `enqueue.lua`.
        let uniform = {
            let mut jobs = std::collections::HashSet::with_capacity(call.len());
            call.iter().zip(&destinations).all(|(&i, to)| {
                matches!(ops[i].action, TickAction::Push { .. })
                    && !to.right
                    && to.queues.is_none()
                    && to.list == destinations[0].list
                    && jobs.insert(ops[i].job.as_str())
            })
        };
        let marked = call.iter().filter(|&&i| marker(i).is_some()).count();
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(scripts::ENQUEUE.script.get_hash()).arg(if uniform { 5 } else { 4 + 2 * call.len() });
        cmd.arg(self.keys.ticks(queue))
            .arg(self.keys.stats(queue))
            .arg(self.keys.paused(queue))
            .arg(self.keys.inflight(queue));
        if uniform {
            cmd.arg(&destinations[0].list);
        } else {
            for to in &destinations {
                cmd.arg(&to.list).arg(to.queues.as_ref().unwrap_or(&to.list));
            }
        }
        cmd.arg(call.len())
            .arg(term)
            .arg(seen)
            .arg(if uniform { "uniform" } else { "each" })
            .arg(marked)
            .arg(queue.as_str())
            .arg(at_ms);
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
                    text.push('s');
                }
                if marker(i).is_some() {
                    text.push('k');
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
        (self.keys.ticks(queue), cmd)
    }

    /// Runs commands pipelined and returns their replies in the order given:
    /// one pipeline on a single server; on a cluster, where a pipeline must
    /// stay within one hash slot, one per slot, concurrently. Each command
    /// comes with a key that routes it. Scripts Redis does not know are
    /// loaded and their pipeline run again (see [`Store::query_pipeline`]).
    /// With `wait`, a `WAIT` on each node follows the writes sent to it.
    async fn query_slotted(
        &self,
        cmds: Vec<(String, redis::Cmd)>,
        uses: &[&'static Lua],
        wait: Option<Wait>,
    ) -> Result<Vec<Value>> {
        if !self.is_cluster() {
            return self.query_in_pipelines(cmds, uses, wait).await;
        }
        let mut groups: Vec<(redis::cluster_routing::Slot, Vec<usize>, Pipeline)> = Vec::new();
        for (i, (key, cmd)) in cmds.into_iter().enumerate() {
            let slot = redis::cluster_routing::Slot::for_key(&key);
            let group = match groups.iter().position(|(s, ..)| *s == slot) {
                Some(g) => g,
                None => {
                    groups.push((slot, Vec::new(), redis::pipe()));
                    groups.len() - 1
                }
            };
            groups[group].1.push(i);
            groups[group].2.add_command(cmd);
        }
        let mut tasks = tokio::task::JoinSet::new();
        let total: usize = groups.iter().map(|(_, indices, _)| indices.len()).sum();
        for (_, indices, mut pipe) in groups {
            let store = self.clone();
            let uses = uses.to_vec();
            wait.inspect(|w| w.add_to(&mut pipe));
            tasks.spawn(async move {
                let mut replies: Result<Vec<Value>> = store.query_pipeline(&pipe, &uses).await;
                if let (Some(w), Ok(replies)) = (wait, replies.as_mut()) {
                    w.check(replies, "a push");
                }
                (indices, replies)
            });
        }
        let mut out = vec![Value::Nil; total];
        while let Some(joined) = tasks.join_next().await {
            let (indices, replies) = joined.map_err(|e| Error::Reply(format!("pipeline task: {e}")))?;
            for (i, reply) in indices.into_iter().zip(replies?) {
                out[i] = reply;
            }
        }
        Ok(out)
    }

    pub(crate) async fn run_script<T: redis::FromRedisValue, A: redis::ToRedisArgs>(
        &self,
        lua: &Lua,
        keys: &[String],
        args: &[A],
    ) -> Result<T> {
        let mut invocation = lua.script.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        for arg in args {
            invocation.arg(arg);
        }
        Ok(invocation.invoke_async(&mut self.con.clone()).await?)
    }

    /// [`Store::query_slotted`] on a single server: the commands in order,
    /// as pipelines of about [`PIPELINE_BYTES`] each, one after another. The
    /// client keeps its write buffer at the size of the largest request it
    /// ever sent, so one pipeline of 100,000 ticks would keep tens of
    /// megabytes for the life of the connection; the round trips this adds
    /// (one per megabyte) are small next to Redis running the scripts.
    async fn query_in_pipelines(
        &self,
        cmds: Vec<(String, redis::Cmd)>,
        uses: &[&'static Lua],
        wait: Option<Wait>,
    ) -> Result<Vec<Value>> {
        let mut replies = Vec::with_capacity(cmds.len());
        let mut cmds = cmds.into_iter().peekable();
        loop {
            let (mut pipe, mut bytes) = (redis::pipe(), 0);
            while bytes < PIPELINE_BYTES
                && let Some((_, cmd)) = cmds.next()
            {
                bytes += cmd
                    .args_iter()
                    .map(|arg| match arg {
                        redis::Arg::Simple(a) => a.len(),
                        _ => 0,
                    })
                    .sum::<usize>();
                pipe.add_command(cmd);
            }
            let last = cmds.peek().is_none();
            if last {
                // WAIT covers every earlier write on this connection.
                wait.inspect(|w| w.add_to(&mut pipe));
            }
            let mut part: Vec<Value> = self.query_pipeline(&pipe, uses).await?;
            if let (true, Some(w)) = (last, wait) {
                w.check(&mut part, "a push");
            }
            replies.extend(part);
            if last {
                return Ok(replies);
            }
        }
    }

    /// Runs a pipeline of EVALSHA calls, loading the scripts and retrying
    /// once if Redis does not know them (after a restart or failover). The
    /// scripts are idempotent, so the retry cannot double anything.
    async fn query_pipeline<T: redis::FromRedisValue>(&self, pipe: &Pipeline, uses: &[&Lua]) -> Result<T> {
        let mut con = self.con.clone();
        match pipe.query_async(&mut con).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                self.load(uses).await?;
                Ok(pipe.query_async(&mut con).await?)
            }
            other => Ok(other?),
        }
    }
}
