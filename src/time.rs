//! The one place that reads the wall clock. Everything else takes the time
//! as an argument or through a [`TimeSource`], so schedule, DST and catch-up
//! behaviour is tested with a [`ManualTime`] instantly and exactly.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Where the current instant comes from.
pub trait TimeSource: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// How far this source corrects the system clock, in milliseconds.
    fn offset_ms(&self) -> i64 {
        0
    }

    /// The Redis-corrected clock behind this source, if it is one: the
    /// clock's offset loop measures and corrects it.
    fn calibration(&self) -> Option<&RedisTime> {
        None
    }
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

/// The system clock corrected to Redis's `TIME`: every clock process takes
/// tick decisions on the same time base, whatever its machine's drift. The
/// offset is measured by [`RedisTime::set_offset_us`] callers (at connect and
/// periodically); `skew` is an artificial error for tests
/// (`CAMPANILE_CLOCK_SKEW`), applied before the correction, as a drifting
/// system clock would be.
#[derive(Debug, Default)]
pub struct RedisTime {
    offset_us: std::sync::atomic::AtomicI64,
    skew_ms: i64,
}

impl RedisTime {
    pub fn new(skew: Duration) -> RedisTime {
        RedisTime { offset_us: Default::default(), skew_ms: skew.num_milliseconds() }
    }

    /// The system clock, with the test skew but without the correction.
    pub fn local(&self) -> DateTime<Utc> {
        SystemTime.now() + Duration::milliseconds(self.skew_ms)
    }

    /// Redis time minus local time, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_us() / 1000
    }

    /// Redis time minus local time, in microseconds.
    pub fn offset_us(&self) -> i64 {
        self.offset_us.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_offset_us(&self, offset: i64) {
        self.offset_us.store(offset, std::sync::atomic::Ordering::Relaxed);
    }
}

impl TimeSource for RedisTime {
    fn now(&self) -> DateTime<Utc> {
        self.local() + Duration::microseconds(self.offset_us())
    }

    fn offset_ms(&self) -> i64 {
        RedisTime::offset_ms(self)
    }

    fn calibration(&self) -> Option<&RedisTime> {
        Some(self)
    }
}

/// `CAMPANILE_CLOCK_SKEW` (e.g. `+5s`, `-250ms`): pretend the system clock is
/// off by this much. For testing clock-skew tolerance only.
pub fn skew_from_env() -> Duration {
    let Ok(text) = std::env::var("CAMPANILE_CLOCK_SKEW") else { return Duration::zero() };
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(&text)),
    };
    let ms = if let Some(ms) = rest.strip_suffix("ms") {
        ms.parse::<i64>().ok()
    } else {
        rest.strip_suffix('s').and_then(|s| s.parse::<i64>().ok()).map(|s| s * 1000)
    };
    Duration::milliseconds(sign * ms.unwrap_or(0))
}
