//! `Ticker`s driven instant by instant: each stands for a clock process,
//! so restarts, crashes and second clocks are exact and instant.

use std::path::Path;
use std::sync::Arc;

use campanile::clock::{Fired, Ticker};
use campanile::config::{Config, RedisSettings};
use campanile::store::Store;
use chrono::{DateTime, Utc};

use super::RedisServer;

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub fn config(text: &str) -> Arc<Config> {
    Arc::new(Config::parse(text, Path::new("clock.toml"), at("2026-01-01T00:00:00Z")).unwrap())
}

pub async fn store(server: &RedisServer) -> Store {
    Store::connect(&RedisSettings { url: Some(server.url()), ..RedisSettings::default() }).await.unwrap()
}

/// A clock process that starts leading at `now` (with a new leadership
/// term) and fires what is due then.
pub async fn clock_at(config: &Arc<Config>, store: &Store, now: DateTime<Utc>) -> (Ticker, Fired) {
    let term = store.next_term().await.unwrap();
    let mut ticker = Ticker::start(config.clone(), store.clone(), term, now).await.unwrap();
    let fired = ticker.fire_due(now).await.unwrap();
    (ticker, fired)
}

/// Runs a ticker through every due instant up to `until`, as the daemon
/// loop does.
pub async fn run_until(ticker: &mut Ticker, until: DateTime<Utc>) -> Fired {
    let mut total = Fired::default();
    while let Some(due) = ticker.next_due().filter(|d| *d <= until) {
        let f = ticker.fire_due(due).await.unwrap();
        total.pushed += f.pushed;
        total.duplicate += f.duplicate;
        total.overlap += f.overlap;
        total.missed += f.missed;
        total.paused += f.paused;
    }
    total
}
