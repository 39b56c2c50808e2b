//! Logging shared by the binaries, on stderr, filtered by `RUST_LOG`
//! (default `info`). `CAMPANILE_LOG_FORMAT` picks the format: `pretty`
//! (the default on a terminal), `logfmt` (the default otherwise, e.g. on
//! Heroku: one `key=value` line per event) or `json` (one object per line).
//!
//! Every format carries the fields of the spans an event is in: the clock's
//! `ticks` span (`at`, `jobs`) around a batch of ticks, the worker's `run`
//! span (`job`, `id`, `attempt`) around one run. logfmt appends them after
//! the event's own fields (one the event also has is not repeated); JSON
//! has them under `span` (the innermost) and `spans` (root first).

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::time::{SystemTime, TimeSource};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = std::env::var("CAMPANILE_LOG_FORMAT").unwrap_or_default();
    let format = match format.as_str() {
        "json" => Format::Json,
        "pretty" => Format::Pretty,
        "logfmt" => Format::Logfmt,
        _ if std::io::stderr().is_terminal() => Format::Pretty,
        _ => Format::Logfmt,
    };
    // As the builders' own init: also routes the `log` records of
    // dependencies to the subscriber.
    subscriber(format, filter, || Stderr).init();
}

/// `CAMPANILE_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pretty,
    Logfmt,
    Json,
}

/// The subscriber [`init`] installs, writing to `writer`.
pub fn subscriber<W>(format: Format, filter: EnvFilter, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        Format::Pretty => Box::new(builder.finish()),
        Format::Logfmt => Box::new(builder.fmt_fields(LogfmtFields).event_format(Logfmt).finish()),
        Format::Json => Box::new(builder.json().with_current_span(true).with_span_list(true).finish()),
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
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let ts = crate::text::utc_millis(SystemTime.now());
        write!(
            writer,
            "ts={ts} level={} target={}",
            meta.level().as_str().to_ascii_lowercase(),
            meta.target()
        )?;
        let mut visitor = Fields::default();
        event.record(&mut visitor);
        let mut line = visitor.out;
        for span in ctx.event_scope().into_iter().flat_map(|scope| scope.from_root()) {
            let extensions = span.extensions();
            let Some(stored) = extensions.get::<FormattedFields<N>>() else { continue };
            for pair in stored.fields.split_terminator(PAIR_END) {
                let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                if !visitor.names.contains(&name) {
                    line.push(' ');
                    line.push_str(pair);
                }
            }
        }
        writeln!(writer, "{line}")
    }
}

/// Ends each `key=value` of a span's fields as [`LogfmtFields`] stores them:
/// a control character, which [`push_value`] never leaves in a value.
const PAIR_END: char = '\u{1f}';

/// Renders a span's fields for [`Logfmt`]: each `key=value` ended by
/// [`PAIR_END`], so an event can leave out the ones it has itself.
pub struct LogfmtFields;

impl<'w> FormatFields<'w> for LogfmtFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Fields { pair_end: Some(PAIR_END), ..Fields::default() };
        fields.record(&mut visitor);
        writer.write_str(&visitor.out)
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut visitor = Fields { pair_end: Some(PAIR_END), ..Fields::default() };
        fields.record(&mut visitor);
        current.fields.push_str(&visitor.out);
        Ok(())
    }
}

#[derive(Default)]
struct Fields {
    out: String,
    names: Vec<&'static str>,
    /// Span fields end each pair with this instead of starting it with a space.
    pair_end: Option<char>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let name = if field.name() == "message" { "msg" } else { field.name() };
        self.names.push(name);
        if self.pair_end.is_none() {
            self.out.push(' ');
        }
        self.out.push_str(name);
        self.out.push('=');
        push_value(&mut self.out, value);
        if let Some(end) = self.pair_end {
            self.out.push(end);
        }
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

    /// The lines a subscriber of `format` writes while `f` runs.
    fn captured(format: Format, f: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = subscriber(format, EnvFilter::new("info"), move || writer.clone());
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
    }

    fn in_a_run() {
        let run = tracing::info_span!("run", job = "nightly-report", id = "01J", attempt = 2u32);
        let _run = run.enter();
        tracing::info!(job = "nightly-report", outcome = "success", "run finished");
        tracing::warn!(stream = "stderr", line = "disk 91% full", "job output");
    }

    #[test]
    fn logfmt_lines_carry_the_fields_of_their_spans_once() {
        let out = captured(Format::Logfmt, in_a_run);
        let lines: Vec<&str> = out.lines().map(|l| l.split_once(" target=").unwrap().1).collect();
        assert_eq!(
            lines,
            [
                r#"campanile::logging::tests msg="run finished" job=nightly-report outcome=success id=01J attempt=2"#,
                r#"campanile::logging::tests msg="job output" stream=stderr line="disk 91% full" job=nightly-report id=01J attempt=2"#,
            ],
            "{out}"
        );
    }

    #[test]
    fn json_lines_carry_the_fields_of_their_spans() {
        let out = captured(Format::Json, in_a_run);
        let line: serde_json::Value = serde_json::from_str(out.lines().nth(1).unwrap()).unwrap();
        assert_eq!(line["fields"]["message"], "job output", "{out}");
        let span = &line["span"];
        assert_eq!(
            (&span["name"], &span["job"], &span["id"], &span["attempt"]),
            (&"run".into(), &"nightly-report".into(), &"01J".into(), &2.into()),
            "{out}"
        );
        assert_eq!(line["spans"][0]["job"], "nightly-report", "{out}");
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
