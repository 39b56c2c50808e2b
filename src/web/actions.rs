//! The POST actions: trigger, pause and resume a job; retry and delete
//! dead letters. Each needs a current CSRF token of this deployment and the
//! dashboard's own origin, and redirects back with `?done=`.

use std::collections::{HashMap, HashSet};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Redirect;

use super::AppState;
use super::auth;
use super::failure::{Failure, Result};
use super::pages::DEAD_PAGE_MAX;
use crate::control;

impl AppState {
    /// Refuses a state-changing request without a current CSRF token of
    /// this deployment or from another origin.
    async fn check_form(&self, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<()> {
        let token = form.get("csrf").map(String::as_str).unwrap_or_default();
        if !self.csrf().await?.verify(token, self.now()) || !auth::same_origin(headers) {
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
/// site, else the overview; with `done` (and `n`) added to its query, and
/// `sig`, their signature, without which the page shows no notice.
async fn after_action(
    state: &AppState,
    form: &HashMap<String, String>,
    done: &str,
    n: Option<u64>,
    of: Option<&str>,
) -> Result<Redirect> {
    let back = form
        .get("back")
        .filter(|b| {
            b.starts_with('/') && !b.starts_with("//") && !b.contains(|c: char| c == '\\' || c.is_control())
        })
        .map(String::as_str)
        .unwrap_or("/");
    let sep = if back.contains('?') { '&' } else { '?' };
    let count = n.map(|n| format!("&n={n}")).unwrap_or_default();
    // Job names are letters, digits, '-', '_' and '.': nothing to escape.
    let job = of.map(|j| format!("&of={j}")).unwrap_or_default();
    let sig = state.csrf().await?.sign_notice(&notice_text(done, n, of), state.now());
    Ok(Redirect::to(&format!("{back}{sep}done={done}{count}{job}&sig={sig}")))
}

/// What a notice's signature covers: the outcome, the count and the job.
pub(super) fn notice_text(done: &str, n: Option<u64>, of: Option<&str>) -> String {
    format!("{done} {} {}", n.map(|n| n.to_string()).unwrap_or_default(), of.unwrap_or_default())
}

pub(super) async fn job_action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Redirect> {
    state.check_form(&headers, &form).await?;
    let job = state.job(&name)?;
    let (store, now) = (state.store()?, state.now());
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
        _ => return Err(Failure::not_found("action")),
    };
    after_action(&state, &form, done, None, Some(job.name.as_str())).await
}

/// `/dead/retry`, `/dead/delete`: the letters named by `id` fields (one,
/// or every letter a page listed, so "all" means exactly what was shown),
/// or with `all=1` every letter of the queues at the time of the request.
pub(super) async fn dead_action(
    State(state): State<AppState>,
    Path(action): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Redirect> {
    let ids: HashSet<&str> = fields.iter().filter(|(k, _)| k == "id").map(|(_, v)| v.as_str()).collect();
    let form: HashMap<String, String> = fields.iter().rev().cloned().collect();
    state.check_form(&headers, &form).await?;
    if action != "retry" && action != "delete" {
        return Err(Failure::not_found("action"));
    }
    if ids.len() > DEAD_PAGE_MAX {
        let message = format!("At most {DEAD_PAGE_MAX} dead letters at a time, or all=1.");
        return Err(Failure::new(StatusCode::BAD_REQUEST, "Too many dead letters", message));
    }
    let queues = state.queues(form.get("queue").map(String::as_str))?;
    let all = form.get("all").is_some_and(|v| v == "1");
    let letters = control::dead_letters(state.store()?, &queues).await?;
    let chosen: Vec<_> = letters.into_iter().filter(|d| all || ids.contains(d.id.as_str())).collect();
    if chosen.is_empty() && !all {
        let id = ids.iter().next().copied().unwrap_or("");
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "No such dead letter",
            format!("There is no dead letter with id {id:?}; it may have been retried or deleted already."),
        ));
    }
    let n = if action == "retry" {
        control::retry_dead(state.store()?, &chosen).await?
    } else {
        control::delete_dead(state.store()?, &chosen).await?
    };
    tracing::info!(action, n, "dashboard: dead letters");
    after_action(&state, &form, if action == "retry" { "retried" } else { "deleted" }, Some(n), None).await
}
