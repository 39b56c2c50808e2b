//! Who may ask: the host check of an open dashboard (421) and the
//! credentials check (401), as middleware and as the plain checks
//! `/healthz?deep=1` makes itself.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use super::AppState;
use super::auth::{self, Auth};

/// Whether `uri` is one of the JSON API's.
pub(super) fn is_api(uri: &Uri) -> bool {
    uri.path().starts_with("/api/")
}

/// A short plain-text answer, or `{"error": ...}` for the API.
pub(super) fn refusal(status: StatusCode, api: bool, message: String) -> Response {
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
pub(super) async fn require_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match host_refusal(&state, request.headers(), is_api(request.uri())) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// The 421 [`require_host`] answers, if the request needs one.
pub(super) fn host_refusal(state: &AppState, headers: &HeaderMap, api: bool) -> Option<Response> {
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

/// Rejects requests without the configured credentials.
pub(super) async fn require_auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match auth_refusal(&state, request.headers(), is_api(request.uri())) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// The 401 [`require_auth`] answers, if the request needs one.
pub(super) fn auth_refusal(state: &AppState, headers: &HeaderMap, api: bool) -> Option<Response> {
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
