//! What the worker writes about runs: history entries and dead letters.
//! Both are JSON in Redis and a public contract (docs/worker.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Exit status 0.
    Success,
    /// Non-zero exit status, or killed by a signal.
    Failed,
    /// Ran past its `timeout` and was killed.
    TimedOut,
    /// Stopped because the worker was shutting down; the payload went back
    /// to the pending list (never in history).
    Interrupted,
}

impl Outcome {
    /// The word the logs, the CLI and the JSON use: `success`, `failed`,
    /// `timed_out`, `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// One entry of `P{Q}:history:<job>`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: String,
    pub job: String,
    pub queue: String,
    #[serde(with = "crate::payload::rfc3339_secs")]
    pub scheduled_at: DateTime<Utc>,
    #[serde(with = "crate::payload::rfc3339_millis")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "crate::payload::rfc3339_millis")]
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub attempt: u32,
    pub outcome: Outcome,
    /// The command's exit status, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// The last few KB of its stdout and stderr, interleaved.
    pub output: String,
    /// The worker that ran it (`host:pid:nonce`).
    pub worker: String,
    /// Whether a retry was scheduled after this run.
    pub retry: bool,
    /// Started by `clock trigger` rather than the schedule.
    #[serde(default)]
    pub manual: bool,
}

/// One entry of `P{Q}:dead`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The payload exactly as it was on the queue: push it back onto the
    /// pending list to run it again. A payload that is not UTF-8 shows here
    /// with its bad bytes replaced by U+FFFD, and exactly in
    /// `payload_base64`; one that was too large shows only its start.
    pub payload: String,
    /// The payload's exact bytes, base64 (standard alphabet, padded), when
    /// they are not UTF-8; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    /// The payload's size in bytes, when only its first
    /// [`DEAD_PAYLOAD_KEPT`] bytes are kept (it was too large); absent
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_bytes: Option<u64>,
    /// Why it is here.
    pub reason: String,
    pub queue: String,
    /// The job it named, when it named one.
    pub job: Option<String>,
    /// Attempts made (0 when it was never run).
    pub attempts: u32,
    pub exit_code: Option<i32>,
    #[serde(with = "crate::payload::rfc3339_millis")]
    pub failed_at: DateTime<Utc>,
    pub worker: String,
    /// The end of the failing run's output (stdout and stderr, as its
    /// history entry keeps them), at most [`DEAD_OUTPUT_KEPT`] bytes, so the
    /// letter says why the command failed; absent when the payload was
    /// never run, or its run printed nothing, and from letters written
    /// before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// This dead letter's own id, unique even when the same payload died
    /// twice ([`new_dead_letter_id`]); absent from letters written before
    /// ids were stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// How much of the failing run's output a dead letter keeps: its end,
/// where a command usually says why it stopped.
pub const DEAD_OUTPUT_KEPT: usize = 2048;

/// The last [`DEAD_OUTPUT_KEPT`] bytes of `output` or fewer, cut at a
/// character boundary; `None` for no output.
pub fn output_tail(output: &str) -> Option<String> {
    if output.is_empty() {
        return None;
    }
    let mut start = output.len().saturating_sub(DEAD_OUTPUT_KEPT);
    while !output.is_char_boundary(start) {
        start += 1;
    }
    Some(output[start..].to_owned())
}

/// How much of a payload too large to run its dead letter keeps.
pub const DEAD_PAYLOAD_KEPT: usize = 4096;

/// A dead letter's `payload`, `payload_base64` and `payload_bytes` for the
/// bytes `raw`: whole, or (`cut`) only the first [`DEAD_PAYLOAD_KEPT`].
pub fn kept_payload(raw: &[u8], cut: bool) -> (String, Option<String>, Option<u64>) {
    use base64::Engine;
    let (kept, size) = match cut && raw.len() > DEAD_PAYLOAD_KEPT {
        true => (&raw[..DEAD_PAYLOAD_KEPT], Some(raw.len() as u64)),
        false => (raw, None),
    };
    match std::str::from_utf8(kept) {
        Ok(text) => (text.to_owned(), None, size),
        Err(_) => (
            String::from_utf8_lossy(kept).into_owned(),
            Some(base64::engine::general_purpose::STANDARD.encode(kept)),
            size,
        ),
    }
}

/// The id `clock dead` shows and `clock retry-dead` takes: the letter's
/// stored id; for a letter stored without one, [`payload_ref`].
pub fn dead_letter_id(letter: &DeadLetter) -> String {
    letter.id.clone().unwrap_or_else(|| payload_ref(letter))
}

/// A fresh id for `letter`: [`payload_ref`], `~` and 12 random hex digits,
/// so retrying or deleting by id acts on exactly one letter.
pub fn new_dead_letter_id(letter: &DeadLetter) -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 6];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the system has a random source");
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}~{suffix}", payload_ref(letter))
}

/// The payload's id, or for a payload that does not parse, `raw-` and a
/// hash of its bytes.
fn payload_ref(letter: &DeadLetter) -> String {
    use base64::Engine;
    if let Ok(p) = serde_json::from_str::<crate::payload::Payload>(&letter.payload) {
        return p.id;
    }
    let exact =
        letter.payload_base64.as_ref().and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let bytes = exact.as_deref().unwrap_or(letter.payload.as_bytes());
    format!("raw-{:016x}", crate::hash::fnv1a(bytes))
}

impl HistoryEntry {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a history entry always serialises")
    }
}

impl DeadLetter {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a dead letter always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_keeps_the_end_of_the_output_cut_at_a_character() {
        assert_eq!(output_tail(""), None);
        assert_eq!(output_tail("boom\n").as_deref(), Some("boom\n"));
        // The cut falls inside the 3-byte `€`.
        let long = format!("{}€{}", "a".repeat(3000), "z".repeat(2046));
        let tail = output_tail(&long).unwrap();
        assert!(tail.len() <= DEAD_OUTPUT_KEPT, "{}", tail.len());
        assert!(tail.ends_with(&"z".repeat(2046)));
        assert_eq!(tail, "z".repeat(2046), "the cut character is dropped, not split");
    }
}
