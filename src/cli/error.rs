//! What the commands' own checks can fail with, before or beside the
//! library's errors: arguments and environment (exit 2), the private
//! redis-server of `clock dev` and the deployed table of `clock plan`.
//! Each message is printed after `error: ` and pinned by `tests/cli.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::dev::INSTALL_HINT;
use super::web::MIN_SECRET;
use crate::error_chain::error_chain;

/// Why a command cannot do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("unknown time zone {0:?}")]
    Zone(String),
    #[error("{input:?} is not an RFC 3339 instant like 2026-03-08T07:00:00Z ({reason})")]
    Instant { input: String, reason: chrono::ParseError },

    #[error("CAMPANILE_WEB_SECRET must be at least {MIN_SECRET} characters long")]
    ShortSecret,
    #[error("PORT={0:?} is not a port number")]
    Port(String),
    #[error("CAMPANILE_WEB_USER must not contain ':' (HTTP basic auth cannot carry it)")]
    ColonInUser,
    #[error("CAMPANILE_WEB_USER is set but CAMPANILE_WEB_PASSWORD is not")]
    NoPassword,
    #[error("CAMPANILE_WEB_PASSWORD is set but CAMPANILE_WEB_USER is not")]
    NoUser,
    #[error(
        "refusing to serve the dashboard on {0} without authentication: set CAMPANILE_WEB_USER and \
         CAMPANILE_WEB_PASSWORD, listen on a loopback address, or pass --no-auth if a proxy in front \
         authenticates every request"
    )]
    Unauthenticated(SocketAddr),

    #[error("cannot find a free port: {0}")]
    FreePort(std::io::Error),
    #[error("cannot create {}: {reason}", dir.display())]
    CreateDir { dir: PathBuf, reason: std::io::Error },
    #[error(
        "clock dev starts a private redis-server (unless REDIS_URL is set), and redis-server is not installed: {INSTALL_HINT}"
    )]
    RedisNotInstalled,
    #[error("cannot start redis-server: {0}")]
    StartRedis(std::io::Error),
    #[error("redis-server did not start within 10 s")]
    RedisNotReady,

    #[error("no async runtime")]
    NoRuntime,
    /// The chain is in the message: `clock plan` shows it as the reason it
    /// is offline.
    #[error("cannot reach {url}: {}", error_chain(.reason))]
    Unreachable { url: String, reason: crate::store::Error },
    #[error("{}", error_chain(.0))]
    Store(crate::store::Error),
}
