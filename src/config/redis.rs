//! `[redis]`: where the clock and workers find Redis.

use super::redact::redact;

/// The URL used when neither `[redis] url` nor `REDIS_URL` is set.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// The key prefix when `[redis] prefix` is not set.
pub const DEFAULT_PREFIX: &str = "campanile:";

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `[redis] url`; when `None`, `REDIS_URL` or [`DEFAULT_URL`].
    pub url: Option<String>,
    /// Prefix of every key (`campanile:`).
    pub prefix: String,
    /// Accept any TLS certificate (Heroku Redis uses self-signed ones); also
    /// `?insecure=true` on the URL or `CAMPANILE_REDIS_INSECURE=1`.
    pub tls_insecure: bool,
    /// `[redis] cluster`: seed nodes of a Redis Cluster; takes the place of
    /// the URL.
    pub cluster: Vec<String>,
    /// `[redis] wait_replicas`: after each push, take and record of a run's
    /// end, wait (`WAIT`) until this many replicas have the write, so a
    /// failover cannot take it back; 0 (the default) does not wait.
    pub wait_replicas: u32,
    /// `[redis] wait_timeout_ms`: how long such a wait may take; a write
    /// that times out stands, with a warning (a take goes back unrun, a
    /// record of a run's end is sent again).
    pub wait_timeout_ms: u64,
}

/// The default of `[redis] wait_timeout_ms`.
pub const WAIT_TIMEOUT_MS: u64 = 100;

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: None,
            prefix: DEFAULT_PREFIX.into(),
            tls_insecure: false,
            cluster: Vec::new(),
            wait_replicas: 0,
            wait_timeout_ms: WAIT_TIMEOUT_MS,
        }
    }
}

/// How campanile reaches Redis, resolved from [`RedisSettings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// One server: the client URL (see [`RedisSettings::connection_url`]).
    Single(String),
    /// A Redis Cluster: client URLs of some of its nodes; the client learns
    /// the others and follows slot moves and failovers.
    Cluster(Vec<String>),
    /// A primary that Sentinel names, asked again after every failover.
    Sentinel(SentinelSettings),
}

/// Where the sentinels are and how to log in to the primary they name.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelSettings {
    /// Client URLs of the sentinels.
    pub sentinels: Vec<String>,
    /// The monitored primary's name (`sentinel monitor <name> ...`).
    pub master: String,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `rediss+sentinel://`: TLS to the primary.
    pub tls: bool,
    pub tls_insecure: bool,
}

impl std::fmt::Debug for SentinelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelSettings")
            .field("sentinels", &self.sentinels)
            .field("master", &self.master)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("tls", &self.tls)
            .finish()
    }
}

/// URL schemes of the two multi-node forms.
const CLUSTER_SCHEMES: [&str; 2] = ["redis+cluster://", "rediss+cluster://"];
const SENTINEL_SCHEMES: [&str; 2] = ["redis+sentinel://", "rediss+sentinel://"];

/// Whether `url` is one of the URL forms campanile takes.
pub fn is_known_scheme(url: &str) -> bool {
    ["redis://", "rediss://", "redis+unix://", "unix://"]
        .iter()
        .chain(&CLUSTER_SCHEMES)
        .chain(&SENTINEL_SCHEMES)
        .any(|s| url.starts_with(s))
}

impl RedisSettings {
    /// The configured URL: `[redis] url`, else `REDIS_URL`, else the default.
    pub fn url(&self) -> String {
        self.url
            .clone()
            .or_else(|| std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT_URL.into())
    }

