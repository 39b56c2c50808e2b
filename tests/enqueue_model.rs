//! `enqueue.lua` against a model of its documented semantics, on random
//! batches: jobs with and without a recorded tick, a live or lapsed
//! in-flight marker, paused or not; ticks pushed or recorded as missed or overlap, to
//! campanile's pending list, another list or Resque's (at the right, with
//! its set), with or without a marker, several ticks of one job in a call.
//! The script takes its variadic path only for some of these batches and
//! goes tick by tick for the rest; either way every status, state, marker,
//! counter and list must be what the model says, which ticks taken one at a
//! time in order give. Pushes of campanile's format with a start deadline
//! also join the waiting set, which the `late` monitor watches.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use campanile::config::format::Resque;
use campanile::config::{Format, JobName, QueueName};
use campanile::store::{Keys, Sequences, Store, TickAction, TickOp, TickStatus};
use common::RedisServer;
use proptest::prelude::*;

const NOW: i64 = 1_764_000_000_000;
const TICKS: &str = "campanile:{default}:ticks";
const STATS: &str = "campanile:{default}:stats";
const PAUSED: &str = "campanile:{default}:paused";
const INFLIGHT: &str = "campanile:{default}:inflight";

#[derive(Debug, Clone)]
struct JobState {
    last: Option<i64>,
    /// Marker expiry relative to now, if any.
    marker: Option<i64>,
    paused: bool,
}

#[derive(Debug, Clone)]
struct Tick {
    job: usize,
    tick: i64,
    /// `None`: a push; `Some((n, false))`: n ticks recorded as missed;
    /// `Some((n, true))`: n ticks recorded as skipped for overlap.
    missed: Option<(u64, bool)>,
    format: u8,
    marker: bool,
    /// Whether the push carries a start deadline.
    watched: bool,
}

fn job_state() -> impl Strategy<Value = JobState> {
    (
        prop_oneof![Just(None), (9..12i64).prop_map(|t| Some(t * 10))],
        prop_oneof![Just(None), Just(Some(1_000)), Just(Some(-1))],
        prop::bool::weighted(0.15),
    )
        .prop_map(|(last, marker, paused)| JobState { last, marker, paused })
}

fn tick() -> impl Strategy<Value = Tick> {
    (
        0..5usize,
        (19..24i64).prop_map(|t| t * 5),
        prop::option::weighted(0.15, (1..4u64, any::<bool>())),
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.7),
    )
        .prop_map(|(job, tick, missed, format, marker, watched)| Tick {
            job,
            tick,
            missed,
            format,
            marker,
            watched,
        })
}

/// A batch: ticks sorted by tick, so each job's come in increasing order.
fn batch() -> impl Strategy<Value = Vec<Tick>> {
    prop::collection::vec(tick(), 1..9).prop_map(|mut ticks| {
        ticks.sort_by_key(|t| t.tick);
        ticks
    })
}

fn format(n: u8) -> Format {
    match n {
        0 => Format::Campanile,
        1 => Format::Json { list: "other".into() },
        _ => Format::Resque(Resque { class: "C".into(), namespace: "resque".into() }),
    }
}

fn op(t: &Tick, call: usize) -> TickOp {
    let job = format!("j{}", t.job);
    let id = format!("{job}@{}#{call}", t.tick);
    TickOp {
        queue: QueueName::new("default").unwrap(),
        job: JobName::new(&job).unwrap(),
        tick: t.tick,
        fingerprint: "fp".into(),
        action: match t.missed {
            None => TickAction::Push { payload: id.clone(), id },
            Some((count, false)) => TickAction::Miss { count },
            Some((count, true)) => TickAction::Overlap { count },
        },
        inflight_until: t.marker.then_some(NOW + 60_000),
        format: format(t.format),
        start_deadline: t.watched.then_some(t.tick * 1000 + 60_000),
    }
}

/// What Redis holds, in the model and as read back.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct World {
    ticks: BTreeMap<String, String>,
    inflight: BTreeMap<String, String>,
    stats: BTreeMap<String, String>,
    lists: BTreeMap<String, Vec<String>>,
    sets: BTreeMap<String, BTreeSet<String>>,
    /// The waiting set: payload id -> start deadline.
    waiting: BTreeMap<String, i64>,
}

fn last_of(state: &str) -> i64 {
    state.split('|').next().unwrap().parse().unwrap()
}

fn live(marker: &str) -> bool {
    marker.rsplit_once('|').unwrap().1.parse::<i64>().unwrap() > NOW
}

