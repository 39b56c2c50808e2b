//! Catching up after a long outage holds only what it pushes: a
//! month's missed ticks of an every-second job are counted, never
//! materialised. Allocation is measured per thread by a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use campanile::clock::due::{self, MAX_CATCH_UP, Step};
use campanile::config::Config;
use chrono::{DateTime, Utc};

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; only counts bytes per thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|live| {
            live.set(live.get() + layout.size());
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
        });
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(layout.size())));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most bytes `f` held at once on this thread, and its result.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (PEAK.with(Cell::get) - base, out)
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn job(catch_up: &str, schedule: &str) -> Config {
    let text = format!(
        "[jobs.j]\n{schedule}\ncommand = \"x\"\noverlap = \"allow\"\ncatch_up = \"{catch_up}\"\ncatch_up_window = \"36500d\"\n"
    );
    Config::parse(&text, Path::new("clock.toml"), at("2026-01-01T00:00:00Z")).unwrap()
}

const MONTH: i64 = 30 * 86_400;

/// The pushed ticks and the missed count of what is due.
fn outcome(steps: &[Step]) -> (Vec<i64>, u64) {
    let pushed = steps.iter().filter_map(|s| if let Step::Push(t) = s { Some(*t) } else { None }).collect();
    let missed = steps.iter().map(|s| if let Step::Miss { count, .. } = s { *count } else { 0 }).sum();
    (pushed, missed)
}

#[test]
fn a_months_outage_of_an_every_second_job_catches_up_in_bounded_memory() {
    let now = at("2026-11-23T12:00:00Z").timestamp();
    let last = now - MONTH;
    // Ticks in (last, now]: one a second; those older than the grace are missed.
    let total = MONTH as u64;
    let late = due::GRACE_SECS as u64 + 1;
    for (policy, pushed_missed) in [("latest", 1), ("none", 0), ("all", MAX_CATCH_UP as u64)] {
        let config = job(policy, "every = \"1s\"");
        let (bytes, due) = peak_bytes(|| due::ticks(&config.jobs[0], last, now * 1000));
        let (pushed, missed) = outcome(&due.steps);
        assert_eq!(pushed.len() as u64, pushed_missed + late, "{policy}");
        assert_eq!(missed, total - late - pushed_missed, "{policy}: every missed tick counted");
        assert_eq!(*pushed.last().unwrap(), now, "{policy}");
        assert!(pushed.windows(2).all(|w| w[1] == w[0] + 1), "{policy}: the newest ticks, in order");
        // A tick is 8 bytes and a step 24: what is pushed, not the month.
        let bound = 64 * 1024 + 48 * pushed.len();
        assert!(bytes <= bound, "{policy}: catching up held {bytes} bytes (bound {bound})");
    }
}

#[test]
fn a_months_outage_of_a_cron_job_counts_what_it_misses() {
    let now = at("2026-11-23T12:00:30Z").timestamp();
    let last = now - MONTH - 30;
    let config = job("latest", "cron = \"* * * * *\"");
    let (bytes, due) = peak_bytes(|| due::ticks(&config.jobs[0], last, now * 1000));
    let (pushed, missed) = outcome(&due.steps);
    // 12:00:00 is late (30 s ago); 11:59:00 is the newest missed one.
    assert_eq!(pushed, [now - 90, now - 30]);
    assert_eq!(missed, (MONTH / 60) as u64 - 2, "all but the two pushed");
    assert!(bytes <= 64 * 1024, "catching up held {bytes} bytes");
}
