//! Parse and next-tick cost of cron expressions in several zones, and the
//! catch-up after a long outage.
//! `cargo bench --bench schedule`; figures in BENCHMARKS.md.

use std::path::Path;

use campanile::clock::due;
use campanile::config::Config;
use campanile::cron::Cron;
use chrono::DateTime;
use chrono_tz::Tz;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const SIMPLE: &str = "*/5 * * * *";
const DAILY: &str = "0 3 * * *";
const COMPLEX: &str = "0 15,45 8-18/2 L,15W JAN-MAR,OCT-DEC MON#2,FRIL";
const SECONDS: &str = "*/10 * * * * *";

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, expr) in [("simple", SIMPLE), ("daily", DAILY), ("complex", COMPLEX), ("seconds", SECONDS)] {
        g.bench_function(name, |b| b.iter(|| Cron::parse(black_box(expr)).unwrap()));
    }
    g.finish();
}

fn next_after(c: &mut Criterion) {
    // 2026-03-07T12:00:00Z: a day before New York's spring-forward.
    let after = 1_772_884_800i64;
    let zones: [(&str, Tz); 4] = [
        ("UTC", chrono_tz::UTC),
        ("New_York", chrono_tz::America::New_York),
        ("Lord_Howe", chrono_tz::Australia::Lord_Howe),
        ("Kathmandu", chrono_tz::Asia::Kathmandu),
    ];
    let mut g = c.benchmark_group("next_after");
    for (name, expr) in [("simple", SIMPLE), ("daily", DAILY), ("complex", COMPLEX), ("seconds", SECONDS)] {
        let cron = Cron::parse(expr).unwrap();
        for (zone, tz) in zones {
            // Warm the zone's transition table, as a running clock has.
            cron.next_after(tz, after);
            g.bench_function(format!("{name}/{zone}"), |b| b.iter(|| cron.next_after(tz, black_box(after))));
        }
    }
    // 1,000 consecutive ticks of a DST-crossing daily job: the catch-up path.
    let daily = Cron::parse("30 2 * * *").unwrap();
    let ny = chrono_tz::America::New_York;
    g.bench_function("daily_1000_consecutive/New_York", |b| {
        b.iter(|| {
            let mut t = after;
            for _ in 0..1000 {
                t = daily.next_after(ny, t).unwrap();
            }
            t
        })
    });
    g.finish();
}

/// What is due of an every-second job after a month's outage, per catch-up
/// policy: 2.6 million missed ticks, counted, not collected.
fn catch_up(c: &mut Criterion) {
    let now = 1_795_435_200i64; // 2026-11-23T12:00:00Z
    let mut g = c.benchmark_group("catch_up_month_every_1s");
    for policy in ["latest", "none", "all"] {
        let text = format!(
            "[jobs.j]\nevery = \"1s\"\ncommand = \"x\"\noverlap = \"allow\"\ncatch_up = \"{policy}\"\ncatch_up_window = \"60d\"\n"
        );
        let config =
            Config::parse(&text, Path::new("clock.toml"), DateTime::from_timestamp(now, 0).unwrap()).unwrap();
        let job = &config.jobs[0];
        g.bench_function(policy, |b| b.iter(|| due::ticks(job, black_box(now - 30 * 86_400), now * 1000)));
    }
    g.finish();
}

criterion_group!(benches, parse, next_after, catch_up);
criterion_main!(benches);
