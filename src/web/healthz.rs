//! `/healthz`, cheap for load balancers, and `/healthz?deep=1`, the
//! deployment's problems for uptime checks.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::access::{auth_refusal, host_refusal};
use crate::health::{self, Problem};

/// `/healthz`: `ok`, cheap, for load balancers. `/healthz?deep=1`: the
/// deployment's health ([`health::assess`]) for uptime checks: 200 `ok`
/// without problems, else 503 with one `<kind>: <message>` line per
/// problem (a Redis the dashboard cannot reach is one). The deep answer
/// names jobs, queues and the leader's host, so it sits behind the same
/// credentials and host check as the pages.
pub(super) async fn healthz(
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
