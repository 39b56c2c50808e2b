//! The job page's chart: durations of the newest runs as bars, oldest on
//! the left, on a y axis from 0 in seconds with gridlines at round steps,
//! the job's timeout as a dashed line, outcomes by colour with a legend. An
//! SVG drawn on the server, so no chart library is needed; its text is
//! sized for the box it fills, so it stays readable on a phone.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::run::{HistoryEntry, Outcome};
use crate::text;

/// Runs drawn: the newest this many.
const RUNS: usize = 50;
/// The drawing's coordinates: bars and gaps, and the margins for the axes'
/// labels.
const BAR: f64 = 8.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const PLOT_H: f64 = 140.0;
const BOTTOM: f64 = 36.0;
/// About how wide a character of an axis label is, and the least room
/// between two labels, in the drawing's units.
const LABEL_CHAR: f64 = 7.5;
const LABEL_GAP: f64 = 12.0;

/// The y axis: from 0 to `top` seconds in gridlines `step` apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub step: f64,
    pub top: f64,
}

impl Scale {
    /// The smallest axis with a round step (1, 2 or 5 times a power of ten
    /// below a minute, else a round number of minutes or hours) and at most
    /// five gridlines above 0 that reaches `max` seconds.
    pub fn to_fit(max: f64) -> Scale {
        const STEPS: [f64; 12] =
            [10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0];
        let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
        let raw = max / 5.0;
        let step = if raw <= 5.0 {
            let power = 10f64.powf(raw.log10().floor());
            [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power)
        } else {
            STEPS.into_iter().find(|s| *s >= raw).unwrap_or_else(|| (raw / 86_400.0).ceil() * 86_400.0)
        };
        Scale { step, top: (max / step).ceil().max(1.0) * step }
    }

    /// The gridlines' values, 0 first.
    pub fn lines(&self) -> Vec<f64> {
        let n = (self.top / self.step).round() as usize;
        (0..=n).map(|i| i as f64 * self.step).collect()
    }
}

