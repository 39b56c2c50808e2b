//! Every Redis key campanile uses. The layout is a public contract (other
//! languages read and write the pending lists); docs/redis.md documents it and
//! `tests/contracts.rs` pins it.
//!
//! | key | type | writer | purpose |
//! |---|---|---|---|
//! | `P{Q}:pending` | list | clock LPUSH, worker takes from the right | payloads waiting for a worker (FIFO) |
//! | `P{Q}:ticks` | hash | clock | per job: `"<last tick, Unix seconds>|<schedule fingerprint>"`; the exactly-once and catch-up state; plus `__term`, the newest leadership term that wrote here (fencing), and `__seq`, a counter every clock write bumps (a leader that finds it lower than it saw knows a failover lost writes, and reloads) |
//! | `P{Q}:inflight` | hash | clock sets, worker clears | per job with `overlap = "skip"`: `"<payload id>|<expiry, Unix ms>"`, the job's queued or running payload; a marker past its expiry counts as absent |
//! | `P{Q}:stats` | hash | clock | counters per job: `<job>:enqueued`, `<job>:missed`, `<job>:overlap`, `<job>:paused`, `<job>:unwatched` |
//! | `P{Q}:paused` | hash | `clock pause` / `resume` | paused jobs: job -> paused since (RFC 3339) |
//! | `P{Q}:workers` | set | worker | ids of the workers serving the queue |
//! | `P{Q}:worker:<id>` | list | worker | payloads worker `<id>` has taken and not finished (its in-progress record) |
//! | `P{Q}:lease:<id>` | string, PX | worker | worker `<id>` is alive; when it lapses, its payloads go back to pending; the value is JSON `{"concurrency","started_at"}` |
//! | `P{Q}:retry` | sorted set | worker | failed payloads (attempt incremented), scored by when to retry (Unix ms) |
//! | `P{Q}:dead` | list | worker | dead letters, newest first, capped |
//! | `P{Q}:history:<job>` | list | worker | the job's runs, newest first, capped |
//! | `P{Q}:dead_count` | hash | every script that adds or removes a dead letter | dead letters per job (field: the job) and in all (`__all`), equal to the dead-letter list's content; at most one field per job plus one |
//! | `P{Q}:tick_log:<job>` | list | clock (`enqueue.lua`), `clock trigger` and the dashboard's Trigger now | the clock's decision on each of the job's ticks, newest first: the newest 100, at most 110 between trims; JSON `{tick, outcome, at}` (docs/redis.md) |
//! | `P{Q}:waiting` | sorted set | clock adds, worker removes when a run starts or its payload ends unrun (dead-lettered) | ids of pushed payloads (`<job>@<tick>`) not yet started, scored by their start deadline (Unix ms: tick + `start_within`); at most 10,000 (past that a push is not watched and counts `<job>:unwatched` in the stats hash) |
//! | `P{Q}:late` | sorted set | leading clock moves from `waiting`, worker removes when a run starts or its payload ends unrun | ids of payloads that missed their start deadline (score: that deadline, Unix ms), each reported `late` once; the newest 1,000 kept |
//! | `P{Q}:monitor` | hash | leading clock | the queue's worker watch: `unserved_since` (Unix ms, Redis time: when it was first seen without a live worker), `unserved_sent` (`1` once `unserved` is sent, until `served`), `checked_at` (Unix ms of the last look) |
//! | `P{Q}:busy:<id>` | hash | worker | the runs worker `<id>` has going: payload id -> `"<since, Unix ms on Redis's clock>|<job>"`; set when a run starts, removed when it ends or goes back, deleted when the lease lapses; only payloads in the worker's in-progress list |
//! | `P{Q}:minutes` | hash | worker | per-minute counters of the last hour: field `minute % 60` -> `"<minute>|<processed>|<failed>"` (minutes since the Unix epoch on Redis's clock); at most 60 fields, a field of another minute reads as zero and is overwritten |
//! | `Pleader` | string, PX | clock | the leading clock's id; the leader lease |
//! | `Pmonitor` | hash, PX | worker, `clock web` | the current stretch without a leader, as the watchers of the lease saw it: `no_leader_since` (Unix ms, Redis time), `no_leader_sent` (`1` once `no_leader` was sent); deleted when a leader is seen again, expires `no_leader_after` plus 60 s after the last watcher saw none |
//! | `Pterm` | string (counter) | clock | leadership terms: incremented on every acquisition of the lease; the newest term that wrote to a queue is field `__term` of its ticks hash |
//! | `Pconfig` | string | clock | the leading clock's job table, normalised (JSON), for `clock plan` |
//! | `Pclocks` | hash | clock | every clock's id -> JSON `{host, pid, started_at, seen_at, leading_since, config, offset_ms, redis_seen_ms}`; `redis_seen_ms` is stamped by Redis; entries silent for 10 s on Redis's clock are ignored, for 60 s pruned |
//! | `Pweb_secret` | string | `clock web` (`SET NX`) | the random secret the dashboards' CSRF tokens are signed with when `CAMPANILE_WEB_SECRET` is not set; the first dashboard sets it, every other one reads it |
//! | `P{Pleader}:changes` | list | clock (the lease scripts) | the newest 50 acquisitions of the leader lease, newest first: JSON `{clock, via, from?, at_ms}` (`via`: `acquired` or `handover`; `at_ms`: Redis time), written by the script that takes or hands over the lease; the hash tag puts it in the lease's Cluster slot |
//! | `Pdeliveries` | list | clock, worker, `clock web` | the newest 200 alert deliveries, newest first: JSON `{at, channel, event, job, target, outcome, attempts, error?, duration_ms}`; `target` is a host or an address's domain, never a URL |
//!
//! `P` is the prefix (`campanile:` by default, `[redis] prefix`), `Q` the
//! queue. Every key of one queue carries the hash tag `{Q}`, so each
//! multi-key script touches a single Redis Cluster slot while different
//! queues spread across nodes; keys not tied to a queue are only ever used
//! in single-key commands.
//!
//! Jobs of another enqueue format push to that tool's keys instead of
//! `P{Q}:pending`; these follow the tool's layout, so they carry neither
//! the prefix nor a hash tag (`N` is the job's `namespace`, `Q` its queue):
//!
//! | key | type | writer | purpose |
//! |---|---|---|---|
//! | `queue:Q`, or `N:queue:Q` | list | clock `LPUSH`, Sidekiq takes from the right | Sidekiq job hashes (`format = "sidekiq"`) |
//! | `queues`, or `N:queues` | set | clock `SADD` | the queues Sidekiq's web UI and API list |
//! | `N:queue:Q` (`N` defaults to `resque`) | list | clock `RPUSH`, Resque takes from the left | Resque jobs (`format = "resque"`) |
//! | `N:queues` | set | clock `SADD` | the queues Resque's workers with `QUEUE=*` watch |
//! | the job's `list` | list | clock `LPUSH` | the job's `args` (`format = "json"`) |
//! | `Q` (default `celery`) | list | clock `LPUSH`, Celery's kombu takes from the right | Celery task messages (`format = "celery"`) |
//! | `rq:job:<id>` | hash | clock `HSET`, RQ | an RQ job (`format = "rq"`): `data` (the pickled call), `origin`, `status`, `created_at`, `enqueued_at`, `timeout`, … |
//! | `rq:queue:Q` (default `default`) | list | clock `RPUSH`, RQ takes from the left | ids of RQ jobs |
//! | `rq:queues` | set | clock `SADD` | the keys of RQ's queues (`rq:queue:Q`), which `rq info` and the workers list |
//! | `B:Q:<id>` (`B` the job's `prefix`, default `bull`) | hash | clock `HSET`, BullMQ | a BullMQ job (`format = "bullmq"`): `name`, `data`, `opts`, `timestamp`, `delay`, `priority` |
//! | `B:Q:wait`, or `B:Q:paused` while the queue is paused | list | clock `LPUSH`, BullMQ takes from the right | ids of BullMQ jobs |
//! | `B:Q:id` | string (counter) | clock `INCR` | BullMQ's job counter, bumped by every add as BullMQ's own |
//! | `B:Q:meta` | hash | BullMQ; clock sets `opts.maxLenEvents` (10000) when absent, reads `paused`, `concurrency` | the queue's settings |
//! | `B:Q:marker` | sorted set | clock `ZADD 0 "0"` | wakes BullMQ's blocked workers |
//! | `B:Q:events` | stream | clock `XADD` (`added`, `waiting`; `MAXLEN ~` `opts.maxLenEvents`) | BullMQ's `QueueEvents` |

