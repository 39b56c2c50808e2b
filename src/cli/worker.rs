//! The `worker` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::config::{self, QueueName};
use crate::duration::Span;
use crate::time::{SystemTime, TimeSource};
use crate::worker::{self, Options};

/// campanile's worker: takes job payloads off Redis queues and runs each
/// job's command from clock.toml.
#[derive(Debug, Parser)]
#[command(name = "worker", version, long_about = None)]
pub struct WorkerArgs {
    /// Path to clock.toml.
    #[arg(long, env = "CAMPANILE_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// A queue to serve (repeatable); default: every queue the config's jobs use.
    #[arg(long = "queue", value_name = "NAME", value_parser = QueueName::new)]
    pub queues: Vec<QueueName>,
    /// Jobs run at once; default: one per core.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: Option<u32>,
    /// After SIGTERM or SIGINT, how long running jobs may take to finish
    /// before they are stopped and put back on the queue.
    #[arg(long, value_name = "DURATION", default_value = "25s", value_parser = Span::parse)]
    pub shutdown_timeout: Span,
    /// Serve Prometheus metrics on this address (e.g. 0.0.0.0:9090).
    #[arg(long, value_name = "ADDR", env = "CAMPANILE_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Validates the config before touching Redis (exit 2 if it is invalid),
/// then serves until SIGTERM or SIGINT and exits 0; exits 1 if it stopped
/// because one of its background loops kept failing.
pub fn run(args: WorkerArgs) -> ExitCode {
    let time = SystemTime;
    let config = match super::load_config(&args.config, time.now()) {
        Ok(config) => Arc::new(config),
        Err(code) => return code,
    };
    let mut queues = args.queues.clone();
    if queues.is_empty() {
        queues = config.queues_all();
    }
    if queues.is_empty() {
        eprintln!("error: no queues to serve: the config has no jobs and no --queue was given");
        return ExitCode::from(super::EXIT_INVALID);
    }
    let concurrency = args
        .concurrency
        .map(|c| c as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let options = Options {
        queues,
        concurrency,
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout.as_secs()),
        queue_depths: args.metrics_addr.is_some(),
    };
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let code = runtime.block_on(async {
        let (shutdown, _signals) = crate::shutdown::on_signals();
        let metrics = match super::serve_metrics(args.metrics_addr, &shutdown).await {
            Ok(metrics) => metrics,
            Err(code) => return code,
        };
        let Some(store) = super::connect(&config.redis, &shutdown).await else { return ExitCode::SUCCESS };
        let result = worker::run(config, store, Arc::new(time), options, shutdown.clone()).await;
        super::stop_metrics(metrics, &shutdown).await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("error: {failure}");
                ExitCode::from(super::EXIT_FAILURE)
            }
        }
    });
    super::leave(runtime);
    code
}
