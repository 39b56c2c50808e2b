//! `/jobs/<name>`: definition, state, actions, a chart of recent runs,
//! upcoming ticks and the history with each run's output.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::Value;

use super::{
    Ctx, Nav, ago, badge, countdown, job_actions, last_cell, live as refreshed, next_cell, page,
    schedule_cell, scroll, spaced, state_cell, time, url_segment,
};
use crate::config::Job;
use crate::run::HistoryEntry;
use crate::text::{self, cell};

/// `/jobs/<name>`: the job of clock.toml, its entry of the status view
/// (`live`), its newest runs and its next ticks.
pub fn job(
    job: &Job,
    live: &Value,
    history: &[HistoryEntry],
    upcoming: &[DateTime<Utc>],
    ctx: &Ctx,
) -> String {
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
        h2 { "Recent runs" } "\n"
        (chart(history))
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
        (history_table(history, ctx.now))
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

/// A run's outcome as its status-view word (`success`, `timed_out`, …).
fn outcome(e: &HistoryEntry) -> String {
    cell(&serde_json::to_value(e.outcome).unwrap_or(Value::Null))
}

/// Durations of the last runs as bars, oldest on the left, coloured by
/// outcome; an SVG drawn on the server, so no chart library is needed.
fn chart(history: &[HistoryEntry]) -> Markup {
    const RUNS: usize = 50;
    const W: usize = 12;
    const H: f64 = 80.0;
    if history.is_empty() {
        return html! { p { "No runs yet." } "\n" };
    }
    let runs: Vec<&HistoryEntry> = history.iter().take(RUNS).rev().collect();
    let longest = runs.iter().map(|e| e.duration_ms).max().unwrap_or(0).max(1) as f64;
    let caption =
        if runs.len() == 1 { "The last run".to_owned() } else { format!("The last {} runs", runs.len()) };
    let w = RUNS * W;
    html! {
        figure class="chart" {
            svg role="img" aria-label={ "Durations of the last " (runs.len()) " runs" }
                viewBox={ "0 0 " (w) " " (H) } width=(w) height=(H) {
                @for (i, e) in runs.iter().enumerate() {
                    @let h = (e.duration_ms.max(0) as f64 / longest * H).max(2.0);
                    @let outcome = outcome(e);
                    rect class={ "bar bar-" (outcome) } x=(i * W) y=(format!("{:.1}", H - h))
                        width=(W - 2) height=(format!("{h:.1}")) {
                        title {
                            (text::utc(e.scheduled_at)) " · " (outcome) " · "
                            (format!("{:.3}", e.duration_ms as f64 / 1000.0)) "s"
                        }
                    }
                }
            }
            figcaption {
                (caption) ", oldest first; the longest took " (format!("{:.3}", longest / 1000.0)) "s."
            }
        }
        "\n"
    }
}

fn history_table(history: &[HistoryEntry], now: DateTime<Utc>) -> Markup {
    if history.is_empty() {
        return html! { p { "No runs recorded yet." } "\n" };
    }
    html! {
        (scroll(html! { table class="history" {
            thead { tr {
                th { "Finished" } th { "Outcome" } th { "Duration" } th { "Attempt" }
                th { "Exit" } th { "Worker" } th { "Output" }
            } }
            tbody {
                "\n"
                @for e in history { (history_row(e, now)) "\n" }
            }
        } }))
        "\n"
    }
}

fn history_row(e: &HistoryEntry, now: DateTime<Utc>) -> Markup {
    let mut notes = Vec::new();
    if e.retry {
        notes.push(badge("will retry"));
    }
    if e.manual {
        notes.push(badge("manual"));
    }
    let exit = match (e.exit_code, e.signal) {
        (Some(code), _) => code.to_string(),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "-".into(),
    };
    html! {
        tr data-run=(e.id) {
            td { (time(e.finished_at, &text::utc(e.finished_at))) br; small { (ago(e.finished_at, now)) } }
            td { (badge(&outcome(e))) " " (spaced(&notes)) }
            td { (format!("{:.3}", e.duration_ms as f64 / 1000.0)) "s" }
            td { (e.attempt) }
            td { (exit) }
            td { small { (e.worker) } }
            td {
                @if e.output.is_empty() {
                    small { "(none)" }
                } @else {
                    details { summary { "show" } pre { (e.output) } }
                }
            }
        }
    }
}
