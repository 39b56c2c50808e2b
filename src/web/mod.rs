//! `clock web`: a dashboard to see and steer a live deployment from a
//! browser, and a JSON API of everything it shows.
//!
//! Server-rendered HTML ([`pages`]) over the views and actions the CLI uses
//! ([`crate::control`]), with one small script that keeps countdowns
//! current. Every route but `/healthz` (without `?deep=1`) and the static
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
//! | `/dead?queue=` | GET | dead letters |
//! | `/dead/retry`, `/dead/delete` | POST | one (`id`) or every (`all=1`) dead letter |
//! | `/api/status` | GET | `clock status --json` |
//! | `/api/jobs`, `/api/jobs/{name}` | GET | jobs, one job with upcoming ticks |
//! | `/api/jobs/{name}/history?limit=` | GET | `clock history <job> --json`: the newest `limit` runs (0 to 100, default 100; 0 lists none) |
//! | `/api/dead?queue=` | GET | `clock dead --json` |
//! | `/healthz` | GET | `ok`, without authentication |
//! | `/healthz?deep=1` | GET | `ok`, or 503 and the deployment's problems, one a line |

pub mod auth;
mod html;
mod pages;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

pub use auth::Auth;
use auth::Csrf;

use crate::config::{Config, Job, QueueName};
use crate::control;
use crate::health::{self, Problem};
use crate::shutdown::Shutdown;
use crate::store::{self, Store};
use crate::time::TimeSource;

/// Upcoming ticks shown for a job.
const UPCOMING: usize = 10;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Arc<Config>,
    /// Set once Redis first answers; until then pages answer 503 and
    /// `/healthz` still answers.
    store: std::sync::OnceLock<Store>,
    auth: Auth,
    /// Host names an open dashboard answers to besides the loopback ones,
    /// lowercase.
    allowed_hosts: Vec<String>,
    /// Set from `CAMPANILE_WEB_SECRET`, else from Redis on first use.
    csrf: tokio::sync::OnceCell<Csrf>,
    time: Arc<dyn TimeSource>,
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
    async fn csrf(&self) -> Result<&Csrf> {
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

    fn store(&self) -> Result<&Store> {
        self.0.store.get().ok_or_else(|| {
            Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Redis is unavailable",
                "The dashboard has not reached Redis yet; it keeps trying.",
            )
        })
    }
}

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
        .route("/", get(overview))
        .route("/jobs/{name}", get(job_page))
        .route("/jobs/{name}/{action}", post(job_action))
        .route("/dead", get(dead_page))
        .route("/dead/{action}", post(dead_action))
        .route("/api/status", get(api_status))
        .route("/api/jobs", get(api_jobs))
        .route("/api/jobs/{name}", get(api_job))
        .route("/api/jobs/{name}/history", get(api_history))
        .route("/api/dead", get(api_dead))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_auth))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_host));
    Router::new()
        .merge(protected)
        .route("/assets/app.css", get(|| asset("text/css; charset=utf-8", include_str!("assets/app.css"))))
        .route(
            "/assets/app.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("assets/app.js"))),
        )
        .route("/healthz", get(healthz))
        .fallback(|uri: Uri| async move {
            Failure::new(StatusCode::NOT_FOUND, "Not found", "There is no such page.").json_if(is_api(&uri))
        })
        .layer(middleware::from_fn(api_errors_as_json))
        .layer(middleware::from_fn(secure_headers))
        .with_state(state)
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}

fn is_api(uri: &Uri) -> bool {
    uri.path().starts_with("/api/")
}

/// A short plain-text answer, or `{"error": ...}` for the API.
fn refusal(status: StatusCode, api: bool, message: String) -> Response {
    if api {
        (status, Json(json!({ "error": message }))).into_response()
    } else {
        (status, format!("{message}\n")).into_response()
    }
}