    /// The URL in the form the redis client takes: `?insecure=true` (or
    /// `tls_insecure`) becomes its `#insecure` fragment.
    pub fn connection_url(&self) -> Result<String, UrlError> {
        let url = self.url();
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base.to_owned(), Some(query.to_owned())),
            None => (url.clone(), None),
        };
        let mut insecure = self.tls_insecure || base.ends_with("#insecure") || insecure_from_env();
        let base = base.trim_end_matches("#insecure").to_owned();
        let mut kept = Vec::new();
        for pair in query.iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
            match pair {
                "insecure=true" | "insecure=1" | "insecure" | "ssl_cert_reqs=none" => insecure = true,
                "insecure=false" | "insecure=0" => {}
                other => kept.push(other.to_owned()),
            }
        }
        if !base.starts_with("rediss://") {
            if insecure && !insecure_from_env() {
                return Err(UrlError::InsecureWithoutTls);
            }
            insecure = false;
        }
        let mut out = base;
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
        if insecure {
            out.push_str("#insecure");
        }
        Ok(out)
    }

    /// The URL with any password replaced by `***`, for messages and logs.
    pub fn redacted_url(&self) -> String {
        if !self.cluster.is_empty() {
            return self.cluster.iter().map(|u| redact(u)).collect::<Vec<_>>().join(",");
        }
        redact(&self.url())
    }

    /// Whether campanile talks to a Redis Cluster (`[redis] cluster`, or a
    /// `redis+cluster://` URL in the file or in `REDIS_URL`).
    pub fn is_cluster(&self) -> bool {
        !self.cluster.is_empty() || CLUSTER_SCHEMES.iter().any(|s| self.url().starts_with(s))
    }

    /// The deployment these settings describe:
    /// - `[redis] cluster = ["redis://h1:7000", ...]`, or
    ///   `redis+cluster://[user:password@]h1:7000,h2:7000` (`rediss+cluster://`
    ///   for TLS): a Redis Cluster, seeded from these nodes;
    /// - `redis+sentinel://[user:password@]s1:26379,s2:26379/<master>[/<db>]`
    ///   (`rediss+sentinel://` for TLS to the primary): the primary Sentinel
    ///   names; the credentials are the primary's, and
    ///   `?sentinel_password=...` logs in to the sentinels;
    /// - any other URL: one server.
    pub fn topology(&self) -> Result<Topology, UrlError> {
        if !self.cluster.is_empty() {
            let nodes = self
                .cluster
                .iter()
                .map(|u| self.with_url(u).connection_url())
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Topology::Cluster(nodes));
        }
        let url = self.url();
        if let Some(scheme) = CLUSTER_SCHEMES.iter().find(|s| url.starts_with(*s)) {
            let parts = MultiHost::parse(&url[scheme.len()..])?;
            if let Some(path) = parts.path.filter(|p| !p.is_empty() && *p != "0") {
                return Err(UrlError::ClusterDatabase(path.to_owned()));
            }
            let plain = if scheme.starts_with("rediss") { "rediss://" } else { "redis://" };
            let nodes = parts
                .hosts
                .iter()
                .map(|host| {
                    let mut node = format!("{plain}{}{host}", parts.auth);
                    if !parts.query.is_empty() {
                        node = format!("{node}?{}", parts.query.join("&"));
                    }
                    self.with_url(&node).connection_url()
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Topology::Cluster(nodes));
        }
        if let Some(scheme) = SENTINEL_SCHEMES.iter().find(|s| url.starts_with(*s)) {
            return self.sentinel(scheme, &url[scheme.len()..]).map(Topology::Sentinel);
        }
        self.connection_url().map(Topology::Single)
    }

    fn with_url(&self, url: &str) -> RedisSettings {
        RedisSettings { url: Some(url.to_owned()), cluster: Vec::new(), ..self.clone() }
    }

    fn sentinel(&self, scheme: &str, rest: &str) -> Result<SentinelSettings, UrlError> {
        let parts = MultiHost::parse(rest)?;
        let path = parts.path.unwrap_or_default();
        let (master, db) = match path.split_once('/') {
            Some((master, db)) => (master, db),
            None => (path, ""),
        };
        if master.is_empty() {
            return Err(UrlError::NoPrimary);
        }
        let db = match db {
            "" => 0,
            db => db.parse().map_err(|_| UrlError::Database(db.to_owned()))?,
        };
        let mut sentinel_password = None;
        let mut insecure = self.tls_insecure || insecure_from_env();
        for pair in &parts.query {
            match pair.split_once('=') {
                Some(("sentinel_password", p)) => sentinel_password = Some(p.to_owned()),
                Some(("insecure", "true" | "1")) => insecure = true,
                _ => return Err(UrlError::UnknownParameter((*pair).to_owned())),
            }
        }
        let tls = scheme.starts_with("rediss");
        let (username, password) = match parts.auth.trim_end_matches('@').split_once(':') {
            _ if parts.auth.is_empty() => (None, None),
            Some((user, password)) => {
                ((!user.is_empty()).then(|| user.to_owned()), Some(password.to_owned()))
            }
            None => (None, Some(parts.auth.trim_end_matches('@').to_owned())),
        };
        let auth = sentinel_password.map(|p| format!(":{p}@")).unwrap_or_default();
        Ok(SentinelSettings {
            sentinels: parts.hosts.iter().map(|h| format!("redis://{auth}{h}")).collect(),
            master: master.to_owned(),
            db,
            username,
            password,
            tls,
            tls_insecure: tls && insecure,
        })
    }
}

