//! When a job fires: a cron expression in a zone, an anchored interval, or a
//! single instant. Pure functions of their arguments; the caller supplies
//! the time.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::cron::Cron;
use crate::duration::Span;

/// The last instant a schedule yields, 9999-12-31T23:59:59Z: later ones
/// cannot be written in RFC 3339, which every output and payload uses.
pub const LAST_TICK: i64 = 253_402_300_799;

/// A job's schedule, as clock.toml gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// A crontab expression evaluated in `tz`.
    Cron { cron: Cron, tz: Tz },
    /// Every `period`, at instants `offset + k * period` since the Unix
    /// epoch. Anchoring on the epoch, not on process start, means every
    /// clock, before and after a restart, computes the same instants: `5m`
    /// fires at :00, :05, … of every UTC hour.
    Every { period: Span, offset: Span },
    /// Once, at this instant.
    At(DateTime<Utc>),
}

impl Schedule {
    /// The first tick strictly after `after`, or `None` if there is none.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let secs = self.next_after_secs(after.timestamp())?;
        DateTime::from_timestamp(secs, 0)
    }

    /// [`Schedule::next_after`] on Unix seconds; never past [`LAST_TICK`].
    pub fn next_after_secs(&self, after: i64) -> Option<i64> {
        let next = match self {
            Schedule::Cron { cron, tz } => cron.next_after(*tz, after),
            Schedule::Every { period, offset } => {
                let (p, o) = (period.as_secs() as i64, offset.as_secs() as i64);
                let k = (after - o).div_euclid(p) + 1;
                k.checked_mul(p)?.checked_add(o)
            }
            Schedule::At(at) => (at.timestamp() > after).then(|| at.timestamp()),
        };
        next.filter(|&t| t <= LAST_TICK)
    }

    /// Ticks in `(after, until]`, in order. A restarted clock that knows the
    /// last tick it handled resumes with exactly the ticks it has not seen:
    /// `ticks(a, c) == ticks(a, b) ++ ticks(b, c)`.
    pub fn ticks(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Ticks<'_> {
        Ticks { schedule: self, cursor: after.timestamp(), until: until.timestamp() }
    }

    /// The zone local times are shown in (UTC for intervals and instants).
    pub fn zone(&self) -> Tz {
        match self {
            Schedule::Cron { tz, .. } => *tz,
            _ => Tz::UTC,
        }
    }

    /// A short English description where one reads better than the
    /// expression (`daily at 03:00`), else `None`.
    pub fn describe(&self) -> Option<String> {
        match self {
            Schedule::Cron { cron, .. } => crate::describe::cron(cron.as_str()),
            Schedule::Every { period, offset } if offset.as_secs() == 0 => Some(format!("every {period}")),
            Schedule::Every { period, offset } => Some(format!("every {period} (offset {offset})")),
            Schedule::At(at) => Some(format!("once at {}", at.format("%Y-%m-%dT%H:%M:%SZ"))),
        }
    }
}

impl fmt::Display for Schedule {
    /// The form clock.toml uses: `cron "0 3 * * *"`, `every "5m"`, `at "…"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Cron { cron, .. } => write!(f, "cron {:?}", cron.as_str()),
            Schedule::Every { period, offset } if offset.as_secs() == 0 => write!(f, "every \"{period}\""),
            Schedule::Every { period, offset } => write!(f, "every \"{period}\" offset \"{offset}\""),
            Schedule::At(at) => write!(f, "at \"{}\"", at.format("%Y-%m-%dT%H:%M:%SZ")),
        }
    }
}

/// Iterator over a schedule's ticks in a window; see [`Schedule::ticks`].
#[derive(Debug, Clone)]
pub struct Ticks<'a> {
    schedule: &'a Schedule,
    cursor: i64,
    until: i64,
}

impl Iterator for Ticks<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.schedule.next_after_secs(self.cursor).filter(|t| *t <= self.until)?;
        self.cursor = next;
        DateTime::from_timestamp(next, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn intervals_are_anchored_on_the_epoch() {
        let every = Schedule::Every { period: Span::from_secs(300), offset: Span::ZERO };
        assert_eq!(every.next_after(utc("2026-11-23T10:02:17Z")), Some(utc("2026-11-23T10:05:00Z")));
        assert_eq!(every.next_after(utc("2026-11-23T10:05:00Z")), Some(utc("2026-11-23T10:10:00Z")));
        let offset = Schedule::Every { period: Span::from_secs(3600), offset: Span::from_secs(900) };
        assert_eq!(offset.next_after(utc("2026-11-23T10:15:00Z")), Some(utc("2026-11-23T11:15:00Z")));
        assert_eq!(offset.next_after(utc("2026-11-23T10:14:59Z")), Some(utc("2026-11-23T10:15:00Z")));
    }

    #[test]
    fn one_off_fires_once() {
        let at = Schedule::At(utc("2026-12-01T08:00:00Z"));
        assert_eq!(at.next_after(utc("2026-11-23T00:00:00Z")), Some(utc("2026-12-01T08:00:00Z")));
        assert_eq!(at.next_after(utc("2026-12-01T08:00:00Z")), None);
    }

    #[test]
    fn ticks_window_is_half_open() {
        let every = Schedule::Every { period: Span::from_secs(60), offset: Span::ZERO };
        let ticks: Vec<_> = every.ticks(utc("2026-11-23T10:00:00Z"), utc("2026-11-23T10:03:00Z")).collect();
        assert_eq!(
            ticks,
            [utc("2026-11-23T10:01:00Z"), utc("2026-11-23T10:02:00Z"), utc("2026-11-23T10:03:00Z")]
        );
    }
}