/// Without credentials, refuses (421) a request addressed to a host that is
/// neither loopback nor allowed: a browser sends a rebinding domain's name
/// as `Host` (and `Origin`), so this is what keeps another site's page from
/// steering a dashboard on this machine.
async fn require_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match host_refusal(&state, request.headers(), is_api(request.uri())) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// The 421 [`require_host`] answers, if the request needs one.
fn host_refusal(state: &AppState, headers: &HeaderMap, api: bool) -> Option<Response> {
    if !matches!(state.0.auth, Auth::Open) {
        return None;
    }
    let host = headers.get(header::HOST).map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned());
    if host.as_deref().is_some_and(|h| auth::host_allowed(h, &state.0.allowed_hosts)) {
        return None;
    }
    let shown = host.as_deref().unwrap_or("");
    let message = format!(
        "misdirected request: this dashboard answers only to localhost, 127.0.0.1, [::1] and the hosts given \
         with --allowed-host, not to host {shown:?}"
    );
    Some(refusal(StatusCode::MISDIRECTED_REQUEST, api, message))
}

/// Makes every error answer of the API JSON, including those axum writes
/// itself (a query that does not parse, a method not allowed).
async fn api_errors_as_json(request: Request, next: Next) -> Response {
    const BODY_LIMIT: usize = 64 * 1024;
    if !is_api(request.uri()) {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let status = response.status();
    if json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_lowercase(),
        text => text.to_owned(),
    };
    let mut out = refusal(status, true, message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out
}

/// Rejects requests without the configured credentials.
async fn require_auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match auth_refusal(&state, request.headers(), is_api(request.uri())) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// The 401 [`require_auth`] answers, if the request needs one.
fn auth_refusal(state: &AppState, headers: &HeaderMap, api: bool) -> Option<Response> {
    if state.0.auth.admits(headers) {
        return None;
    }
    let mut response = refusal(StatusCode::UNAUTHORIZED, api, "authentication required".into());
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Basic realm="campanile", charset="UTF-8""#),
    );
    Some(response)
}

/// `/healthz`: `ok`, cheap, for load balancers. `/healthz?deep=1`: the
/// deployment's health ([`health::assess`]) for uptime checks: 200 `ok`
/// without problems, else 503 with one `<kind>: <message>` line per
/// problem (a Redis the dashboard cannot reach is one). The deep answer
/// names jobs, queues and the leader's host, so it sits behind the same
/// credentials and host check as the pages.
async fn healthz(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if query.get("deep").is_none_or(|deep| deep != "1") {
        return "ok\n".into_response();
    }
    if let Some(refused) =
        host_refusal(&state, &headers, false).or_else(|| auth_refusal(&state, &headers, false))
    {
        return refused;
    }
    let redis = &state.0.config.redis;
    let problems = match state.0.store.get() {
        Some(store) => match health::assess(&state.0.config, store).await {
            Ok(health) => health.problems,
            Err(e) => vec![Problem::unreachable(redis, &e)],
        },
        None => vec![Problem::RedisUnreachable {
            url: redis.redacted_url(),
            error: "the dashboard has not reached it yet".into(),
        }],
    };
    if problems.is_empty() {
        return "ok\n".into_response();
    }
    let lines: String = problems.iter().map(|p| p.line() + "\n").collect();
    (StatusCode::SERVICE_UNAVAILABLE, lines).into_response()
}

/// Headers that keep pages from being framed, sniffed, cached or made to
/// run script from anywhere but `/assets`.
async fn secure_headers(request: Request, next: Next) -> Response {
    let https = request.headers().get("x-forwarded-proto").is_some_and(|p| p.as_bytes() == b"https");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// A request that cannot be served, as an HTML page or, for the API, JSON
/// `{"error": ...}`.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    title: &'static str,
    message: String,
    json: bool,
}

impl Failure {
    fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Failure {
        Failure { status, title, message: message.into(), json: false }
    }

    fn no_job(name: &str) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, "No such job", format!("clock.toml has no job named {name:?}."))
    }

    fn json(self) -> Failure {
        Failure { json: true, ..self }
    }

    fn json_if(self, json: bool) -> Failure {
        Failure { json, ..self }
    }
}

impl From<store::Error> for Failure {
    fn from(e: store::Error) -> Failure {
        tracing::warn!(error = %crate::error_chain::error_chain(&e), "dashboard: redis request failed");
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Redis is unavailable",
            format!("Redis did not answer: {}", crate::error_chain::error_chain(&e)),
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if self.json {
            (self.status, Json(json!({ "error": self.message }))).into_response()
        } else {
            (self.status, Html(pages::error(self.title, &self.message))).into_response()
        }
    }
}

type Result<T> = std::result::Result<T, Failure>;

