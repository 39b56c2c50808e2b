//! What every handler shares: the config, the Redis connection once there
//! is one, the credentials, the CSRF signer and the time source.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::auth::{self, Auth, Csrf};
use super::failure::{Failure, Result};
use super::pages;
use crate::config::{Config, Job, QueueName};
use crate::control;
use crate::store::Store;
use crate::time::TimeSource;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(pub(super) Arc<Inner>);

pub(super) struct Inner {
    pub(super) config: Arc<Config>,
    /// Set once Redis first answers; until then pages answer 503 and
    /// `/healthz` still answers.
    pub(super) store: std::sync::OnceLock<Store>,
    pub(super) auth: Auth,
    /// Host names an open dashboard answers to besides the loopback ones,
    /// lowercase.
    pub(super) allowed_hosts: Vec<String>,
    /// Set from `CAMPANILE_WEB_SECRET`, else from Redis on first use.
    csrf: tokio::sync::OnceCell<Csrf>,
    pub(super) time: Arc<dyn TimeSource>,
}

/// What `clock web` is told besides the config and credentials.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--allowed-host`: host names (`name` or `name:port`) an open
    /// dashboard answers to besides the loopback ones.
    pub allowed_hosts: Vec<String>,
    /// `CAMPANILE_WEB_SECRET`: what CSRF tokens are signed with; without
    /// it, a random secret kept in Redis.
    pub secret: Option<String>,
}

impl AppState {
    pub fn new(config: Arc<Config>, auth: Auth, time: Arc<dyn TimeSource>, options: Options) -> AppState {
        let csrf = tokio::sync::OnceCell::new_with(options.secret.map(|s| Csrf::new(s.as_bytes())));
        let allowed_hosts = options.allowed_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        AppState(Arc::new(Inner {
            config,
            store: std::sync::OnceLock::new(),
            auth,
            allowed_hosts,
            csrf,
            time,
        }))
    }

    /// The CSRF signer: the configured secret, else the one shared in Redis
    /// (set there by the first dashboard to ask).
    pub(super) async fn csrf(&self) -> Result<&Csrf> {
        self.0
            .csrf
            .get_or_try_init(|| async {
                let secret = self.store()?.web_secret(&auth::random_secret()).await?;
                Ok(Csrf::new(secret.as_bytes()))
            })
            .await
    }

    /// Hands the dashboard its Redis connection once there is one.
    pub fn connected(&self, store: Store) {
        let _ = self.0.store.set(store);
    }

    pub(super) fn store(&self) -> Result<&Store> {
        self.0.store.get().ok_or_else(|| {
            Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Redis is unavailable",
                "The dashboard has not reached Redis yet; it keeps trying.",
            )
        })
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.0.time.now()
    }

    pub(super) fn job(&self, name: &str) -> Result<&Job> {
        self.0.config.job(name).ok_or_else(|| Failure::no_job(name))
    }

    pub(super) fn ctx<'a>(&self, csrf: &'a str, notice: Option<&'a str>) -> pages::Ctx<'a> {
        pages::Ctx { now: self.now(), csrf, notice }
    }

    /// A CSRF token for the forms of a page rendered now.
    pub(super) async fn csrf_token(&self) -> Result<String> {
        Ok(self.csrf().await?.issue(self.now()))
    }

    pub(super) async fn status(&self, now: DateTime<Utc>) -> Result<Value> {
        Ok(control::status(&self.0.config, self.store()?, now).await?)
    }

    /// A job's entry of the status view: definition and live state.
    pub(super) async fn job_status(&self, job: &Job, now: DateTime<Utc>) -> Result<Value> {
        let mut status = self.status(now).await?;
        let jobs = status["jobs"].as_array_mut().map(std::mem::take).unwrap_or_default();
        Ok(jobs.into_iter().find(|j| j["name"] == job.name.as_str()).unwrap_or(Value::Null))
    }

    /// The queues a `?queue=` names, else every queue of the config.
    pub(super) fn queues(&self, only: Option<&str>) -> Result<Vec<QueueName>> {
        match only {
            Some(name) => QueueName::new(name)
                .map(|q| vec![q])
                .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "Bad queue name", e.to_string())),
            None => Ok(self.0.config.queues_all()),
        }
    }
}
