//! HTML building blocks: the page frame, forms and small widgets, as
//! [maud] templates.
//!
//! Every value that comes from Redis or clock.toml (job names, output
//! tails, args, reasons) is interpolated with `(value)`, which maud escapes,
//! so a job's output cannot inject markup or script whatever page shows it.
//! A fragment built here is [`Markup`], already escaped, and goes into
//! another template as it is; raw HTML gets onto a page only through an
//! explicit `PreEscaped`, and none holds data. The Content-Security-Policy
//! header (see `headers.rs`) forbids inline script as a second line of
//! defence.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

/// A path segment with everything but unreserved characters percent-encoded.
pub fn url_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Which top-level page is showing, for the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Dead,
    Queues,
    Alerts,
    None,
}

/// A whole page: head, navigation, an optional notice, then `body`.
pub fn page(title: &str, nav: Nav, notice: Option<&str>, body: Markup) -> String {
    let current = |this: Nav| (nav == this).then_some("page");
    html! {
        (DOCTYPE) "\n"
        html lang="en" {
            "\n"
            head {
                "\n"
                meta charset="utf-8"; "\n"
                meta name="viewport" content="width=device-width, initial-scale=1"; "\n"
                title { (title) " · campanile" } "\n"
                link rel="stylesheet" href="/assets/app.css"; "\n"
                script src="/assets/app.js" defer {} "\n"
            }
            "\n"
            body {
                "\n"
                header {
                    a class="brand" href="/" { "campanile" }
                    nav {
                        a href="/" aria-current=[current(Nav::Overview)] { "Overview" }
                        a href="/dead" aria-current=[current(Nav::Dead)] { "Dead letters" }
                        a href="/queues" aria-current=[current(Nav::Queues)] { "Queues" }
                        a href="/alerts" aria-current=[current(Nav::Alerts)] { "Alerts" }
                    }
                }
                "\n"
                main {
                    "\n"
                    @if let Some(notice) = notice {
                        p class="notice" role="status" { (notice) }
                    }
                    (body) "\n"
                }
                "\n"
            }
            "\n"
        }
        "\n"
    }
    .into_string()
}

/// A POST form that is a single button, carrying the CSRF token, where to
/// come back to, and extra hidden fields.
pub fn button(
    action: &str,
    label: &str,
    csrf: &str,
    back: &str,
    fields: &[(&str, &str)],
    class: &str,
) -> Markup {
    html! {
        form method="post" action=(action) class="inline" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="back" value=(back);
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// An instant as a `<time>` element: UTC in the markup, shown as given.
pub fn time(t: DateTime<Utc>, shown: &str) -> Markup {
    html! { time datetime=(crate::text::utc(t)) { (shown) } }
}

/// A countdown to `t`, rendered now and kept current by the page script.
pub fn countdown(t: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    html! { span class="countdown" data-at=(crate::text::utc(t)) { (relative(t, now)) } }
}

/// `in 3m 20s`, `5s ago`: a coarse distance between two instants.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let words = span_words(secs.unsigned_abs());
    match secs {
        0 => "now".into(),
        1.. => format!("in {words}"),
        _ => format!("{words} ago"),
    }
}

/// How long ago `t` was; an instant a little in the future (another
/// host's clock) reads as just now.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if now - t < chrono::Duration::seconds(1) { "just now".into() } else { relative(t, now) }
}

