//! A real local Redis Cluster: three primaries and a replica of each, every
//! node a private `redis-server` on free ports, with its own temp dir.
//! Stopped when the handle drops. Tests use it to see the product work
//! across slots, primaries and failovers exactly as a hosted cluster does.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::process::{Command, Stdio};
use std::time::Duration;

use redis::Value;
use redis::cluster::{ClusterClient, ClusterConnection};

use super::{RedisServer, free_ports, poll_until, tail};

pub const CLI_INSTALL_HINT: &str = "redis-cli was not found on PATH; the cluster tests need it to create \
     the cluster. Install it (Debian/Ubuntu: `sudo apt-get install redis-tools`; macOS: `brew install redis`) \
     and re-run.";

const NODES: usize = 6;
const SLOTS: u16 = 16384;
/// Long enough for a slow machine; a healthy cluster settles in seconds.
const SETTLE: Duration = Duration::from_secs(30);

/// One node's view of the slot map: `(first slot, last slot, primary port,
/// live replica ports)` per range, sorted, so views compare with `==`.
type SlotMap = Vec<(u16, u16, u16, Vec<u16>)>;

pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    /// Ports of nodes [`RedisCluster::kill_primary`] killed: their handles
    /// stay in `nodes` (so drop and the logs still work) but are not polled.
    killed: Vec<u16>,
}

