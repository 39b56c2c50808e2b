//! HTML building blocks: escaping, the page frame, forms and small widgets.
//!
//! Every value that comes from Redis or clock.toml (job names, output
//! tails, args, reasons) goes through [`esc`] before it lands in a page, so
//! a job's output cannot inject markup or script. The Content-Security-Policy
//! header (see `headers.rs`) forbids inline script as a second line of defence.

use std::fmt::Write;

use chrono::{DateTime, Utc};

/// `s` with the five HTML-significant characters escaped, for text and
/// attribute values alike.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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
    None,
}

/// A whole page: head, navigation, an optional notice, then `body`.
pub fn page(title: &str, nav: Nav, notice: Option<&str>, body: &str) -> String {
    let link = |href: &str, label: &str, this: Nav| {
        let current = if nav == this { r#" aria-current="page""# } else { "" };
        format!(r#"<a href="{href}"{current}>{label}</a>"#)
    };
    let notice =
        notice.map(|n| format!(r#"<p class="notice" role="status">{}</p>"#, esc(n))).unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · campanile</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<header><a class="brand" href="/">campanile</a><nav>{overview}{dead}</nav></header>
<main>
{notice}{body}
</main>
</body>
</html>
"#,
        title = esc(title),
        overview = link("/", "Overview", Nav::Overview),
        dead = link("/dead", "Dead letters", Nav::Dead),
    )
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
) -> String {
    let mut hidden = String::new();
    for (name, value) in fields {
        let _ = write!(hidden, r#"<input type="hidden" name="{}" value="{}">"#, esc(name), esc(value));
    }
    format!(
        r#"<form method="post" action="{}" class="inline"><input type="hidden" name="csrf" value="{}"><input type="hidden" name="back" value="{}">{hidden}<button type="submit" class="{}">{}</button></form>"#,
        esc(action),
        esc(csrf),
        esc(back),
        esc(class),
        esc(label),
    )
}

/// An instant as a `<time>` element: UTC in the markup, shown as given.
pub fn time(t: DateTime<Utc>, shown: &str) -> String {
    format!(r#"<time datetime="{}">{}</time>"#, crate::output::utc(t), esc(shown))
}

/// A countdown to `t`, rendered now and kept current by the page script.
pub fn countdown(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(r#"<span class="countdown" data-at="{}">{}</span>"#, crate::output::utc(t), relative(t, now))
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

/// An outcome or state as a coloured label.
pub fn badge(text: &str) -> String {
    let class: String = text.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!(r#"<span class="badge badge-{class}">{}</span>"#, esc(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_text_and_attributes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
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
