//! Names of processes, as clocks, workers and dashboards show them.

/// `host:pid:nonce`: unique per process, readable in status output; names
/// clocks and workers.
pub fn process_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into());
    let random = RandomState::new().hash_one(std::process::id()) & 0xffff;
    format!("{host}:{}:{random:04x}", std::process::id())
}