/// `?done=` after an action: a fixed set of outcomes, so a crafted link
/// cannot put arbitrary text on the page.
#[derive(Debug, Default, Deserialize)]
struct Done {
    done: Option<String>,
    n: Option<u64>,
    queue: Option<String>,
}

impl Done {
    fn notice(&self) -> Option<String> {
        let n = self.n.unwrap_or(0);
        let letters = if n == 1 { "dead letter" } else { "dead letters" };
        Some(match self.done.as_deref()? {
            "triggered" => "Enqueued a run now.".into(),
            "paused" => "Paused: its ticks are skipped until it is resumed.".into(),
            "resumed" => "Resumed.".into(),
            "unchanged" => "Nothing to do: it already was.".into(),
            "retried" => format!("Put {n} {letters} back on the queue."),
            "deleted" => format!("Deleted {n} {letters}."),
            _ => return None,
        })
    }
}

impl AppState {
    fn job(&self, name: &str) -> Result<&Job> {
        self.0.config.job(name).ok_or_else(|| Failure::no_job(name))
    }

    fn ctx<'a>(&self, csrf: &'a str, notice: Option<&'a str>) -> pages::Ctx<'a> {
        pages::Ctx { now: self.0.time.now(), csrf, notice }
    }

    /// A CSRF token for the forms of a page rendered now.
    async fn csrf_token(&self) -> Result<String> {
        Ok(self.csrf().await?.issue(self.0.time.now()))
    }

    async fn status(&self, now: DateTime<Utc>) -> Result<Value> {
        Ok(control::status(&self.0.config, self.store()?, now).await?)
    }

    /// A job's entry of the status view: definition and live state.
    async fn job_status(&self, job: &Job, now: DateTime<Utc>) -> Result<Value> {
        let mut status = self.status(now).await?;
        let jobs = status["jobs"].as_array_mut().map(std::mem::take).unwrap_or_default();
        Ok(jobs.into_iter().find(|j| j["name"] == job.name.as_str()).unwrap_or(Value::Null))
    }

    /// The queues a `?queue=` names, else every queue of the config.
    fn queues(&self, only: Option<&str>) -> Result<Vec<QueueName>> {
        match only {
            Some(name) => QueueName::new(name)
                .map(|q| vec![q])
                .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "Bad queue name", e.to_string())),
            None => Ok(self.0.config.queues_all()),
        }
    }

    /// Refuses a state-changing request without a current CSRF token of
    /// this deployment or from another origin.
    async fn check_form(&self, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<()> {
        let token = form.get("csrf").map(String::as_str).unwrap_or_default();
        if !self.csrf().await?.verify(token, self.0.time.now()) || !auth::same_origin(headers) {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "Request refused",
                "The form was not sent from this dashboard (missing, wrong or expired CSRF token, or another \
                 origin). \
                 Reload the page and try again.",
            ));
        }
        Ok(())
    }
}

/// Where to go after an action: the form's `back` if it is a path on this
/// site, else the overview; with `done` (and `n`) added to its query.
fn after_action(form: &HashMap<String, String>, done: &str, n: Option<u64>) -> Redirect {
    let back = form
        .get("back")
        .filter(|b| {
            b.starts_with('/') && !b.starts_with("//") && !b.contains(|c: char| c == '\\' || c.is_control())
        })
        .map(String::as_str)
        .unwrap_or("/");
    let sep = if back.contains('?') { '&' } else { '?' };
    let count = n.map(|n| format!("&n={n}")).unwrap_or_default();
    Redirect::to(&format!("{back}{sep}done={done}{count}"))
}

async fn overview(State(state): State<AppState>, Query(done): Query<Done>) -> Result<Html<String>> {
    let status = state.status(state.0.time.now()).await?;
    let (notice, csrf) = (done.notice(), state.csrf_token().await?);
    Ok(Html(pages::overview(&status, &state.ctx(&csrf, notice.as_deref()))))
}

async fn job_page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(done): Query<Done>,
) -> Result<Html<String>> {
    let job = state.job(&name)?;
    let now = state.0.time.now();
    let live = state.job_status(job, now).await?;
    let history = control::history(state.store()?, job, store::HISTORY_CAP).await?;
    let upcoming = control::upcoming(job, now, UPCOMING);
    let (notice, csrf) = (done.notice(), state.csrf_token().await?);
    Ok(Html(pages::job(job, &live, &history, &upcoming, &state.ctx(&csrf, notice.as_deref()))))
}

