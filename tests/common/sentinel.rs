//! A real local Redis Sentinel deployment: a primary, its replica and three
//! sentinels watching them, every process a private `redis-server` on a
//! free port with its own temp dir. Stopped when the handle drops. Tests use
//! it to see the product find the primary through sentinels and follow a
//! failover.

use std::ffi::OsString;
use std::time::Duration;

use super::{RedisServer, free_ports, poll_until, tail};

const MASTER: &str = "mymaster";
/// Long enough for a slow machine, or for a server without `SENTINEL
/// DEBUG` (see [`sentinel_server`]); a healthy deployment settles in seconds.
const SETTLE: Duration = Duration::from_secs(30);

pub struct RedisSentinel {
    /// The initial primary and replica; their roles swap on failover.
    data: Vec<RedisServer>,
    sentinels: Vec<RedisServer>,
}

impl RedisSentinel {
    /// Starts a primary, a replica and three sentinels (quorum 2) and waits
    /// until replication is up and every sentinel knows the primary, the
    /// replica and the two other sentinels. Panics with an install hint when
    /// `redis-server` is missing.
    pub fn start() -> RedisSentinel {
        Self::start_with_primary_args(&[])
    }

    /// [`RedisSentinel::start`] with extra `redis-server` arguments for the
    /// initial primary only.
    pub fn start_with_primary_args(extra: &[&str]) -> RedisSentinel {
        let mut last_error = String::new();
        // A free port can be taken between choosing it and a process
        // binding it; start again on new ports.
        for _ in 0..3 {
            match Self::try_start(extra) {
                Ok(deployment) => return deployment,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start a Redis Sentinel deployment: {last_error}");
    }

    fn try_start(primary_extra: &[&str]) -> Result<RedisSentinel, String> {
        let ports = free_ports(5);
        let (primary_port, replica_port) = (ports[0], ports[1]);
        let primary = data_server(primary_port, primary_extra)?;
        let replica = data_server(replica_port, &["--replicaof", "127.0.0.1", &primary_port.to_string()])?;
        let mut deployment = RedisSentinel { data: vec![primary, replica], sentinels: Vec::new() };
        // Sentinels learn replicas from the primary's INFO, which they read
        // on connecting and then only periodically: start them once the
        // replica is attached.
        deployment.wait("the replica to sync", || link_up(&deployment.data[1]));
        for &port in &ports[2..] {
            deployment.sentinels.push(sentinel_server(port, primary_port)?);
        }
        deployment.wait("the sentinels to discover the deployment", || {
            deployment.sentinels.iter().all(|s| {
                master_addr(s) == Some(primary_port)
                    && sentinel_list(s, "SENTINELS").map(|l| l.len()) == Some(2)
                    && sentinel_list(s, "REPLICAS").is_some_and(|l| l.contains(&replica_port))
            })
        });
        Ok(deployment)
    }

    pub fn master_name(&self) -> &'static str {
        MASTER
    }

    /// `redis://127.0.0.1:PORT` of every sentinel.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels.iter().map(RedisServer::url).collect()
    }

    /// `redis+sentinel://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/mymaster`,
    /// the product's URL form for a sentinel deployment.
    pub fn sentinel_url(&self) -> String {
        let hosts: Vec<String> = self.sentinels.iter().map(|s| format!("127.0.0.1:{}", s.port())).collect();
        format!("redis+sentinel://{}/{MASTER}", hosts.join(","))
    }

    /// The primary's port as the first sentinel reports it now.
    pub fn primary_port(&self) -> u16 {
        master_addr(&self.sentinels[0]).expect("the sentinel reports a primary")
    }

    /// A synchronous connection to the current primary, for assertions.
    pub fn connection_to_primary(&self) -> redis::Connection {
        self.data_node(self.primary_port()).connection()
    }

    /// `SENTINEL FAILOVER` (the replica is promoted without waiting for the
    /// primary to fail); waits until every sentinel reports the new primary,
    /// it has role master, and the old primary replicates from it. Returns
    /// the new primary's port.
    pub fn failover(&self) -> u16 {
        let old = self.primary_port();
        let (new, _) = self.switch_primary();
        self.wait(&format!("port {old} to replicate from the new primary {new}"), || {
            info_field(self.data_node(old), "master_port") == Some(new.to_string())
                && link_up(self.data_node(old))
        });
        new
    }