/// The documented semantics, one tick at a time.
fn model(world: &mut World, paused: &BTreeSet<String>, ops: &[TickOp]) -> Vec<TickStatus> {
    let keys = Keys::default();
    let bump = |world: &mut World, field: String, by: u64| {
        let n: u64 = world.stats.get(&field).map_or(0, |v| v.parse().unwrap());
        world.stats.insert(field, (n + by).to_string());
    };
    ops.iter()
        .map(|op| {
            let job = op.job.as_str().to_owned();
            if world.ticks.get(&job).is_some_and(|s| last_of(s) >= op.tick) {
                return TickStatus::Duplicate;
            }
            world.ticks.insert(job.clone(), format!("{}|{}", op.tick, op.fingerprint));
            let (payload, id) = match &op.action {
                TickAction::Miss { count } => {
                    bump(world, format!("{job}:missed"), *count);
                    return TickStatus::Missed;
                }
                TickAction::Overlap { count } => {
                    bump(world, format!("{job}:overlap"), *count);
                    return TickStatus::Overlap;
                }
                TickAction::Push { payload, id } => (payload, id),
            };
            if paused.contains(&job) {
                bump(world, format!("{job}:paused"), 1);
                return TickStatus::Paused;
            }
            if op.inflight_until.is_some() && world.inflight.get(&job).is_some_and(|m| live(m)) {
                bump(world, format!("{job}:overlap"), 1);
                return TickStatus::Overlap;
            }
            let to = keys.destination(&op.queue, &op.format);
            let list = world.lists.entry(to.list.clone()).or_default();
            if to.right {
                list.push(payload.clone());
            } else {
                list.insert(0, payload.clone());
            }
            if let Some(set) = to.queues {
                world.sets.entry(set).or_default().insert(op.queue.to_string());
            }
            if let Some(until) = op.inflight_until {
                world.inflight.insert(job.clone(), format!("{id}|{until}"));
            }
            if let (Some(deadline), Format::Campanile) = (op.start_deadline, &op.format) {
                world.waiting.insert(id.clone(), deadline);
            }
            bump(world, format!("{job}:enqueued"), 1);
            TickStatus::Pushed
        })
        .collect()
}

fn read(con: &mut redis::Connection) -> World {
    let hash = |con: &mut redis::Connection, key: &str| -> BTreeMap<String, String> {
        redis::cmd("HGETALL").arg(key).query(con).unwrap()
    };
    let mut ticks = hash(con, TICKS);
    ticks.retain(|field, _| !field.starts_with("__"));
    let mut world =
        World { ticks, inflight: hash(con, INFLIGHT), stats: hash(con, STATS), ..World::default() };
    for list in ["campanile:{default}:pending", "other", "resque:queue:default"] {
        let items: Vec<String> = redis::cmd("LRANGE").arg(list).arg(0).arg(-1).query(con).unwrap();
        if !items.is_empty() {
            world.lists.insert(list.to_owned(), items);
        }
    }
    let members: BTreeSet<String> = redis::cmd("SMEMBERS").arg("resque:queues").query(con).unwrap();
    if !members.is_empty() {
        world.sets.insert("resque:queues".to_owned(), members);
    }
    let waiting: Vec<(String, i64)> = redis::cmd("ZRANGE")
        .arg("campanile:{default}:waiting")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(con)
        .unwrap();
    world.waiting = waiting.into_iter().collect();
    world
}

#[test]
fn the_script_does_what_ticks_taken_one_at_a_time_do() {
    let server = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let settings = campanile::config::RedisSettings { url: Some(server.url()), ..Default::default() };
    let store: Store = runtime.block_on(Store::connect(&settings)).unwrap();
    let config = ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(states in prop::collection::vec(job_state(), 5), batches in prop::collection::vec(batch(), 1..3))| {
        let mut con = server.connection();
        let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
        let mut world = World::default();
        let mut paused = BTreeSet::new();
        for (i, state) in states.iter().enumerate() {
            let job = format!("j{i}");
            if let Some(last) = state.last {
                let value = format!("{last}|fp");
                let _: () = redis::cmd("HSET").arg(TICKS).arg(&job).arg(&value).query(&mut con).unwrap();
                world.ticks.insert(job.clone(), value);
            }
            if let Some(offset) = state.marker {
                let value = format!("{job}@old|{}", NOW + offset);
                let _: () = redis::cmd("HSET").arg(INFLIGHT).arg(&job).arg(&value).query(&mut con).unwrap();
                world.inflight.insert(job.clone(), value);
            }
            if state.paused {
                let _: () = redis::cmd("HSET").arg(PAUSED).arg(&job).arg("since").query(&mut con).unwrap();
                paused.insert(job);
            }
        }
        let mut seqs = Sequences::new();
        for (call, ticks) in batches.iter().enumerate() {
            let ops: Vec<TickOp> = ticks.iter().map(|t| op(t, call)).collect();
            let expected = model(&mut world, &paused, &ops);
            let statuses = runtime.block_on(store.enqueue(1, &mut seqs, &ops, NOW)).unwrap();
            prop_assert_eq!(&statuses, &expected, "statuses of call {} of {:?}", call, ops);
            prop_assert_eq!(read(&mut con), world.clone(), "Redis after call {} of {:?}", call, ops);
        }
    });
}