/// Why a Redis URL describes no deployment campanile can connect to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("insecure applies only to rediss:// (TLS) URLs")]
    InsecureWithoutTls,
    #[error("a cluster has only database 0, found /{0}")]
    ClusterDatabase(String),
    #[error("name the monitored primary: redis+sentinel://host:26379/<master>")]
    NoPrimary,
    #[error("database must be a number, found {0:?}")]
    Database(String),
    #[error("unknown parameter {0:?} (known: sentinel_password, insecure)")]
    UnknownParameter(String),
    #[error("list at least one host:port")]
    NoHosts,
    #[error("expected host:port, found {0:?}")]
    HostPort(String),
}

/// `[auth@]host:port,host:port[/path][?query]`, the body of the multi-node
/// URL forms.
struct MultiHost<'a> {
    /// `user:password@`, or empty.
    auth: &'a str,
    hosts: Vec<&'a str>,
    path: Option<&'a str>,
    query: Vec<&'a str>,
}

impl<'a> MultiHost<'a> {
    fn parse(rest: &'a str) -> Result<MultiHost<'a>, UrlError> {
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, query.split('&').filter(|p| !p.is_empty()).collect()),
            None => (rest, Vec::new()),
        };
        let (rest, path) = match rest.split_once('/') {
            Some((rest, path)) => (rest, Some(path.trim_end_matches('/'))),
            None => (rest, None),
        };
        let (auth, hosts) = match rest.rfind('@') {
            Some(at) => (&rest[..=at], &rest[at + 1..]),
            None => ("", rest),
        };
        let hosts: Vec<&str> = hosts.split(',').filter(|h| !h.is_empty()).collect();
        if hosts.is_empty() {
            return Err(UrlError::NoHosts);
        }
        if let Some(bad) =
            hosts.iter().find(|h| h.rsplit_once(':').is_none_or(|(_, p)| p.parse::<u16>().is_err()))
        {
            return Err(UrlError::HostPort((*bad).to_owned()));
        }
        Ok(MultiHost { auth, hosts, path, query })
    }
}

