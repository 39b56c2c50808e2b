//! `/dead`: every dead letter with its reason and payload, and buttons to
//! retry or delete it, one or all.

use maud::{Markup, html};
use serde_json::Value;

use super::{Ctx, Nav, ago, button, page, scroll, time, url_segment};
use crate::control::Dead;
use crate::output;

/// `/dead` and `/dead?queue=`: the letters of every queue, or of one.
pub fn dead(letters: &[Dead], queue: Option<&str>, ctx: &Ctx) -> String {
    let back = match queue {
        Some(q) => format!("/dead?queue={}", url_segment(q)),
        None => "/dead".to_owned(),
    };
    let scope: Vec<(&str, &str)> = queue.map(|q| vec![("queue", q)]).unwrap_or_default();
    let mut all = scope.clone();
    all.push(("all", "1"));
    let n = letters.len();
    let body = html! {
        h1 {
            @match queue {
                Some(q) => { "Dead letters of queue " (q) },
                None => "Dead letters",
            }
        }
        "\n"
        @if letters.is_empty() {
            p class="empty" { "No dead letters." } "\n"
        } @else {
            div class="actions" {
                (button("/dead/retry", &format!("Retry all {n}"), ctx.csrf, &back, &all, "retry"))
                (button("/dead/delete", &format!("Delete all {n}"), ctx.csrf, &back, &all, "delete"))
            }
            "\n"
            (scroll(html! { table class="dead" {
                thead { tr {
                    th { "Failed" } th { "Queue" } th { "Job" } th { "Attempts" }
                    th { "Reason" } th { "Payload" } th { "Actions" }
                } }
                tbody {
                    "\n"
                    @for d in letters { (letter_row(d, &scope, &back, ctx)) "\n" }
                }
            } }))
            "\n"
        }
    };
    page("Dead letters", Nav::Dead, ctx.notice, body)
}

/// One letter; its buttons carry its id and the page's `?queue=`.
fn letter_row(d: &Dead, scope: &[(&str, &str)], back: &str, ctx: &Ctx) -> Markup {
    let l = &d.letter;
    let payload = serde_json::from_str::<Value>(&l.payload)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| l.payload.clone());
    let mut fields = scope.to_vec();
    fields.push(("id", &d.id));
    html! {
        tr data-dead=(d.id) {
            td { (time(l.failed_at, &output::utc(l.failed_at))) br; small { (ago(l.failed_at, ctx.now)) } }
            td { (d.queue.as_str()) }
            td { (l.job.as_deref().unwrap_or("-")) }
            td { (l.attempts) }
            td { (l.reason) }
            td { details { summary { code { (d.id) } } pre { (payload) } } }
            td class="actions" {
                (button("/dead/retry", "Retry", ctx.csrf, back, &fields, "retry"))
                (button("/dead/delete", "Delete", ctx.csrf, back, &fields, "delete"))
            }
        }
    }
}
