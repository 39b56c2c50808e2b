//! The Lua scripts, each headed (in its `.lua` file) by its KEYS/ARGV/return
//! contract.

use std::sync::LazyLock;

use redis::Script;

/// A script with its source, which is needed to load it into a Redis that
/// does not know it (after a restart) before a pipelined `EVALSHA`.
pub struct Lua {
    pub source: &'static str,
    pub script: Script,
}

/// A script that uses the helpers of `scripts/minutes.lua` (the per-minute
/// counters, a payload's id): those go ahead of its own text, as Redis
/// loads a script as one chunk.
macro_rules! with_minutes {
    ($file:literal) => {
        concat!(include_str!("scripts/minutes.lua"), include_str!($file))
    };
}

impl Lua {
    fn new(source: &'static str) -> Lua {
        Lua { source, script: Script::new(source) }
    }
}

/// A script that adds or removes dead letters: `dead_count.lua`, which
/// keeps the per-job counts with the list, then the script itself.
/// `counting_dead!(with_minutes "…")` puts `minutes.lua` first as well.
macro_rules! counting_dead {
    ($file:literal) => {
        LazyLock::new(|| Lua::new(concat!(include_str!("scripts/dead_count.lua"), include_str!($file))))
    };
    (with_minutes $file:literal) => {
        LazyLock::new(|| {
            Lua::new(concat!(
                include_str!("scripts/minutes.lua"),
                include_str!("scripts/dead_count.lua"),
                include_str!($file)
            ))
        })
    };
}

/// Records and pushes a queue's due ticks atomically. It adds BullMQ jobs
/// with bullmq_add.lua's function, so it starts with that file.
pub static ENQUEUE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(include_str!("scripts/bullmq_add.lua"), include_str!("scripts/enqueue.lua")))
});
/// Adds one BullMQ job outside the schedule.
pub static PUSH_BULLMQ: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(concat!(include_str!("scripts/bullmq_add.lua"), include_str!("scripts/push_bullmq.lua")))
});
/// Loads (and initialises) a queue's tick state.
pub static SYNC: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("scripts/sync.lua")));
/// Takes or extends the leader lease.
pub static ACQUIRE_LEASE: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("scripts/acquire_lease.lua")));
/// Extends the leader lease if held.
pub static RENEW_LEASE: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("scripts/renew_lease.lua")));
/// Gives the leader lease up if held.
pub static RELEASE_LEASE: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("scripts/release_lease.lua")));
/// Records the end of a run.
pub static FINISH: LazyLock<Lua> = counting_dead!(with_minutes "scripts/finish.lua");
/// Schedules a failed run's next attempt.
pub static RETRY: LazyLock<Lua> = LazyLock::new(|| Lua::new(with_minutes!("scripts/retry.lua")));
/// Moves due retries onto the pending list.
pub static PROMOTE: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("scripts/promote.lua")));
/// Undoes one take.
pub static GIVE_BACK: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("scripts/give_back.lua")));
/// Dead-letters a taken payload too large to send back.
pub static DROP_TAKEN: LazyLock<Lua> = counting_dead!(with_minutes "scripts/drop_taken.lua");
/// Puts a worker's in-progress payloads back.
pub static REQUEUE: LazyLock<Lua> = counting_dead!(with_minutes "scripts/requeue.lua");
/// Marks a run started: its payload stops waiting, its marker is extended.
pub static START_RUN: LazyLock<Lua> = LazyLock::new(|| Lua::new(with_minutes!("scripts/start_run.lua")));
/// Pushes a manual run's payload and watches it for `late`.
pub static PUSH_WATCHED: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("scripts/push_watched.lua")));
/// Watches a queue: late payloads, live workers, the unserved episode.
pub static MONITOR: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("scripts/monitor.lua")));
/// Moves dead letters back onto the pending list.
pub static RETRY_DEAD: LazyLock<Lua> = counting_dead!("scripts/retry_dead.lua");
/// Records a clock in the registry with Redis's time.
pub static ANNOUNCE_CLOCK: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("scripts/announce_clock.lua")));
/// Records what a watcher saw of the leader lease; one report per episode.
pub static WATCH_LEADER: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("scripts/watch_leader.lua")));
/// Passes the leader lease to another clock.
pub static HANDOVER_LEASE: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("scripts/handover_lease.lua")));
/// Deletes dead letters.
pub static DELETE_DEAD: LazyLock<Lua> = counting_dead!("scripts/delete_dead.lua");
