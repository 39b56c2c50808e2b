//! The dashboard's pages, rendered from the same views `clock status`,
//! `clock history` and `clock dead` print ([`crate::control`]). Pure
//! functions of their inputs, so they are tested without a server.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::html::{Nav, ago, badge, button, countdown, esc, page, time, url_segment};
use crate::config::Job;
use crate::control::Dead;
use crate::output;
use crate::output::cell;
use crate::run::HistoryEntry;

/// What every page needs besides its data.
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub csrf: &'a str,
    /// A message about the action that led here.
    pub notice: Option<&'a str>,
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.to_utc())
}

/// `/`: the leading clock, every job and every queue.
pub fn overview(status: &Value, ctx: &Ctx) -> String {
    let mut body = String::from("<h1>Overview</h1>\n");
    body.push_str(&problems(status));
    body.push_str(&clocks(status));

    body.push_str("<h2>Jobs</h2>\n");
    let jobs = status["jobs"].as_array().map(Vec::as_slice).unwrap_or_default();
    if jobs.is_empty() {
        body.push_str("<p>clock.toml has no jobs.</p>\n");
    } else {
        body.push_str(
            "<table class=\"jobs\"><thead><tr><th>Job</th><th>Schedule</th><th>Zone</th><th>Next run</th>\
             <th>Last run</th><th>State</th><th>Actions</th></tr></thead><tbody>\n",
        );
        for job in jobs {
            let name = cell(&job["name"]);
            let href = format!("/jobs/{}", url_segment(&name));
            let _ = write!(
                body,
                r#"<tr data-job="{}"><td><a href="{href}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="actions">{}</td></tr>"#,
                esc(&name),
                esc(&name),
                schedule_cell(&job["schedule"], &job["schedule_text"]),
                esc(&cell(&job["timezone"])),
                next_cell(job, ctx.now),
                last_cell(&job["last_run"], ctx.now),
                state_cell(job),
                job_actions(&name, job["paused"] == true, ctx.csrf, "/"),
            );
            body.push('\n');
        }
        body.push_str("</tbody></table>\n");
    }
    body.push_str(&queues(status));
    page("Overview", Nav::Overview, ctx.notice, &body)
}

