//! `format = "bullmq"`: the settings of a job whose ticks a BullMQ worker
//! (Node) runs, as a job hash with its id on BullMQ's `wait` list.

use serde_json::Value;

/// `format = "bullmq"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bullmq {
    /// The job's `name`, which the worker's processor reads as `job.name`.
    pub name: String,
    /// BullMQ's key prefix (`Queue`'s `prefix` option): keys are
    /// `<prefix>:<queue>:…`.
    pub prefix: String,
    /// BullMQ's `attempts`: how many times the worker tries the job; 0, the
    /// default, is what `Queue.add` writes when none is given (one try).
    pub attempts: u32,
    /// BullMQ's `backoff`, as BullMQ takes it: a delay in ms, or
    /// `{type, delay, jitter}`.
    pub backoff: Option<Value>,
}

/// BullMQ's default key prefix.
pub const BULLMQ_PREFIX: &str = "bull";

/// A job name: any non-empty text (BullMQ dispatches on it freely).
pub fn parse_name(s: &str) -> Result<&str, super::format::Invalid> {
    if s.is_empty() {
        return Err(super::format::Invalid::JobName);
    }
    Ok(s)
}

/// A key prefix as BullMQ's `QueueBase` builds keys with it: non-empty,
/// without whitespace, and without the ':' BullMQ adds itself.
pub fn parse_prefix(s: &str) -> Result<&str, super::format::Invalid> {
    if s.is_empty() || s.chars().any(char::is_whitespace) || s.ends_with(':') {
        return Err(super::format::Invalid::Prefix(s.to_owned()));
    }
    Ok(s)
}

/// `backoff`: a fixed delay in ms (`backoff = 5000`), or a table with a
/// strategy `type` (BullMQ's own "fixed" and "exponential", or one the
/// worker's `settings.backoffStrategy` knows), an optional `delay` in ms and
/// an optional `jitter` between 0 and 1, the checks `Job.validateOptions`
/// makes.
pub fn parse_backoff(value: Value) -> Result<Value, super::format::Invalid> {
    use super::format::Invalid::Backoff;
    let ok = match &value {
        Value::Number(n) => n.as_u64().is_some(),
        Value::Object(map) => {
            map.get("type").is_some_and(|t| t.as_str().is_some_and(|t| !t.is_empty()))
                && map.get("delay").is_none_or(|d| d.as_u64().is_some())
                && map.get("jitter").is_none_or(|j| j.as_f64().is_some_and(|j| (0.0..=1.0).contains(&j)))
                && map.keys().all(|k| matches!(k.as_str(), "type" | "delay" | "jitter"))
        }
        _ => false,
    };
    if ok { Ok(value) } else { Err(Backoff(value.to_string())) }
}
