//! One connection type over the three deployments: a single server, a Redis
//! Cluster, and a primary found through Sentinel. Each reconnects on its own;
//! callers retry failed operations.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisFuture, RedisResult, Value};

use crate::config::{SentinelSettings, Topology};
use crate::supervisor::Owned;

/// How long to wait for a connection, and for a reply.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// A blocking take waits for its own timeout, so its connection allows
    /// longer; this only catches a connection that died silently.
    pub response: Duration,
}

/// A connection to wherever campanile's keys live; cheap to clone.
#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(SentinelConnection),
}

impl Connection {
    /// Connects. A single server is retried with capped exponential backoff
    /// on every later failure; the cluster client follows slot moves and
    /// failovers; a Sentinel connection asks the sentinels again whenever
    /// the primary it had fails.
    pub async fn open(topology: &Topology, timeouts: Timeouts) -> RedisResult<Connection> {
        match topology {
            Topology::Single(url) => {
                let client = redis::Client::open(url.as_str())?;
                let config = ConnectionManagerConfig::new()
                    .set_exponent_base(2.0)
                    .set_min_delay(Duration::from_millis(100))
                    .set_max_delay(Duration::from_secs(5))
                    .set_number_of_retries(3)
                    .set_connection_timeout(Some(timeouts.connect))
                    .set_response_timeout(Some(timeouts.response));
                Ok(Connection::Single(ConnectionManager::new_with_config(client, config).await?))
            }
            Topology::Cluster(nodes) => {
                // Retries cover a failover: the replica's promotion takes
                // about the cluster's node timeout.
                let client = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                    .retries(6)
                    .min_retry_wait(50)
                    .max_retry_wait(1000)
                    .connection_timeout(timeouts.connect)
                    .response_timeout(timeouts.response)
                    .build()?;
                Ok(Connection::Cluster(client.get_async_connection().await?))
            }
            Topology::Sentinel(settings) => {
                let con = SentinelConnection::new(settings, timeouts)?;
                con.primary().await?;
                Ok(Connection::Sentinel(con))
            }
        }
    }

    /// Whether keys of different hash slots must go in separate calls.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Connection::Cluster(_))
    }

    /// Whether the node this handle last wrote to is still the primary:
    /// always, except through Sentinel, where the sentinels are asked (see
    /// [`SentinelConnection::still_primary`]). Call after a `WAIT` counted
    /// enough replicas, before trusting it.
    pub async fn still_primary(&self) -> bool {
        match self {
            Connection::Sentinel(con) => con.still_primary().await,
            Connection::Single(_) | Connection::Cluster(_) => true,
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(con) => con.req_packed_command(cmd),
            Connection::Cluster(con) => con.req_packed_command(cmd),
            Connection::Sentinel(con) => con.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(con) => con.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(con) => con.req_packed_commands(pipeline, offset, count),
            Connection::Sentinel(con) => con.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(con) => con.get_db(),
            Connection::Cluster(con) => con.get_db(),
            Connection::Sentinel(con) => con.get_db(),
        }
    }
}

/// A connection to the primary the sentinels name. It is dropped, and the
/// next command asks the sentinels for the primary again, after a connection
/// error or a `READONLY` reply (the primary was demoted by a failover), and
/// as soon as the sentinels name another primary: a watcher asks all of
/// them every [`WATCH_EVERY`]. A failed-over primary that the sentinels have
/// not (or cannot) demote yet still takes writes, which its demotion later
/// discards; following the sentinels rather than waiting for the demotion
/// shortens that window from the demotion's delay (seconds, or for ever if
/// the old primary is cut off from the sentinels but not from clients) to
/// at most one watch period.
#[derive(Clone)]
pub struct SentinelConnection {
    inner: Arc<SentinelInner>,
    db: i64,
    /// `host:port` of the node this handle last sent a command to.
    written_to: Option<String>,
    /// The watcher, aborted with the last clone (it would also end at its
    /// next pass); not restarted: one that panics is logged, and the
    /// connection then follows a failover only on a connection error or a
    /// `READONLY` reply.
    _watch: Arc<Owned>,
}

/// How often the sentinels are asked which node is the primary.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

/// How long [`SentinelConnection::still_primary`] and the watcher wait for
/// each sentinel: a sentinel that answers later is left out, so one hung
/// sentinel delays each acknowledged write (and each watch) by this much at
/// most.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_millis(500);

struct SentinelInner {
    client: tokio::sync::Mutex<SentinelClient>,
    /// How to log in to a data node, and over TLS or not: to connect to the
    /// primary the sentinels with the newest configuration name.
    node: (redis::RedisConnectionInfo, Option<redis::TlsMode>),
    config: AsyncConnectionConfig,
    current: Mutex<Option<Primary>>,
    master: String,
    /// Every sentinel, each with the connection the watcher and
    /// [`SentinelConnection::still_primary`] ask it on (opened on first use,
    /// dropped after an error).
    sentinels: Vec<(redis::Client, tokio::sync::Mutex<Option<MultiplexedConnection>>)>,
}

