//! `clock dev`: the clock and a worker in one process for development, with
//! a private redis-server when nothing answers at a local Redis URL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::config::RedisSettings;
use crate::store::Store;
use crate::time::{SystemTime, TimeSource};
use crate::worker::{self, Options};

/// How to get `redis-server` when it is missing.
pub const INSTALL_HINT: &str = "install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) and run clock dev again";

/// A redis-server started for this process, stopped (and its directory
/// removed) on drop.
struct PrivateRedis {
    child: Child,
    dir: PathBuf,
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(super) fn run(path: &Path, metrics_addr: Option<std::net::SocketAddr>) -> ExitCode {
    let time = SystemTime;
    let mut config = match super::load_config(path, time.now()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let mut private = None;
        let store = match Store::connect(&config.redis).await {
            Ok(store) => store,
            Err(_) if is_local(&config.redis) => {
                let redis = match start_private_redis() {
                    Ok(redis) => redis,
                    Err(message) => {
                        eprintln!("error: {message}");
                        return ExitCode::from(super::EXIT_FAILURE);
                    }
                };
                eprintln!(
                    "nothing answers at {}; started a private redis-server at {} (stopped on exit)",
                    config.redis.redacted_url(),
                    redis.1
                );
                config.redis.url = Some(redis.1.clone());
                private = Some(redis.0);
                match Store::connect(&config.redis).await {
                    Ok(store) => store,
                    Err(e) => {
                        eprintln!(
                            "error: cannot connect to the private redis-server: {}",
                            crate::clock::error_chain(&e)
                        );
                        return ExitCode::from(super::EXIT_FAILURE);
                    }
                }
            }
            Err(e) => {
                eprintln!(
                    "error: cannot connect to {}: {}",
                    config.redis.redacted_url(),
                    crate::clock::error_chain(&e)
                );
                return ExitCode::from(super::EXIT_FAILURE);
            }
        };
        let config = Arc::new(config);
        let shutdown = crate::shutdown::on_signals();
        let options = Options {
            queues: config.queues_all(),
            concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shutdown_timeout: Duration::from_secs(5),
            queue_depths: metrics_addr.is_some(),
        };
        if let Err(code) = super::serve_metrics(metrics_addr, &shutdown).await {
            return code;
        }
        let time: Arc<dyn TimeSource> = Arc::new(time);
        let (clock, worker) = tokio::join!(
            crate::clock::run(config.clone(), store.clone(), time.clone(), shutdown.clone()),
            worker::run(config, store, time, options, shutdown),
        );
        drop(private);
        match clock.and(worker) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("error: {failure}");
                ExitCode::from(super::EXIT_FAILURE)
            }
        }
    })
}

/// Whether the configured Redis is on this machine (only then does `dev`
/// start its own).
fn is_local(settings: &RedisSettings) -> bool {
    let url = settings.url();
    let host = url.split("://").nth(1).unwrap_or("").rsplit('@').next().unwrap_or("");
    ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| host.starts_with(h))
}

/// Starts redis-server on a free port in a temp dir; returns it and its URL.
fn start_private_redis() -> Result<(PrivateRedis, String), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot find a free port: {e}"))?
        .port();
    let dir = std::env::temp_dir().join(format!("campanile-dev-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("no Redis is running and redis-server is not installed: {INSTALL_HINT}")
            }
            _ => format!("cannot start redis-server: {e}"),
        })?;
    let redis = PrivateRedis { child, dir };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return Err("redis-server did not start within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((redis, format!("redis://127.0.0.1:{port}")))
}
