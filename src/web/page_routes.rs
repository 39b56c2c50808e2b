//! The handlers of the HTML pages: read the views, render [`pages`].

use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::AppState;
use super::actions::notice_text;
use super::failure::Result;
use super::pages::{self, DEAD_PAGE, DEAD_PAGE_MAX};
use super::trouble;
use crate::control;
use crate::store;

/// Upcoming ticks shown for a job.
pub(super) const UPCOMING: usize = 10;

/// `?done=` after an action: a fixed set of outcomes, so a crafted link
/// cannot put arbitrary text on the page. `queue` and `job` narrow the
/// dead letters, `page` and `per` page through them.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
    n: Option<u64>,
    pub(super) queue: Option<String>,
    job: Option<String>,
    page: Option<usize>,
    per: Option<usize>,
    /// The job a job action acted on, named in its notice.
    of: Option<String>,
    /// The action's signature of `done`, `n` and `of`: a link someone crafted
    /// (`?done=deleted&n=9999`) shows nothing.
    sig: Option<String>,
}

impl Done {
    /// The notice of the action that led here, if the action wrote it.
    async fn notice(&self, state: &AppState) -> Result<Option<String>> {
        let (Some(done), Some(sig)) = (self.done.as_deref(), self.sig.as_deref()) else { return Ok(None) };
        let signed = state.csrf().await?.verify_notice(
            &notice_text(done, self.n, self.of.as_deref()),
            sig,
            state.now(),
        );
        Ok(if signed { self.text() } else { None })
    }

    fn text(&self) -> Option<String> {
        let n = self.n.unwrap_or(0);
        let letters = if n == 1 { "dead letter" } else { "dead letters" };
        let job = self.of.as_deref().unwrap_or("the job");
        Some(match self.done.as_deref()? {
            "triggered" => format!("Enqueued a run of {job} now."),
            "paused" => format!("Paused {job}: its ticks are skipped until it is resumed."),
            "resumed" => format!("Resumed {job}."),
            "unchanged" => format!("Nothing to do: {job} already was."),
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
    let mut status = state.status(state.now()).await?;
    // The overview's own addition to the status view: the leader's changes.
    let changes = state.store()?.leader_changes(store::LEADER_CHANGES_CAP).await?;
    status["leader_changes"] = super::alerts::summary(&changes, state.now());
    let troubles = trouble::read(&state.0.config, state.store()?, &status).await?;
    let (notice, csrf) = (done.notice(&state).await?, state.csrf_token().await?);
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
    let (ticks, stats) = super::job_stats::read(state.store()?, job, &history).await?;
    let upcoming = control::upcoming(job, now, UPCOMING);
    let (notice, csrf) = (done.notice(&state).await?, state.csrf_token().await?);
    let view =
        pages::JobView { live: &live, history: &history, ticks: &ticks, stats: &stats, upcoming: &upcoming };
    Ok(Html(pages::job(job, &view, &state.ctx(&csrf, notice.as_deref()))))
}

pub(super) async fn dead_page(
    State(state): State<AppState>,
    Query(done): Query<Done>,
) -> Result<Html<String>> {
    let queues = state.queues(done.queue.as_deref())?;
    let per = done.per.unwrap_or(DEAD_PAGE).clamp(1, DEAD_PAGE_MAX);
    // A bounded read: this page's share of each queue (control::dead_page).
    let found =
        control::dead_page(state.store()?, &queues, done.job.as_deref(), done.page.unwrap_or(1), per).await?;
    let listing = pages::Listing {
        letters: &found.letters,
        total: found.total,
        page: found.page,
        per,
        queue: done.queue.as_deref(),
        job: done.job.as_deref(),
        jobs: state.0.config.jobs.iter().map(|j| j.name.as_str()).collect(),
        unsearched: found.unsearched,
    };
    let (notice, csrf) = (done.notice(&state).await?, state.csrf_token().await?);
    Ok(Html(pages::dead(&listing, &state.ctx(&csrf, notice.as_deref()))))
}