/// The connection to the primary and its address as `host:port`.
#[derive(Clone)]
struct Primary {
    con: MultiplexedConnection,
    addr: String,
}

impl SentinelConnection {
    fn new(settings: &SentinelSettings, timeouts: Timeouts) -> RedisResult<SentinelConnection> {
        let mut redis = redis::RedisConnectionInfo::default().set_db(settings.db);
        if let Some(user) = &settings.username {
            redis = redis.set_username(user);
        }
        if let Some(password) = &settings.password {
            redis = redis.set_password(password);
        }
        let mut node = SentinelNodeConnectionInfo::default().set_redis_connection_info(redis.clone());
        let tls = settings.tls.then_some(if settings.tls_insecure {
            redis::TlsMode::Insecure
        } else {
            redis::TlsMode::Secure
        });
        if let Some(mode) = tls {
            node = node.set_tls_mode(mode);
        }
        let sentinels: Vec<&str> = settings.sentinels.iter().map(String::as_str).collect();
        let client =
            SentinelClient::build(sentinels, &settings.master, Some(node), SentinelServerType::Master)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.response));
        let each = settings
            .sentinels
            .iter()
            .map(|url| Ok((redis::Client::open(url.as_str())?, tokio::sync::Mutex::new(None))))
            .collect::<RedisResult<Vec<_>>>()?;
        let inner = SentinelInner {
            client: tokio::sync::Mutex::new(client),
            node: (redis, tls),
            config,
            current: Mutex::new(None),
            master: settings.master.clone(),
            sentinels: each,
        };
        let inner = Arc::new(inner);
        let watch = Owned::spawn("sentinel watch", watch(Arc::downgrade(&inner)));
        Ok(SentinelConnection { inner, db: settings.db, written_to: None, _watch: Arc::new(watch) })
    }

    /// Whether the sentinels still name the node this handle last wrote to
    /// as the primary, with no failover under way: every sentinel is asked
    /// at once, and `true` needs at least one answer (within
    /// [`CONFIRM_TIMEOUT`]) and no answer naming another node or a failover
    /// in progress.
    ///
    /// Why: `WAIT` counts replicas that have a write, but not whether they
    /// will keep it. During a failover the old primary takes writes until
    /// its clients move, and a replica still attached to it acknowledges
    /// them until the sentinels re-point it at the new primary, which
    /// discards them with a full resync. The sentinel leading a failover
    /// flags it in progress before it promotes a replica and names the new
    /// primary before it re-points the others, so a write acknowledged and
    /// then confirmed here was acknowledged before any promotion began.
    pub async fn still_primary(&self) -> bool {
        let Some(addr) = self.written_to.clone() else { return false };
        let views = views(&self.inner).await;
        if let Some(view) = views.iter().find(|v| v.addr() != addr || v.failing_over) {
            tracing::debug!(written_to = %addr, named = %view.addr(), failing_over = view.failing_over, "the sentinels no longer name the node written to, or are failing it over");
            return false;
        }
        !views.is_empty()
    }

    /// The connection to the current primary, asking the sentinels if there
    /// is none; remembered as the node this handle writes to.
    async fn current(&mut self) -> RedisResult<MultiplexedConnection> {
        let primary = self.primary().await?;
        self.written_to = Some(primary.addr);
        Ok(primary.con)
    }

    async fn primary(&self) -> RedisResult<Primary> {
        if let Some(primary) = self.inner.current.lock().expect("not poisoned").clone() {
            return Ok(primary);
        }
        let mut client = self.inner.client.lock().await;
        // Another caller may have connected while this one waited.
        if let Some(primary) = self.inner.current.lock().expect("not poisoned").clone() {
            return Ok(primary);
        }
        // The sentinels with the newest configuration, not the first that
        // answers: during a failover the others still name the old primary.
        let node = match newest(&views(&self.inner).await) {
            Some(view) => self.inner.node_client(view)?,
            None => client.async_get_client().await?,
        };
        let addr = node.get_connection_info().addr().to_string();
        let con = node.get_multiplexed_async_connection_with_config(&self.inner.config).await?;
        let primary = Primary { con, addr };
        *self.inner.current.lock().expect("not poisoned") = Some(primary.clone());
        Ok(primary)
    }

    /// Drops the connection after an error that means the primary is gone
    /// or no longer the primary.
    fn check<T>(&self, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(e) = &result {
            let demoted = e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly);
            if demoted
                || e.is_io_error()
                || e.is_timeout()
                || e.is_connection_dropped()
                || e.is_unrecoverable_error()
            {
                *self.inner.current.lock().expect("not poisoned") = None;
            }
        }
        result
    }
}

