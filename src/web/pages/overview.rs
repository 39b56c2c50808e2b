//! `/`: a summary of what is wrong, the deployment's problems, the leading clock, every job and every
//! queue.

use std::collections::HashMap;

use maud::{Markup, html};
use serde_json::Value;

use chrono::{DateTime, Utc};

use super::super::trouble::Trouble;
use super::{
    Ctx, Nav, ago, badge, job_actions, last_cell, live, next_cell, page, schedule_cell, scroll, state_cell,
    time, url_segment,
};
use crate::text::cell;

/// `/`: the leading clock, every job (those in trouble first) and every
/// queue.
pub fn overview(status: &Value, troubles: &HashMap<String, Trouble>, ctx: &Ctx) -> String {
    let none = Trouble::default();
    let mut jobs: Vec<(&Value, &Trouble)> = status["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|job| (job, job["name"].as_str().and_then(|n| troubles.get(n)).unwrap_or(&none)))
        .collect();
    // Stable: in trouble or not, jobs keep clock.toml's order.
    jobs.sort_by_key(|(_, trouble)| !trouble.is_trouble());
    let body = html! {
        h1 { "Overview" } "\n"
        (live(ctx.now, html! {
        (super::health_summary::health_summary(status, troubles))
        (problems(status))
        (clocks(status))
        (super::changes_summary(&status["leader_changes"], ctx))
        h2 { "Jobs" } "\n"
        @if jobs.is_empty() {
            p { "clock.toml has no jobs." } "\n"
        } @else {
            (scroll(html! { table class="jobs" {
                thead { tr {
                    th { "Job" } th { "Schedule" } th { "Zone" } th { "Next run" }
                    th { "Last run" } th { "State" } th { "Actions" }
                } }
                tbody {
                    "\n"
                    @for (job, trouble) in &jobs { (job_row(job, trouble, ctx)) "\n" }
                }
            } }))
            "\n"
        }
        (queues(status))
        }))
    };
    page("Overview", Nav::Overview, ctx.notice, body)
}

/// The deployment's problems ([`crate::health`]) as a short list; nothing
/// when there are none.
fn problems(status: &Value) -> Markup {
    let problems = status["problems"].as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        @if !problems.is_empty() {
            ul class="notice warning problems" role="alert" {
                "\n"
                @for p in problems {
                    li data-kind=(cell(&p["kind"])) { (cell(&p["message"])) } "\n"
                }
            }
            "\n"
        }
    }
}

/// Who leads, since when, and how many clocks stand by.
fn clocks(status: &Value) -> Markup {
    let standbys = match status["clocks"]
        .as_array()
        .map_or(0, |c| c.iter().filter(|c| c["role"] == "standby").count())
    {
        0 => "no standby".to_owned(),
        1 => "1 standby".to_owned(),
        n => format!("{n} standbys"),
    };
    html! {
        @match status["leader"].as_object() {
            Some(l) => {
                p class="leader" {
                    "Leading clock " code { (cell(&l["id"])) } " on " (cell(&l["host"]))
                    " (pid " (cell(&l["pid"])) ") since " (cell(&l["since"]))
                    ", clock offset " (cell(&l["offset_ms"])) " ms; " (standbys) "."
                }
            }
            None => {
                p class="leader warning" {
                    "No clock is leading: nothing is being scheduled (" (standbys) ")."
                }
            }
        }
        "\n"
    }
}

fn job_row(job: &Value, trouble: &Trouble, ctx: &Ctx) -> Markup {
    let name = cell(&job["name"]);
    html! {
        tr data-job=(name) class=[trouble.is_trouble().then_some("trouble")] {
            td { a href={ "/jobs/" (url_segment(&name)) } { (name) } }
            td { (schedule_cell(&job["schedule"], &job["schedule_text"])) }
            td { (cell(&job["timezone"])) }
            td { (next_cell(job, ctx.now)) }
            td { (last_cell(&job["last_run"], ctx.now)) (trouble_note(trouble, ctx.now)) (dead_note(&name, trouble)) }
            td { (state_cell(job)) }
            td class="actions" { (job_actions(&name, job["paused"] == true, ctx.csrf, "/")) }
        }
    }
}

/// A failure streak and the last success; a late tick.
fn trouble_note(trouble: &Trouble, now: DateTime<Utc>) -> Markup {
    let more = if trouble.streak_may_be_longer() { "+" } else { "" };
    html! {
        @if trouble.streak > 0 {
            br; strong class="streak" { "failed " (trouble.streak) (more) " in a row" }
            br; small class="last-success" {
                @match trouble.last_success {
                    Some(t) => { "last success " (time(t, &ago(t, now))) },
                    None if trouble.streak_may_be_longer() => {
                        "no success in the last " (trouble.runs_read) " runs"
                    },
                    None if trouble.runs_read == 1 => { "no success in its only run" },
                    None => { "no success in any of its " (trouble.runs_read) " runs" },
                }
            }
        }
        @if trouble.late {
            br; (badge("late"))
        }
    }
}

/// The job's dead letters, a link to them, when it has any.
fn dead_note(name: &str, trouble: &Trouble) -> Markup {
    html! {
        @if trouble.dead_letters > 0 {
            br; a class="dead-count" href={ "/dead?job=" (url_segment(name)) } {
                (trouble.dead_letters) @if trouble.dead_letters == 1 { " dead letter" } @else { " dead letters" }
            }
        }
    }
}

fn queues(status: &Value) -> Markup {
    html! {
        h2 { "Queues" } "\n"
        (scroll(html! { table class="queues" {
            thead { tr {
                th { "Queue" } th { "Pending" } th { "In progress" } th { "Retry" } th { "Dead" }
            } }
            tbody {
                "\n"
                @for q in status["queues"].as_array().into_iter().flatten() {
                    @let name = cell(&q["name"]);
                    tr data-queue=(name) {
                        td { a href={ "/queues#queue-" (url_segment(&name)) } { (name) } }
                        td { (cell(&q["pending"])) }
                        td { (cell(&q["in_progress"])) }
                        td { (cell(&q["retry"])) }
                        td { a href={ "/dead?queue=" (url_segment(&name)) } { (cell(&q["dead"])) } }
                    }
                    "\n"
                }
            }
        } }))
        "\n"
    }
}