/// Seconds as an axis label: as few decimals as the step needs.
pub fn seconds_label(secs: f64) -> String {
    let text = format!("{secs:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Where the timeout goes: on the axis (which then reaches it when it is
/// at most twice the longest run), or off it.
fn scale_with_timeout(longest: f64, timeout: Option<f64>) -> (Scale, Option<f64>) {
    match timeout {
        Some(t) if t <= 2.0 * longest.max(0.001) => (Scale::to_fit(longest.max(t)), Some(t)),
        _ => (Scale::to_fit(longest), None),
    }
}

fn outcome_class(outcome: Outcome) -> &'static str {
    outcome.as_str()
}

/// The chart of the newest runs (`history` is newest first), with the
/// job's timeout (`None` for none).
pub fn chart(history: &[HistoryEntry], timeout_secs: Option<u64>) -> Markup {
    if history.is_empty() {
        return html! { p { "No runs yet." } "\n" };
    }
    let runs: Vec<&HistoryEntry> = history.iter().take(RUNS).rev().collect();
    let secs = |e: &HistoryEntry| e.duration_ms.max(0) as f64 / 1000.0;
    let longest = runs.iter().map(|e| secs(e)).fold(0.0, f64::max);
    let timeout = timeout_secs.filter(|t| *t > 0).map(|t| t as f64);
    let (scale, timeout_line) = scale_with_timeout(longest, timeout);
    let plot_w = RUNS as f64 * BAR;
    let (w, h) = (LEFT + plot_w + RIGHT, TOP + PLOT_H + BOTTOM);
    let y = |s: f64| TOP + PLOT_H - s / scale.top * PLOT_H;
    // Right-aligned: the newest run is always at the right edge.
    let x0 = LEFT + plot_w - runs.len() as f64 * BAR;
    let caption = match runs.len() {
        1 => "The last run".to_owned(),
        n => format!("The last {n} runs"),
    };
    html! {
        figure class="chart" {
            svg role="img" aria-label={ "Durations of the last " (runs.len()) " runs, in seconds" }
                viewBox={ "0 0 " (w) " " (h) } preserveAspectRatio="xMinYMin meet" {
                @for v in scale.lines() {
                    line class="grid" x1=(LEFT) x2=(LEFT + plot_w) y1=(f1(y(v))) y2=(f1(y(v))) {}
                    text class="y-label" x=(LEFT - 4.0) y=(f1(y(v) + 4.0)) text-anchor="end" {
                        (seconds_label(v))
                    }
                }
                text class="axis-title" x="2" y=(f1(TOP + 4.0)) { "s" }
                @for (i, e) in runs.iter().enumerate() {
                    @let bar_h = (secs(e) / scale.top * PLOT_H).max(2.0);
                    rect class={ "bar bar-" (outcome_class(e.outcome)) }
                        x=(f1(x0 + i as f64 * BAR)) y=(f1(TOP + PLOT_H - bar_h))
                        width=(f1(BAR - 2.0)) height=(f1(bar_h)) {
                        title {
                            (text::utc(e.started_at)) " · " (e.outcome.as_str()) " · "
                            (format!("{:.3}", secs(e))) "s"
                        }
                    }
                }
                @if let Some(t) = timeout_line {
                    line class="timeout" x1=(LEFT) x2=(LEFT + plot_w) y1=(f1(y(t))) y2=(f1(y(t))) {}
                }
                line class="axis" x1=(LEFT) x2=(LEFT + plot_w) y1=(f1(TOP + PLOT_H)) y2=(f1(TOP + PLOT_H)) {}
                (x_labels(&runs, x0, TOP + PLOT_H + 16.0))
                text class="axis-title" x=(LEFT + plot_w / 2.0) y=(f1(h - 3.0)) text-anchor="middle" {
                    "run start (UTC)"
                }
            }
            figcaption {
                (legend(&runs, timeout, timeout_line.is_some()))
                (caption) ", oldest first; the longest took " (format!("{longest:.3}")) "s."
            }
        }
        "\n"
    }
}

/// One decimal: enough for a drawing a few hundred units wide.
fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// The start times of the oldest, middle and newest runs under their bars:
/// `HH:MM`, with the date when the runs span more than a day.
fn x_labels(runs: &[&HistoryEntry], x0: f64, y: f64) -> Markup {
    let (first, last) = (runs[0].started_at, runs[runs.len() - 1].started_at);
    let format = if last - first >= chrono::TimeDelta::days(1) { "%m-%d %H:%M" } else { "%H:%M" };
    let label = |t: DateTime<Utc>| t.format(format).to_string();
    // The newest label ends at its bar, the oldest starts at its bar, the
    // middle one is centred, so none runs off the drawing; one that would
    // overlap a label already placed (few runs, bunched at the right) is
    // left out.
    let last = runs.len() - 1;
    let width = label(runs[0].started_at).len() as f64 * LABEL_CHAR;
    let candidates = [
        (last, "end", x0 + (last + 1) as f64 * BAR - 2.0),
        (0, "start", x0),
        (last / 2, "middle", x0 + (last / 2) as f64 * BAR + BAR / 2.0 - 1.0),
    ];
    let span = |anchor: &str, x: f64| match anchor {
        "end" => (x - width, x),
        "start" => (x, x + width),
        _ => (x - width / 2.0, x + width / 2.0),
    };
    let mut picks: Vec<(usize, &str, f64)> = Vec::new();
    for (i, anchor, x) in candidates {
        let (a, b) = span(anchor, x);
        let clear = picks.iter().all(|&(j, other, ox)| {
            let (c, d) = span(other, ox);
            j != i && (b + LABEL_GAP <= c || d + LABEL_GAP <= a)
        });
        if clear {
            picks.push((i, anchor, x));
        }
    }
    html! {
        @for (i, anchor, x) in picks {
            text class="x-label" x=(f1(x)) y=(f1(y)) text-anchor=(anchor) { (label(runs[i].started_at)) }
        }
    }
}

/// What the colours and the dashed line mean: every outcome drawn, and the
/// timeout, on the scale or said to be off it.
fn legend(runs: &[&HistoryEntry], timeout: Option<f64>, on_scale: bool) -> Markup {
    let outcomes: Vec<Outcome> = [Outcome::Success, Outcome::Failed, Outcome::TimedOut]
        .into_iter()
        .filter(|o| runs.iter().any(|e| e.outcome == *o))
        .collect();
    html! {
        ul class="legend" {
            @for o in outcomes {
                li { span class={ "swatch swatch-" (outcome_class(o)) } {} (o.as_str().replace('_', " ")) }
            }
            @match (timeout, on_scale) {
                (Some(t), true) => li { span class="swatch swatch-timeout" {} "timeout " (seconds_label(t)) "s" },
                (Some(t), false) => li {
                    "timeout " (seconds_label(t)) "s: off the scale, above the longest run"
                },
                (None, _) => li { "no timeout" },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_starts_at_zero_and_reaches_the_longest_run_in_round_steps() {
        for (max, step, top) in [
            (0.0, 0.2, 1.0),
            (0.9, 0.2, 1.0),
            (1.0, 0.2, 1.0),
            (4.2, 1.0, 5.0),
            (7.0, 2.0, 8.0),
            (23.0, 5.0, 25.0),
            (59.0, 15.0, 60.0),
            (61.0, 15.0, 75.0),
            (290.0, 60.0, 300.0),
            (3000.0, 600.0, 3000.0),
            (5000.0, 1800.0, 5400.0),
            (200_000.0, 86_400.0, 259_200.0),
        ] {
            let scale = Scale::to_fit(max);
            assert_eq!((scale.step, scale.top), (step, top), "max {max}");
            let lines = scale.lines();
            assert_eq!(lines[0], 0.0);
            assert!(*lines.last().unwrap() >= max);
            assert!(lines.len() <= 6, "{lines:?}");
        }
    }

    #[test]
    fn run_times_label_the_x_axis_without_overlapping() {
        use crate::web::trouble::tests::run;
        let runs: Vec<HistoryEntry> = (0..50).map(|m| run(Outcome::Success, false, 59 - m)).collect();
        let labels = |n: usize| chart(&runs[..n], None).into_string().matches(r#"class="x-label""#).count();
        assert_eq!(labels(50), 3, "oldest, middle and newest");
        assert_eq!(labels(3), 1, "bunched at the right: the newest only");
        assert_eq!(labels(1), 1);
        let page = chart(&runs, None).into_string();
        assert!(page.contains(">08:59</text>") && page.contains(">08:10</text>"), "{page}");
        assert!(page.contains("no timeout"), "{page}");
    }

    #[test]
    fn labels_carry_only_the_decimals_they_need() {
        assert_eq!(seconds_label(0.0), "0");
        assert_eq!(seconds_label(0.2), "0.2");
        assert_eq!(seconds_label(0.05), "0.05");
        assert_eq!(seconds_label(1800.0), "1800");
    }

    #[test]
    fn a_timeout_near_the_runs_widens_the_scale_and_a_far_one_is_off_it() {
        let (scale, line) = scale_with_timeout(20.0, Some(30.0));
        assert_eq!(line, Some(30.0));
        assert!(scale.top >= 30.0);
        let (scale, line) = scale_with_timeout(2.0, Some(300.0));
        assert_eq!(line, None);
        assert_eq!(scale.top, 2.0);
    }
}