    /// `SENTINEL FAILOVER`, waiting only until every sentinel names the new
    /// primary and it has role master, not for the old primary to be
    /// demoted. Returns the new primary's port and when the switch was seen.
    pub fn switch_primary(&self) -> (u16, std::time::Instant) {
        let old = self.primary_port();
        let new = self.data.iter().map(RedisServer::port).find(|&p| p != old).expect("a replica");
        let mut con = self.sentinels[0].connection();
        let _: () =
            redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER).query(&mut con).expect("SENTINEL FAILOVER");
        self.wait(&format!("the sentinels to name port {new}"), || {
            self.sentinels.iter().all(|s| master_addr(s) == Some(new))
                && info_field(self.data_node(new), "role").as_deref() == Some("master")
        });
        (new, std::time::Instant::now())
    }

    /// A synchronous connection to the data node on `port`.
    pub fn connection_to(&self, port: u16) -> redis::Connection {
        self.data_node(port).connection()
    }

    fn data_node(&self, port: u16) -> &RedisServer {
        self.data.iter().find(|n| n.port() == port).unwrap_or_else(|| panic!("no data node on port {port}"))
    }

    /// Polls `done`; panics with every log after [`SETTLE`].
    fn wait(&self, what: &str, done: impl FnMut() -> bool) {
        if !poll_until(SETTLE, done) {
            let logs: Vec<String> = self
                .data
                .iter()
                .chain(&self.sentinels)
                .map(|n| format!("--- port {} ---\n{}", n.port(), tail(&n.log(), 40)))
                .collect();
            panic!("timed out after {SETTLE:?} waiting for {what}\n{}", logs.join("\n"));
        }
    }
}

/// A primary or replica (with `--replicaof`).
fn data_server(port: u16, extra: &[&str]) -> Result<RedisServer, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port_arg = port.to_string();
    // The replica syncs at once, not after the default 5 s wait for more.
    let base = ["--port", &port_arg, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    let mut args: Vec<OsString> =
        base.iter().chain(&["--repl-diskless-sync-delay", "0"]).map(Into::into).collect();
    args.extend(extra.iter().map(Into::into));
    RedisServer::launch("redis-server", port, dir, args)
}

/// A sentinel watching the primary on `primary_port`. Its config file is in
/// its temp dir because sentinels rewrite it with what they learn.
fn sentinel_server(port: u16, primary_port: u16) -> Result<RedisServer, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("sentinel.conf");
    let text = format!(
        "port {port}\nbind 127.0.0.1\nsentinel resolve-hostnames no\n\
         sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n\
         sentinel down-after-milliseconds {MASTER} 1000\n\
         sentinel failover-timeout {MASTER} 5000\n"
    );
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let sentinel =
        RedisServer::launch("redis-server", port, dir, vec![config.into_os_string(), "--sentinel".into()])?;
    // Sentinels read INFO from a healthy instance every 10 s and greet each
    // other every 2 s; a demoted primary is reconfigured only after 4
    // greeting periods and one INFO. Shorter periods (Redis 7's test knob; an
    // older server just stays slower) cut a failover from ~11 s to ~3 s.
    let _: redis::RedisResult<()> = redis::cmd("SENTINEL")
        .arg(&["DEBUG", "info-period", "1000", "publish-period", "500"][..])
        .query(&mut sentinel.connection());
    Ok(sentinel)
}

/// The primary's port from `SENTINEL get-master-addr-by-name`.
fn master_addr(sentinel: &RedisServer) -> Option<u16> {
    let mut con = sentinel.try_connection().ok()?;
    let (_, port): (String, u16) =
        redis::cmd("SENTINEL").arg("get-master-addr-by-name").arg(MASTER).query(&mut con).ok()?;
    Some(port)
}

/// Ports from `SENTINEL SENTINELS` or `SENTINEL REPLICAS`, each entry a
/// flat list of field names and values.
fn sentinel_list(sentinel: &RedisServer, which: &str) -> Option<Vec<u16>> {
    let mut con = sentinel.try_connection().ok()?;
    let entries: Vec<Vec<String>> = redis::cmd("SENTINEL").arg(which).arg(MASTER).query(&mut con).ok()?;
    entries
        .iter()
        .map(|fields| fields.chunks(2).find(|kv| kv[0] == "port").and_then(|kv| kv[1].parse().ok()))
        .collect()
}

/// One field of `INFO replication`, `None` when the server does not answer.
fn info_field(node: &RedisServer, field: &str) -> Option<String> {
    let info: String = redis::cmd("INFO").arg("replication").query(&mut node.try_connection().ok()?).ok()?;
    let prefix = format!("{field}:");
    info.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map(|v| v.trim().to_owned())
}

fn link_up(replica: &RedisServer) -> bool {
    info_field(replica, "master_link_status").as_deref() == Some("up")
}
