//! Cron expressions with cronie's semantics, evaluated in any IANA zone.
//!
//! An expression compiles to bit masks, one per field, so matching a wall
//! time is a handful of shifts. [`Cron::next_after`] walks the zone's UTC
//! offset spans (see [`crate::zone`]) and applies the daylight-saving policy
//! below; it never converts an instant to local time and back, so instants
//! inside a repeated hour keep their identity.
//!
//! # Daylight saving
//!
//! A *wildcard* expression (its second (6-field form), minute or hour field
//! starts with `*`) fires at every real instant whose local wall time
//! matches: both passes of a repeated hour, nothing for wall times a
//! spring-forward gap skips. A *fixed-time* expression fires only at the
//! first occurrence of a matching wall time, and when any of its wall times
//! falls in a gap of at most three hours it fires once, at the instant the gap
//! ends (02:30 on New York's spring-forward day fires at 03:00 EDT). Longer
//! gaps, such as Samoa skipping 2011-12-30, are treated like a change of clock
//! rather than daylight saving (as cronie does): the skipped wall times do not
//! fire.

mod civil;
mod parse;

use std::fmt;

use chrono_tz::Tz;

pub use parse::CronError;

use crate::zone;

/// The fields of an expression, in the order a 6-field expression lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    fn range(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    fn is_day(self) -> bool {
        matches!(self, Field::DayOfMonth | Field::DayOfWeek)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        })
    }
}

/// Gaps longer than this are a change of clock, not daylight saving: the
/// fixed-time catch-up at the end of the gap does not apply (cronie's limit).
const MAX_DST_GAP: i64 = 3 * 3600;

/// How far ahead a search looks before concluding there is no next tick:
/// the Gregorian calendar repeats every 400 years.
const SEARCH_YEARS: i64 = 401;

const DAY: i64 = 86_400;

/// A parsed cron expression.
#[derive(Clone, PartialEq, Eq)]
pub struct Cron {
    source: Box<str>,
    seconds: u64,
    minutes: u64,
    hours: u32,
    /// Bits 1-31.
    days: u32,
    /// Bits 1-12.
    months: u16,
    /// Bits 0-6, 0 = Sunday.
    weekdays: u8,
    last_day: bool,
    last_weekday: bool,
    /// Bits 1-31: days N of `NW`.
    nearest_weekday: u32,
    /// Per weekday, bits 1-5: the Nth occurrences of `D#N`.
    nth_weekday: [u8; 7],
    /// Bits 0-6: weekdays of `DL`.
    last_of_weekday: u8,
    /// A day must match both day fields (one of them starts with `*`),
    /// rather than either.
    days_and: bool,
    wildcard: bool,
}

impl Cron {
    /// Parses a crontab expression: 5 fields, 6 with leading seconds, or a
    /// macro such as `@daily`.
    pub fn parse(source: &str) -> Result<Cron, CronError> {
        let mut cron = parse::parse(source)?;
        cron.source = source.trim().into();
        Ok(cron)
    }

