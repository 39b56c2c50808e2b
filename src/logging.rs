//! Logging shared by the binaries, on stderr, filtered by `RUST_LOG`
//! (default `info`). `CAMPANILE_LOG_FORMAT` picks the format: `pretty`
//! (the default on a terminal), `logfmt` (the default otherwise, e.g. on
//! Heroku: one `key=value` line per event) or `json` (one object per line).

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::time::{SystemTime, TimeSource};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| Stderr);
    let format = std::env::var("CAMPANILE_LOG_FORMAT").unwrap_or_default();
    let terminal = std::io::stderr().is_terminal();
    match format.as_str() {
        "json" => builder.json().init(),
        "pretty" => builder.init(),
        "logfmt" => builder.event_format(Logfmt).init(),
        _ if terminal => builder.init(),
        _ => builder.event_format(Logfmt).init(),
    }
}

thread_local! {
    /// Lines held back by [`batched`] on this thread.
    static HELD: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Runs `f` with the log lines it writes on this thread held back and
/// written to stderr in one write when it returns (or panics). A batch of
/// ticks logs a line per tick, and a write per line would be a good part of
/// what a clock firing every second spends its CPU on.
pub fn batched<T>(f: impl FnOnce() -> T) -> T {
    struct Release(bool);
    impl Drop for Release {
        fn drop(&mut self) {
            if self.0
                && let Some(lines) = HELD.with(|held| held.borrow_mut().take())
            {
                let _ = std::io::stderr().write_all(&lines);
            }
        }
    }
    // Nested calls hold lines until the outermost returns.
    let outermost = HELD.with(|held| {
        let mut held = held.borrow_mut();
        held.is_none().then(|| *held = Some(Vec::new())).is_some()
    });
    let _release = Release(outermost);
    f()
}

/// Stderr, or this thread's held lines inside [`batched`].
struct Stderr;

impl Stderr {
    /// Appends `buf` to the held lines, if lines are being held.
    fn hold(buf: &[u8]) -> bool {
        HELD.with(|held| held.borrow_mut().as_mut().map(|lines| lines.extend_from_slice(buf)).is_some())
    }
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if Stderr::hold(buf) { Ok(buf.len()) } else { std::io::stderr().write(buf) }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if Stderr::hold(buf) { Ok(()) } else { std::io::stderr().write_all(buf) }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `ts=2026-11-23T08:00:00.003Z level=info target=campanile::clock msg="tick enqueued" job=nightly-report …`
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let ts = crate::output::utc_millis(SystemTime.now());
        write!(
            writer,
            "ts={ts} level={} target={}",
            meta.level().as_str().to_ascii_lowercase(),
            meta.target()
        )?;
        let mut visitor = Fields { out: String::new() };
        event.record(&mut visitor);
        writeln!(writer, "{}", visitor.out)
    }
}

struct Fields {
    out: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let name = if field.name() == "message" { "msg" } else { field.name() };
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push('=');
        push_value(&mut self.out, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Bare when safe, else double-quoted with `"` and `\` escaped and every
/// control character (and the Unicode line separators) written as an
/// escape: a value, such as a job's output, can never end the line or
/// recolour a terminal, so it cannot forge a log line.
fn push_value(out: &mut String, value: &str) {
    let bare = !value.is_empty()
        && !value.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=' || c == '\\');
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> Option<String> {
        HELD.with(|held| held.borrow().as_ref().map(|l| String::from_utf8(l.clone()).unwrap()))
    }

    #[test]
    fn lines_inside_batched_are_held_until_the_outermost_call_returns() {
        assert_eq!(held(), None);
        let n = batched(|| {
            Stderr.write_all(b"one\n").unwrap();
            batched(|| Stderr.write_all(b"two\n").unwrap());
            assert_eq!(held().as_deref(), Some("one\ntwo\n"), "nested calls hold on");
            7
        });
        assert_eq!(n, 7);
        assert_eq!(held(), None, "written out and no longer holding");
        let unwound = std::panic::catch_unwind(|| batched(|| panic!("mid-batch")));
        assert!(unwound.is_err());
        assert_eq!(held(), None, "a panic still writes the lines out");
    }

    #[test]
    fn quotes_only_what_needs_it() {
        let mut out = String::new();
        for v in ["nightly-report", "tick enqueued", "", "a\"b", "x=y"] {
            push_value(&mut out, v);
            out.push('|');
        }
        assert_eq!(out, r#"nightly-report|"tick enqueued"|""|"a\"b"|"x=y"|"#);
    }

    #[test]
    fn escapes_every_control_character_so_output_cannot_forge_a_line() {
        let mut out = String::new();
        push_value(&mut out, "ok\rts=x level=error msg=forged\n\t\x1b[31m\0\u{7f}\u{85}\u{2028}end");
        assert_eq!(out, r#""ok\rts=x level=error msg=forged\n\t\u{1b}[31m\u{0}\u{7f}\u{85}\u{2028}end""#);
        assert!(!out.chars().any(|c| c.is_control() || c == '\u{2028}'), "{out:?}");
        let mut bare = String::new();
        push_value(&mut bare, "a\u{1b}b");
        assert_eq!(bare, r#""a\u{1b}b""#, "a control character is never left bare");
    }
}
