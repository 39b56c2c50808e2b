//! The JSON API (`/api/...`): the views the CLI prints with `--json`, and
//! errors as `{"error": ...}` whoever wrote them.

use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{Json, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::access::{is_api, refusal};
use super::failure::{Failure, Result};
use super::page_routes::UPCOMING;
use crate::control;
use crate::store;

/// Makes every error answer of the API JSON, including those axum writes
/// itself (a query that does not parse, a method not allowed).
pub(super) async fn api_errors_as_json(request: Request, next: Next) -> Response {
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

pub(super) async fn api_status(State(state): State<AppState>) -> Result<Json<Value>> {
    Ok(Json(state.status(state.now()).await.map_err(Failure::json)?))
}

pub(super) async fn api_jobs(State(state): State<AppState>) -> Result<Json<Value>> {
    let mut status = state.status(state.now()).await.map_err(Failure::json)?;
    Ok(Json(status["jobs"].take()))
}

pub(super) async fn api_job(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>> {
    let job = state.job(&name).map_err(Failure::json)?;
    let now = state.now();
    let mut live = state.job_status(job, now).await.map_err(Failure::json)?;
    let upcoming: Vec<String> =
        control::upcoming(job, now, UPCOMING).into_iter().map(crate::text::utc).collect();
    live["upcoming"] = json!(upcoming);
    let redis = state.store().map_err(Failure::json)?;
    let history = control::history(redis, job, store::HISTORY_CAP)
        .await
        .map_err(Failure::from)
        .map_err(Failure::json)?;
    let (ticks, stats) =
        super::job_stats::read(redis, job, &history).await.map_err(Failure::from).map_err(Failure::json)?;
    live["stats"] = json!(stats);
    live["ticks"] = json!(ticks);
    Ok(Json(live))
}

#[derive(Debug, Deserialize)]
pub(super) struct Limit {
    limit: Option<usize>,
}

pub(super) async fn api_history(
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

/// `?queue=`: one queue's dead letters rather than every queue's.
#[derive(Debug, Default, Deserialize)]
pub(super) struct QueueFilter {
    queue: Option<String>,
}

pub(super) async fn api_dead(
    State(state): State<AppState>,
    Query(filter): Query<QueueFilter>,
) -> Result<Json<Value>> {
    let queues = state.queues(filter.queue.as_deref()).map_err(Failure::json)?;
    let letters = control::dead_letters(state.store().map_err(Failure::json)?, &queues)
        .await
        .map_err(Failure::from)
        .map_err(Failure::json)?;
    Ok(Json(Value::Array(letters.iter().map(control::Dead::to_json).collect())))
}
