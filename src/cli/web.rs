//! `clock web`: serve the dashboard.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{EXIT_FAILURE, EXIT_INVALID};
use crate::config::Config;
use crate::notify::Notifier;
use crate::store::Store;
use crate::supervisor::{Policy, Supervisor};
use crate::time::{SystemTime, TimeSource};
use crate::web::{self, Auth};
use crate::worker::leader_watch::LeaderWatcher;

/// Where the dashboard listens without `--listen` or `PORT`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

#[derive(Debug, Args)]
pub struct WebArgs {
    /// Address to listen on [default: 0.0.0.0:$PORT when PORT is set, else
    /// 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR", env = "CAMPANILE_WEB_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve without authentication on a non-loopback address. Only behind
    /// a proxy that authenticates every request itself.
    #[arg(long, env = "CAMPANILE_WEB_NO_AUTH")]
    pub no_auth: bool,
    /// A host name (`name` or `name:port`) the dashboard answers to without
    /// credentials besides localhost, 127.0.0.1 and [::1]; repeatable (the
    /// variable takes a comma-separated list). Others get 421.
    #[arg(
        long = "allowed-host",
        value_name = "HOST",
        env = "CAMPANILE_WEB_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
}

/// The shortest `CAMPANILE_WEB_SECRET` accepted.
pub(super) const MIN_SECRET: usize = 32;

/// `CAMPANILE_WEB_SECRET`, when set: long enough to sign CSRF tokens with.
pub fn web_secret(value: Option<String>) -> Result<Option<String>, super::Error> {
    match value.filter(|v| !v.is_empty()) {
        Some(secret) if secret.len() < MIN_SECRET => Err(super::Error::ShortSecret),
        secret => Ok(secret),
    }
}

/// The address to bind: `--listen`, else `0.0.0.0:$PORT` (Heroku's `web`
/// process type), else loopback.
pub fn listen_addr(flag: Option<SocketAddr>, port: Option<&str>) -> Result<SocketAddr, super::Error> {
    if let Some(addr) = flag {
        return Ok(addr);
    }
    match port {
        Some(p) => p
            .trim()
            .parse::<u16>()
            .map(|p| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), p))
            .map_err(|_| super::Error::Port(p.to_owned())),
        None => Ok(DEFAULT_LISTEN),
    }
}

/// The authentication to require: basic auth when both credentials are
/// set; none on loopback or with the explicit opt-out; otherwise refuse to
/// start, so a dashboard that can steer production is never left open by
/// accident.
pub fn choose_auth(
    addr: SocketAddr,
    user: Option<String>,
    password: Option<String>,
    no_auth: bool,
) -> Result<Auth, super::Error> {
    match (user.filter(|u| !u.is_empty()), password.filter(|p| !p.is_empty())) {
        (Some(user), Some(password)) => {
            if user.contains(':') {
                return Err(super::Error::ColonInUser);
            }
            Ok(Auth::Basic { user, password })
        }
        (Some(_), None) => Err(super::Error::NoPassword),
        (None, Some(_)) => Err(super::Error::NoUser),
        (None, None) if no_auth || addr.ip().is_loopback() => Ok(Auth::Open),
        (None, None) => Err(super::Error::Unauthenticated(addr)),
    }
}

