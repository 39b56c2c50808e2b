//! `/jobs/<name>`: definition, state, actions, a chart of recent runs,
//! upcoming ticks and the history with each run's output.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::Value;

use super::job_chart::chart;
use super::job_history::history_table;
use super::{
    Ctx, Nav, ago, countdown, job_actions, last_cell, live as refreshed, next_cell, page, schedule_cell,
    scroll, state_cell, time, url_segment,
};
use crate::config::Job;
use crate::run::HistoryEntry;
use crate::text::{self, cell};
use crate::tick_log::TickEntry;
use crate::web::job_stats::JobStats;

/// What the job page shows besides the job's definition.
pub struct JobView<'a> {
    /// The job's entry of the status view.
    pub live: &'a Value,
    /// Its newest runs, newest first.
    pub history: &'a [HistoryEntry],
    /// Its tick log, newest first.
    pub ticks: &'a [TickEntry],
    pub stats: &'a JobStats,
    /// Its next ticks.
    pub upcoming: &'a [DateTime<Utc>],
}

/// `/jobs/<name>`: the job of clock.toml, its live state, its record
/// (stats, a chart of recent runs, the history of runs and ticks) and its
/// next ticks.
pub fn job(job: &Job, view: &JobView, ctx: &Ctx) -> String {
    let JobView { live, history, ticks, stats, upcoming } = *view;
    let name = job.name.as_str();
    let back = format!("/jobs/{}", url_segment(name));
    let body = html! {
        h1 { (name) } "\n"
        @if let Some(description) = &job.description {
            p class="description" { (description) } "\n"
        }
        (refreshed(ctx.now, html! {
        div class="actions" { (job_actions(name, live["paused"] == true, ctx.csrf, &back)) } "\n"
        (definition(job, live, ctx))
        h2 { "Record" } "\n"
        (record(name, stats, ctx.now))
        h2 { "Recent runs" } "\n"
        (chart(history, Some(job.timeout.as_secs())))
        h2 { "Upcoming" } "\n"
        @if live["paused"] == true {
            p class="paused-note" { "None while it is paused: its ticks are skipped until it is resumed." } "\n"
        } @else if upcoming.is_empty() {
            p { "No upcoming runs." } "\n"
        } @else {
            ol class="upcoming" {
                "\n"
                @for t in upcoming {
                    li {
                        (time(*t, &text::local(*t, job.timezone))) " "
                        small { "(" (text::utc(*t)) " UTC, " (countdown(*t, ctx.now)) ")" }
                    }
                    "\n"
                }
            }
            "\n"
        }
        h2 { "History" } "\n"
        (history_table(history, ticks, ctx.now))
        }))
    };
    page(name, Nav::None, ctx.notice, body)
}

/// The job's settings and live state, one row each.
fn definition(job: &Job, live: &Value, ctx: &Ctx) -> Markup {
    // A job of another format is run by that tool's workers: show where it
    // goes instead of a command.
    let command = match &job.command {
        Some(command) => ("Command", html! { code { (command) } }),
        None => {
            ("Pushed to", html! { code { (cell(&live["list"])) } " (" (cell(&live["format"])) " format)" })
        }
    };
    let rows = [
        ("Schedule", schedule_cell(&live["schedule"], &live["schedule_text"])),
        ("Zone", html! { (job.timezone.name()) }),
        ("Queue", html! { (job.queue.as_str()) }),
        command,
        ("Args", html! { code { (job.args.to_string()) } }),
        ("Timeout", html! { (job.timeout.to_string()) }),
        ("Retries", html! { (job.retries) " (first delay " (job.retry_delay.to_string()) ")" }),
        ("State", state_cell(live)),
        ("Next run", next_cell(live, ctx.now)),
        ("Last run", last_cell(&live["last_run"], ctx.now)),
    ];
    html! {
        (scroll(html! { table class="definition" {
            tbody {
                "\n"
                @for (label, value) in rows {
                    tr { th scope="row" { (label) } td { (value) } } "\n"
                }
            }
        } }))
        "\n"
    }
}

/// The job's stats over what is kept of it, one row each.
fn record(name: &str, stats: &JobStats, now: DateTime<Utc>) -> Markup {
    let rate = match stats.success_rate {
        Some(rate) => html! { (format!("{:.0}%", rate * 100.0)) " of " (stats.runs) " runs kept" },
        None => html! { "no runs kept" },
    };
    let last_success = match stats.last_success {
        Some(t) => html! { (time(t, &text::utc(t))) br; small { (ago(t, now)) } },
        None if stats.runs == 0 => html! { "-" },
        None => html! { "none in the " (stats.runs) " runs kept" },
    };
    let streak = match stats.failure_streak {
        0 => html! { "none" },
        n => html! { span class="streak" { (n) " failed in a row" } },
    };
    let t = &stats.ticks;
    let rows = [
        ("Success rate", rate),
        ("Last success", last_success),
        ("Failure streak", streak),
        (
            "Runs by outcome",
            html! { (stats.success) " success, " (stats.failed) " failed, " (stats.timed_out) " timed out" },
        ),
        (
            "Ticks kept",
            html! {
                (t.pushed) " pushed, " (t.missed) " missed, " (t.overlap) " skipped (overlap), "
                (t.paused) " skipped (paused), " (t.manual) " manual"
            },
        ),
        ("Dead letters", html! { a href={ "/dead?job=" (url_segment(name)) } { (stats.dead_letters) } }),
    ];
    html! {
        (scroll(html! { table class="definition record" {
            tbody {
                "\n"
                @for (label, value) in rows {
                    tr { th scope="row" { (label) } td { (value) } } "\n"
                }
            }
        } }))
        "\n"
    }
}
