//! The dashboard's pages, rendered from the same views `clock status`,
//! `clock history` and `clock dead` print ([`crate::control`]). Pure
//! functions of their inputs, so they are tested without a server.
//!
//! Each page is a maud template (see [`super::html`]): every value is
//! escaped where it is interpolated, so no page needs to remember to.

mod alerts;
mod dead;
mod health_summary;
mod job;
mod job_chart;
mod job_history;
mod minute_chart;
mod overview;
mod queues;
#[cfg(test)]
mod queues_tests;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::Value;

pub use alerts::{alerts, changes_summary};
pub use dead::{DEAD_PAGE, DEAD_PAGE_MAX, Listing, dead};
pub use job::{JobView, job};
pub use overview::overview;
pub use queues::queues;

use super::html::{Nav, ago, badge, button, countdown, live, page, scroll, spaced, time, url_segment};
use crate::text::{self, cell};

/// What every page needs besides its data.
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub csrf: &'a str,
    /// A message about the action that led here.
    pub notice: Option<&'a str>,
}

/// An RFC 3339 instant of the status view.
fn instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.to_utc())
}

/// A job's schedule as written, and in words when the view has them.
fn schedule_cell(schedule: &Value, description: &Value) -> Markup {
    html! {
        code { (cell(schedule)) }
        @if let Some(words) = description.as_str() {
            br; small { (words) }
        }
    }
}

/// The next run with a countdown; a paused job has none, only since when
/// it is paused.
fn next_cell(job: &Value, now: DateTime<Utc>) -> Markup {
    if job["paused"] == true {
        return paused_since(job, now);
    }
    html! {
        @match instant(&job["next_run"]) {
            Some(t) => {
                (time(t, &cell(&job["next_run_local"]))) br; small { (countdown(t, now)) }
            }
            None if job["enabled"] == false => "disabled",
            None => "never",
        }
    }
}

/// `paused` and since when, when the status view says.
fn paused_since(job: &Value, now: DateTime<Utc>) -> Markup {
    html! {
        span class="paused" { "paused" }
        @if let Some(t) = instant(&job["paused_since"]) {
            " since " (time(t, &text::utc(t))) br; small { (ago(t, now)) }
        }
    }
}

/// The last run's outcome, marked when it was triggered by hand, and how
/// long ago it finished.
fn last_cell(last: &Value, now: DateTime<Utc>) -> Markup {
    html! {
        @match last.as_object() {
            Some(l) => {
                (badge(&cell(&l["outcome"])))
                // A run of `clock trigger` or the dashboard, not of a tick.
                @if l.get("manual") == Some(&Value::Bool(true)) { " " (badge("manual")) }
                @if let Some(t) = instant(&l["finished_at"]) {
                    br; small { (time(t, &ago(t, now))) }
                }
            }
            None => "-",
        }
    }
}

fn state_cell(job: &Value) -> Markup {
    let states: Vec<Markup> =
        [("enabled", false, "disabled"), ("paused", true, "paused"), ("in_flight", true, "in flight")]
            .into_iter()
            .filter(|(field, when, _)| job[*field] == *when)
            .map(|(_, _, label)| badge(label))
            .collect();
    html! {
        @if states.is_empty() { "-" } @else { (spaced(&states)) }
    }
}

/// Trigger, and pause or resume, as buttons that come back to `back`.
fn job_actions(name: &str, paused: bool, csrf: &str, back: &str) -> Markup {
    let base = format!("/jobs/{}", url_segment(name));
    let (action, label) = if paused { ("resume", "Resume") } else { ("pause", "Pause") };
    html! {
        (button(&format!("{base}/trigger"), "Trigger now", csrf, back, &[], "trigger"))
        (button(&format!("{base}/{action}"), label, csrf, back, &[], action))
    }
}

/// A page for a request that cannot be served (unknown job, Redis down).
pub fn error(title: &str, message: &str) -> String {
    let body = html! {
        h1 { (title) } "\n"
        p { (message) } "\n"
    };
    page(title, Nav::None, None, body)
}