impl RedisCluster {
    /// Starts six nodes, joins them with `redis-cli --cluster create` and
    /// waits until every node serves all slots and agrees on who serves
    /// which. Panics with an install hint when `redis-server` or
    /// `redis-cli` is missing.
    pub fn start() -> RedisCluster {
        let mut last_error = String::new();
        // A free port can be taken between choosing it and a node binding
        // it; start again on new ports.
        for _ in 0..3 {
            match Self::try_start() {
                Ok(cluster) => return cluster,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start a Redis Cluster: {last_error}");
    }

    fn try_start() -> Result<RedisCluster, String> {
        // Client ports and bus ports, all distinct: the default bus port
        // (port + 10000) may be taken or beyond 65535.
        let ports = free_ports(2 * NODES);
        let mut nodes = Vec::new();
        for (&port, &bus) in ports[..NODES].iter().zip(&ports[NODES..]) {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let args = [
                "--port",
                &port.to_string(),
                "--cluster-port",
                &bus.to_string(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
                // A replica shows in CLUSTER SLOTS only once it has a
                // replication offset: sync at once (not after the default
                // 5 s) and ping it every second (not 10 s), or an idle new
                // cluster looks replica-less for 10 s.
                "--repl-diskless-sync-delay",
                "0",
                "--repl-ping-replica-period",
                "1",
            ];
            nodes.push(RedisServer::launch("redis-server", port, dir, args.map(OsString::from).to_vec())?);
        }
        let cluster = RedisCluster { nodes, killed: Vec::new() };
        cluster.create()?;
        cluster.wait_settled("the new cluster to settle", |views| {
            views[0].iter().flat_map(|(_, _, primary, replicas)| replicas.iter().chain([primary])).count()
                == NODES
        });
        Ok(cluster)
    }

    /// `redis-cli --cluster create`: assigns the slots to three primaries
    /// and a replica to each, then waits for the nodes to meet.
    fn create(&self) -> Result<(), String> {
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output();
        let output = match output {
            Ok(output) => output,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!("{CLI_INSTALL_HINT}"),
            Err(e) => return Err(format!("spawning redis-cli: {e}")),
        };
        if !output.status.success() {
            return Err(format!(
                "redis-cli --cluster create exited with {}: {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(())
    }

    /// `redis://127.0.0.1:PORT` of every node, killed ones included.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// [`RedisCluster::urls`] as a TOML array, for a config file.
    pub fn url_list_toml(&self) -> String {
        let quoted: Vec<String> = self.urls().iter().map(|u| format!("\"{u}\"")).collect();
        format!("[{}]", quoted.join(", "))
    }

    /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...`, the product's URL
    /// form for a cluster.
    pub fn cluster_url(&self) -> String {
        let hosts: Vec<String> = self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())).collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    pub fn client(&self) -> ClusterClient {
        ClusterClient::builder(self.urls())
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(Duration::from_secs(2))
            .build()
            .expect("valid cluster urls")
    }

    /// A synchronous cluster connection, for assertions.
    pub fn connection(&self) -> ClusterConnection {
        self.client().get_connection().expect("connect to the test cluster")
    }

    /// The slot of `key`, as the cluster computes it.
    pub fn slot_for_key(&self, key: &str) -> u16 {
        let mut con = self.live().next().expect("a live node").connection();
        redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query(&mut con).expect("CLUSTER KEYSLOT")
    }

    /// Port of the primary serving `key`'s slot now.
    pub fn primary_for_key(&self, key: &str) -> u16 {
        self.serving(key).0
    }

    /// Port of the (first live) replica of the primary serving `key`.
    pub fn replica_for_key(&self, key: &str) -> u16 {
        let (primary, replicas) = self.serving(key);
        *replicas.first().unwrap_or_else(|| panic!("the primary on port {primary} has no live replica"))
    }

    /// The primary and live replicas serving `key`'s slot, in the view of
    /// the first live node.
    fn serving(&self, key: &str) -> (u16, Vec<u16>) {
        let slot = self.slot_for_key(key);
        let view = slot_map(self.live().next().expect("a live node")).expect("CLUSTER SLOTS");
        view.into_iter()
            .find(|(first, last, _, _)| (*first..=*last).contains(&slot))
            .map(|(_, _, primary, replicas)| (primary, replicas))
            .unwrap_or_else(|| panic!("slot {slot} is not served"))
    }

    /// A coordinated `CLUSTER FAILOVER` (no writes lost) on the replica of
    /// `key`'s primary; waits until that replica is primary, the old
    /// primary its replica, and every node agrees. Returns the new
    /// primary's port.
    pub fn failover(&self, key: &str) -> u16 {
        let (old, replicas) = self.serving(key);
        let new =
            *replicas.first().unwrap_or_else(|| panic!("the primary on port {old} has no live replica"));
        let mut con = self.node(new).connection();
        let _: () = redis::cmd("CLUSTER").arg("FAILOVER").query(&mut con).expect("CLUSTER FAILOVER");
        let slot = self.slot_for_key(key);
        self.wait_settled(&format!("port {new} to take over slot {slot} from port {old}"), |views| {
            role(self.node(new)).as_deref() == Some("master")
                && views[0].iter().any(|(first, last, primary, replicas)| {
                    (*first..=*last).contains(&slot) && *primary == new && replicas.contains(&old)
                })
        });
        new
    }

    /// SIGKILLs the primary serving `key` and waits until the cluster
    /// promoted its replica and serves every slot again. Returns the new
    /// primary's port.
    pub fn kill_primary(&mut self, key: &str) -> u16 {
        let (old, replicas) = self.serving(key);
        let new =
            *replicas.first().unwrap_or_else(|| panic!("the primary on port {old} has no live replica"));
        self.nodes.iter_mut().find(|n| n.port() == old).expect("node").kill();
        self.killed.push(old);
        let slot = self.slot_for_key(key);
        self.wait_settled(&format!("port {new} to be promoted after port {old} died"), |views| {
            views[0]
                .iter()
                .any(|(first, last, primary, _)| (*first..=*last).contains(&slot) && *primary == new)
        });
        new
    }

    /// `n` queue names (`q0`, `q1`, ...) whose keys `<prefix>{<queue>}:...`
    /// hash to slots served by `n` different primaries, so a test spreads
    /// its queues across nodes.
    pub fn queues_on_distinct_primaries(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut queues = Vec::new();
        let mut primaries = Vec::new();
        for i in 0..1000 {
            if queues.len() == n {
                return queues;
            }
            let queue = format!("q{i}");
            let primary = self.primary_for_key(&format!("{prefix}{{{queue}}}:pending"));
            if !primaries.contains(&primary) {
                primaries.push(primary);
                queues.push(queue);
            }
        }
        panic!("no {n} queues with prefix {prefix:?} on distinct primaries (found {queues:?})");
    }

    fn node(&self, port: u16) -> &RedisServer {
        self.nodes.iter().find(|n| n.port() == port).unwrap_or_else(|| panic!("no node on port {port}"))
    }

    fn live(&self) -> impl Iterator<Item = &RedisServer> {
        self.nodes.iter().filter(|n| !self.killed.contains(&n.port()))
    }

    /// Polls until every live node reports `cluster_state:ok` with all
    /// slots served, all views of the slot map are equal, and `also` holds
    /// for them; panics with the node logs after [`SETTLE`].
    fn wait_settled(&self, what: &str, also: impl Fn(&[SlotMap]) -> bool) {
        let settled = || {
            let views: Option<Vec<SlotMap>> = self
                .live()
                .map(|node| (cluster_ok(node) == Some(true)).then(|| slot_map(node).ok()).flatten())
                .collect();
            let Some(views) = views else { return false };
            let covered: u32 = views[0].iter().map(|(first, last, _, _)| u32::from(last - first) + 1).sum();
            covered == u32::from(SLOTS) && views.iter().all(|v| *v == views[0]) && also(&views)
        };
        if !poll_until(SETTLE, settled) {
            let logs: Vec<String> = self
                .nodes
                .iter()
                .map(|n| format!("--- node {} ---\n{}", n.port(), tail(&n.log(), 40)))
                .collect();
            panic!("timed out after {SETTLE:?} waiting for {what}\n{}", logs.join("\n"));
        }
    }
}

/// Whether `CLUSTER INFO` says the node serves every slot; `None` when it
/// does not answer.
fn cluster_ok(node: &RedisServer) -> Option<bool> {
    let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut node.try_connection().ok()?).ok()?;
    let ok = info.lines().any(|l| l.trim() == "cluster_state:ok")
        && info.lines().any(|l| l.trim() == format!("cluster_slots_ok:{SLOTS}"));
    Some(ok)
}

/// The node's `CLUSTER SLOTS`, which lists only replicas not marked failed.
fn slot_map(node: &RedisServer) -> redis::RedisResult<SlotMap> {
    let ranges: Vec<Vec<Value>> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut node.try_connection()?)?;
    let mut map = Vec::new();
    for range in ranges {
        let int = |v: &Value| redis::from_redis_value_ref::<u16>(v);
        // Each node is [ip, port, id, metadata].
        let port = |v: &Value| int(&redis::from_redis_value_ref::<Vec<Value>>(v)?[1]);
        let mut replicas = range[3..].iter().map(port).collect::<Result<Vec<u16>, _>>()?;
        replicas.sort();
        map.push((int(&range[0])?, int(&range[1])?, port(&range[2])?, replicas));
    }
    map.sort();
    Ok(map)
}

/// The node's role from `ROLE` ("master" or "slave").
fn role(node: &RedisServer) -> Option<String> {
    let reply: Vec<Value> = redis::cmd("ROLE").query(&mut node.try_connection().ok()?).ok()?;
    redis::from_redis_value_ref(reply.first()?).ok()
}