/// Asks every sentinel every [`WATCH_EVERY`] which node is the primary,
/// and drops the connection when the sentinels with the newest
/// configuration name another one; ends when the connection's last handle
/// is gone. The sentinel leading a failover names the new primary first
/// (with a new configuration epoch); the others learn it from it up to a
/// second later, so asking one sentinel alone could follow that late.
async fn watch(inner: std::sync::Weak<SentinelInner>) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        let connected = inner.current.lock().expect("not poisoned").as_ref().map(|p| p.addr.clone());
        let Some(connected) = connected else { continue };
        let views = views(&inner).await;
        let Some(epoch) = views.iter().map(|v| v.epoch).max() else { continue };
        if views.iter().any(|v| v.epoch == epoch && v.addr() == connected) {
            continue;
        }
        let Some(named) = newest(&views).map(View::addr) else { continue };
        let mut current = inner.current.lock().expect("not poisoned");
        if current.as_ref().is_some_and(|p| p.addr == connected) {
            tracing::warn!(from = %connected, to = %named, "the sentinels name a new primary; following");
            *current = None;
        }
    }
}

/// What one sentinel says of the primary.
struct View {
    /// The node it names (`SENTINEL get-master-addr-by-name`: during a
    /// failover, the leading sentinel already names the promoted replica).
    host: String,
    port: u16,
    /// Its configuration epoch for the primary: bumped by each failover.
    epoch: u64,
    /// It is failing the primary over (it leads the failover).
    failing_over: bool,
}

impl View {
    /// `host:port`.
    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The view of the sentinel with the newest configuration.
fn newest(views: &[View]) -> Option<&View> {
    views.iter().max_by_key(|v| v.epoch)
}

impl SentinelInner {
    /// A client for the data node `view` names.
    fn node_client(&self, view: &View) -> RedisResult<redis::Client> {
        let (host, port) = (view.host.clone(), view.port);
        let addr = match self.node.1 {
            None => redis::ConnectionAddr::Tcp(host, port),
            Some(mode) => redis::ConnectionAddr::TcpTls {
                host,
                port,
                insecure: mode == redis::TlsMode::Insecure,
                tls_params: None,
            },
        };
        let info =
            redis::IntoConnectionInfo::into_connection_info(addr)?.set_redis_settings(self.node.0.clone());
        redis::Client::open(info)
    }
}

/// What every sentinel that answers within [`CONFIRM_TIMEOUT`] says, asked
/// at once.
async fn views(inner: &Arc<SentinelInner>) -> Vec<View> {
    let mut asks = tokio::task::JoinSet::new();
    for index in 0..inner.sentinels.len() {
        let inner = inner.clone();
        asks.spawn(async move {
            tokio::time::timeout(CONFIRM_TIMEOUT, view_of(&inner, index)).await.ok().and_then(Result::ok)
        });
    }
    let mut views = Vec::with_capacity(inner.sentinels.len());
    while let Some(asked) = asks.join_next().await {
        if let Ok(Some(view)) = asked {
            views.push(view);
        }
    }
    views
}

/// `SENTINEL MASTER` and `get-master-addr-by-name` from sentinel `index`,
/// on its cached connection (dropped after an error).
async fn view_of(inner: &SentinelInner, index: usize) -> RedisResult<View> {
    let (client, cached) = &inner.sentinels[index];
    let mut con = {
        let mut cached = cached.lock().await;
        match cached.clone() {
            Some(con) => con,
            None => cached
                .insert(client.get_multiplexed_async_connection_with_config(&inner.config).await?)
                .clone(),
        }
    };
    // Not under the lock: concurrent asks share the multiplexed connection.
    let reply: RedisResult<(Vec<String>, (String, u16))> = redis::pipe()
        .cmd("SENTINEL")
        .arg("MASTER")
        .arg(&inner.master)
        .cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(&inner.master)
        .query_async(&mut con)
        .await;
    let (fields, (host, port)) = match reply {
        Ok(reply) => reply,
        Err(e) => {
            *cached.lock().await = None;
            return Err(e);
        }
    };
    let field = |name: &str| fields.chunks(2).find(|kv| kv[0] == name).and_then(|kv| kv.get(1)).cloned();
    Ok(View {
        host,
        port,
        epoch: field("config-epoch").and_then(|e| e.parse().ok()).unwrap_or(0),
        failing_over: field("flags").unwrap_or_default().split(',').any(|f| f == "failover_in_progress"),
    })
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut con = self.current().await?;
            let result = con.req_packed_command(cmd).await;
            self.check(result)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut con = self.current().await?;
            let result = con.req_packed_commands(pipeline, offset, count).await;
            self.check(result)
        })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}
