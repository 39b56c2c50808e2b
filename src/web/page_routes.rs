//! The handlers of the HTML pages: read the views, render [`pages`].

use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::AppState;
use super::failure::Result;
use super::pages;
use super::trouble;
use crate::control;
use crate::store;

/// Upcoming ticks shown for a job.
pub(super) const UPCOMING: usize = 10;

/// `?done=` after an action: a fixed set of outcomes, so a crafted link
/// cannot put arbitrary text on the page. `queue` narrows the dead letters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
    n: Option<u64>,
    pub(super) queue: Option<String>,
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

pub(super) async fn overview(
    State(state): State<AppState>,
    Query(done): Query<Done>,
) -> Result<Html<String>> {
    let status = state.status(state.now()).await?;
    let troubles = trouble::read(&state.0.config, state.store()?, &status).await?;
    let (notice, csrf) = (done.notice(), state.csrf_token().await?);
    Ok(Html(pages::overview(&status, &troubles, &state.ctx(&csrf, notice.as_deref()))))
}

pub(super) async fn job_page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(done): Query<Done>,
) -> Result<Html<String>> {
    let job = state.job(&name)?;
    let now = state.now();
    let live = state.job_status(job, now).await?;
    let history = control::history(state.store()?, job, store::HISTORY_CAP).await?;
    let upcoming = control::upcoming(job, now, UPCOMING);
    let (notice, csrf) = (done.notice(), state.csrf_token().await?);
    Ok(Html(pages::job(job, &live, &history, &upcoming, &state.ctx(&csrf, notice.as_deref()))))
}

pub(super) async fn dead_page(
    State(state): State<AppState>,
    Query(done): Query<Done>,
) -> Result<Html<String>> {
    let queues = state.queues(done.queue.as_deref())?;
    let letters = control::dead_letters(state.store()?, &queues).await?;
    let (notice, csrf) = (done.notice(), state.csrf_token().await?);
    Ok(Html(pages::dead(&letters, done.queue.as_deref(), &state.ctx(&csrf, notice.as_deref()))))
}
