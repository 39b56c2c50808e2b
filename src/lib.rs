//! campanile: a clock process that enqueues scheduled jobs onto Redis lists
//! exactly once per tick, and workers that run them.
//!
//! # Layout
//!
//! - [`config`]: clock.toml, parsed once into typed [`config::Job`]s; every
//!   error located to file, line, job and field.
//! - [`schedule`]: when a job fires ([`schedule::Schedule`]: cron, interval,
//!   one-off); pure functions of an instant.
//! - [`cron`]: cronie-compatible expressions and the daylight-saving policy.
//! - [`zone`]: UTC offset transitions of IANA zones, which the cron engine
//!   walks instead of round-tripping through local time.
//! - [`duration`]: `30s`, `5m`, `1h30m` as clock.toml writes them.
//! - [`time`]: the injectable [`time::TimeSource`]; the only reader of the
//!   system clock.
//! - [`output`]: CLI formats (public contract); [`cli`]: the `clock`
//!   commands; [`describe`]: schedules in words.
//!
//! The binaries in `src/bin/` only parse arguments, set up logging and call
//! into this library.

pub mod cli;
pub mod clock;
pub mod config;
pub mod cron;
pub mod describe;
pub mod duration;
pub mod logging;
pub mod output;
pub mod payload;
pub mod run;
pub mod schedule;
pub mod shutdown;
pub mod store;
pub mod time;
pub mod worker;
pub mod zone;
