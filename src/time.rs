//! The one place that reads the wall clock. Everything else takes the time
//! as an argument or through a [`TimeSource`], so schedule, DST and catch-up
//! behaviour is tested with a [`ManualTime`] instantly and exactly.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Where the current instant comes from.
pub trait TimeSource: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's real-time clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemTime;

impl TimeSource for SystemTime {
    #[allow(clippy::disallowed_methods)] // the one sanctioned call
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualTime(Mutex<DateTime<Utc>>);

impl ManualTime {
    pub fn new(start: DateTime<Utc>) -> ManualTime {
        ManualTime(Mutex::new(start))
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl TimeSource for ManualTime {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
