//! How the CLI prints instants and tables. These formats are a public
//! contract (scripts parse them); tests pin them.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// An instant in UTC, RFC 3339 with a `Z` suffix: `2026-03-08T07:00:00Z`.
pub fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
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
    fn formats_instants() {
        let t: DateTime<Utc> = "2026-03-08T07:00:00Z".parse().unwrap();
        assert_eq!(utc(t), "2026-03-08T07:00:00Z");
        assert_eq!(local(t, chrono_tz::America::New_York), "2026-03-08 03:00:00 -04:00 EDT");
        assert_eq!(local(t, chrono_tz::Asia::Kathmandu), "2026-03-08 12:45:00 +05:45 +0545");
    }

    #[test]
    fn aligns_columns() {
        let rows = vec![vec!["a".to_string(), "long cell".to_string(), "x".to_string()]];
        assert_eq!(table(&["JOB", "S", "Z"], &rows), "JOB  S          Z\na    long cell  x\n");
    }
}
