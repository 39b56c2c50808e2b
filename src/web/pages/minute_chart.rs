//! A queue's last hour as a bar chart in plain SVG (no script, no
//! library): one bar per minute, its height the payloads processed, its
//! red part those that failed; the y axis labelled with the busiest
//! minute's count, the x axis with the minutes ago.

use maud::{Markup, html};
use serde_json::Value;

/// Plot area, in SVG units; the labels go left of and under it.
const PLOT_W: f64 = 600.0;
const PLOT_H: f64 = 100.0;
const LEFT: f64 = 40.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 22.0;
const RIGHT: f64 = 10.0;

/// The chart of `minutes` (the view's `minutes`: oldest first, each
/// `{at, processed, failed}`).
pub fn chart(minutes: &Value) -> Markup {
    let minutes = minutes.as_array().map(Vec::as_slice).unwrap_or_default();
    let count = |m: &Value, field: &str| m[field].as_u64().unwrap_or(0);
    let top = minutes.iter().map(|m| count(m, "processed").max(count(m, "failed"))).max().unwrap_or(0).max(1);
    let (processed, failed): (u64, u64) =
        minutes.iter().fold((0, 0), |(p, f), m| (p + count(m, "processed"), f + count(m, "failed")));
    let slot = PLOT_W / minutes.len().max(1) as f64;
    let height = |n: u64| n as f64 / top as f64 * PLOT_H;
    let (w, h) = (LEFT + PLOT_W + RIGHT, TOP + PLOT_H + BOTTOM);
    let base = TOP + PLOT_H;
    let label = format!(
        "Payloads processed and failed per minute, last hour: {processed} processed, {failed} failed"
    );
    html! {
        figure class="chart minutes" {
            svg role="img" aria-label=(label) viewBox={ "0 0 " (w) " " (h) } width=(w) height=(h) {
                title { (label) }
                line class="axis" x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(base) {}
                line class="axis" x1=(LEFT) y1=(base) x2=(LEFT + PLOT_W) y2=(base) {}
                text class="tick" x=(LEFT - 4.0) y=(TOP + 8.0) text-anchor="end" { (top) }
                text class="tick" x=(LEFT - 4.0) y=(base) text-anchor="end" { "0" }
                text class="tick" x=(LEFT) y=(h - 6.0) text-anchor="start" { "60 min ago" }
                text class="tick" x=(LEFT + PLOT_W / 2.0) y=(h - 6.0) text-anchor="middle" { "30 min ago" }
                text class="tick" x=(LEFT + PLOT_W) y=(h - 6.0) text-anchor="end" { "now" }
                @for (i, m) in minutes.iter().enumerate() {
                    @let (p, f) = (count(m, "processed"), count(m, "failed"));
                    @let x = LEFT + i as f64 * slot + 1.0;
                    @if p > 0 || f > 0 {
                        g {
                            title { (crate::text::cell(&m["at"])) ": " (p) " processed, " (f) " failed" }
                            rect class="bar bar-processed" x=(x) y=(base - height(p)) width=(slot - 2.0) height=(height(p)) {}
                            @if f > 0 {
                                rect class="bar bar-failed" x=(x) y=(base - height(f)) width=(slot - 2.0) height=(height(f)) {}
                            }
                        }
                    }
                }
            }
            figcaption { "Processed (grey) and failed (red) per minute over the last hour, on Redis's clock." }
        }
        "\n"
    }
}
