//! What a payload must be before anything acts on it. Shared by processing
//! a payload and recording the outcome of one a dead worker left running.

use super::{Error, MAX_ATTEMPT};
use crate::payload::Payload;

/// The payload in `raw`, or why it is malformed (the reason a dead letter
/// gives).
pub(super) fn parse(raw: &[u8]) -> Result<Payload, Error> {
    let text = std::str::from_utf8(raw).map_err(|e| Error::NotUtf8 { offset: e.valid_up_to() })?;
    let payload = serde_json::from_str::<Payload>(text).map_err(Error::Json)?;
    // Each reaches the command's environment, which cannot hold a nul.
    for (field, value) in [("id", &payload.id), ("job", &payload.job), ("queue", &payload.queue)] {
        if value.contains('\0') {
            return Err(Error::NulByte { field });
        }
    }
    if !(1..=MAX_ATTEMPT).contains(&payload.attempt) {
        return Err(Error::Attempt { attempt: payload.attempt });
    }
    Ok(payload)
}