/// `CAMPANILE_REDIS_INSECURE=1` (or `true`): for platforms that manage
/// `REDIS_URL` themselves.
fn insecure_from_env() -> bool {
    std::env::var("CAMPANILE_REDIS_INSECURE").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(url: &str) -> RedisSettings {
        RedisSettings { url: Some(url.into()), ..RedisSettings::default() }
    }

    #[test]
    fn insecure_query_becomes_the_client_fragment() {
        assert_eq!(
            with_url("rediss://h:6380?insecure=true").connection_url().unwrap(),
            "rediss://h:6380#insecure"
        );
        assert_eq!(
            with_url("rediss://h:6380/0?insecure=1&x=y").connection_url().unwrap(),
            "rediss://h:6380/0?x=y#insecure"
        );
        let mut s = with_url("rediss://h:6380");
        s.tls_insecure = true;
        assert_eq!(s.connection_url().unwrap(), "rediss://h:6380#insecure");
        assert_eq!(with_url("redis://h:6379").connection_url().unwrap(), "redis://h:6379");
        assert!(with_url("redis://h?insecure=true").connection_url().is_err());
    }

    #[test]
    fn cluster_urls_list_their_nodes() {
        let topology = with_url("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001").topology().unwrap();
        assert_eq!(
            topology,
            Topology::Cluster(vec!["redis://:pw@10.0.0.1:7000".into(), "redis://:pw@10.0.0.2:7001".into()])
        );
        let tls = with_url("rediss+cluster://h:7000?insecure=true").topology().unwrap();
        assert_eq!(tls, Topology::Cluster(vec!["rediss://h:7000#insecure".into()]));
        let listed =
            RedisSettings { cluster: vec!["redis://a:1".into(), "redis://b:2".into()], ..with_url("x") };
        assert_eq!(
            listed.topology().unwrap(),
            Topology::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()])
        );
        assert!(listed.is_cluster());
        assert!(with_url("redis+cluster://h:7000/3").topology().is_err());
        assert!(with_url("redis+cluster://").topology().is_err());
        assert!(with_url("redis+cluster://h").topology().is_err());
    }

    #[test]
    fn sentinel_urls_name_the_primary() {
        let Topology::Sentinel(s) =
            with_url("redis+sentinel://u:pw@s1:26379,s2:26380/mymaster/2?sentinel_password=sp")
                .topology()
                .unwrap()
        else {
            panic!("not a sentinel topology")
        };
        assert_eq!(s.sentinels, ["redis://:sp@s1:26379", "redis://:sp@s2:26380"]);
        assert_eq!((s.master.as_str(), s.db), ("mymaster", 2));
        assert_eq!((s.username.as_deref(), s.password.as_deref()), (Some("u"), Some("pw")));
        assert!(!s.tls);
        assert!(!format!("{s:?}").contains("pw"), "the password stays out of logs");
        assert!(with_url("redis+sentinel://s1:26379").topology().is_err());
        assert!(with_url("redis+sentinel://s1:26379/m?x=1").topology().is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("rediss://:p4ss@ec2.example.com:6380"), "rediss://:***@ec2.example.com:6380");
        assert_eq!(redact("redis://user:p4ss@h"), "redis://user:***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }

    #[test]
    fn every_password_of_every_url_is_redacted() {
        let cases = [
            (
                "redis+sentinel://u:pw@s1:26379,s2:26380/mymaster/2?sentinel_password=sp",
                "redis+sentinel://u:***@s1:26379,s2:26380/mymaster/2?sentinel_password=***",
            ),
            ("redis://h:6379/0?password=pw&db=1", "redis://h:6379/0?password=***&db=1"),
            ("rediss://h?x=1&PASSWORD=pw#insecure", "rediss://h?x=1&PASSWORD=***#insecure"),
            ("redis://h?sentinel_password=p@ss", "redis://h?sentinel_password=***"),
            ("redis://:p?ss@h:6379", "redis://:***@h:6379"),
            ("redis://:p@ss@h:6379/0?password=x", "redis://:***@h:6379/0?password=***"),
            ("redis://token@h", "redis://***@h"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want, "{url}");
        }
        let settings = RedisSettings {
            cluster: vec!["redis://:a1@n1:7000".into(), "redis://n2:7001?password=b2".into()],
            ..with_url("x")
        };
        let shown = settings.redacted_url();
        assert!(!shown.contains("a1") && !shown.contains("b2"), "{shown}");
    }
}
