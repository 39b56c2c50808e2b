//! `/queues`: per queue, its live workers and what each runs since when,
//! the first pending payloads and retries, and a chart of the payloads
//! processed and failed each minute of the last hour. Rendered from the
//! JSON of `/api/queues` (see `web/queues.rs`).

use maud::{Markup, html};
use serde_json::Value;

use super::{Ctx, Nav, ago, countdown, instant, live, page, scroll, time, url_segment};
use crate::text::{self, cell};

/// `/queues`: every queue of the view.
pub fn queues(view: &Value, ctx: &Ctx) -> String {
    let queues = view["queues"].as_array().map(Vec::as_slice).unwrap_or_default();
    let body = html! {
        h1 { "Queues" } "\n"
        (live(ctx.now, html! {
            @if queues.is_empty() { p class="empty" { "No queue: clock.toml has no job." } }
            @for q in queues { (queue(q, ctx)) }
        }))
    };
    page("Queues", Nav::Queues, ctx.notice, body)
}

fn queue(q: &Value, ctx: &Ctx) -> Markup {
    let name = cell(&q["name"]);
    html! {
        section class="queue" id={ "queue-" (url_segment(&name)) } data-queue=(name) {
            "\n"
            h2 { "Queue " (name) } "\n"
            p class="queue-summary" { (summary(q)) } "\n"
            (tool_lists(q))
            (super::minute_chart::chart(&q["minutes"]))
            h3 { "Workers" } "\n"
            (workers(q, ctx))
            h3 { "Pending" } "\n"
            (pending(q, ctx))
            h3 { "Retries" } "\n"
            (retries(q, ctx))
        }
        "\n"
    }
}

/// `3 pending · 1 retry · 2 live workers, 1 busy · 40 processed, 2 failed
/// in the last hour`.
pub fn summary(q: &Value) -> String {
    let n = |field: &str| q[field].as_u64().unwrap_or(0);
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{} pending · {} · {}, {} busy · {} processed, {} failed in the last hour",
        n("pending"),
        plural(n("retries"), "retry", "retries"),
        plural(n("workers"), "live worker", "live workers"),
        n("busy"),
        n("processed_last_hour"),
        n("failed_last_hour"),
    )
}

fn job_link(job: &Value) -> Markup {
    let job = cell(job);
    html! { a href={ "/jobs/" (url_segment(&job)) } { (job) } }
}

/// An instant with how long ago, or `-`.
fn since(at: &Value, ctx: &Ctx) -> Markup {
    html! {
        @match instant(at) {
            Some(t) => { (time(t, &text::utc(t))) br; small { (ago(t, ctx.now)) } }
            None => "-",
        }
    }
}

/// Each live worker once per run it has going (or once, idle).
fn workers(q: &Value, ctx: &Ctx) -> Markup {
    let list = q["worker_list"].as_array().map(Vec::as_slice).unwrap_or_default();
    if list.is_empty() {
        return html! { p class="empty" { "No live worker serves this queue." } "\n" };
    }
    html! {
        (scroll(html! { table class="workers" {
            thead { tr {
                th { "Worker" } th { "Concurrency" } th { "Running" } th { "Since" }
            } }
            tbody {
                "\n"
                @for w in list { (worker_rows(w, ctx)) }
            }
        } }))
        "\n"
    }
}

fn worker_rows(w: &Value, ctx: &Ctx) -> Markup {
    let runs = w["running"].as_array().map(Vec::as_slice).unwrap_or_default();
    let who = html! {
        code { (cell(&w["id"])) } br;
        small { (cell(&w["host"])) ", pid " (cell(&w["pid"])) }
    };
    let concurrency = html! { (cell(&w["concurrency"])) br; small { (cell(&w["in_progress"])) " taken" } };
    html! {
        @if runs.is_empty() {
            tr data-worker=(cell(&w["id"])) {
                td { (who) } td { (concurrency) } td { "idle" } td { "-" }
            } "\n"
        }
        @for r in runs {
            tr data-worker=(cell(&w["id"])) {
                td { (who) } td { (concurrency) }
                td { (job_link(&r["job"])) br; small { code { (cell(&r["id"])) } } }
                td class="since" { (since(&r["since"], ctx)) }
            } "\n"
        }
    }
}