    fn empty() -> Cron {
        Cron {
            source: "".into(),
            seconds: 0,
            minutes: 0,
            hours: 0,
            days: 0,
            months: 0,
            weekdays: 0,
            last_day: false,
            last_weekday: false,
            nearest_weekday: 0,
            nth_weekday: [0; 7],
            last_of_weekday: 0,
            days_and: false,
            wildcard: false,
        }
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the expression is a wildcard one (fires in both passes of a
    /// repeated hour) rather than fixed-time (see the module docs).
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// The first tick strictly after `after` (Unix seconds) in zone `tz`, as
    /// Unix seconds, or `None` if the expression never fires again.
    pub fn next_after(&self, tz: Tz, after: i64) -> Option<i64> {
        let horizon = after.checked_add(SEARCH_YEARS * 366 * DAY)?;
        let mut lo = after.checked_add(1)?;
        while lo < horizon {
            let offset = zone::offset_at(tz, lo);
            let previous = zone::last_transition(tz, lo);
            if previous.is_some_and(|tr| tr.at == lo && self.fires_at_gap_end(tr)) {
                return Some(lo);
            }
            let mut wall_from = lo + offset;
            if let Some(tr) = previous.filter(|tr| !self.wildcard && tr.before > tr.after) {
                // Fixed-time: skip the second pass of a repeated hour.
                wall_from = wall_from.max(tr.at + tr.before);
            }
            let wall = self.next_wall(wall_from, horizon + 2 * DAY)?;
            let candidate = wall - offset;
            match zone::next_transition(tz, lo, candidate) {
                None => return Some(candidate),
                Some(tr) if self.fires_at_gap_end(tr) => return Some(tr.at),
                Some(tr) => lo = tr.at,
            }
        }
        None
    }

    /// Whether a fixed-time expression has a wall time inside the gap a
    /// spring-forward transition opens, so it fires at the gap's end.
    fn fires_at_gap_end(&self, tr: zone::Transition) -> bool {
        let gap = tr.after - tr.before;
        if self.wildcard || gap <= 0 || gap > MAX_DST_GAP {
            return false;
        }
        let (start, end) = (tr.at + tr.before, tr.at + tr.after);
        self.next_wall(start, end).is_some_and(|w| w < end)
    }

    /// The first matching wall time at or after `from` (seconds of a local
    /// clock counted like Unix time), searching no further than `until`.
    fn next_wall(&self, from: i64, until: i64) -> Option<i64> {
        let mut days = from.div_euclid(DAY);
        let mut second_of_day = from.rem_euclid(DAY) as u32;
        let last_day = until.div_euclid(DAY);
        while days <= last_day {
            let (y, m, d) = civil::civil_from_days(days);
            if self.months & (1 << m) == 0 {
                days = self.first_day_of_next_month(y, m);
                second_of_day = 0;
                continue;
            }
            let Some(next_d) = next_bit(u64::from(self.day_mask(y, m)), d) else {
                days = civil::days_from_civil(y, m, 1) + i64::from(civil::days_in_month(y, m));
                second_of_day = 0;
                continue;
            };
            if next_d != d {
                days += i64::from(next_d - d);
                second_of_day = 0;
            }
            if let Some(s) = self.next_second_of_day(second_of_day) {
                return Some(days * DAY + i64::from(s));
            }
            days += 1;
            second_of_day = 0;
        }
        None
    }

    fn first_day_of_next_month(&self, y: i64, m: u32) -> i64 {
        let next = next_bit(u64::from(self.months), m + 1);
        match next {
            Some(m2) => civil::days_from_civil(y, m2, 1),
            None => civil::days_from_civil(y + 1, self.months.trailing_zeros(), 1),
        }
    }

    /// The first matching second of a day at or after `from` (0-86399).
    fn next_second_of_day(&self, from: u32) -> Option<u32> {
        let (mut h, mut m, mut s) = (from / 3600, from / 60 % 60, from % 60);
        loop {
            let h2 = next_bit(u64::from(self.hours), h)?;
            if h2 != h {
                (h, m, s) = (h2, 0, 0);
            }
            match next_bit(self.minutes, m) {
                None => (h, m, s) = (h + 1, 0, 0),
                Some(m2) => {
                    if m2 != m {
                        (m, s) = (m2, 0);
                    }
                    match next_bit(self.seconds, s) {
                        Some(s2) => return Some(h * 3600 + m * 60 + s2),
                        None => (m, s) = (m + 1, 0),
                    }
                }
            }
        }
    }

    /// Bits 1-31: the days of month `m` of year `y` that match.
    fn day_mask(&self, y: i64, m: u32) -> u32 {
        let len = civil::days_in_month(y, m);
        let valid = (((1u64 << (len + 1)) - 1) & !1) as u32;
        let first = civil::days_from_civil(y, m, 1);
        let first_weekday = civil::weekday(first);
        // The first day of the month that falls on weekday `wd`.
        let first_on = |wd: u32| 1 + (wd + 7 - first_weekday) % 7;
        let is_weekend = |d: u32| matches!((first_weekday + d - 1) % 7, 0 | 6);

        let mut dom = self.days;
        if self.last_day {
            dom |= 1 << len;
        }
        if self.last_weekday {
            let mut d = len;
            while is_weekend(d) {
                d -= 1;
            }
            dom |= 1 << d;
        }
        let mut nearest = self.nearest_weekday & valid;
        while nearest != 0 {
            let n = nearest.trailing_zeros();
            nearest &= nearest - 1;
            dom |= 1 << nearest_weekday_in_month(n, len, |d| (first_weekday + d - 1) % 7);
        }

        let mut dow = 0u32;
        for wd in 0..7u32 {
            let start = first_on(wd);
            if self.weekdays & (1 << wd) != 0 {
                dow |= WEEKLY << start;
            }
            let nth = u32::from(self.nth_weekday[wd as usize]);
            if nth != 0 {
                for n in 1..=5 {
                    if nth & (1 << n) != 0 {
                        let d = start + 7 * (n - 1);
                        if d <= len {
                            dow |= 1 << d;
                        }
                    }
                }
            }
            if self.last_of_weekday & (1 << wd) != 0 {
                dow |= 1 << (start + 7 * ((len - start) / 7));
            }
        }
        let (dom, dow) = (dom & valid, dow & valid);
        if self.days_and { dom & dow } else { dom | dow }
    }

    /// Whether some day in some chosen month can ever match (`0 0 30 2 *`
    /// cannot). The calendar repeats every 400 years, so checking one cycle
    /// of the chosen months is exhaustive.
    fn can_ever_match(&self) -> bool {
        (2000..2400).any(|y| (1..=12).any(|m| self.months & (1 << m) != 0 && self.day_mask(y, m) != 0))
    }
}

/// Bits 0, 7, 14, 21 and 28: a weekday's days, shifted to its first day.
const WEEKLY: u32 = 1 | 1 << 7 | 1 << 14 | 1 << 21 | 1 << 28;

/// The weekday nearest day `n` of a month of `len` days, never leaving the
/// month (cronie's and Quartz's `nW`).
fn nearest_weekday_in_month(n: u32, len: u32, weekday_of: impl Fn(u32) -> u32) -> u32 {
    match weekday_of(n) {
        6 if n == 1 => n + 2,
        6 => n - 1,
        0 if n == len => n - 2,
        0 => n + 1,
        _ => n,
    }
}

/// The lowest set bit of `mask` at or above `from`.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cron({:?})", self.source)
    }
}

impl std::str::FromStr for Cron {
    type Err = CronError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cron::parse(s)
    }
}