fn span_words(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s:02}s"),
        (0, _, _) => format!("{h}h {m:02}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// An outcome or state as a coloured label; its class keeps only ASCII
/// letters and digits of `text`.
pub fn badge(text: &str) -> Markup {
    let class: String = text.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    html! { span class={ "badge badge-" (class) } { (text) } }
}

/// A table in a box of its own that scrolls sideways when the table is
/// wider than the window, so on a phone the page itself never does.
pub fn scroll(table: Markup) -> Markup {
    html! { div class="scroll" { (table) } }
}

/// Seconds between refreshes of a live page.
pub const REFRESH_SECS: u32 = 5;

/// The part of a page that keeps itself current: the page script fetches
/// the page again every [`REFRESH_SECS`] and swaps this part for the new
/// one, so it reads "as of" when the server rendered it. The empty alert
/// before it is where the script says when the server or Redis cannot be
/// reached; the notice of an action stays as it is.
pub fn live(now: DateTime<Utc>, body: Markup) -> Markup {
    html! {
        p class="notice warning connection" role="alert" hidden {} "\n"
        div class="live" data-live="" data-refresh=(REFRESH_SECS) {
            "\n"
            p class="as-of" { small { "As of " (time(now, &crate::text::utc(now))) } } "\n"
            (body)
        }
        "\n"
    }
}

/// `items` separated by a space.
pub fn spaced(items: &[Markup]) -> Markup {
    html! {
        @for (i, item) in items.iter().enumerate() {
            @if i > 0 { " " }
            (item)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_text_and_attributes_are_escaped() {
        let text = r#"<script>alert("x")</script> & 'y'"#;
        assert_eq!(
            button(text, text, text, text, &[(text, text)], text).into_string(),
            format!(
                r#"<form method="post" action="{e}" class="inline"><input type="hidden" name="csrf" value="{e}"><input type="hidden" name="back" value="{e}"><input type="hidden" name="{e}" value="{e}"><button type="submit" class="{e}">{e}</button></form>"#,
                e = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'y'"
            )
        );
        assert_eq!(
            badge("<in flight>").into_string(),
            r#"<span class="badge badge--in-flight-">&lt;in flight&gt;</span>"#
        );
    }

    #[test]
    fn the_frame_marks_the_current_page_and_escapes_title_and_notice() {
        let page = page("<t>", Nav::Dead, Some("<n>"), html! { p { "body" } });
        assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"), "{page}");
        assert!(page.contains("<title>&lt;t&gt; · campanile</title>"), "{page}");
        assert!(page.contains(r#"<a href="/">Overview</a><a href="/dead" aria-current="page">"#), "{page}");
        assert!(page.contains(r#"<p class="notice" role="status">&lt;n&gt;</p><p>body</p>"#), "{page}");
        assert_eq!(page.matches("<script").count(), 1, "{page}");
    }

    /// WCAG's contrast ratio of `#rrggbb` against white.
    fn contrast_with_white(hex: &str) -> f64 {
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        let l = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
        1.05 / (l + 0.05)
    }

    /// Every badge is white small text on its colour: each `.badge…` rule's
    /// background (a colour of `:root`) keeps 4.5:1 with white.
    #[test]
    fn badge_colours_meet_wcag_aa() {
        let css = include_str!("assets/app.css");
        let root = &css[css.find(":root {").unwrap()..];
        let root = &root[..root.find('}').unwrap()];
        let var = |name: &str| {
            let at = root.find(&format!("{name}: #")).unwrap_or_else(|| panic!("{name} in :root"))
                + name.len()
                + 2;
            root[at..at + 7].to_owned()
        };
        let rules: Vec<&str> = css.lines().filter(|l| l.starts_with(".badge")).collect();
        assert!(rules.len() >= 4, "{rules:?}");
        for rule in rules {
            let at = rule.find("background: var(").unwrap_or_else(|| panic!("a background in {rule}")) + 16;
            let name = &rule[at..at + rule[at..].find(')').unwrap()];
            let ratio = contrast_with_white(&var(name));
            assert!(ratio >= 4.5, "{rule}: {name} has {ratio:.2}:1 with white");
        }
        assert!(css.contains(".badge-timed-out"), "the class badge(\"timed_out\") gives");
        assert_eq!(
            badge("timed_out").into_string(),
            r#"<span class="badge badge-timed-out">timed_out</span>"#
        );
    }

    #[test]
    fn url_segments_are_percent_encoded() {
        assert_eq!(url_segment("nightly-report.v2"), "nightly-report.v2");
        assert_eq!(url_segment("a b/c?"), "a%20b%2Fc%3F");
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z").unwrap().to_utc();
        let at = |s: i64| now + chrono::Duration::seconds(s);
        assert_eq!(relative(at(5), now), "in 5s");
        assert_eq!(relative(now, now), "now");
        assert_eq!(ago(at(1), now), "just now");
        assert_eq!(ago(at(-5), now), "5s ago");
        assert_eq!(relative(at(-65), now), "1m 05s ago");
        assert_eq!(relative(at(3 * 3600 + 120), now), "in 3h 02m");
        assert_eq!(relative(at(2 * 86400 + 3600), now), "in 2d 1h");
    }
}
