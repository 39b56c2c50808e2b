//! Property tests of the cron engine against a brute-force reference: every
//! real minute (or second) of a window is checked against the expression in
//! local time with the daylight-saving rules applied directly, and the
//! engine's ticks must be exactly the instants that qualify. That one
//! equality covers "strictly increasing", "each tick matches" and "no
//! matching instant is skipped".

use std::sync::LazyLock;

use campanile::cron::Cron;
use campanile::schedule::Schedule;
use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

const ZONES: [Tz; 7] = [
    chrono_tz::UTC,
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::Australia::Sydney,
    chrono_tz::America::Santiago,
];

/// One field as text plus the set of values it allows, computed here
/// independently of the parser.
#[derive(Debug, Clone)]
struct FieldSpec {
    text: String,
    values: Vec<u32>,
}

fn field(min: u32, max: u32, hot: Vec<u32>) -> impl Strategy<Value = FieldSpec> {
    let hot = prop::sample::select(hot);
    let value = min..=max;
    prop_oneof![
        2 => Just(FieldSpec { text: "*".into(), values: (min..=max).collect() }),
        2 => (1..=(max - min).max(1)).prop_map(move |s| FieldSpec {
            text: format!("*/{s}"),
            values: (min..=max).step_by(s as usize).collect(),
        }),
        3 => prop::collection::vec(prop_oneof![hot.clone(), value.clone()], 1..4).prop_map(|vs| {
            let text = vs.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            FieldSpec { text, values: vs }
        }),
        2 => (value.clone(), value.clone(), 1..4u32).prop_map(|(a, b, s)| {
            let (a, b) = (a.min(b), a.max(b));
            FieldSpec { text: format!("{a}-{b}/{s}"), values: (a..=b).step_by(s as usize).collect() }
        }),
        1 => (hot.clone(), 0..3u32).prop_map(move |(a, len)| {
            let b = (a + len).min(max);
            FieldSpec { text: format!("{a}-{b}"), values: (a..=b).collect() }
        }),
    ]
}

#[derive(Debug, Clone)]
struct CronSpec {
    second: Option<FieldSpec>,
    minute: FieldSpec,
    hour: FieldSpec,
    dom: FieldSpec,
    month: FieldSpec,
    dow: FieldSpec,
}

impl CronSpec {
    fn expr(&self) -> String {
        let five =
            [&self.minute, &self.hour, &self.dom, &self.month, &self.dow].map(|f| f.text.as_str()).join(" ");
        match &self.second {
            Some(s) => format!("{} {five}", s.text),
            None => five,
        }
    }

    fn wildcard(&self) -> bool {
        self.second.as_ref().is_some_and(|s| s.text.starts_with('*'))
            || self.minute.text.starts_with('*')
            || self.hour.text.starts_with('*')
    }

    /// cronie's day rule: AND if either day field starts with `*`, else OR.
    fn matches(&self, wall: NaiveDateTime) -> bool {
        let second_ok = match &self.second {
            Some(s) => s.values.contains(&wall.second()),
            None => wall.second() == 0,
        };
        let dom = self.dom.values.contains(&wall.day());
        let weekday = wall.weekday().num_days_from_sunday();
        let dow = self.dow.values.iter().any(|d| d % 7 == weekday);
        let day = if self.dom.text.starts_with('*') || self.dow.text.starts_with('*') {
            dom && dow
        } else {
            dom || dow
        };
        second_ok
            && self.minute.values.contains(&wall.minute())
            && self.hour.values.contains(&wall.hour())
            && self.month.values.contains(&wall.month())
            && day
    }
}

fn cron_spec(with_seconds: bool) -> impl Strategy<Value = CronSpec> {
    let second =
        if with_seconds { field(0, 59, vec![0, 30, 59]).prop_map(Some).boxed() } else { Just(None).boxed() };
    (
        second,
        field(0, 59, vec![0, 15, 30, 45, 59]),
        field(0, 23, vec![0, 1, 2, 3, 23]),
        field(1, 31, vec![1, 15, 28, 29, 30, 31]),
        prop_oneof![3 => Just(FieldSpec { text: "*".into(), values: (1..=12).collect() }), 1 => field(1, 12, vec![3, 4, 10, 11])],
        field(0, 7, vec![0, 1, 5, 6, 7]),
    )
        .prop_map(|(second, minute, hour, dom, month, dow)| CronSpec { second, minute, hour, dom, month, dow })
}

fn offset(tz: Tz, t: i64) -> i64 {
    let utc = DateTime::from_timestamp(t, 0).unwrap();
    i64::from(tz.offset_from_utc_datetime(&utc.naive_utc()).fix().local_minus_utc())
}

fn wall(t: i64, off: i64) -> NaiveDateTime {
    DateTime::from_timestamp(t + off, 0).unwrap().naive_utc()
}

/// Instants in `(start, end]`, stepping by `step` seconds, that qualify
/// under the rules, decided from scratch at each instant.
fn brute_force(spec: &CronSpec, tz: Tz, start: i64, end: i64, step: i64) -> Vec<i64> {
    let wildcard = spec.wildcard();
    let mut out = Vec::new();
    let mut t = start - start.rem_euclid(step) + step;
    while t <= end {
        let o = offset(tz, t);
        let w = wall(t, o);
        let mut fires = spec.matches(w);
        if fires && !wildcard {
            // Fixed-time: only the first pass of a repeated wall time.
            if let LocalResult::Ambiguous(_, second) = tz.from_local_datetime(&w) {
                fires = second.timestamp() != t;
            }
        }
        let before = offset(tz, t - 1);
        let gap = o - before;
        if !fires && !wildcard && gap > 0 && gap <= 3 * 3600 {
            // A transition at `t` skipped wall times [t + before, t + o).
            let mut g = t + before;
            while g < t + o && !fires {
                fires = spec.matches(wall(g, 0));
                g += step;
            }
        }
        if fires {
            out.push(t);
        }
        t += step;
    }
    out
}

