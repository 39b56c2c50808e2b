//! A real local Redis Sentinel deployment: a primary, its replicas (one, or
//! as many as asked) and three sentinels watching them, every process a private `redis-server` on a
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
    /// The initial primary and its replicas; their roles change on failover.
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
        Self::start_with(1, extra, &[])
    }

    /// [`RedisSentinel::start_with_primary_args`] with `replicas` replicas,
    /// each started with `replica_extra` too.
    pub fn start_with(replicas: usize, extra: &[&str], replica_extra: &[&str]) -> RedisSentinel {
        let mut last_error = String::new();
        // A free port can be taken between choosing it and a process
        // binding it; start again on new ports.
        for _ in 0..3 {
            match Self::try_start(replicas, extra, replica_extra) {
                Ok(deployment) => return deployment,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start a Redis Sentinel deployment: {last_error}");
    }

    fn try_start(
        replicas: usize,
        primary_extra: &[&str],
        replica_extra: &[&str],
    ) -> Result<RedisSentinel, String> {
        let ports = free_ports(4 + replicas);
        let primary_port = ports[0];
        let replica_ports = &ports[1..=replicas];
        let mut data = vec![data_server(primary_port, primary_extra)?];
        for &port in replica_ports {
            let primary = primary_port.to_string();
            let args: Vec<&str> = ["--replicaof", "127.0.0.1", primary.as_str()]
                .into_iter()
                .chain(replica_extra.iter().copied())
                .collect();
            data.push(data_server(port, &args)?);
        }
        let mut deployment = RedisSentinel { data, sentinels: Vec::new() };
        // Sentinels learn replicas from the primary's INFO, which they read
        // on connecting and then only periodically: start them once the
        // replicas are attached.
        deployment.wait("the replicas to sync", || deployment.data[1..].iter().all(link_up));
        for &port in &ports[1 + replicas..] {
            deployment.sentinels.push(sentinel_server(port, primary_port)?);
        }
        deployment.wait("the sentinels to discover the deployment", || {
            deployment.sentinels.iter().all(|s| {
                master_addr(s) == Some(primary_port)
                    && sentinel_list(s, "SENTINELS").map(|l| l.len()) == Some(2)
                    && sentinel_list(s, "REPLICAS")
                        .is_some_and(|l| replica_ports.iter().all(|p| l.contains(p)))
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
        self.sentinel_url_of(&[0, 1, 2])
    }

    /// [`RedisSentinel::sentinel_url`] naming only the sentinels at
    /// `indices`.
    pub fn sentinel_url_of(&self, indices: &[usize]) -> String {
        let hosts: Vec<String> =
            indices.iter().map(|&i| format!("127.0.0.1:{}", self.sentinels[i].port())).collect();
        format!("redis+sentinel://{}/{MASTER}", hosts.join(","))
    }

    /// The sentinel at `index`, e.g. to stop it ([`RedisServer::signal`]).
    pub fn sentinel(&self, index: usize) -> &RedisServer {
        &self.sentinels[index]
    }

    /// Ports of every data node.
    pub fn data_ports(&self) -> Vec<u16> {
        self.data.iter().map(RedisServer::port).collect()
    }

    /// SIGKILLs the data node on `port`, as a crash would.
    pub fn kill(&mut self, port: u16) {
        self.data_node_mut(port).kill();
    }

    /// Starts a killed data node again, empty, as a replica of `primary`
    /// (a crashed node returns as one), and waits until it has synced.
    pub fn return_as_replica(&mut self, port: u16, primary: u16) {
        let args = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
        let mut args: Vec<OsString> = args.iter().map(Into::into).collect();
        for a in ["--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", &primary.to_string()] {
            args.push(a.into());
        }
        self.data_node_mut(port).start_again_with(args);
        self.wait(&format!("port {port} to replicate from {primary}"), || link_up(self.data_node(port)));
    }

    /// Waits until the sentinels at `indices` name a primary other than
    /// `old` and it has role master; returns its port.
    pub fn wait_new_primary(&self, old: u16, indices: &[usize], within: Duration) -> Option<u16> {
        let mut new = None;
        let named = poll_until(within, || {
            let ports: Vec<Option<u16>> = indices.iter().map(|&i| master_addr(&self.sentinels[i])).collect();
            new = ports[0].filter(|&p| p != old && ports.iter().all(|q| *q == Some(p)));
            new.is_some_and(|p| info_field(self.data_node(p), "role").as_deref() == Some("master"))
        });
        named.then_some(new).flatten()
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
        self.switch_primary_seen_by(&[0, 1, 2])
    }

    /// [`RedisSentinel::switch_primary`], asking the sentinel at
    /// `indices[0]` to fail over and waiting only for those at `indices`.
    pub fn switch_primary_seen_by(&self, indices: &[usize]) -> (u16, std::time::Instant) {
        let old = self.primary_port_by(indices[0]);
        self.start_failover(indices[0]);
        let Some(new) = self.wait_new_primary(old, indices, SETTLE) else {
            self.wait("the sentinels to name a new primary", || false);
            unreachable!("wait panics");
        };
        (new, std::time::Instant::now())
    }

    /// Sends `SENTINEL FAILOVER` to the sentinel at `index`, without
    /// waiting.
    pub fn start_failover(&self, index: usize) {
        self.try_failover(index).expect("SENTINEL FAILOVER");
    }

    /// `SENTINEL FAILOVER` to the sentinel at `index`; an error if it
    /// refuses (a failover still in progress, no good replica yet).
    pub fn try_failover(&self, index: usize) -> redis::RedisResult<()> {
        let mut con = self.sentinels[index].try_connection()?;
        redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER).query(&mut con)
    }

    /// Waits until no sentinel has a failover in progress and every
    /// sentinel sees every replica of the primary healthy, so that a
    /// `SENTINEL FAILOVER` is accepted at once.
    pub fn wait_settled(&self) {
        let replicas = self.data.len() - 1;
        self.wait("the sentinels to settle", || {
            self.sentinels.iter().all(|s| {
                let flags = |fields: &[String]| {
                    fields.chunks(2).find(|kv| kv[0] == "flags").map(|kv| kv[1].clone()).unwrap_or_default()
                };
                let Ok(mut con) = s.try_connection() else { return false };
                let master: redis::RedisResult<Vec<String>> =
                    redis::cmd("SENTINEL").arg("MASTER").arg(MASTER).query(&mut con);
                let listed: redis::RedisResult<Vec<Vec<String>>> =
                    redis::cmd("SENTINEL").arg("REPLICAS").arg(MASTER).query(&mut con);
                let (Ok(master), Ok(listed)) = (master, listed) else { return false };
                flags(&master) == "master"
                    && listed.iter().filter(|r| flags(r) == "slave").count() == replicas
            })
        });
    }

    /// Whether any sentinel names a primary other than `old` now.
    pub fn any_names_other_than(&self, old: u16) -> bool {
        self.sentinels.iter().any(|s| master_addr(s).is_some_and(|p| p != old))
    }

    /// The primary's port as the sentinel at `index` reports it now.
    pub fn primary_port_by(&self, index: usize) -> u16 {
        master_addr(&self.sentinels[index]).expect("the sentinel reports a primary")
    }

    /// A synchronous connection to the data node on `port`.
    pub fn connection_to(&self, port: u16) -> redis::Connection {
        self.data_node(port).connection()
    }

    fn data_node(&self, port: u16) -> &RedisServer {
        self.data.iter().find(|n| n.port() == port).unwrap_or_else(|| panic!("no data node on port {port}"))
    }

    fn data_node_mut(&mut self, port: u16) -> &mut RedisServer {
        self.data
            .iter_mut()
            .find(|n| n.port() == port)
            .unwrap_or_else(|| panic!("no data node on port {port}"))
    }

    /// The tail of every node's log, for failure reports.
    pub fn logs(&self) -> String {
        let logs: Vec<String> = self
            .data
            .iter()
            .chain(&self.sentinels)
            .map(|n| format!("--- port {} ---\n{}", n.port(), tail(&n.log(), 40)))
            .collect();
        logs.join("\n")
    }

    /// Polls `done`; panics with every log after [`SETTLE`].
    fn wait(&self, what: &str, done: impl FnMut() -> bool) {
        if !poll_until(SETTLE, done) {
            panic!("timed out after {SETTLE:?} waiting for {what}\n{}", self.logs());
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
