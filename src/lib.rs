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
//! - [`clock`]: the daemon: leader lease, catch-up [`clock::due`], the
//!   [`clock::Ticker`] that pushes due ticks.
//! - [`worker`]: takes payloads, runs commands, retries, dead letters,
//!   recovers lost payloads, drains on shutdown.
//! - [`store`]: the only module that talks to Redis; every key in
//!   [`store::keys`], every Lua script in `src/store/scripts/`.
//! - [`payload`], [`run`]: the JSON on the queues, in history and in dead
//!   letters (public contracts); [`formats`]: what a job of each enqueue
//!   format pushes (campanile's payload, Sidekiq's, Resque's, bare JSON,
//!   Celery's, RQ's, BullMQ's).
//! - [`control`]: views and actions over a live deployment (status,
//!   history, dead letters; trigger, pause, retry), shared by the CLI and
//!   [`web`], the dashboard and its JSON API; [`health`]: what is wrong
//!   right now (no leader, unserved queues, late ticks), for the same two
//!   and for uptime checks.
//! - [`text`]: instants, cells and tables as the CLI prints them (public
//!   contract); [`cli`]: the `clock` and `worker` command lines;
//!   [`describe`]: schedules in words; [`logging`]: pretty, logfmt or JSON
//!   logs; [`shutdown`]: the stop signal.
//!
//! The binaries in `src/bin/` only parse arguments, set up logging and call
//! into this library.

pub mod backoff;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod cron;
pub mod deploy;
pub mod describe;
pub mod duration;
pub mod error_chain;
pub mod formats;
pub mod hash;
pub mod health;
pub mod identity;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod payload;
pub mod run;
pub mod schedule;
pub mod shutdown;
pub mod store;
pub mod supervisor;
pub mod text;
pub mod tick_log;
pub mod time;
pub mod web;
pub mod worker;
pub mod zone;
