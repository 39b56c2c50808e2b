//! The `worker` binary: takes payloads off the queues and runs their jobs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// campanile's worker: takes job payloads off Redis queues and runs each
/// job's command from clock.toml.
#[derive(Debug, Parser)]
#[command(name = "worker", version, about, long_about = None)]
struct WorkerArgs {
    /// Path to clock.toml.
    #[arg(long, env = "CAMPANILE_CONFIG", default_value = campanile::config::DEFAULT_PATH)]
    config: PathBuf,
    /// Queues to serve (repeatable); default: every queue the config uses.
    #[arg(long = "queue", value_name = "NAME")]
    queues: Vec<String>,
    /// Jobs to run at once; default: one per core.
    #[arg(long)]
    concurrency: Option<usize>,
}

fn main() -> ExitCode {
    let _args = WorkerArgs::parse();
    campanile::logging::init();
    eprintln!("error: the worker is not available in this build; see `worker --help`");
    ExitCode::from(campanile::cli::EXIT_FAILURE)
}
