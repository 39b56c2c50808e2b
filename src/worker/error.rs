//! What the worker's boundaries can fail with: a payload it will not run
//! (the message is the dead letter's `reason`, a public contract pinned by
//! the worker tests) and a worker that stopped for a reason other than
//! being told to.

use super::MAX_ATTEMPT;
use crate::supervisor;

/// Why a payload is not run, or why the worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The payload is over `[worker] max_payload_bytes`; it is not parsed.
    #[error("payload too large: {size} bytes")]
    TooLarge { size: usize },
    #[error("malformed payload: not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    /// The JSON is kept in the message, not as a `source`: the dead letter's
    /// reason is this message alone and must say what was wrong.
    #[error("malformed payload: {0}")]
    Json(serde_json::Error),
    /// Each of these fields reaches the command's environment, which cannot
    /// hold a nul.
    #[error("malformed payload: nul byte in {field}")]
    NulByte { field: &'static str },
    #[error("malformed payload: attempt {attempt} is not between 1 and {MAX_ATTEMPT}")]
    Attempt { attempt: u32 },
    #[error("job {job:?} is not defined in this worker's clock.toml")]
    UnknownJob { job: String },
    /// A job queued in another format: the workers of that format run it.
    #[error("job {job:?} has format {format:?}: its own workers run it, not campanile's")]
    ForeignFormat { job: String, format: &'static str },
    /// A background loop kept failing; the worker drained and stopped.
    #[error(transparent)]
    Stopped(#[from] supervisor::Failure),
}
