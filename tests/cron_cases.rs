//! The cron contract, pinned by a table of cases worked out by hand and
//! cross-checked with an independent brute-force reference
//! (`tests/data/cron_oracle.py`, Python's zoneinfo); none of the expected
//! instants come from the code under test.

use campanile::cron::{Cron, Field};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

#[derive(Deserialize)]
struct Table {
    case: Vec<Case>,
    invalid: Vec<Invalid>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    cron: String,
    tz: String,
    after: String,
    expect: Vec<String>,
    why: String,
}

#[derive(Deserialize)]
struct Invalid {
    cron: String,
    field: String,
    why: String,
}

fn table() -> Table {
    toml::from_str(include_str!("data/cron_cases.toml")).expect("cron_cases.toml parses")
}

fn ticks(cron: &Cron, tz: Tz, after: DateTime<Utc>, n: usize) -> Vec<String> {
    let mut t = after.timestamp();
    let mut out = Vec::new();
    while out.len() < n {
        let Some(next) = cron.next_after(tz, t) else { break };
        out.push(DateTime::from_timestamp(next, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string());
        t = next;
    }
    out
}

#[test]
fn every_case_fires_at_the_independently_computed_instants() {
    let table = table();
    assert!(table.case.len() >= 150, "the contract needs at least 150 cases");
    let mut failures = Vec::new();
    for case in &table.case {
        let tz: Tz = case.tz.parse().unwrap_or_else(|_| panic!("{}: zone {}", case.name, case.tz));
        let after = DateTime::parse_from_rfc3339(&case.after).unwrap().with_timezone(&Utc);
        let got = match Cron::parse(&case.cron) {
            Ok(cron) => ticks(&cron, tz, after, case.expect.len()),
            Err(e) => vec![format!("parse error: {e}")],
        };
        if got != case.expect {
            failures.push(format!(
                "{} ({:?} in {} after {})\n  want {:?}\n  got  {:?}\n  why: {}",
                case.name, case.cron, case.tz, case.after, case.expect, got, case.why
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        table.case.len(),
        failures.join("\n")
    );
}

#[test]
fn every_invalid_expression_is_rejected_naming_its_field() {
    let table = table();
    let mut failures = Vec::new();
    for case in &table.invalid {
        let want = match case.field.as_str() {
            "expression" => None,
            "second" => Some(Field::Second),
            "minute" => Some(Field::Minute),
            "hour" => Some(Field::Hour),
            "day-of-month" => Some(Field::DayOfMonth),
            "month" => Some(Field::Month),
            "day-of-week" => Some(Field::DayOfWeek),
            other => panic!("unknown field {other}"),
        };
        match Cron::parse(&case.cron) {
            Ok(_) => failures.push(format!("{:?} was accepted ({})", case.cron, case.why)),
            Err(e) if e.field != want => {
                failures.push(format!("{:?}: error names {:?}, want {:?}: {e}", case.cron, e.field, want))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