pub(super) fn run(config_path: &Path, args: &WebArgs) -> ExitCode {
    let config = match super::load_config(config_path, SystemTime.now()) {
        Ok(config) => Arc::new(config),
        Err(code) => return code,
    };
    let env = |name: &str| std::env::var(name).ok();
    let addr = match listen_addr(args.listen, env("PORT").as_deref()) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let auth = match choose_auth(addr, env("CAMPANILE_WEB_USER"), env("CAMPANILE_WEB_PASSWORD"), args.no_auth)
    {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let secret = match web_secret(env("CAMPANILE_WEB_SECRET")) {
        Ok(secret) => secret,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    if matches!(auth, Auth::Open) && !addr.ip().is_loopback() {
        tracing::warn!(%addr, "dashboard serving without authentication (--no-auth)");
    }
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let code = runtime.block_on(async {
        let (shutdown, _signals) = crate::shutdown::on_signals();
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        let options = web::Options { allowed_hosts: args.allowed_hosts.clone(), secret };
        let state = web::AppState::new(config.clone(), auth, Arc::new(SystemTime), options);
        let (connected, store) = tokio::sync::watch::channel(None);
        // Serve at once (a platform's boot check wants the port answering);
        // pages answer 503 until Redis does. Held until the dashboard stops.
        let _connecting = crate::supervisor::Owned::spawn("connect", {
            let (state, shutdown, config) = (state.clone(), shutdown.clone(), config.clone());
            async move {
                if let Some(store) = super::connect(&config.redis, &shutdown).await {
                    state.connected(store.clone());
                    let _ = connected.send(Some(store));
                }
            }
        });
        let notifier = Notifier::start(config.webhooks.clone(), config.email.clone());
        let loops = watch_leader(&config, store, notifier.clone());
        let served = web::serve(listener, state, shutdown).await;
        let _ = loops.stop(LOOPS_STOP_DEADLINE).await;
        notifier.stop(crate::notify::STOP_DEADLINE).await;
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: dashboard failed: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        }
    });
    super::leave(runtime);
    code
}

/// How long the dashboard's loops take at most to stop once it has.
const LOOPS_STOP_DEADLINE: Duration = Duration::from_secs(2);

/// The dashboard's loops, under a supervisor: with alerts configured, the
/// recorder of their deliveries; and one that watches the clocks' leader
/// lease like every worker does (`no_leader`, `leader_back`), once Redis
/// first answers, so a deployment whose only other process is a dashboard
/// still hears that no clock leads.
fn watch_leader(
    config: &Arc<Config>,
    store: tokio::sync::watch::Receiver<Option<Store>>,
    notifier: Notifier,
) -> Supervisor {
    let no_leader_after = config.monitor.no_leader_after.as_duration();
    let mut loops = Supervisor::new();
    if config.has_alerts() {
        let store = store.clone();
        loops.spawn("recorder", Policy::Restart, move |stop| {
            let mut store = store.clone();
            async move {
                let found = tokio::select! {
                    _ = stop.cancelled() => return,
                    found = store.wait_for(Option::is_some) => found.map(|s| s.clone()),
                };
                let Ok(Some(store)) = found else { return stop.cancelled().await };
                crate::notify::recorder::run(store, stop).await
            }
        });
    }
    loops.spawn("leader_watch", Policy::Restart, move |stop| {
        let (mut store, notifier) = (store.clone(), notifier.clone());
        async move {
            let found = tokio::select! {
                _ = stop.cancelled() => return,
                found = store.wait_for(Option::is_some) => found.map(|s| s.clone()),
            };
            // The connecting task gave up: the dashboard is stopping.
            let Ok(Some(store)) = found else { return stop.cancelled().await };
            let time: Arc<dyn TimeSource> = Arc::new(SystemTime);
            LeaderWatcher { store, notifier, time, no_leader_after }.run(stop).await
        }
    });
    loops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_port_env_for_heroku_else_loopback() {
        assert_eq!(listen_addr(None, None).unwrap(), DEFAULT_LISTEN);
        assert_eq!(listen_addr(None, Some("5123")).unwrap().to_string(), "0.0.0.0:5123");
        let flag: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(listen_addr(Some(flag), Some("5123")).unwrap(), flag);
        assert!(listen_addr(None, Some("web")).unwrap_err().to_string().contains("PORT=\"web\""));
    }

    #[test]
    fn refuses_an_open_dashboard_off_loopback() {
        let public: SocketAddr = "0.0.0.0:80".parse().unwrap();
        let local: SocketAddr = "[::1]:80".parse().unwrap();
        let s = |v: &str| Some(v.to_owned());
        assert!(choose_auth(public, None, None, false).unwrap_err().to_string().contains("refusing"));
        assert!(matches!(choose_auth(public, None, None, true), Ok(Auth::Open)));
        assert!(matches!(choose_auth(local, None, None, false), Ok(Auth::Open)));
        assert!(matches!(choose_auth(public, s("u"), s("p"), false), Ok(Auth::Basic { .. })));
        assert!(
            choose_auth(public, s("u"), None, false).unwrap_err().to_string().contains("PASSWORD is not")
        );
        assert!(choose_auth(local, None, s("p"), false).unwrap_err().to_string().contains("USER is not"));
        assert!(choose_auth(public, s("a:b"), s("p"), false).unwrap_err().to_string().contains("':'"));
    }
}
