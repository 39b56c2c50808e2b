//! The clock and the worker as real processes against a real local Redis
//! Cluster (six nodes, three primaries with a replica each), with queues
//! whose keys live on different primaries: each tick must run exactly once,
//! with no gap, whatever the cluster does.

mod common;

use std::time::Duration;

use campanile::time::TimeSource;
use common::cluster::RedisCluster;
use common::deployment::Deployment;

fn now() -> i64 {
    campanile::time::SystemTime.now().timestamp()
}

/// Every queue's key with the default prefix, for slot lookups.
fn pending(queue: &str) -> String {
    format!("campanile:{{{queue}}}:pending")
}

#[test]
fn clock_and_worker_run_every_tick_once_across_three_primaries() {
    let cluster = RedisCluster::start();
    let queues = cluster.queues_on_distinct_primaries("campanile:", 3);
    let primaries: std::collections::BTreeSet<u16> =
        queues.iter().map(|q| cluster.primary_for_key(&pending(q))).collect();
    assert_eq!(primaries.len(), 3, "the queues live on three different primaries");
    // The node list in clock.toml: the config form of a cluster.
    let nodes = format!("cluster = {}", cluster.url_list_toml());
    let deployment = Deployment::start(queues.clone(), &nodes, None);
    deployment.wait_runs_past(now() + 4, Duration::from_secs(30));

    // Each queue's payloads and history are on its own primary.
    let mut con = cluster.connection();
    for q in &queues {
        let history: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("campanile:{{{q}}}:history:tick-{q}"))
            .arg(0)
            .arg(-1)
            .query(&mut con)
            .unwrap();
        assert!(history.len() >= 3, "{q}: {} history entries", history.len());
    }
    let checked = deployment.stop_and_check();
    eprintln!("{checked} runs checked on a three-primary cluster");
}

/// A coordinated failover (`CLUSTER FAILOVER` on a replica, as managed
/// services do for maintenance) loses and doubles nothing: the replica has
/// every write before it takes over. A crashed primary loses nothing either
/// (the clock pushes lost ticks again), but a payload a worker took just
/// before the crash may run twice (README: "Failover: what can be lost").
#[test]
fn failovers_mid_run_lose_no_tick_and_double_none_but_at_a_crash() {
    let mut cluster = RedisCluster::start();
    let queues = cluster.queues_on_distinct_primaries("campanile:", 3);
    // The URL form of a cluster, from REDIS_URL as on a platform.
    let deployment = Deployment::start(queues.clone(), "", Some(cluster.cluster_url()));
    deployment.wait_runs_past(now() + 3, Duration::from_secs(30));

    let promoted = cluster.failover(&pending(&queues[0]));
    eprintln!("queue {} failed over to {promoted}", queues[0]);
    deployment.wait_runs_past(now() + 3, Duration::from_secs(30));

    let killed = now();
    let promoted = cluster.kill_primary(&pending(&queues[1]));
    eprintln!("primary of queue {} killed; {promoted} promoted", queues[1]);
    deployment.wait_runs_past(now() + 3, Duration::from_secs(30));

    let checked = deployment.stop_and_check_allowing(&[(killed - 2, killed + 1)]);
    eprintln!("{checked} runs checked across two failovers");
}

/// The monitor script checks the leases of a queue's workers, whose keys it
/// builds from the workers set: on a cluster they are in the queue's slot,
/// on whichever primary holds it, so the watch works for every queue.
#[test]
fn the_watch_sees_late_payloads_and_live_workers_on_every_primary() {
    use campanile::config::{Format, JobName, QueueName, RedisSettings};
    use campanile::store::{Sequences, Store, TickAction, TickOp};
    let cluster = RedisCluster::start();
    let queues = cluster.queues_on_distinct_primaries("campanile:", 3);
    let mut con = cluster.connection();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let settings = RedisSettings { cluster: cluster.urls(), ..RedisSettings::default() };
    let store = runtime.block_on(Store::connect(&settings)).unwrap();
    let past = now() * 1000 - 1;
    for q in &queues {
        let queue = QueueName::new(q).unwrap();
        let () =
            redis::cmd("SADD").arg(format!("campanile:{{{q}}}:workers")).arg("w1").query(&mut con).unwrap();
        let () =
            redis::cmd("SET").arg(format!("campanile:{{{q}}}:lease:w1")).arg("w1").query(&mut con).unwrap();
        let op = TickOp {
            queue: queue.clone(),
            job: JobName::new("j").unwrap(),
            tick: 1,
            fingerprint: "fp".into(),
            action: TickAction::Push { payload: "{}".into(), id: "j@1".into() },
            inflight_until: None,
            format: Format::Campanile,
            start_deadline: Some(past),
        };
        runtime.block_on(store.enqueue(1, &mut Sequences::new(), &[op], past)).unwrap();
        let look = runtime.block_on(store.watch_queue(&queue, Duration::from_secs(60))).unwrap();
        assert_eq!((look.live_workers, look.depth), (1, 1), "{q}");
        assert_eq!(look.late.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["j@1"], "{q}");
    }
}
