//! `clock dev`: the clock and a worker in one process for development. It
//! owns its Redis: without a configured one (`[redis]` in clock.toml or
//! `REDIS_URL`) it always starts a private redis-server, so it never writes
//! into whatever Redis the machine already runs.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::config::RedisSettings;
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::time::{SystemTime, TimeSource};
use crate::worker::{self, Options};

/// How to get `redis-server` when it is missing.
pub const INSTALL_HINT: &str = "install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) and run clock dev again";

/// Prefix of a private redis-server's directory under the temp dir:
/// `campanile-dev-<pid of clock dev>-<port>`.
const DIR_PREFIX: &str = "campanile-dev-";

/// A redis-server started for this process. It is stopped (and its directory
/// removed) on drop; if `clock dev` is killed outright, the kernel kills the
/// server (parent-death signal) and the next `clock dev` removes the
/// directory.
struct PrivateRedis {
    child: Child,
    dir: PathBuf,
    url: String,
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
        // Before the private server starts: a Ctrl-C from then on stops
        // clock dev cleanly, and the server with it.
        let (shutdown, _signals) = crate::shutdown::on_signals();
        let mut private = None;
        if is_configured(&config.redis) {
            eprintln!("clock dev: using Redis at {}", config.redis.redacted_url());
        } else {
            let redis = match start_private_redis() {
                Ok(redis) => redis,
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(super::EXIT_FAILURE);
                }
            };
            eprintln!(
                "clock dev: no [redis] in {} and no REDIS_URL; started a private redis-server at {} (pid {}, dir {}), stopped with clock dev",
                path.display(),
                redis.url,
                redis.child.id(),
                redis.dir.display()
            );
            config.redis.url = Some(redis.url.clone());
            private = Some(redis);
        }
        let store = match Store::connect(&config.redis).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!(
                    "error: cannot connect to {}: {}",
                    config.redis.redacted_url(),
                    crate::error_chain::error_chain(&e)
                );
                return ExitCode::from(super::EXIT_FAILURE);
            }
        };
        let config = Arc::new(config);
        let options = Options {
            queues: config.queues_all(),
            concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shutdown_timeout: Duration::from_secs(5),
            queue_depths: metrics_addr.is_some(),
        };
        let metrics = match super::serve_metrics(metrics_addr, &shutdown).await {
            Ok(metrics) => metrics,
            Err(code) => return code,
        };
        let time: Arc<dyn TimeSource> = Arc::new(time);
        let result = run_halves(
            &shutdown,
            {
                let clock = crate::clock::run(config.clone(), store.clone(), time.clone(), shutdown.clone());
                async { clock.await.map_err(worker::Error::from) }
            },
            worker::run(config, store, time, options, shutdown.clone()),
        )
        .await;
        super::stop_metrics(metrics, &shutdown).await;
        drop(private);
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("error: {failure}");
                ExitCode::from(super::EXIT_FAILURE)
            }
        }
    })
}

/// Runs the clock and the worker halves of `clock dev` side by side until
/// both have stopped; the first failure is the result. Both halves watch
/// `shutdown`, and a half that fails for good cancels it: a clock without
/// its worker (or a worker without its clock) is no development setup, so
/// the other half stops too and `clock dev` exits 1 rather than run on half.
async fn run_halves<E>(
    shutdown: &Shutdown,
    clock: impl Future<Output = Result<(), E>>,
    worker: impl Future<Output = Result<(), E>>,
) -> Result<(), E> {
    let stop_on_failure = |result: Result<(), E>| {
        if result.is_err() {
            shutdown.cancel();
        }
        result
    };
    let (clock, worker) =
        tokio::join!(async { stop_on_failure(clock.await) }, async { stop_on_failure(worker.await) });
    clock.and(worker)
}

/// Whether the user named a Redis: `[redis]` in the config, or `REDIS_URL`.
fn is_configured(settings: &RedisSettings) -> bool {
    settings.url.is_some()
        || !settings.cluster.is_empty()
        || std::env::var("REDIS_URL").is_ok_and(|u| !u.is_empty())
}

/// Removes the directories of private redis-servers whose `clock dev` is
/// gone (killed before it could clean up).
fn remove_stale_dirs(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        if !process_exists(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn process_exists(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// Starts redis-server on a free port in a temp dir, set to die with this
/// process.
fn start_private_redis() -> Result<PrivateRedis, super::Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(super::Error::FreePort)?
        .port();
    let temp = std::env::temp_dir();
    remove_stale_dirs(&temp);
    let dir = temp.join(format!("{DIR_PREFIX}{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|reason| super::Error::CreateDir { dir: dir.clone(), reason })?;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the child between fork and exec and calls
    // only async-signal-safe functions (prctl, getppid).
    unsafe {
        command.pre_exec(move || {
            // SIGKILL when the thread that spawned it (the runtime's only
            // thread, so the process) dies, even of SIGKILL.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => super::Error::RedisNotInstalled,
        _ => super::Error::StartRedis(e),
    })?;
    let url = format!("redis://127.0.0.1:{port}");
    let redis = PrivateRedis { child, dir, url };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return Err(super::Error::RedisNotReady);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(redis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::Failure;

    fn failure() -> Failure {
        Failure { name: "lease", reason: "gave up".into() }
    }

    /// A half that runs until it is told to stop.
    async fn until_stopped(shutdown: Shutdown) -> Result<(), Failure> {
        shutdown.cancelled().await;
        Ok(())
    }

    async fn within_deadline(halves: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
        tokio::time::timeout(Duration::from_secs(10), halves)
            .await
            .expect("the other half stops when one fails for good")
    }

    #[tokio::test]
    async fn a_failing_clock_stops_the_worker() {
        let shutdown = Shutdown::new();
        let halves = run_halves(&shutdown, async { Err(failure()) }, until_stopped(shutdown.clone()));
        assert_eq!(within_deadline(halves).await, Err(failure()));
    }

    #[tokio::test]
    async fn a_failing_worker_stops_the_clock() {
        let shutdown = Shutdown::new();
        let halves = run_halves(&shutdown, until_stopped(shutdown.clone()), async { Err(failure()) });
        assert_eq!(within_deadline(halves).await, Err(failure()));
    }

    #[tokio::test]
    async fn halves_stop_together_on_a_signal() {
        let shutdown = Shutdown::new();
        shutdown.cancel();
        let halves = run_halves(&shutdown, until_stopped(shutdown.clone()), until_stopped(shutdown.clone()));
        assert_eq!(within_deadline(halves).await, Ok(()));
    }
}
