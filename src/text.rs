//! Instants, table cells and tables as text, the way the CLI prints them
//! (and payloads, logs and the dashboard show instants). What these write
//! is a public contract (scripts parse it); tests pin it.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

/// An instant in UTC, RFC 3339 with a `Z` suffix: `2026-03-08T07:00:00Z`.
pub fn utc(t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(20);
    push_utc(&mut out, t, false);
    out
}

/// [`utc`] with milliseconds: `2026-03-08T07:00:00.000Z`.
pub fn utc_millis(t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(24);
    push_utc(&mut out, t, true);
    out
}

/// Appends [`utc`] or [`utc_millis`] to `out`, exactly as chrono's
/// `%Y-%m-%dT%H:%M:%S[%.3f]Z` would. Written out by hand because chrono
/// parses the pattern on every call, and the clock writes several instants
/// for every tick it pushes (payload, id, log line).
pub fn push_utc(out: &mut String, t: DateTime<Utc>, millis: bool) {
    let year = t.year();
    // Years of more than four digits, and leap seconds, as chrono has them.
    if !(0..=9999).contains(&year) || t.nanosecond() >= 1_000_000_000 {
        let pattern = if millis { "%Y-%m-%dT%H:%M:%S%.3fZ" } else { "%Y-%m-%dT%H:%M:%SZ" };
        out.push_str(&t.format(pattern).to_string());
        return;
    }
    push_digits(out, year as u32, 4);
    for (separator, value) in
        [('-', t.month()), ('-', t.day()), ('T', t.hour()), (':', t.minute()), (':', t.second())]
    {
        out.push(separator);
        push_digits(out, value, 2);
    }
    if millis {
        out.push('.');
        push_digits(out, t.timestamp_subsec_millis(), 3);
    }
    out.push('Z');
}

/// `n` in decimal, zero-padded to `width` digits.
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
    }
}

/// An instant as a wall time in `tz`, with offset and abbreviation:
/// `2026-03-08 03:00:00 -04:00 EDT`.
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %:z %Z").to_string()
}

/// A JSON value as a table cell shows it: strings bare, `null` as `-`.
pub fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Longest description a table cell shows; `--json` has all of it.
pub const DESCRIPTION_CHARS: usize = 60;

/// A job's description as a table cell: `-` when it has none, cut to
/// [`DESCRIPTION_CHARS`] with `…`, on one line.
pub fn description_cell(v: &serde_json::Value) -> String {
    let Some(text) = v.as_str() else { return "-".into() };
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= DESCRIPTION_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(DESCRIPTION_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Left-aligned columns separated by two spaces; no trailing spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_cells_are_one_bounded_line() {
        assert_eq!(description_cell(&serde_json::Value::Null), "-");
        assert_eq!(description_cell(&"Sends\n  the report.".into()), "Sends the report.");
        let long = "x".repeat(DESCRIPTION_CHARS + 5);
        let cell = description_cell(&long.into());
        assert_eq!(cell.chars().count(), DESCRIPTION_CHARS);
        assert!(cell.ends_with('…'));
    }

    #[test]
    fn writes_instants() {
        let t: DateTime<Utc> = "2026-03-08T07:00:00Z".parse().unwrap();
        assert_eq!(utc(t), "2026-03-08T07:00:00Z");
        assert_eq!(local(t, chrono_tz::America::New_York), "2026-03-08 03:00:00 -04:00 EDT");
        assert_eq!(local(t, chrono_tz::Asia::Kathmandu), "2026-03-08 12:45:00 +05:45 +0545");
    }

    #[test]
    fn writes_utc_exactly_as_chrono_does() {
        let chrono_text = |t: DateTime<Utc>, pattern: &str| t.format(pattern).to_string();
        // Every millisecond digit, the ends of the four-digit years, a leap
        // day, and (through chrono) years past them and a leap second.
        let mut cases: Vec<DateTime<Utc>> =
            ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "2028-02-29T12:34:56.007Z"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
        cases.push(DateTime::from_timestamp(253_402_300_800, 5_000_000).unwrap()); // 10000-01-01
        cases.push(DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap()); // 23:59:60.5
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..10_000 {
            // A xorshift walk over 1900-2100, milliseconds included.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = (x.rem_euclid(6_311_433_600_000)) - 2_208_988_800_000;
            cases.push(DateTime::from_timestamp_millis(ms).unwrap());
        }
        for t in cases {
            assert_eq!(utc(t), chrono_text(t, "%Y-%m-%dT%H:%M:%SZ"), "{t:?}");
            assert_eq!(utc_millis(t), chrono_text(t, "%Y-%m-%dT%H:%M:%S%.3fZ"), "{t:?}");
        }
    }

    #[test]
    fn aligns_columns() {
        let rows = vec![vec!["a".to_string(), "long cell".to_string(), "x".to_string()]];
        assert_eq!(table(&["JOB", "S", "Z"], &rows), "JOB  S          Z\na    long cell  x\n");
    }
}
