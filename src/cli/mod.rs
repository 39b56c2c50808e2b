//! The `clock` command line: arguments and the commands that do not run the
//! daemon. Exit codes: 0 success, 1 runtime failure, 2 invalid input (bad
//! arguments, config or expression), as clap does for bad arguments.

mod check;
mod dev;
mod error;
mod next;
mod ops;
mod plan;
mod status;
pub mod web;
pub mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

pub use check::CheckArgs;
pub use next::NextArgs;

pub use error::Error;

use crate::config::{self, Config};
use crate::time::TimeSource;

/// Exit code for invalid input: arguments, config, expressions.
pub const EXIT_INVALID: u8 = 2;
/// Exit code for a failure at run time.
pub const EXIT_FAILURE: u8 = 1;

/// campanile's clock: enqueues each job of clock.toml onto a Redis list at
/// every tick, exactly once, and catches up ticks missed while it was down.
#[derive(Debug, Parser)]
#[command(name = "clock", version, long_about = None)]
pub struct ClockArgs {
    /// Path to clock.toml.
    #[arg(long, global = true, env = "CAMPANILE_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,

    #[command(flatten)]
    pub daemon: DaemonArgs,

    #[command(subcommand)]
    pub command: Option<ClockCommand>,
}

/// Options of the commands that run the daemon: `clock` (alone), `clock run`
/// and `clock dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DaemonArgs {
    /// Serve Prometheus metrics on this address (e.g. 0.0.0.0:9090).
    #[arg(long, value_name = "ADDR", env = "CAMPANILE_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Run the clock daemon (the default when no command is given).
    Run(DaemonArgs),
    /// Run the clock and a worker in one process for development, on a
    /// private redis-server unless [redis] or REDIS_URL names one.
    Dev(DaemonArgs),
    /// Validate clock.toml and show each job's next run; never touches Redis.
    Check(CheckArgs),
    /// Show the next ticks of an expression, an interval, or the configured jobs.
    Next(NextArgs),
    /// Show what deploying this clock.toml would change (exit 1 if anything).
    Plan(plan::PlanArgs),
    /// Show the leading clock, problems, each job's next and last run, and
    /// queue depths; with --check, exit 1 if anything is wrong.
    Status(status::StatusArgs),
    /// Show recent runs, newest first.
    History(ops::HistoryArgs),
    /// Enqueue a run of a job now, outside its schedule.
    Trigger(ops::TriggerArgs),
    /// Pause a job: its ticks are skipped (and counted) until resumed.
    Pause(ops::JobArgs),
    /// Resume a paused job.
    Resume(ops::JobArgs),
    /// List dead letters.
    Dead(ops::DeadArgs),
    /// Put dead letters back on their queue (attempt reset to 1).
    RetryDead(ops::RetryDeadArgs),
    /// Delete dead letters.
    PurgeDead(ops::PurgeDeadArgs),
    /// Serve the web dashboard and its JSON API.
    Web(web::WebArgs),
}

/// Runs a command that needs no Redis.
pub fn run(args: ClockArgs, time: &dyn TimeSource) -> ExitCode {
    match args.command {
        Some(ClockCommand::Check(check)) => check::run(&args.config, &check, time),
        Some(ClockCommand::Next(next)) => next::run(&args.config, &next, time),
        Some(ClockCommand::Plan(a)) => plan::run(&args.config, &a),
        Some(ClockCommand::Status(a)) if a.check => status::check(&args.config),
        Some(ClockCommand::Status(a)) => ops::with_store(&args.config, |c, s| status::run(c, s, a)),
        Some(ClockCommand::History(a)) => ops::with_store(&args.config, |c, s| ops::history(c, s, a)),
        Some(ClockCommand::Trigger(a)) => ops::with_store(&args.config, |c, s| ops::trigger(c, s, a)),
        Some(ClockCommand::Pause(a)) => ops::with_store(&args.config, |c, s| ops::pause(c, s, a, true)),
        Some(ClockCommand::Resume(a)) => ops::with_store(&args.config, |c, s| ops::pause(c, s, a, false)),
        Some(ClockCommand::Dead(a)) => ops::with_store(&args.config, |c, s| ops::dead(c, s, a)),
        Some(ClockCommand::RetryDead(a)) => ops::with_store(&args.config, |c, s| ops::retry_dead(c, s, a)),
        Some(ClockCommand::PurgeDead(a)) => match ops::refuse_unconfirmed_purge(&a) {
            Some(code) => code,
            None => ops::with_store(&args.config, |c, s| ops::purge_dead(c, s, a)),
        },
        Some(ClockCommand::Web(a)) => web::run(&args.config, &a),
        Some(ClockCommand::Dev(d)) => dev::run(&args.config, d.metrics_addr.or(args.daemon.metrics_addr)),
        Some(ClockCommand::Run(d)) => daemon(&args.config, d.metrics_addr.or(args.daemon.metrics_addr)),
        None => daemon(&args.config, args.daemon.metrics_addr),
    }
}