/// The first page of a list: how many of how many, then a table of
/// `headers` whose rows are `row` of each entry; `empty` when there is none.
struct FirstPage<'a> {
    entries: &'a [Value],
    total: &'a Value,
    order: &'a str,
    class: &'a str,
    headers: [&'a str; 4],
    empty: &'a str,
}

fn first_page(list: FirstPage, row: impl Fn(&Value) -> Markup) -> Markup {
    if list.entries.is_empty() {
        return html! { p class="empty" { (list.empty) } "\n" };
    }
    html! {
        p class="count" {
            "The first " (list.entries.len()) " of " (cell(list.total)) ", " (list.order) "."
        }
        "\n"
        (scroll(html! { table class=(list.class) {
            thead { tr { @for h in list.headers { th { (h) } } } }
            tbody {
                "\n"
                @for e in list.entries { tr { (row(e)) } "\n" }
            }
        } }))
        "\n"
    }
}

/// The lists of other tools the queue's jobs push to, with their lengths:
/// what waits there is not on the pending list below, and no worker of
/// campanile runs it.
fn tool_lists(q: &Value) -> Markup {
    let lists = q["tool_lists"].as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        @if !lists.is_empty() {
            div class="notice tool-lists" {
                p {
                    "Jobs of this queue push to another tool's queue: campanile's workers do not run them, "
                    "the tool's own workers do."
                }
                ul {
                    @for l in lists {
                        li data-list=(cell(&l["list"])) {
                            code { (cell(&l["list"])) } " (" (cell(&l["format"])) "): "
                            (cell(&l["waiting"])) " waiting"
                        }
                    }
                }
            }
            "\n"
        }
    }
}

/// The first page of pending payloads, oldest first.
fn pending(q: &Value, ctx: &Ctx) -> Markup {
    let tools = q["tool_lists"].as_array().is_some_and(|l| !l.is_empty());
    let list = FirstPage {
        entries: q["pending_first"].as_array().map(Vec::as_slice).unwrap_or_default(),
        total: &q["pending"],
        order: "oldest first (as workers take them)",
        class: "pending",
        headers: ["Job", "Tick", "Enqueued", "Payload"],
        empty: if tools { "Nothing pending for campanile's workers." } else { "Nothing pending." },
    };
    first_page(list, |p| {
        html! {
            @if p["raw"].is_string() {
                td { "-" } td { "-" } td { "-" } td { code { (cell(&p["raw"])) } }
            } @else {
                td { (job_link(&p["job"])) }
                td { (cell(&p["tick"])) }
                td { (since(&p["enqueued_at"], ctx)) }
                td { code { (cell(&p["id"])) } br; small { "attempt " (cell(&p["attempt"])) } }
            }
        }
    })
}

/// The first page of retries, soonest first, with their last error.
fn retries(q: &Value, ctx: &Ctx) -> Markup {
    let list = FirstPage {
        entries: q["retries_first"].as_array().map(Vec::as_slice).unwrap_or_default(),
        total: &q["retries"],
        order: "soonest first",
        class: "retries",
        headers: ["Job", "Attempt", "Next retry", "Last error"],
        empty: "No retry scheduled.",
    };
    first_page(list, |r| {
        html! {
            td {
                @if r["job"].is_string() { (job_link(&r["job"])) br; }
                small { code { (cell(r.get("id").unwrap_or(&r["raw"]))) } }
            }
            td { (cell(&r["attempt"])) }
            td {
                @if let Some(t) = instant(&r["retry_at"]) {
                    (time(t, &text::utc(t))) br; small { (countdown(t, ctx.now)) }
                }
            }
            td class="error" { (cell(&r["last_error"])) }
        }
    })
}