use crate::config::format::{Format, Resque, Sidekiq};
use crate::config::{DEFAULT_PREFIX, QueueName};

/// Where a tick's payload goes: see [`Keys::destination`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub list: String,
    /// `true` to push on the right (`RPUSH`, Resque's end); else the left.
    pub right: bool,
    /// A set the queue's name joins, announcing the queue to the tool's
    /// workers and dashboards.
    pub queues: Option<String>,
    /// The list's own key joins `queues` rather than the queue's name
    /// (RQ's `rq:queues` holds queue keys).
    pub queues_hold_keys: bool,
    /// For a tool that keeps each job in a hash and queues only its id
    /// (RQ, BullMQ): the hash's key before the id, `rq:job:`.
    pub job_hash: Option<String>,
    /// A BullMQ queue's key base, `<prefix>:<queue>:`: the push is BullMQ's
    /// `addStandardJob`, over the keys [`bullmq_keys`] names.
    pub bullmq: Option<String>,
}

impl Destination {
    /// A list, with neither a set to join nor job hashes.
    fn list(list: String, right: bool) -> Destination {
        Destination { list, right, queues: None, queues_hold_keys: false, job_hash: None, bullmq: None }
    }

    /// A list and the set its queue's name joins.
    fn announced(list: String, right: bool, queues: String) -> Destination {
        Destination { queues: Some(queues), ..Destination::list(list, right) }
    }
}

