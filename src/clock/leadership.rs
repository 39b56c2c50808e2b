//! Whether this clock leads: the lease keeper says so through a `watch`
//! channel, the leader loop and the registry follow it.

use chrono::{DateTime, Utc};

/// Whether this clock leads, as the keeper last knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    Standby,
    /// Leading since `since`; `lease` counts this clock's acquisitions, so
    /// a lease lost and taken again is a new one.
    Leading {
        lease: u64,
        since: DateTime<Utc>,
    },
}

impl Leadership {
    /// When this clock started leading, if it leads.
    pub fn since(self) -> Option<DateTime<Utc>> {
        match self {
            Leadership::Standby => None,
            Leadership::Leading { since, .. } => Some(since),
        }
    }
}
