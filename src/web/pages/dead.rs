//! `/dead`: dead letters newest first across queues, a page at a time,
//! with their reason and payload, a filter by job, and buttons to retry or
//! delete one letter or every letter listed.

use maud::{Markup, html};
use serde_json::Value;

use super::{Ctx, Nav, ago, button, page, scroll, time, url_segment};
use crate::control::{Dead, JOB_SCAN};
use crate::text;

/// Dead letters per page unless `?per=` says otherwise.
pub const DEAD_PAGE: usize = 50;
/// The most dead letters a page lists, or an action names.
pub const DEAD_PAGE_MAX: usize = 200;

/// One page of dead letters and how it was asked for.
pub struct Listing<'a> {
    /// The letters of this page, newest first.
    pub letters: &'a [Dead],
    /// How many letters match the filters, on every page.
    pub total: usize,
    /// 1-based.
    pub page: usize,
    pub per: usize,
    /// `?queue=`: one queue's letters only.
    pub queue: Option<&'a str>,
    /// `?job=`: one job's letters only.
    pub job: Option<&'a str>,
    /// Every job of clock.toml, for the filter.
    pub jobs: Vec<&'a str>,
    /// Letters the job filter did not search (older than each queue's
    /// newest [`JOB_SCAN`]).
    pub unsearched: usize,
}

impl Listing<'_> {
    /// `/dead` with this listing's filters and `page`.
    fn url(&self, page: usize) -> String {
        let mut query = Vec::new();
        if let Some(q) = self.queue {
            query.push(format!("queue={}", url_segment(q)));
        }
        if let Some(j) = self.job {
            query.push(format!("job={}", url_segment(j)));
        }
        if page > 1 {
            query.push(format!("page={page}"));
        }
        if self.per != DEAD_PAGE {
            query.push(format!("per={}", self.per));
        }
        if query.is_empty() { "/dead".to_owned() } else { format!("/dead?{}", query.join("&")) }
    }

    fn pages(&self) -> usize {
        self.total.div_ceil(self.per).max(1)
    }
}

/// `/dead`: a page of letters, the filter and the pager.
pub fn dead(listing: &Listing, ctx: &Ctx) -> String {
    let back = listing.url(listing.page);
    let scope: Vec<(&str, &str)> = listing.queue.map(|q| vec![("queue", q)]).unwrap_or_default();
    let body = html! {
        h1 {
            @match listing.queue {
                Some(q) => { "Dead letters of queue " (q) },
                None => "Dead letters",
            }
        }
        "\n"
        (filter(listing))
        @if listing.unsearched > 0 {
            p class="notice unsearched" {
                "Searched the newest " (JOB_SCAN) " letters of each queue: "
                (listing.unsearched) " older letters were not searched for this job."
            }
            "\n"
        }
        @if listing.letters.is_empty() {
            p class="empty" { "No dead letters." } "\n"
        } @else {
            (listed_actions(listing, &back, ctx))
            (scroll(html! { table class="dead" {
                thead { tr {
                    th { "Failed" } th { "Queue" } th { "Job" } th { "Attempts" }
                    th { "Reason" } th { "Payload" } th { "Actions" }
                } }
                tbody {
                    "\n"
                    @for d in listing.letters { (letter_row(d, &scope, &back, ctx)) "\n" }
                }
            } }))
            "\n"
            (pager(listing))
        }
    };
    page("Dead letters", Nav::Dead, ctx.notice, body)
}

/// A GET form: one job's letters, or every job's.
fn filter(listing: &Listing) -> Markup {
    html! {
        form method="get" action="/dead" class="filter" {
            @if let Some(q) = listing.queue {
                input type="hidden" name="queue" value=(q);
            }
            label { "Job " select name="job" {
                option value="" { "every job" }
                @for job in &listing.jobs {
                    option value=(job) selected[listing.job == Some(*job)] { (job) }
                }
            } }
            " " button type="submit" { "Show" }
        }
        "\n"
    }
}

/// "Showing 1–50 of 2052", and retry or delete exactly the letters listed:
/// the forms carry their ids, so a letter that failed after the page was
/// rendered is not touched. Deleting asks first (the page script).
fn listed_actions(listing: &Listing, back: &str, ctx: &Ctx) -> Markup {
    let n = listing.letters.len();
    let first = (listing.page - 1) * listing.per + 1;
    let what =
        if n == 1 { "the dead letter listed".to_owned() } else { format!("the {n} dead letters listed") };
    let form = |action: &str, label: String, class: &str, confirm: Option<String>| {
        html! {
            form method="post" action=(action) class="inline" data-confirm=[confirm] {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="back" value=(back);
                @for d in listing.letters {
                    input type="hidden" name="id" value=(d.id);
                }
                button type="submit" class=(class) { (label) }
            }
        }
    };
    html! {
        p class="count" {
            "Showing " (first) "–" (first + n - 1) " of " (listing.total) ", newest first."
        }
        "\n"
        div class="actions" {
            (form("/dead/retry", format!("Retry these {n}"), "retry", None))
            (form("/dead/delete", format!("Delete these {n}"), "delete",
                Some(format!("Delete {what}? This cannot be undone."))))
        }
        "\n"
    }
}

/// Newer and older pages, with the filters kept.
fn pager(listing: &Listing) -> Markup {
    let pages = listing.pages();
    html! {
        @if pages > 1 {
            nav class="pager" aria-label="Pages" {
                @if listing.page > 1 {
                    a rel="prev" href=(listing.url(listing.page - 1)) { "← Newer" }
                }
                " Page " (listing.page) " of " (pages) " "
                @if listing.page < pages {
                    a rel="next" href=(listing.url(listing.page + 1)) { "Older →" }
                }
            }
            "\n"
        }
    }
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
            td { (time(l.failed_at, &text::utc(l.failed_at))) br; small { (ago(l.failed_at, ctx.now)) } }
            td { (d.queue.as_str()) }
            td {
                @match l.job.as_deref() {
                    Some(job) => a href={ "/jobs/" (url_segment(job)) } { (job) },
                    None => "-",
                }
            }
            td { (l.attempts) }
            td {
                (l.reason)
                @if let Some(output) = &l.output {
                    details class="output" { summary { "output" } pre { (output) } }
                }
            }
            td { details { summary { code { (d.id) } } pre { (payload) } } }
            td class="actions" {
                (button("/dead/retry", "Retry", ctx.csrf, back, &fields, "retry"))
                (button("/dead/delete", "Delete", ctx.csrf, back, &fields, "delete"))
            }
        }
    }
}