/// Builds key names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys { prefix: prefix.to_owned() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn pending(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:pending", self.prefix)
    }

    pub fn ticks(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:ticks", self.prefix)
    }

    pub fn inflight(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:inflight", self.prefix)
    }

    pub fn stats(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:stats", self.prefix)
    }

    pub fn paused(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:paused", self.prefix)
    }

    pub fn term(&self) -> String {
        format!("{}term", self.prefix)
    }

    pub fn config(&self) -> String {
        format!("{}config", self.prefix)
    }

    pub fn clocks(&self) -> String {
        format!("{}clocks", self.prefix)
    }

    pub fn web_secret(&self) -> String {
        format!("{}web_secret", self.prefix)
    }

    pub fn workers(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:workers", self.prefix)
    }

    pub fn worker(&self, queue: &QueueName, worker: &str) -> String {
        format!("{}{{{queue}}}:worker:{worker}", self.prefix)
    }

    pub fn worker_lease(&self, queue: &QueueName, worker: &str) -> String {
        format!("{}{{{queue}}}:lease:{worker}", self.prefix)
    }

    /// The runs a worker has going, and since when.
    pub fn busy(&self, queue: &QueueName, worker: &str) -> String {
        format!("{}{{{queue}}}:busy:{worker}", self.prefix)
    }

    /// The queue's processed and failed counts per minute of the last hour.
    pub fn minutes(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:minutes", self.prefix)
    }

    pub fn retry(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:retry", self.prefix)
    }

    pub fn dead(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:dead", self.prefix)
    }

    pub fn history(&self, queue: &QueueName, job: &str) -> String {
        format!("{}{{{queue}}}:history:{job}", self.prefix)
    }

    /// Dead letters per job, kept with the dead-letter list.
    pub fn dead_count(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:dead_count", self.prefix)
    }

    /// The clock's decisions on the job's ticks.
    pub fn tick_log(&self, queue: &QueueName, job: &str) -> String {
        format!("{}{{{queue}}}:tick_log:{job}", self.prefix)
    }

    pub fn waiting(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:waiting", self.prefix)
    }

    pub fn late(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:late", self.prefix)
    }

    pub fn monitor(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:monitor", self.prefix)
    }

    /// What every lease key of `queue` starts with: `P{Q}:lease:`, for the
    /// monitor script, which checks the leases of the queue's workers.
    pub fn worker_lease_prefix(&self, queue: &QueueName) -> String {
        format!("{}{{{queue}}}:lease:", self.prefix)
    }

    pub fn leader(&self) -> String {
        format!("{}leader", self.prefix)
    }

    /// `P{Pleader}:changes`, the log of lease acquisitions: tagged with the
    /// lease's own name, so the lease scripts write both in one slot.
    pub fn leader_changes(&self) -> String {
        format!("{}{{{}}}:changes", self.prefix, self.leader())
    }

    /// `Pdeliveries`, the log of alert deliveries.
    pub fn deliveries(&self) -> String {
        format!("{}deliveries", self.prefix)
    }

    /// `Pmonitor`, the leader watch's state (not a queue's `P{Q}:monitor`).
    pub fn leader_monitor(&self) -> String {
        format!("{}monitor", self.prefix)
    }

    /// Where the payloads of a job of `format` on `queue` go: campanile's
    /// pending list, or the other tool's keys, unprefixed. Those share no
    /// hash tag with `P{Q}:ticks`, so on Redis Cluster they live in another
    /// slot than the tick state that the enqueue script updates with them.
    pub fn destination(&self, queue: &QueueName, format: &Format) -> Destination {
        match format {
            Format::Campanile => Destination::list(self.pending(queue), false),
            Format::Sidekiq(sidekiq) => {
                Destination::announced(sidekiq_queue(sidekiq, queue), false, sidekiq_queues(sidekiq))
            }
            Format::Resque(resque) => {
                Destination::announced(resque_queue(resque, queue), true, resque_queues(resque))
            }
            Format::Json { list } => Destination::list(list.clone(), false),
            Format::Celery(_) => Destination::list(celery_queue(queue), false),
            Format::Rq(_) => Destination {
                queues_hold_keys: true,
                job_hash: Some(RQ_JOB.to_owned()),
                ..Destination::announced(rq_queue(queue), true, RQ_QUEUES.to_owned())
            },
            Format::Bullmq(bullmq) => {
                let base = format!("{}:{queue}:", bullmq.prefix);
                Destination {
                    job_hash: Some(base.clone()),
                    bullmq: Some(base.clone()),
                    ..Destination::list(format!("{base}wait"), false)
                }
            }
        }
    }
}

