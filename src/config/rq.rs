//! `format = "rq"`: the settings of a job whose ticks an RQ worker runs, as
//! an RQ job hash with its id on RQ's queue list.

use serde_json::{Map, Value};

/// `format = "rq"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rq {
    /// The dotted path of the function the worker imports and calls
    /// (`function = "reports.nightly"`).
    pub function: String,
    /// The call's keyword arguments; its positional ones are the job's `args`.
    pub kwargs: Map<String, Value>,
    /// RQ's `job_timeout`, whole seconds: the worker kills a run past it.
    pub timeout_secs: u64,
}

/// The queue of an RQ job that names none: RQ's own default queue.
pub const RQ_QUEUE: &str = "default";

/// RQ's default `job_timeout` (`Queue.DEFAULT_TIMEOUT`), in seconds.
pub const RQ_TIMEOUT_SECS: u64 = 180;

/// A function path as RQ imports it: `module.function`, dotted.
pub fn parse_function(s: &str) -> Result<&str, super::format::Invalid> {
    let valid = s.contains('.')
        && s.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        });
    if !valid {
        return Err(super::format::Invalid::Function(s.to_owned()));
    }
    Ok(s)
}
