//! The Redis Cluster and Sentinel harnesses themselves: they must form real
//! topologies and fail over for real, or tests built on them prove nothing.

mod common;

use std::time::Instant;

use common::cluster::RedisCluster;
use common::sentinel::RedisSentinel;
use redis::Commands;

const PREFIX: &str = "campanile:";

fn pending(queue: &str) -> String {
    format!("{PREFIX}{{{queue}}}:pending")
}

#[test]
fn cluster_serves_queues_on_distinct_primaries() {
    let started = Instant::now();
    let cluster = RedisCluster::start();
    eprintln!("cluster started in {:?}", started.elapsed());
    assert!(cluster.urls().iter().all(|u| !u.ends_with(":6379")), "tests must never use the shared server");
    assert!(cluster.cluster_url().starts_with("redis+cluster://127.0.0.1:"));
    assert_eq!(cluster.url_list_toml().matches("redis://").count(), 6);

    let queues = cluster.queues_on_distinct_primaries(PREFIX, 3);
    let mut primaries: Vec<u16> = queues.iter().map(|q| cluster.primary_for_key(&pending(q))).collect();
    primaries.sort();
    primaries.dedup();
    assert_eq!(primaries.len(), 3, "queues {queues:?} share a primary");

    let mut con = cluster.connection();
    for q in &queues {
        let _: () = con.lpush(pending(q), format!("job for {q}")).unwrap();
    }
    for q in &queues {
        let jobs: Vec<String> = con.lrange(pending(q), 0, -1).unwrap();
        assert_eq!(jobs, [format!("job for {q}")]);
    }
}

#[test]
fn cluster_failover_moves_the_slot_and_keeps_the_data() {
    let cluster = RedisCluster::start();
    let key = pending("q0");
    let _: () = cluster.connection().set(&key, "before").unwrap();
    let (old, replica) = (cluster.primary_for_key(&key), cluster.replica_for_key(&key));

    let started = Instant::now();
    let new = cluster.failover(&key);
    eprintln!("cluster failover took {:?}", started.elapsed());
    assert_eq!(new, replica);
    assert_eq!(cluster.primary_for_key(&key), replica);
    assert_eq!(cluster.replica_for_key(&key), old, "the old primary follows the new one");
    let seen: Option<String> = cluster.connection().get(&key).unwrap();
    assert_eq!(seen.as_deref(), Some("before"));
}

#[test]
fn cluster_promotes_the_replica_of_a_killed_primary() {
    let mut cluster = RedisCluster::start();
    let key = pending("q0");
    let _: () = cluster.connection().set(&key, "before").unwrap();
    // WAIT: the write reached the replica, so the promotion cannot lose it.
    let mut primary = redis::Client::open(format!("redis://127.0.0.1:{}", cluster.primary_for_key(&key)))
        .unwrap()
        .get_connection()
        .unwrap();
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut primary).unwrap();
    assert_eq!(acked, 1);
    let (old, replica) = (cluster.primary_for_key(&key), cluster.replica_for_key(&key));

    let started = Instant::now();
    let new = cluster.kill_primary(&key);
    eprintln!("cluster promotion after a kill took {:?}", started.elapsed());
    assert_eq!(new, replica);
    assert_ne!(cluster.primary_for_key(&key), old);
    let seen: Option<String> = cluster.connection().get(&key).unwrap();
    assert_eq!(seen.as_deref(), Some("before"));
}

#[test]
fn sentinel_failover_promotes_the_replica_and_keeps_the_data() {
    let started = Instant::now();
    let sentinel = RedisSentinel::start();
    eprintln!("sentinel deployment started in {:?}", started.elapsed());
    assert_eq!(sentinel.master_name(), "mymaster");
    assert_eq!(sentinel.sentinel_urls().len(), 3);
    assert!(sentinel.sentinel_url().starts_with("redis+sentinel://127.0.0.1:"));
    assert!(sentinel.sentinel_url().ends_with("/mymaster"));

    let old = sentinel.primary_port();
    let mut con = sentinel.connection_to_primary();
    let _: () = con.set("k", "before").unwrap();
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut con).unwrap();
    assert_eq!(acked, 1, "the write reached the replica");

    let started = Instant::now();
    let new = sentinel.failover();
    eprintln!("sentinel failover took {:?}", started.elapsed());
    assert_ne!(new, old);
    assert_eq!(sentinel.primary_port(), new);
    let mut con = sentinel.connection_to_primary();
    let seen: Option<String> = con.get("k").unwrap();
    assert_eq!(seen.as_deref(), Some("before"));
    let _: () = con.set("k", "after").unwrap();
}
