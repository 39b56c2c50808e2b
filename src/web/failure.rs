//! A request that cannot be served: an HTML error page, or JSON
//! `{"error": ...}` for the API.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use serde_json::json;

use super::pages;
use crate::store;

/// A request that cannot be served, as an HTML page or, for the API, JSON
/// `{"error": ...}`.
#[derive(Debug)]
pub(super) struct Failure {
    status: StatusCode,
    title: &'static str,
    message: String,
    json: bool,
}

pub(super) type Result<T> = std::result::Result<T, Failure>;

impl Failure {
    pub(super) fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Failure {
        Failure { status, title, message: message.into(), json: false }
    }

    pub(super) fn no_job(name: &str) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, "No such job", format!("clock.toml has no job named {name:?}."))
    }

    pub(super) fn not_found(what: &str) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, "Not found", format!("There is no such {what}."))
    }

    pub(super) fn json(self) -> Failure {
        Failure { json: true, ..self }
    }

    pub(super) fn json_if(self, json: bool) -> Failure {
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
