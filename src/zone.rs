//! UTC offset transitions of IANA zones.
//!
//! chrono-tz answers "what is the offset at this instant" but does not list
//! transitions, and the schedule engine needs them to know where an offset
//! span ends. They are found by probing each UTC year every three hours and
//! bisecting every change to the second, then interned for the life of the
//! process: about 3,000 offset lookups once per zone and year, after which a
//! lookup is a hash probe. Transitions closer together than the probe step
//! would be missed; tzdb has none in the years chrono-tz covers with rules.
//! chrono-tz extends daylight-saving rules to 2099; later years keep the
//! zone's last offset.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// A change of a zone's UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The first instant (Unix seconds) with the new offset.
    pub at: i64,
    /// Offset (seconds east of UTC) before `at`.
    pub before: i64,
    /// Offset from `at` on. Larger than `before` opens a gap in local time
    /// (spring forward), smaller repeats local times (fall back).
    pub after: i64,
}

const PROBE_STEP: i64 = 3 * 3600;

/// Interned transitions per zone and year bucket.
type YearTable = HashMap<(Tz, i64), &'static [Transition]>;

static YEARS: LazyLock<RwLock<YearTable>> = LazyLock::new(Default::default);

/// The UTC offset of `tz` at instant `t`, in seconds east of UTC.
pub fn offset_at(tz: Tz, t: i64) -> i64 {
    match DateTime::from_timestamp(t, 0) {
        Some(utc) => i64::from(tz.offset_from_utc_datetime(&utc.naive_utc()).fix().local_minus_utc()),
        None => 0,
    }
}

/// The first transition `after < at <= until`.
pub fn next_transition(tz: Tz, after: i64, until: i64) -> Option<Transition> {
    if tz == Tz::UTC {
        return None;
    }
    let (first, last) = (year_of(after), year_of(until));
    (first..=last)
        .flat_map(|y| year(tz, y).iter().copied())
        .find(|tr| tr.at > after)
        .filter(|tr| tr.at <= until)
}

/// The last transition at or before `t`, looking back at most into the
/// previous UTC year. Callers only care about recent transitions (is `t` in
/// a repeated hour, or at the end of a gap).
pub fn last_transition(tz: Tz, t: i64) -> Option<Transition> {
    if tz == Tz::UTC {
        return None;
    }
    let y = year_of(t);
    [y, y - 1].into_iter().find_map(|y| year(tz, y).iter().rev().copied().find(|tr| tr.at <= t))
}

const YEAR: i64 = 31_556_952; // mean Gregorian year in seconds

/// The UTC year index of an instant, approximately: any consistent
/// partition of the timeline into year-long buckets will do.
fn year_of(t: i64) -> i64 {
    t.div_euclid(YEAR)
}

fn year(tz: Tz, y: i64) -> &'static [Transition] {
    if let Some(found) = YEARS.read().unwrap_or_else(|e| e.into_inner()).get(&(tz, y)) {
        return found;
    }
    let found: &'static [Transition] = Box::leak(scan(tz, y * YEAR, (y + 1) * YEAR).into_boxed_slice());
    YEARS.write().unwrap_or_else(|e| e.into_inner()).entry((tz, y)).or_insert(found)
}

/// Transitions with `start <= at < end`.
fn scan(tz: Tz, start: i64, end: i64) -> Vec<Transition> {
    let mut found = Vec::new();
    let mut t = start - 1;
    let mut offset = offset_at(tz, t);
    while t < end - 1 {
        let next = (t + PROBE_STEP).min(end - 1);
        let next_offset = offset_at(tz, next);
        if next_offset != offset {
            let at = bisect(tz, t, next, offset);
            found.push(Transition { at, before: offset, after: offset_at(tz, at) });
        }
        (t, offset) = (next, next_offset);
    }
    found
}

/// The first instant in `(lo, hi]` whose offset differs from `offset`, the
/// offset at `lo`.
fn bisect(tz: Tz, mut lo: i64, mut hi: i64, offset: i64) -> i64 {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_at(tz, mid) == offset {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_york_2026_transitions() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08T07:00:00Z spring forward, 2026-11-01T06:00:00Z fall back.
        let spring = next_transition(tz, 1_767_225_600, 1_798_761_600).unwrap();
        assert_eq!(spring, Transition { at: 1_772_953_200, before: -5 * 3600, after: -4 * 3600 });
        let fall = next_transition(tz, spring.at, 1_798_761_600).unwrap();
        assert_eq!(fall, Transition { at: 1_793_512_800, before: -4 * 3600, after: -5 * 3600 });
        assert_eq!(last_transition(tz, fall.at), Some(fall));
        assert_eq!(last_transition(tz, fall.at - 1), Some(spring));
    }

    #[test]
    fn fixed_zones_have_none() {
        let tz: Tz = "Asia/Kathmandu".parse().unwrap();
        assert_eq!(next_transition(tz, 1_700_000_000, 1_900_000_000), None);
        assert_eq!(offset_at(tz, 1_700_000_000), 5 * 3600 + 45 * 60);
    }
}