/// The expiry (Unix ms) of an in-flight marker, `"<payload id>|<expiry>"`.
pub fn marker_expiry(marker: &str) -> Option<i64> {
    marker.rsplit_once('|')?.1.parse().ok()
}

/// Sidekiq's list of a queue (`Sidekiq::Client#atomic_push` LPUSHes, its
/// fetcher BRPOPs).
pub fn sidekiq_queue(sidekiq: &Sidekiq, queue: &QueueName) -> String {
    namespaced(sidekiq.namespace.as_deref(), &format!("queue:{queue}"))
}

/// Sidekiq's set of queue names.
pub fn sidekiq_queues(sidekiq: &Sidekiq) -> String {
    namespaced(sidekiq.namespace.as_deref(), "queues")
}

/// Resque's list of a queue (`Resque.push` RPUSHes, workers LPOP).
pub fn resque_queue(resque: &Resque, queue: &QueueName) -> String {
    namespaced(Some(&resque.namespace), &format!("queue:{queue}"))
}

/// Resque's set of queue names.
pub fn resque_queues(resque: &Resque) -> String {
    namespaced(Some(&resque.namespace), "queues")
}

/// kombu's list of a Celery queue: the queue's name itself (kombu's Redis
/// transport `LPUSH`es a message, the worker `BRPOP`s). Priorities above 0
/// would go to `<queue>\x06\x16<priority>`; campanile pushes at 0.
pub fn celery_queue(queue: &QueueName) -> String {
    queue.as_str().to_owned()
}

/// RQ's list of a queue's job ids (`Queue.push_job_id` RPUSHes, workers
/// take from the left).
pub fn rq_queue(queue: &QueueName) -> String {
    format!("rq:queue:{queue}")
}

/// RQ's set of queue keys.
pub const RQ_QUEUES: &str = "rq:queues";

/// What an RQ job's hash key starts with: `rq:job:<id>`.
pub const RQ_JOB: &str = "rq:job:";

/// The keys of a BullMQ queue with key base `<prefix>:<queue>:` that an add
/// touches besides `wait` and the job's hash, in the order `enqueue.lua`
/// takes them: `paused`, `meta`, `id`, `active`, `events`, `marker`.
pub fn bullmq_keys(base: &str) -> [String; 6] {
    ["paused", "meta", "id", "active", "events", "marker"].map(|k| format!("{base}{k}"))
}

/// A key as the redis-namespace gem writes it.
fn namespaced(namespace: Option<&str>, key: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}:{key}"),
        None => key.to_owned(),
    }
}

impl Default for Keys {
    fn default() -> Keys {
        Keys::new(DEFAULT_PREFIX)
    }
}