async fn job_action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Redirect> {
    state.check_form(&headers, &form).await?;
    let job = state.job(&name)?;
    let (store, now) = (state.store()?, state.0.time.now());
    let done = match action.as_str() {
        "trigger" => {
            let payload = control::trigger(store, job, None, now).await?;
            tracing::info!(job = %job.name, id = %payload.id, "dashboard: triggered");
            "triggered"
        }
        "pause" | "resume" => {
            let pause = action == "pause";
            let changed = control::set_paused(store, job, pause, now).await?;
            tracing::info!(job = %job.name, action, changed, "dashboard: pause state");
            match (changed, pause) {
                (false, _) => "unchanged",
                (true, true) => "paused",
                (true, false) => "resumed",
            }
        }
        _ => return Err(Failure::new(StatusCode::NOT_FOUND, "Not found", "There is no such action.")),
    };
    Ok(after_action(&form, done, None))
}

async fn dead_page(State(state): State<AppState>, Query(done): Query<Done>) -> Result<Html<String>> {
    let queues = state.queues(done.queue.as_deref())?;
    let letters = control::dead_letters(state.store()?, &queues).await?;
    let (notice, csrf) = (done.notice(), state.csrf_token().await?);
    Ok(Html(pages::dead(&letters, done.queue.as_deref(), &state.ctx(&csrf, notice.as_deref()))))
}

async fn dead_action(
    State(state): State<AppState>,
    Path(action): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Redirect> {
    state.check_form(&headers, &form).await?;
    if action != "retry" && action != "delete" {
        return Err(Failure::new(StatusCode::NOT_FOUND, "Not found", "There is no such action."));
    }
    let queues = state.queues(form.get("queue").map(String::as_str))?;
    let all = form.get("all").is_some_and(|v| v == "1");
    let id = form.get("id").map(String::as_str);
    let letters = control::dead_letters(state.store()?, &queues).await?;
    let chosen: Vec<_> = letters.into_iter().filter(|d| all || id == Some(d.id.as_str())).collect();
    if chosen.is_empty() && !all {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "No such dead letter",
            format!(
                "There is no dead letter with id {:?}; it may have been retried or deleted already.",
                id.unwrap_or("")
            ),
        ));
    }
    let n = if action == "retry" {
        control::retry_dead(state.store()?, &chosen).await?
    } else {
        control::delete_dead(state.store()?, &chosen).await?
    };
    tracing::info!(action, n, "dashboard: dead letters");
    Ok(after_action(&form, if action == "retry" { "retried" } else { "deleted" }, Some(n)))
}

async fn api_status(State(state): State<AppState>) -> Result<Json<Value>> {
    Ok(Json(state.status(state.0.time.now()).await.map_err(Failure::json)?))
}

async fn api_jobs(State(state): State<AppState>) -> Result<Json<Value>> {
    let mut status = state.status(state.0.time.now()).await.map_err(Failure::json)?;
    Ok(Json(status["jobs"].take()))
}

async fn api_job(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>> {
    let job = state.job(&name).map_err(Failure::json)?;
    let now = state.0.time.now();
    let mut live = state.job_status(job, now).await.map_err(Failure::json)?;
    let upcoming: Vec<String> =
        control::upcoming(job, now, UPCOMING).into_iter().map(crate::output::utc).collect();
    live["upcoming"] = json!(upcoming);
    Ok(Json(live))
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn api_history(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(limit): Query<Limit>,
) -> Result<Json<Value>> {
    let job = state.job(&name).map_err(Failure::json)?;
    let limit = limit.limit.unwrap_or(store::HISTORY_CAP).min(store::HISTORY_CAP);
    let history = control::history(state.store().map_err(Failure::json)?, job, limit)
        .await
        .map_err(Failure::from)
        .map_err(Failure::json)?;
    Ok(Json(serde_json::to_value(history).expect("history serialises")))
}

async fn api_dead(State(state): State<AppState>, Query(done): Query<Done>) -> Result<Json<Value>> {
    let queues = state.queues(done.queue.as_deref()).map_err(Failure::json)?;
    let letters = control::dead_letters(state.store().map_err(Failure::json)?, &queues)
        .await
        .map_err(Failure::from)
        .map_err(Failure::json)?;
    Ok(Json(Value::Array(letters.iter().map(control::Dead::to_json).collect())))
}