/// DST transitions (hour precision is enough to aim a window) per zone,
/// found by scanning hours, 2024-2028.
static TRANSITIONS: LazyLock<Vec<(Tz, i64)>> = LazyLock::new(|| {
    let mut out = Vec::new();
    for tz in ZONES {
        let (mut t, end) = (1_704_067_200, 1_861_920_000); // 2024-01-01 .. 2029-01-01
        let mut prev = offset(tz, t);
        while t < end {
            t += 3600;
            let o = offset(tz, t);
            if o != prev {
                out.push((tz, t));
            }
            prev = o;
        }
    }
    out
});

/// A zone and a window start: half the time within two days of a DST
/// transition, else anywhere in 2024-2028.
fn window(span: i64) -> impl Strategy<Value = (Tz, i64)> {
    let near =
        (0..TRANSITIONS.len(), -span..span / 4).prop_map(|(i, d)| (TRANSITIONS[i].0, TRANSITIONS[i].1 + d));
    let anywhere = (prop::sample::select(ZONES.to_vec()), 1_704_067_200i64..1_861_920_000);
    prop_oneof![near, anywhere]
}

fn engine(spec: &CronSpec, tz: Tz, start: i64, end: i64) -> Vec<i64> {
    let cron = Cron::parse(&spec.expr()).unwrap_or_else(|e| panic!("{}: {e}", spec.expr()));
    let schedule = Schedule::Cron { cron, tz };
    let (a, b) = (DateTime::from_timestamp(start, 0).unwrap(), DateTime::from_timestamp(end, 0).unwrap());
    schedule.ticks(a, b).map(|t| t.timestamp()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn five_field_ticks_are_exactly_the_qualifying_minutes(spec in cron_spec(false), (tz, start) in window(2 * 86_400)) {
        let end = start + 3 * 86_400;
        prop_assume!(Cron::parse(&spec.expr()).is_ok()); // e.g. `0 0 31 2 *` never fires
        prop_assert_eq!(engine(&spec, tz, start, end), brute_force(&spec, tz, start, end, 60), "{} in {}", spec.expr(), tz);
    }

    #[test]
    fn six_field_ticks_are_exactly_the_qualifying_seconds(spec in cron_spec(true), (tz, start) in window(3 * 3600)) {
        let end = start + 4 * 3600;
        prop_assume!(Cron::parse(&spec.expr()).is_ok());
        prop_assert_eq!(engine(&spec, tz, start, end), brute_force(&spec, tz, start, end, 1), "{} in {}", spec.expr(), tz);
    }

    #[test]
    fn ticks_split_at_any_point_concatenate(spec in cron_spec(false), (tz, start) in window(2 * 86_400), cut in 0..3 * 86_400i64) {
        prop_assume!(Cron::parse(&spec.expr()).is_ok());
        let (end, mid) = (start + 3 * 86_400, start + cut);
        let mut split = engine(&spec, tz, start, mid);
        split.extend(engine(&spec, tz, mid, end));
        prop_assert_eq!(engine(&spec, tz, start, end), split);
    }

    #[test]
    fn next_tick_is_strictly_later_and_every_tick_is_a_fixed_point(spec in cron_spec(false), (tz, start) in window(2 * 86_400)) {
        let Ok(cron) = Cron::parse(&spec.expr()) else { return Ok(()) };
        let mut t = start;
        for _ in 0..20 {
            let Some(next) = cron.next_after(tz, t) else { break };
            prop_assert!(next > t);
            // Asking again from just before the tick finds the same tick.
            prop_assert_eq!(cron.next_after(tz, next - 1), Some(next));
            t = next;
        }
    }
}

#[test]
fn the_reference_itself_applies_the_dst_rules() {
    // Guard the oracle: fixed 02:30 on New York's spring-forward day fires at
    // the gap's end; `*/30` fires in both passes of the repeated hour.
    let parse = |expr: &str, fields: [Vec<u32>; 5]| {
        let texts: Vec<&str> = expr.split(' ').collect();
        let [minute, hour, dom, month, dow] = fields.map(|v| v);
        let f = |i: usize, values: Vec<u32>| FieldSpec { text: texts[i].into(), values };
        CronSpec {
            second: None,
            minute: f(0, minute),
            hour: f(1, hour),
            dom: f(2, dom),
            month: f(3, month),
            dow: f(4, dow),
        }
    };
    let all = |a: u32, b: u32| (a..=b).collect::<Vec<_>>();
    let ny = chrono_tz::America::New_York;
    let fixed = parse("30 2 * * *", [vec![30], vec![2], all(1, 31), all(1, 12), all(0, 7)]);
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap().timestamp();
    assert_eq!(
        brute_force(&fixed, ny, t("2026-03-07T12:00:00Z"), t("2026-03-09T12:00:00Z"), 60),
        [t("2026-03-08T07:00:00Z"), t("2026-03-09T06:30:00Z")]
    );
    let every30 = parse("*/30 * * * *", [vec![0, 30], all(0, 23), all(1, 31), all(1, 12), all(0, 7)]);
    assert_eq!(
        brute_force(&every30, ny, t("2026-11-01T05:10:00Z"), t("2026-11-01T07:00:00Z"), 60),
        [
            t("2026-11-01T05:30:00Z"),
            t("2026-11-01T06:00:00Z"),
            t("2026-11-01T06:30:00Z"),
            t("2026-11-01T07:00:00Z")
        ]
    );
}
