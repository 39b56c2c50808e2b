//! What is wrong with a clock.toml, located to the line and column.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line and column of the offending key or value.
    pub line: usize,
    pub column: usize,
    /// The job, if the problem is inside `[jobs.NAME]`.
    pub job: Option<String>,
    /// The key at fault, e.g. `cron`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `clock.toml:12:8: job "nightly-report": field "cron": hour: 25 is out of range 0-23`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(job) = &self.job {
            write!(f, "job {job:?}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field {field:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Every problem in the file, not just the first.
    #[error("{} has {} error{}", file, errors.len(), if errors.len() == 1 { "" } else { "s" })]
    Invalid { file: String, errors: Vec<Diagnostic> },
}

/// Maps byte offsets to 1-based line and column (in characters).
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { text, starts }
    }

    pub(crate) fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = self.text[self.starts[line]..offset].chars().count() + 1;
        (line + 1, column)
    }
}
