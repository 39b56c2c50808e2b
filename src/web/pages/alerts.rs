//! `/alerts`: where alerts go, how the last ones went, and the changes of
//! leader; and the overview's line about those changes.

use maud::{Markup, html};
use serde_json::Value;

use super::{Ctx, Nav, ago, badge, instant, live, page, scroll, time};
use crate::text::cell;

/// `/alerts`, from the view of `/api/alerts`.
pub fn alerts(view: &Value, ctx: &Ctx) -> String {
    let body = html! {
        h1 { "Alerts" } "\n"
        (live(ctx.now, html! {
            (targets(&view["targets"]))
            (deliveries(&view["deliveries"], ctx))
            (leader_changes(&view["leader_changes"], ctx))
        }))
    };
    page("Alerts", Nav::Alerts, ctx.notice, body)
}

/// The leader's changes in the last hour, for the overview's summary.
pub fn changes_summary(summary: &Value, ctx: &Ctx) -> Markup {
    let n = summary["changes_last_hour"].as_u64().unwrap_or(0);
    let more = if summary["at_least"] == true { "at least " } else { "" };
    let times = if n == 1 { "once" } else { "times" };
    let last = &summary["last_change"];
    html! {
        p class="leader-changes" {
            @if n == 0 {
                "No change of leader in the last hour"
            } @else if n == 1 {
                "Leader changed once in the last hour"
            } @else {
                "Leader changed " (more) (n) " " (times) " in the last hour"
            }
            @if let Some(at) = instant(&last["at"]) {
                "; last: " code { (cell(&last["clock"])) } " took over "
                (time(at, &ago(at, ctx.now)))
                @if last["via"] == "handover" { " (handed over)" }
            }
            ". " a href="/alerts#leader-changes" { "Changes" }
        }
        "\n"
    }
}

fn targets(targets: &Value) -> Markup {
    let targets = targets.as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        h2 { "Configured" } "\n"
        @if targets.is_empty() {
            p { "No webhook, email, ping_url or heartbeat_url is configured." } "\n"
        } @else {
            (scroll(html! { table class="targets" {
                thead { tr { th { "Channel" } th { "Target" } th { "Events" } th { "Jobs" } } }
                tbody {
                    "\n"
                    @for t in targets {
                        tr data-channel=(cell(&t["channel"])) {
                            td { (cell(&t["channel"])) }
                            td class="target" { code { (cell(&t["target"])) } }
                            td { (list(&t["events"])) }
                            td { @if t["jobs"].is_null() { "every job" } @else { (list(&t["jobs"])) } }
                        }
                        "\n"
                    }
                }
            } }))
            "\n"
        }
    }
}

fn list(v: &Value) -> String {
    v.as_array().map(|a| a.iter().map(cell).collect::<Vec<_>>().join(", ")).unwrap_or_else(|| cell(v))
}

fn deliveries(deliveries: &Value, ctx: &Ctx) -> Markup {
    let deliveries = deliveries.as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        h2 { "Last deliveries" } "\n"
        @if deliveries.is_empty() {
            p { "No alert has been sent yet." } "\n"
        } @else {
            (scroll(html! { table class="deliveries" {
                thead { tr {
                    th { "When" } th { "Event" } th { "Job" } th { "Target" } th { "Outcome" } th { "Took" }
                } }
                tbody {
                    "\n"
                    @for d in deliveries { (delivery_row(d, ctx)) "\n" }
                }
            } }))
            "\n"
        }
    }
}

fn delivery_row(d: &Value, ctx: &Ctx) -> Markup {
    let outcome = cell(&d["outcome"]);
    html! {
        tr data-outcome=(outcome) {
            td { @match instant(&d["at"]) { Some(t) => (time(t, &ago(t, ctx.now))), None => "-" } }
            td { (cell(&d["channel"])) br; small { (cell(&d["event"])) } }
            td { (cell(&d["job"])) }
            td class="target" { code { (cell(&d["target"])) } }
            td {
                (badge(&outcome))
                @if outcome == "failed" {
                    br; small { "after " (cell(&d["attempts"])) " attempt(s): " (cell(&d["error"])) }
                }
                @if outcome == "dropped" {
                    br; small { "the alert queue was full" }
                }
            }
            td { (cell(&d["duration_ms"])) " ms" }
        }
    }
}

fn leader_changes(changes: &Value, ctx: &Ctx) -> Markup {
    let changes = changes.as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        h2 id="leader-changes" { "Changes of leader" } "\n"
        @if changes.is_empty() {
            p { "No clock has taken the lease yet." } "\n"
        } @else {
            (scroll(html! { table class="leader-changes" {
                thead { tr { th { "When" } th { "Clock" } th { "How" } } }
                tbody {
                    "\n"
                    @for c in changes {
                        tr {
                            td { @match instant(&c["at"]) { Some(t) => (time(t, &ago(t, ctx.now))), None => "-" } }
                            td { code { (cell(&c["clock"])) } }
                            td {
                                @if c["via"] == "handover" {
                                    "handed over by " code { (cell(&c["from"])) }
                                } @else {
                                    "took the free lease"
                                }
                            }
                        }
                        "\n"
                    }
                }
            } }))
            "\n"
        }
    }
}