/// `clock run`: validates the config before touching Redis (exit 2 if it is
/// invalid), then runs until SIGTERM or SIGINT.
fn daemon(path: &std::path::Path, metrics_addr: Option<std::net::SocketAddr>) -> ExitCode {
    let time = crate::time::SystemTime;
    let config = match load_config(path, time.now()) {
        Ok(config) => std::sync::Arc::new(config),
        Err(code) => return code,
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let code = runtime.block_on(async {
        let (shutdown, _signals) = crate::shutdown::on_signals();
        let metrics = match serve_metrics(metrics_addr, &shutdown).await {
            Ok(metrics) => metrics,
            Err(code) => return code,
        };
        tracing::info!(redis = %config.redis.redacted_url(), "connecting to redis");
        let Some(store) = connect(&config.redis, &shutdown).await else { return ExitCode::SUCCESS };
        let time = std::sync::Arc::new(crate::time::RedisTime::new(crate::time::skew_from_env()));
        let result = crate::clock::run(config, store, time, shutdown.clone()).await;
        stop_metrics(metrics, &shutdown).await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("error: {failure}");
                ExitCode::from(EXIT_FAILURE)
            }
        }
    });
    leave(runtime);
    code
}

/// Ends a daemon's runtime without waiting for its blocking threads: what
/// still runs there is an alert or ping request the daemon already gave up
/// on at its stop deadline, and waiting for its HTTP timeout would push the
/// exit past the documented bound.
pub(crate) fn leave(runtime: tokio::runtime::Runtime) {
    runtime.shutdown_background();
}

/// The async runtime every command runs on: one thread. The clock mostly
/// sleeps and the worker mostly waits on child processes and Redis, so one
/// thread keeps the footprint small; it also keeps each job's parent-death
/// signal tied to a thread that lives as long as the process.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        ExitCode::from(EXIT_FAILURE)
    })
}

/// How long a stopping daemon waits for its metrics endpoint: a scrape in
/// flight finishes (its connection has read deadlines), then it is aborted.
const METRICS_STOP: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts the metrics endpoint in the background if an address is given;
/// an address that cannot be bound is a startup failure (exit 1). The
/// endpoint is not restarted: one that fails is logged and the daemon runs
/// on without it. It stops when `shutdown` is cancelled; the caller holds
/// it and gives it to [`stop_metrics`].
pub(crate) async fn serve_metrics(
    addr: Option<std::net::SocketAddr>,
    shutdown: &crate::shutdown::Shutdown,
) -> Result<Option<crate::supervisor::Owned>, ExitCode> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        eprintln!("error: cannot serve metrics on {addr}: {e}");
        ExitCode::from(EXIT_FAILURE)
    })?;
    let shutdown = shutdown.clone();
    Ok(Some(crate::supervisor::Owned::spawn("metrics", async move {
        if let Err(e) = crate::metrics::serve(listener, shutdown).await {
            tracing::error!(error = %e, "metrics endpoint failed");
        }
    })))
}

/// Once the daemon has stopped (told to, or failed): stops the metrics
/// endpoint within [`METRICS_STOP`].
pub(crate) async fn stop_metrics(
    metrics: Option<crate::supervisor::Owned>,
    shutdown: &crate::shutdown::Shutdown,
) {
    shutdown.cancel();
    if let Some(metrics) = metrics {
        metrics.stop(METRICS_STOP).await;
    }
}

/// Connects to Redis, retrying with capped exponential backoff (and a log
/// line per failure) until it answers or the process is told to stop.
pub(crate) async fn connect(
    settings: &config::RedisSettings,
    shutdown: &crate::shutdown::Shutdown,
) -> Option<crate::store::Store> {
    let mut backoff = crate::backoff::Backoff::new(
        std::time::Duration::from_millis(250),
        std::time::Duration::from_secs(5),
    );
    loop {
        let delay = backoff.next_delay();
        tokio::select! {
            result = crate::store::Store::connect(settings) => match result {
                Ok(store) => return Some(store),
                Err(e) => tracing::warn!(
                    redis = %settings.redacted_url(),
                    error = %crate::error_chain::error_chain(&e),
                    retry_in_ms = delay.as_millis() as u64,
                    "cannot connect to redis"
                ),
            },
            _ = shutdown.cancelled() => return None,
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => return None,
        }
    }
}

/// Loads the config, printing every problem (and warnings) to stderr.
pub(crate) fn load_config(path: &std::path::Path, now: DateTime<Utc>) -> Result<Config, ExitCode> {
    match Config::load(path, now)
        .and_then(|config| crate::store::check_cluster_slots(&config).map(|()| config))
    {
        Ok(config) => {
            for warning in &config.warnings {
                eprintln!("warning: {warning}");
            }
            Ok(config)
        }
        Err(config::Error::Invalid { file, errors }) => {
            for error in &errors {
                eprintln!("{error}");
            }
            let n = errors.len();
            eprintln!("error: {file} has {n} error{}", if n == 1 { "" } else { "s" });
            Err(ExitCode::from(EXIT_INVALID))
        }
        Err(e @ config::Error::Read { .. }) => {
            eprintln!(
                "error: {e}: {}",
                std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()
            );
            Err(ExitCode::from(EXIT_INVALID))
        }
    }
}

/// Parses an RFC 3339 instant with any offset.
fn parse_instant(s: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|reason| Error::Instant { input: s.to_owned(), reason })
}
