//! The `worker` binary: see `campanile::cli::worker` and `campanile::worker`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = campanile::cli::worker::WorkerArgs::parse();
    campanile::logging::init();
    campanile::cli::worker::run(args)
}
