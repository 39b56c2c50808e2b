//! The `clock` binary: see `campanile::cli`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = campanile::cli::ClockArgs::parse();
    campanile::logging::init();
    campanile::cli::run(args, &campanile::time::SystemTime)
}
