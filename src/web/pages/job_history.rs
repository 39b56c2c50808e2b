//! The job page's history: its runs and the clock's other decisions on its
//! ticks (missed, skipped for overlap or while paused, pushed by hand) in
//! one table, newest first, each row labelled run or tick.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::Value;

use super::{ago, badge, scroll, spaced, time};
use crate::run::HistoryEntry;
use crate::text::{self, cell};
use crate::tick_log::{TickEntry, TickOutcome};

/// One row of the history: a run, or a tick that got no run of its own.
enum Row<'a> {
    Run(&'a HistoryEntry),
    Tick(&'a TickEntry),
}

impl Row<'_> {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Row::Run(e) => e.finished_at,
            Row::Tick(t) => DateTime::from_timestamp_millis(t.at).unwrap_or_default(),
        }
    }
}

/// Runs and tick decisions merged by time, newest first. A pushed tick is
/// left out: its run is the row that says how it went.
fn rows<'a>(runs: &'a [HistoryEntry], ticks: &'a [TickEntry]) -> Vec<Row<'a>> {
    let mut rows: Vec<Row> = runs.iter().map(Row::Run).collect();
    rows.extend(ticks.iter().filter(|t| t.outcome != TickOutcome::Pushed).map(Row::Tick));
    // Stable: entries of one instant keep their stored (newest first) order.
    rows.sort_by_key(|r| std::cmp::Reverse(r.at()));
    rows
}

/// A run's outcome as its status-view word (`success`, `timed_out`, …).
pub(super) fn outcome(e: &HistoryEntry) -> String {
    cell(&serde_json::to_value(e.outcome).unwrap_or(Value::Null))
}

pub(super) fn history_table(runs: &[HistoryEntry], ticks: &[TickEntry], now: DateTime<Utc>) -> Markup {
    let rows = rows(runs, ticks);
    if rows.is_empty() {
        return html! { p { "No runs recorded yet." } "\n" };
    }
    html! {
        (scroll(html! { table class="history" {
            thead { tr {
                th { "When" } th { "What" } th { "Duration" } th { "Attempt" }
                th { "Exit" } th { "Worker" } th { "Output" }
            } }
            tbody {
                "\n"
                @for row in &rows {
                    @match row {
                        Row::Run(e) => (run_row(e, now)),
                        Row::Tick(t) => (tick_row(t, now)),
                    }
                    "\n"
                }
            }
        } }))
        "\n"
    }
}

fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    html! { (time(t, &text::utc(t))) br; small { (ago(t, now)) } }
}

fn run_row(e: &HistoryEntry, now: DateTime<Utc>) -> Markup {
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
        tr class="run" data-run=(e.id) {
            td { (when(e.finished_at, now)) }
            td { span class="kind" { "run" } " " (badge(&outcome(e))) " " (spaced(&notes)) }
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

/// What a tick decision means, in words.
fn tick_words(t: &TickEntry) -> String {
    let at = DateTime::from_timestamp(t.tick, 0).map(text::utc).unwrap_or_default();
    let more = match t.ticks() {
        1 => String::new(),
        n => format!(" and the {} before it", n - 1),
    };
    match t.outcome {
        TickOutcome::Missed => format!("tick {at}{more} missed: the clock was down past the catch-up window"),
        TickOutcome::Overlap => {
            format!("tick {at}{more} skipped: the previous run was still queued or running")
        }
        TickOutcome::Paused => format!("tick {at} skipped: the job was paused"),
        TickOutcome::Manual => "run pushed by hand, outside the schedule".to_owned(),
        TickOutcome::Pushed => format!("tick {at} pushed"),
    }
}

fn tick_row(t: &TickEntry, now: DateTime<Utc>) -> Markup {
    let at = DateTime::from_timestamp_millis(t.at).unwrap_or_default();
    html! {
        tr class="tick" data-tick=(t.tick) {
            td { (when(at, now)) }
            td { span class="kind" { "tick" } " " (badge(t.outcome.as_str())) }
            td colspan="5" { small { (tick_words(t)) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Outcome;
    use crate::web::trouble::tests::run;

    fn tick(outcome: TickOutcome, at_minute: i64) -> TickEntry {
        let at = DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z").unwrap().timestamp_millis()
            + at_minute * 60_000;
        TickEntry { tick: at / 1000, outcome, at, count: None, id: None }
    }

    #[test]
    fn runs_and_tick_decisions_merge_newest_first_without_pushed_ticks() {
        let runs = [run(Outcome::Failed, false, 5), run(Outcome::Success, true, 2)];
        let ticks = [
            tick(TickOutcome::Paused, 6),
            tick(TickOutcome::Pushed, 4),
            tick(TickOutcome::Missed, 3),
            tick(TickOutcome::Manual, 1),
        ];
        let order: Vec<String> = rows(&runs, &ticks)
            .iter()
            .map(|r| match r {
                Row::Run(e) => format!("run {}", e.id),
                Row::Tick(t) => format!("tick {}", t.outcome.as_str()),
            })
            .collect();
        assert_eq!(order, ["tick paused", "run job@5", "tick missed", "run job@2", "tick manual"]);
        let now = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z").unwrap().to_utc();
        let page = history_table(&runs, &ticks, now).into_string();
        assert_eq!(page.matches(r#"<span class="kind">tick</span>"#).count(), 3, "{page}");
        assert_eq!(page.matches(r#"<span class="kind">run</span>"#).count(), 2, "{page}");
        assert!(page.contains(r#"<span class="badge badge-manual">manual</span>"#), "{page}");
    }
}
