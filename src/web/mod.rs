//! `clock web`: a dashboard to see and steer a live deployment from a
//! browser, and a JSON API of everything it shows.
//!
//! Server-rendered HTML ([`pages`], maud templates that escape every
//! value) over the views and actions the CLI uses ([`crate::control`]), with
//! one small script that keeps countdowns current and refetches the live
//! part of the overview and job pages every few seconds. Every route but `/healthz` (without `?deep=1`) and the static
//! assets sits behind [`auth`]; every action is a POST that must carry a
//! CSRF token and come from the dashboard's own origin. Without
//! credentials the dashboard answers only requests addressed to a loopback
//! host (`localhost`, `127.0.0.1`, `[::1]`) or an `--allowed-host`, so a
//! page on another domain that resolves to the loopback address (DNS
//! rebinding) gets 421.
//! Every error of the API (`/api/...`) is JSON `{"error": ...}`.
//!
//! | route | method | what |
//! |---|---|---|
//! | `/` | GET | overview: clocks, jobs, queues |
//! | `/jobs/{name}` | GET | a job: definition, chart, upcoming ticks, history |
//! | `/jobs/{name}/trigger`, `/pause`, `/resume` | POST | actions on a job |
//! | `/dead?queue=&job=&page=&per=` | GET | dead letters, newest first, a page at a time |
//! | `/dead/retry`, `/dead/delete` | POST | the letters named (`id`, repeated) or every one (`all=1`) |
//! | `/api/status` | GET | `clock status --json` |
//! | `/api/jobs`, `/api/jobs/{name}` | GET | jobs, one job with upcoming ticks |
//! | `/api/jobs/{name}/history?limit=` | GET | `clock history <job> --json`: the newest `limit` runs (0 to 100, default 100; 0 lists none) |
//! | `/api/dead?queue=` | GET | `clock dead --json` |
//! | `/queues`, `/api/queues` | GET | per queue: first pending payloads and retries, live workers and their runs, processed and failed per minute |
//! | `/alerts` | GET | where alerts go, the last 200 deliveries, the changes of leader |
//! | `/api/alerts` | GET | the same as JSON |
//! | `/healthz` | GET | `ok`, without authentication |
//! | `/healthz?deep=1` | GET | `ok`, or 503 and the deployment's problems, one a line |
//!
//! Layout: this file routes; `state` holds what handlers share;
//! `access` (host and credentials), `headers` (security headers) and
//! `api::api_errors_as_json` are the middleware; `page_routes`, `actions`,
//! `api` and `healthz` are the handlers of the pages, the POST actions,
//! the JSON API and the health check; `failure` is how a request that
//! cannot be served answers; `trouble` is what is wrong with each job;
//! `queues` and `alerts` are the views and handlers of those pages;
//! [`pages`] and `html` render HTML.

mod access;
mod actions;
mod alerts;
mod api;
pub mod auth;
mod failure;
mod headers;
mod healthz;
mod html;
mod job_stats;
mod page_routes;
mod pages;
mod queues;
mod state;
mod trouble;

use axum::Router;
use axum::http::{Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use auth::Auth;
pub use state::{AppState, Options};

use crate::shutdown::Shutdown;
use failure::Failure;

/// Serves the dashboard on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "dashboard listening");
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

/// Every route of the dashboard.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/", get(page_routes::overview))
        .route("/jobs/{name}", get(page_routes::job_page))
        .route("/jobs/{name}/{action}", post(actions::job_action))
        .route("/dead", get(page_routes::dead_page))
        .route("/dead/{action}", post(actions::dead_action))
        .route("/api/status", get(api::api_status))
        .route("/api/jobs", get(api::api_jobs))
        .route("/api/jobs/{name}", get(api::api_job))
        .route("/api/jobs/{name}/history", get(api::api_history))
        .route("/api/dead", get(api::api_dead))
        .route("/queues", get(queues::queues_page))
        .route("/api/queues", get(queues::api_queues))
        .route("/alerts", get(alerts::page))
        .route("/api/alerts", get(alerts::api))
        .route_layer(middleware::from_fn_with_state(state.clone(), access::require_auth))
        .route_layer(middleware::from_fn_with_state(state.clone(), access::require_host));
    Router::new()
        .merge(protected)
        .route("/assets/app.css", get(|| asset("text/css; charset=utf-8", include_str!("assets/app.css"))))
        .route(
            "/assets/app.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("assets/app.js"))),
        )
        .route("/healthz", get(healthz::healthz))
        .fallback(|uri: Uri| async move { Failure::not_found("page").json_if(access::is_api(&uri)) })
        .layer(middleware::from_fn(api::api_errors_as_json))
        .layer(middleware::from_fn(headers::secure_headers))
        .with_state(state)
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}