/// The deployment's problems ([`crate::health`]) as a short list; nothing
/// when there are none.
fn problems(status: &Value) -> String {
    let problems = status["problems"].as_array().map(Vec::as_slice).unwrap_or_default();
    if problems.is_empty() {
        return String::new();
    }
    let mut out = String::from("<ul class=\"notice warning problems\" role=\"alert\">\n");
    for p in problems {
        let (kind, message) = (cell(&p["kind"]), cell(&p["message"]));
        let _ = writeln!(out, r#"<li data-kind="{}">{}</li>"#, esc(&kind), esc(&message));
    }
    out.push_str("</ul>\n");
    out
}

fn clocks(status: &Value) -> String {
    let standbys = match status["clocks"]
        .as_array()
        .map_or(0, |c| c.iter().filter(|c| c["role"] == "standby").count())
    {
        0 => "no standby".to_owned(),
        1 => "1 standby".to_owned(),
        n => format!("{n} standbys"),
    };
    match status["leader"].as_object() {
        Some(l) => {
            format!(
                r#"<p class="leader">Leading clock <code>{}</code> on {} (pid {}) since {}, clock offset {} ms; {standbys}.</p>"#,
                esc(&cell(&l["id"])),
                esc(&cell(&l["host"])),
                esc(&cell(&l["pid"])),
                esc(&cell(&l["since"])),
                esc(&cell(&l["offset_ms"])),
            ) + "\n"
        }
        None => format!(
            "<p class=\"leader warning\">No clock is leading: nothing is being scheduled ({standbys}).</p>\n"
        ),
    }
}

fn schedule_cell(schedule: &Value, description: &Value) -> String {
    let words = description.as_str().map(|d| format!("<br><small>{}</small>", esc(d))).unwrap_or_default();
    format!("<code>{}</code>{words}", esc(&cell(schedule)))
}

fn next_cell(job: &Value, now: DateTime<Utc>) -> String {
    match instant(&job["next_run"]) {
        Some(t) => {
            format!("{}<br><small>{}</small>", time(t, &cell(&job["next_run_local"])), countdown(t, now))
        }
        None if job["enabled"] == false => "disabled".into(),
        None => "never".into(),
    }
}

fn last_cell(last: &Value, now: DateTime<Utc>) -> String {
    match last.as_object() {
        Some(l) => {
            let when = instant(&l["finished_at"])
                .map(|t| format!("<br><small>{}</small>", time(t, &ago(t, now))))
                .unwrap_or_default();
            format!("{}{when}", badge(&cell(&l["outcome"])))
        }
        None => "-".into(),
    }
}

fn state_cell(job: &Value) -> String {
    let mut states = Vec::new();
    if job["enabled"] == false {
        states.push(badge("disabled"));
    }
    if job["paused"] == true {
        states.push(badge("paused"));
    }
    if job["in_flight"] == true {
        states.push(badge("in flight"));
    }
    if states.is_empty() { "-".into() } else { states.join(" ") }
}

fn job_actions(name: &str, paused: bool, csrf: &str, back: &str) -> String {
    let base = format!("/jobs/{}", url_segment(name));
    let toggle = if paused {
        button(&format!("{base}/resume"), "Resume", csrf, back, &[], "resume")
    } else {
        button(&format!("{base}/pause"), "Pause", csrf, back, &[], "pause")
    };
    format!("{}{toggle}", button(&format!("{base}/trigger"), "Trigger now", csrf, back, &[], "trigger"))
}

fn queues(status: &Value) -> String {
    let mut out = String::from(
        "<h2>Queues</h2>\n<table class=\"queues\"><thead><tr><th>Queue</th><th>Pending</th>\
         <th>In progress</th><th>Retry</th><th>Dead</th></tr></thead><tbody>\n",
    );
    for q in status["queues"].as_array().into_iter().flatten() {
        let name = cell(&q["name"]);
        let _ = writeln!(
            out,
            r#"<tr data-queue="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href="/dead?queue={}">{}</a></td></tr>"#,
            esc(&name),
            esc(&name),
            esc(&cell(&q["pending"])),
            esc(&cell(&q["in_progress"])),
            esc(&cell(&q["retry"])),
            url_segment(&name),
            esc(&cell(&q["dead"])),
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

/// `/jobs/<name>`: definition, state, actions, a chart of recent runs,
/// upcoming ticks and the history with each run's output.
pub fn job(
    job: &Job,
    live: &Value,
    history: &[HistoryEntry],
    upcoming: &[DateTime<Utc>],
    ctx: &Ctx,
) -> String {
    let name = job.name.as_str();
    let back = format!("/jobs/{}", url_segment(name));
    let mut body = format!("<h1>{}</h1>\n", esc(name));
    if let Some(description) = &job.description {
        let _ = writeln!(body, "<p class=\"description\">{}</p>", esc(description));
    }
    let _ = writeln!(
        body,
        r#"<div class="actions">{}</div>"#,
        job_actions(name, live["paused"] == true, ctx.csrf, &back)
    );
    // A job of another format is run by that tool's workers: show where it
    // goes instead of a command.
    let command = match &job.command {
        Some(command) => ("Command", format!("<code>{}</code>", esc(command))),
        None => (
            "Pushed to",
            format!("<code>{}</code> ({} format)", esc(&cell(&live["list"])), esc(&cell(&live["format"]))),
        ),
    };
    let rows = [
        ("Schedule", schedule_cell(&live["schedule"], &live["schedule_text"])),
        ("Zone", esc(job.timezone.name())),
        ("Queue", esc(job.queue.as_str())),
        command,
        ("Args", format!("<code>{}</code>", esc(&job.args.to_string()))),
        ("Timeout", esc(&job.timeout.to_string())),
        ("Retries", format!("{} (first delay {})", job.retries, esc(&job.retry_delay.to_string()))),
        ("State", state_cell(live)),
        ("Next run", next_cell(live, ctx.now)),
        ("Last run", last_cell(&live["last_run"], ctx.now)),
    ];
    body.push_str("<table class=\"definition\"><tbody>\n");
    for (label, value) in rows {
        let _ = writeln!(body, "<tr><th scope=\"row\">{label}</th><td>{value}</td></tr>");
    }
    body.push_str("</tbody></table>\n");

    body.push_str("<h2>Recent runs</h2>\n");
    body.push_str(&chart(history));

    body.push_str("<h2>Upcoming</h2>\n");
    if upcoming.is_empty() {
        body.push_str("<p>No upcoming runs.</p>\n");
    } else {
        body.push_str("<ol class=\"upcoming\">\n");
        for t in upcoming {
            let _ = writeln!(
                body,
                "<li>{} <small>({} UTC, {})</small></li>",
                time(*t, &output::local(*t, job.timezone)),
                esc(&output::utc(*t)),
                countdown(*t, ctx.now)
            );
        }
        body.push_str("</ol>\n");
    }

    body.push_str("<h2>History</h2>\n");
    body.push_str(&history_table(history, ctx.now));
    page(name, Nav::None, ctx.notice, &body)
}

/// Durations of the last runs as bars, oldest on the left, coloured by
/// outcome; an SVG drawn on the server, so no chart library is needed.
fn chart(history: &[HistoryEntry]) -> String {
    const RUNS: usize = 50;
    const W: usize = 12;
    const H: f64 = 80.0;
    if history.is_empty() {
        return "<p>No runs yet.</p>\n".into();
    }
    let runs: Vec<&HistoryEntry> = history.iter().take(RUNS).rev().collect();
    let longest = runs.iter().map(|e| e.duration_ms).max().unwrap_or(0).max(1) as f64;
    let mut bars = String::new();
    for (i, e) in runs.iter().enumerate() {
        let h = (e.duration_ms.max(0) as f64 / longest * H).max(2.0);
        let outcome = cell(&serde_json::to_value(e.outcome).unwrap_or(Value::Null));
        let _ = write!(
            bars,
            r#"<rect class="bar bar-{outcome}" x="{}" y="{:.1}" width="{}" height="{h:.1}"><title>{} · {} · {:.3}s</title></rect>"#,
            i * W,
            H - h,
            W - 2,
            esc(&output::utc(e.scheduled_at)),
            esc(&outcome),
            e.duration_ms as f64 / 1000.0,
        );
    }
    format!(
        r#"<figure class="chart"><svg role="img" aria-label="Durations of the last {n} runs" viewBox="0 0 {w} {H}" width="{w}" height="{H}">{bars}</svg><figcaption>{caption}, oldest first; the longest took {:.3}s.</figcaption></figure>
"#,
        longest / 1000.0,
        n = runs.len(),
        w = RUNS * W,
        caption =
            if runs.len() == 1 { "The last run".to_owned() } else { format!("The last {} runs", runs.len()) },
    )
}

fn history_table(history: &[HistoryEntry], now: DateTime<Utc>) -> String {
    if history.is_empty() {
        return "<p>No runs recorded yet.</p>\n".into();
    }
    let mut out = String::from(
        "<table class=\"history\"><thead><tr><th>Finished</th><th>Outcome</th><th>Duration</th>\
         <th>Attempt</th><th>Exit</th><th>Worker</th><th>Output</th></tr></thead><tbody>\n",
    );
    for e in history {
        let outcome = cell(&serde_json::to_value(e.outcome).unwrap_or(Value::Null));
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
        let output = if e.output.is_empty() {
            "<small>(none)</small>".to_owned()
        } else {
            format!("<details><summary>show</summary><pre>{}</pre></details>", esc(&e.output))
        };
        let _ = writeln!(
            out,
            r#"<tr data-run="{}"><td>{}<br><small>{}</small></td><td>{} {}</td><td>{:.3}s</td><td>{}</td><td>{}</td><td><small>{}</small></td><td>{output}</td></tr>"#,
            esc(&e.id),
            time(e.finished_at, &output::utc(e.finished_at)),
            esc(&ago(e.finished_at, now)),
            badge(&outcome),
            notes.join(" "),
            e.duration_ms as f64 / 1000.0,
            e.attempt,
            esc(&exit),
            esc(&e.worker),
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

/// `/dead`: every dead letter with its reason and payload, and buttons to
/// retry or delete it, one or all.
pub fn dead(letters: &[Dead], queue: Option<&str>, ctx: &Ctx) -> String {
    let back = match queue {
        Some(q) => format!("/dead?queue={}", url_segment(q)),
        None => "/dead".to_owned(),
    };
    let scope: Vec<(&str, &str)> = queue.map(|q| vec![("queue", q)]).unwrap_or_default();
    let mut body = match queue {
        Some(q) => format!("<h1>Dead letters of queue {}</h1>\n", esc(q)),
        None => "<h1>Dead letters</h1>\n".to_owned(),
    };
    if letters.is_empty() {
        body.push_str("<p class=\"empty\">No dead letters.</p>\n");
        return page("Dead letters", Nav::Dead, ctx.notice, &body);
    }
    let mut all = scope.clone();
    all.push(("all", "1"));
    let _ = writeln!(
        body,
        r#"<div class="actions">{}{}</div>"#,
        button("/dead/retry", &format!("Retry all {}", letters.len()), ctx.csrf, &back, &all, "retry"),
        button("/dead/delete", &format!("Delete all {}", letters.len()), ctx.csrf, &back, &all, "delete"),
    );
    body.push_str(
        "<table class=\"dead\"><thead><tr><th>Failed</th><th>Queue</th><th>Job</th><th>Attempts</th>\
         <th>Reason</th><th>Payload</th><th>Actions</th></tr></thead><tbody>\n",
    );
    for d in letters {
        let l = &d.letter;
        let payload = serde_json::from_str::<Value>(&l.payload)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| l.payload.clone());
        let mut fields = scope.clone();
        fields.push(("id", &d.id));
        let _ = writeln!(
            body,
            r#"<tr data-dead="{}"><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><details><summary><code>{}</code></summary><pre>{}</pre></details></td><td class="actions">{}{}</td></tr>"#,
            esc(&d.id),
            time(l.failed_at, &output::utc(l.failed_at)),
            esc(&ago(l.failed_at, ctx.now)),
            esc(d.queue.as_str()),
            esc(l.job.as_deref().unwrap_or("-")),
            l.attempts,
            esc(&l.reason),
            esc(&d.id),
            esc(&payload),
            button("/dead/retry", "Retry", ctx.csrf, &back, &fields, "retry"),
            button("/dead/delete", "Delete", ctx.csrf, &back, &fields, "delete"),
        );
    }
    body.push_str("</tbody></table>\n");
    page("Dead letters", Nav::Dead, ctx.notice, &body)
}

/// A page for a request that cannot be served (unknown job, Redis down).
pub fn error(title: &str, message: &str) -> String {
    page(title, Nav::None, None, &format!("<h1>{}</h1>\n<p>{}</p>\n", esc(title), esc(message)))
}
