//! The clock daemon as real processes against a real (private) Redis:
//! SIGKILLs at random, a Redis restart, SIGTERM and SIGKILL failovers and an
//! invalid config. Each scenario ends by reading every pending list and
//! checking the promise of README.md: every tick of every job is on its
//! queue exactly once, whatever happened to the processes.
//!
//! The scenarios run in real time (the clock ticks every second), so each
//! waits for events by polling Redis or the processes' logs with generous
//! deadlines, and sleeps only where the scenario itself is "time passes".

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use campanile::time::TimeSource;
use common::{RedisServer, bin};

/// The lease key, with the default prefix.
const LEADER: &str = "campanile:leader";
/// The lease TTL and renewal/retry interval the daemon uses (README facts;
/// the tests bound failover times with them).
const LEASE_TTL: Duration = Duration::from_secs(3);
const LEASE_INTERVAL: Duration = Duration::from_secs(1);

/// Jobs on one-second schedules across two queues, with a cron, an anchored
/// interval with jitter, two catch-up policies and a disabled job.
/// `overlap = "allow"` throughout: no worker consumes the payloads.
const CONFIG: &str = r#"
[defaults]
overlap = "allow"

[jobs.sec]
every = "1s"
command = "true"

[jobs.even]
cron = "*/2 * * * * *"
command = "true"
args = { kind = "cron" }

[jobs.other-sec]
every = "1s"
queue = "other"
catch_up = "none"
command = "true"

[jobs.other-3s]
every = "3s"
jitter = "1s"
queue = "other"
catch_up = "all"
command = "true"

[jobs.off]
every = "1s"
enabled = false
command = "true"
"#;

/// What [`CONFIG`] schedules, worked out independently of the engine: every
/// job's ticks are the Unix seconds divisible by `period` (`*/2` seconds in
/// UTC is every even second, as 60 is even).
struct Spec {
    name: &'static str,
    queue: &'static str,
    period: i64,
    jitter: i64,
}

const JOBS: &[Spec] = &[
    Spec { name: "sec", queue: "default", period: 1, jitter: 0 },
    Spec { name: "even", queue: "default", period: 2, jitter: 0 },
    Spec { name: "other-sec", queue: "other", period: 1, jitter: 0 },
    Spec { name: "other-3s", queue: "other", period: 3, jitter: 1 },
];
const QUEUES: &[&str] = &["default", "other"];

fn now_secs() -> i64 {
    campanile::time::SystemTime.now().timestamp()
}

fn now_ms() -> i64 {
    campanile::time::SystemTime.now().timestamp_millis()
}

// ---------------------------------------------------------------------------
// Clock processes

/// A `clock` daemon with its stderr (the log) in a file; killed if the test
/// panics with it still running.
struct Clock {
    child: Child,
    log: PathBuf,
    label: String,
}

impl Clock {
    fn spawn(redis: &RedisServer, config: &Path, log: PathBuf, label: &str, subcommand: bool) -> Clock {
        let mut cmd = Command::new(bin("clock"));
        if subcommand {
            cmd.arg("run");
        }
        let child = cmd
            .arg("--config")
            .arg(config)
            .env("REDIS_URL", redis.url())
            .env("RUST_LOG", "info")
            .env_remove("CAMPANILE_CONFIG")
            .env_remove("CAMPANILE_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create clock log"))
            .spawn()
            .expect("spawn clock");
        Clock { child, log, label: label.to_owned() }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn sigterm(&self) {
        if let Err(e) = common::send_signal(self.pid(), libc::SIGTERM) {
            panic!("SIGTERM to {} failed: {e}", self.pid());
        }
    }

    /// SIGKILL, and reap.
    fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL clock");
        self.child.wait().expect("reap clock");
    }

    fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait clock")
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `host:pid:random` → pid.
fn pid_of(clock_id: &str) -> Option<u32> {
    let mut parts = clock_id.rsplitn(3, ':');
    let (_random, pid) = (parts.next()?, parts.next()?);
    parts.next()?;
    pid.parse().ok()
}

// ---------------------------------------------------------------------------
// A scenario: one Redis, a config, clocks, and their logs for failure reports

struct Rig {
    redis: RedisServer,
    dir: tempfile::TempDir,
    config: PathBuf,
    spawned: usize,
    /// Every log file written, oldest first.
    logs: Vec<(String, PathBuf)>,
    con: redis::Connection,
    /// Notes of what the scenario did, for failure reports.
    events: Vec<String>,
    t0: Instant,
}

impl Rig {
    fn new(redis: RedisServer) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("clock.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let con = redis.connection();
        Rig { redis, dir, config, spawned: 0, logs: Vec::new(), con, events: Vec::new(), t0: Instant::now() }
    }

    fn spawn(&mut self, label: &str) -> Clock {
        self.spawned += 1;
        let log = self.dir.path().join(format!("{label}-{}.log", self.spawned));
        // Alternate `clock --config` and `clock run --config`: both run the daemon.
        let clock =
            Clock::spawn(&self.redis, &self.config, log.clone(), label, self.spawned.is_multiple_of(2));
        self.note(format!("spawned {label} (pid {})", clock.pid()));
        self.logs.push((format!("{label} pid {}", clock.pid()), log));
        clock
    }

    fn note(&mut self, what: String) {
        let line = format!("{:>7.3}s {what}", self.t0.elapsed().as_secs_f64());
        eprintln!("{line}");
        self.events.push(line);
    }

    /// The scenario's events and the tail of every clock log.
    fn report(&self) -> String {
        let mut out = String::from("events:\n");
        for e in &self.events {
            let _ = writeln!(out, "  {e}");
        }
        for (label, path) in &self.logs {
            let log = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let _ = writeln!(out, "--- log of {label} (last 25 of {} lines):", lines.len());
            for l in &lines[lines.len().saturating_sub(25)..] {
                let _ = writeln!(out, "  {l}");
            }
        }
        out
    }

    fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.report())
    }

    /// Polls `check` every 20 ms until it returns `Some`, or fails with the
    /// report after `timeout`.
    fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&mut Rig) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(t) = check(self) {
                return t;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out after {timeout:?} waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn leader(&mut self) -> Option<String> {
        redis::cmd("GET").arg(LEADER).query(&mut self.con).unwrap()
    }

    fn leader_pid(&mut self) -> Option<u32> {
        self.leader().as_deref().and_then(pid_of)
    }

    /// Every payload on the pending lists, checked for shape, as ticks per
    /// job in push order (LPUSH: the list's tail is the oldest).
    fn pushed(&mut self) -> BTreeMap<String, Vec<i64>> {
        let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for queue in QUEUES {
            let key = format!("campanile:{{{queue}}}:pending");
            let raw: Vec<String> =
                redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(&mut self.con).unwrap();
            for json in raw.iter().rev() {
                let p: serde_json::Value = serde_json::from_str(json)
                    .unwrap_or_else(|e| self.fail(&format!("{key}: not JSON ({e}): {json}")));
                let job = p["job"].as_str().unwrap_or_else(|| self.fail(&format!("{key}: no job: {json}")));
                let at = p["scheduled_at"]
                    .as_str()
                    .unwrap_or_else(|| self.fail(&format!("no scheduled_at: {json}")));
                let tick = chrono::DateTime::parse_from_rfc3339(at)
                    .unwrap_or_else(|e| self.fail(&format!("scheduled_at {at:?}: {e}")))
                    .timestamp();
                let spec = JOBS.iter().find(|s| s.name == job);
                let args =
                    if job == "even" { serde_json::json!({"kind": "cron"}) } else { serde_json::Value::Null };
                let ok = spec.is_some_and(|s| s.queue == *queue)
                    && p["queue"] == *queue
                    && p["id"] == format!("{job}@{at}")
                    && p["attempt"] == 1
                    && p["args"] == args
                    && at.ends_with('Z')
                    && at.len() == "2026-01-01T00:00:00Z".len();
                if !ok {
                    self.fail(&format!("{key}: unexpected payload {json}"));
                }
                out.entry(job.to_owned()).or_default().push(tick);
            }
        }
        out
    }

    /// Waits until the range [`Rig::assert_exactly_once`] checks has begun
    /// for every job: it has pushed a tick at least 2 s after its first.
    fn wait_checking_started(&mut self, timeout: Duration) {
        self.wait_for("every job's checked range to begin", timeout, |rig| {
            let pushed = rig.pushed();
            JOBS.iter()
                .all(|s| {
                    let ticks = pushed.get(s.name).map(Vec::as_slice).unwrap_or_default();
                    ticks.iter().max().zip(ticks.iter().min()).is_some_and(|(max, min)| *max >= min + 2)
                })
                .then_some(())
        });
    }

    /// Waits until stopping now lets [`Rig::assert_exactly_once`] check at
    /// least one tick of every job after `event` (Unix seconds).
    fn wait_checkable_past(&mut self, event: i64, timeout: Duration) {
        self.wait_for(&format!("a checkable tick of every job after {event}"), timeout, |rig| {
            let pushed = rig.pushed();
            JOBS.iter()
                .all(|s| {
                    let target = event + s.period + 2 + s.jitter;
                    pushed.get(s.name).and_then(|t| t.iter().max()).is_some_and(|&m| m >= target)
                })
                .then_some(())
        });
    }

    /// SIGTERMs `clock` and asserts it exits 0 within 5 s.
    fn stop(&mut self, clock: &mut Clock) {
        clock.sigterm();
        match clock.wait_exit(Duration::from_secs(5)) {
            Some(status) if status.success() => self.note(format!("{} exited 0 after SIGTERM", clock.label)),
            Some(status) => self.fail(&format!("{} exited with {status} after SIGTERM", clock.label)),
            None => self.fail(&format!("{} still running 5s after SIGTERM", clock.label)),
        }
    }

    /// The exactly-once check: for every job, its ticks on the pending list
    /// are on its schedule, strictly increasing in push order (so none is
    /// doubled), counted in its `enqueued` statistic, and none is missing
    /// between its first tick + 2 s and `stop` − 2 s (less its jitter).
    /// Fails unless every job's first tick is at or before `first_by`, and
    /// unless the checked range of every job covers each instant in `around`
    /// (when the scenario killed or restarted something) and at least one
    /// tick after it. Returns the number of ticks checked.
    fn assert_exactly_once(&mut self, first_by: i64, stop: i64, around: &[i64]) -> usize {
        let pushed = self.pushed();
        let mut problems = Vec::new();
        let mut checked = 0;
        if let Some(ticks) = pushed.get("off") {
            problems.push(format!("disabled job \"off\" was pushed: {ticks:?}"));
        }
        for spec in JOBS {
            let ticks = pushed.get(spec.name).cloned().unwrap_or_default();
            let Some(&first) = ticks.iter().min() else {
                problems.push(format!("{}: nothing pushed", spec.name));
                continue;
            };
            if first > first_by {
                problems.push(format!("{}: first tick {first} is later than {first_by}", spec.name));
            }
            let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
            for &t in &ticks {
                *counts.entry(t).or_default() += 1;
            }
            let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
            if !doubled.is_empty() {
                problems
                    .push(format!("{}: ticks pushed more than once (tick, times): {doubled:?}", spec.name));
            }
            if let Some(w) = ticks.windows(2).find(|w| w[0] >= w[1]) {
                problems.push(format!("{}: pushed out of order: {} then {}", spec.name, w[0], w[1]));
            }
            let off_schedule: Vec<_> = ticks.iter().filter(|t| t.rem_euclid(spec.period) != 0).collect();
            if !off_schedule.is_empty() {
                problems.push(format!("{}: ticks not on its schedule: {off_schedule:?}", spec.name));
            }
            let present: BTreeSet<i64> = ticks.iter().copied().collect();
            let (from, to) = (first + 2, stop - 2 - spec.jitter);
            let expected: Vec<i64> = (from..=to).filter(|t| t.rem_euclid(spec.period) == 0).collect();
            let missing: Vec<_> = expected.iter().filter(|t| !present.contains(t)).collect();
            if !missing.is_empty() {
                problems.push(format!("{}: ticks missing between {from} and {to}: {missing:?}", spec.name));
            }
            // The check must span what the scenario did to the clocks.
            if let Some(e) = around.iter().find(|&&e| e < from || e + spec.period > to) {
                problems.push(format!(
                    "{}: the checked ticks {from}..={to} do not span the scenario's event at {e}",
                    spec.name
                ));
            }
            checked += expected.len();
            let stats_key = format!("campanile:{{{}}}:stats", spec.queue);
            let enqueued: Option<usize> = redis::cmd("HGET")
                .arg(&stats_key)
                .arg(format!("{}:enqueued", spec.name))
                .query(&mut self.con)
                .unwrap();
            if enqueued != Some(ticks.len()) {
                problems.push(format!(
                    "{}: {stats_key} counts {enqueued:?} enqueued, the list holds {}",
                    spec.name,
                    ticks.len()
                ));
            }
            self.note(format!(
                "{}: {} pushed, ticks {first}..={}, checked {from}..={to}",
                spec.name,
                ticks.len(),
                ticks.iter().max().unwrap()
            ));
        }
        if !problems.is_empty() {
            self.fail(&format!("exactly-once violated:\n  {}", problems.join("\n  ")));
        }
        checked
    }
}

/// A small deterministic PRNG (splitmix64): the chaos is reproducible from
/// its seed.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (milliseconds).
    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The seed of the chaos test: `CAMPANILE_CHAOS_SEED` (decimal or 0x-hex)
/// to replay another run, else a constant.
fn chaos_seed() -> u64 {
    match std::env::var("CAMPANILE_CHAOS_SEED") {
        Ok(s) => s
            .strip_prefix("0x")
            .map_or_else(|| s.parse(), |hex| u64::from_str_radix(hex, 16))
            .expect("CAMPANILE_CHAOS_SEED is a number"),
        Err(_) => 0x00c1_0c4e_5eed,
    }
}

// ---------------------------------------------------------------------------
// The scenarios

#[test]
fn three_clocks_killed_at_random_push_every_tick_exactly_once() {
    const CHAOS: Duration = Duration::from_secs(20);
    let seed = chaos_seed();
    eprintln!("chaos seed: {seed:#x} (replay with CAMPANILE_CHAOS_SEED={seed:#x})");
    let mut rng = Prng(seed);
    let mut rig = Rig::new(RedisServer::start());
    rig.note(format!("chaos seed {seed:#x}"));
    let started = now_secs();
    let labels = ["clock-a", "clock-b", "clock-c"];
    let mut clocks: Vec<Option<Clock>> = labels.iter().map(|l| Some(rig.spawn(l))).collect();
    let mut restart_at: Vec<Option<Instant>> = vec![None; labels.len()];
    rig.wait_checking_started(Duration::from_secs(20));

    let chaos_end = Instant::now() + CHAOS;
    let mut next_kill = Instant::now() + rng.ms(300, 1500);
    let (mut kills, mut leader_kills, mut all_down) = (0, 0, 0);
    let mut kill_secs = Vec::new();
    while Instant::now() < chaos_end {
        let now = Instant::now();
        for i in 0..labels.len() {
            if restart_at[i].is_some_and(|at| at <= now) {
                restart_at[i] = None;
                clocks[i] = Some(rig.spawn(labels[i]));
            }
        }
        if now >= next_kill {
            next_kill = now + rng.ms(300, 1500);
            // Half the time go for the leader, to exercise failovers.
            let leader = rig.leader_pid();
            let leading = clocks.iter().position(|c| c.as_ref().is_some_and(|c| Some(c.pid()) == leader));
            let victim = match leading {
                Some(i) if rng.below(2) == 0 => i,
                _ => rng.below(labels.len()),
            };
            if let Some(mut clock) = clocks[victim].take() {
                clock.sigkill();
                kills += 1;
                kill_secs.push(now_secs());
                let was_leader = Some(clock.pid()) == leader;
                leader_kills += usize::from(was_leader);
                let down_for = rng.ms(200, 2500);
                restart_at[victim] = Some(Instant::now() + down_for);
                if clocks.iter().all(Option::is_none) {
                    all_down += 1;
                }
                rig.note(format!(
                    "SIGKILL {} (pid {}{}); restart in {down_for:?}",
                    labels[victim],
                    clock.pid(),
                    if was_leader { ", the leader" } else { "" }
                ));
            }
        }
        let wake = restart_at.iter().flatten().copied().chain([next_kill, chaos_end]).min().unwrap();
        std::thread::sleep(wake.saturating_duration_since(Instant::now()).min(Duration::from_millis(50)));
    }
    for (i, label) in labels.iter().enumerate() {
        if clocks[i].is_none() {
            clocks[i] = Some(rig.spawn(label));
        }
    }
    rig.note(format!(
        "chaos over: {kills} SIGKILLs, {leader_kills} of the leader, {all_down} times all down"
    ));
    // A killed leader's lease lapses within 3 s; then its successor catches up.
    let chaos_over = now_secs();
    rig.wait_checkable_past(chaos_over, Duration::from_secs(25));

    let stop = now_secs();
    for clock in clocks.iter_mut().flatten() {
        clock.sigterm();
    }
    for mut clock in clocks.into_iter().flatten() {
        rig.stop(&mut clock);
    }
    if let Some(leader) = rig.leader() {
        rig.fail(&format!("lease still held by {leader} after every clock stopped"));
    }
    if kills < 8 || leader_kills < 2 {
        rig.fail(&format!("chaos too tame: {kills} kills, {leader_kills} of the leader"));
    }
    let checked = rig.assert_exactly_once(started + 10, stop, &kill_secs);
    eprintln!("seed {seed:#x}: {kills} kills ({leader_kills} leaders), {checked} ticks checked");
}

#[test]
fn redis_restart_under_a_running_clock_loses_and_doubles_nothing() {
    let mut rig = Rig::new(RedisServer::start_persistent());
    let started = now_secs();
    let mut clock = rig.spawn("clock");
    rig.wait_checking_started(Duration::from_secs(20));
    let run_id = rig.redis.run_id();

    let down = now_secs();
    rig.note("SHUTDOWN redis".into());
    rig.redis.shutdown_keeping_data();
    // The scenario: Redis is away for a while, during which ticks fall due.
    std::thread::sleep(Duration::from_millis(2500));
    if let Some(status) = clock.try_exit() {
        rig.fail(&format!("the clock exited with {status} while Redis was down"));
    }
    rig.redis.start_again();
    let back = now_secs();
    rig.note("redis is back".into());
    rig.con = rig.redis.connection();
    assert_ne!(rig.redis.run_id(), run_id, "redis restarted");
    assert_eq!(rig.redis.info_field("persistence", "aof_enabled"), "1");

    // The clock reconnects (its backoff is capped at 5 s), catches up the
    // ticks that fell due while Redis was away, and carries on.
    rig.wait_checkable_past(back, Duration::from_secs(30));
    let stop = now_secs();
    rig.stop(&mut clock);
    let warnings = clock.log().lines().filter(|l| l.to_lowercase().contains("warn")).count();
    rig.note(format!("the clock logged {warnings} warnings"));
    let checked = rig.assert_exactly_once(started + 10, stop, &[down, back]);
    eprintln!("{checked} ticks checked across a Redis restart");
}

/// Starts two clocks and waits until one leads, the other stands by, and
/// ticks flow. Returns (leader, standby).
fn leader_and_standby(rig: &mut Rig) -> (Clock, Clock) {
    let a = rig.spawn("clock-a");
    let b = rig.spawn("clock-b");
    let (ap, bp) = (a.pid(), b.pid());
    let leader = rig.wait_for("one of the clocks to lead", Duration::from_secs(20), |rig| {
        rig.leader_pid().filter(|p| *p == ap || *p == bp)
    });
    let (leader, standby) = if leader == ap { (a, b) } else { (b, a) };
    rig.note(format!("{} leads, {} stands by", leader.label, standby.label));
    rig.wait_for("the standby to stand by", Duration::from_secs(20), |_| {
        standby.log().contains("standing by").then_some(())
    });
    rig.wait_checking_started(Duration::from_secs(20));
    (leader, standby)
}

#[test]
fn sigterm_releases_the_lease_so_a_standby_takes_over_at_once() {
    let mut rig = Rig::new(RedisServer::start());
    let started = now_secs();
    let (mut leader, mut standby) = leader_and_standby(&mut rig);
    let old_id = rig.leader().unwrap();

    let t = Instant::now();
    let signalled = now_secs();
    leader.sigterm();
    rig.note(format!("SIGTERM {}", leader.label));
    let (mut exited, mut took_over) = (None, None);
    let deadline = t + Duration::from_secs(5);
    while (exited.is_none() || took_over.is_none()) && Instant::now() < deadline {
        if exited.is_none()
            && let Some(status) = leader.try_exit()
        {
            // It released the lease before exiting: the key no longer names it.
            let holder = rig.leader();
            exited = Some((t.elapsed(), status, holder));
        }
        if took_over.is_none() && rig.leader_pid() == Some(standby.pid()) {
            took_over = Some((t.elapsed(), now_secs()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let Some((exit_after, status, holder_after_exit)) = exited else {
        rig.fail("the leader was still running 5 s after SIGTERM")
    };
    rig.note(format!(
        "leader exited with {status} after {exit_after:?}; lease then held by {holder_after_exit:?}"
    ));
    if !status.success() {
        rig.fail(&format!("the leader exited with {status} after SIGTERM"));
    }
    if holder_after_exit.as_deref() == Some(old_id.as_str()) {
        rig.fail(&format!("the leader exited without releasing its lease ({old_id})"));
    }
    let Some((takeover, takeover_secs)) = took_over else {
        rig.fail("the standby did not take the lease within 5 s of the leader's SIGTERM")
    };
    rig.note(format!("standby leads {takeover:?} after the SIGTERM"));
    if takeover >= Duration::from_millis(2500) {
        rig.fail(&format!("takeover took {takeover:?}: as slow as waiting for the lease to lapse"));
    }

    rig.wait_checkable_past(takeover_secs, Duration::from_secs(20));
    let stop = now_secs();
    rig.stop(&mut standby);
    if let Some(holder) = rig.leader() {
        rig.fail(&format!("the last clock stopped but the lease is still held by {holder}"));
    }
    rig.assert_exactly_once(started + 10, stop, &[signalled, takeover_secs]);
}

#[test]
fn sigkill_of_the_leader_fails_over_within_the_lease_time() {
    let mut rig = Rig::new(RedisServer::start());
    let started = now_secs();
    let (mut leader, mut standby) = leader_and_standby(&mut rig);
    let old_id = rig.leader().unwrap();

    let t = Instant::now();
    let killed_ms = now_ms();
    leader.sigkill();
    let pttl: i64 = redis::cmd("PTTL").arg(LEADER).query(&mut rig.con).unwrap();
    rig.note(format!("SIGKILL {} ({old_id}); its lease has {pttl} ms left", leader.label));
    let standby_pid = standby.pid();
    let mut holders = vec![old_id.clone()];
    let takeover = rig.wait_for("the standby to lead", Duration::from_secs(10), |rig| {
        let holder = rig.leader();
        if holder.as_ref() != holders.last() {
            holders.push(holder.clone().unwrap_or_else(|| "(none)".into()));
        }
        (holder.as_deref().and_then(pid_of) == Some(standby_pid)).then(|| t.elapsed())
    });
    let takeover_secs = now_secs();
    rig.note(format!("standby leads {takeover:?} after the SIGKILL; lease holders seen: {holders:?}"));
    if pttl <= 0 {
        rig.fail(&format!("the dead leader's lease had PTTL {pttl} right after the kill"));
    }
    // The standby waits for the dead leader's lease to lapse (it may not
    // steal a live one), and then takes over at its next retry.
    let lapse = Duration::from_millis(pttl as u64);
    if takeover + Duration::from_millis(50) < lapse {
        rig.fail(&format!("the standby took a live lease: after {takeover:?}, {lapse:?} before it lapsed"));
    }
    let bound = (lapse + LEASE_INTERVAL + Duration::from_secs(1))
        .min(LEASE_TTL + LEASE_INTERVAL + Duration::from_millis(1500));
    if takeover > bound {
        rig.fail(&format!("failover took {takeover:?}; the lease lapsed after {lapse:?} (bound {bound:?})"));
    }

    rig.wait_checkable_past(takeover_secs, Duration::from_secs(20));
    let stop = now_secs();
    rig.stop(&mut standby);
    // Ticks that fell due while nobody led: the standby pushed them late.
    let leaderless = killed_ms..killed_ms + takeover.as_millis() as i64;
    let late: Vec<i64> =
        rig.pushed()["sec"].iter().copied().filter(|t| leaderless.contains(&(t * 1000))).collect();
    rig.note(format!("ticks of \"sec\" due while nobody led: {late:?}"));
    rig.assert_exactly_once(started + 10, stop, &[killed_ms.div_euclid(1000), takeover_secs]);
}

#[test]
fn invalid_config_exits_2_without_touching_redis() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[jobs.ok]\nevery = \"1s\"\ncommand = \"true\"\n\n[jobs.bad]\nevery = \"5x\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let p = path.display().to_string();
    let missing = dir.path().join("missing.toml").display().to_string();

    let before = connections_received(&redis);
    let cases: [(&[&str], &str); 3] = [
        (&["--config", &p], "clock --config bad.toml"),
        (&["run", "--config", &p], "clock run --config bad.toml"),
        (&["--config", &missing], "clock --config missing.toml"),
    ];
    for (args, what) in cases {
        let out = dir.path().join("out");
        let err = dir.path().join("err");
        let mut child = Command::new(bin("clock"))
            .args(args)
            .env("REDIS_URL", redis.url())
            .env("RUST_LOG", "info")
            .env_remove("CAMPANILE_CONFIG")
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{what}: still running after 10 s; stderr:\n{}",
                    std::fs::read_to_string(&err).unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let (stdout, stderr) =
            (std::fs::read_to_string(&out).unwrap(), std::fs::read_to_string(&err).unwrap());
        assert_eq!(status.code(), Some(2), "{what}: {status}; stderr:\n{stderr}");
        assert_eq!(stdout, "", "{what}");
        if args.contains(&p.as_str()) {
            assert!(
                stderr.contains(&format!("{p}:6:9: job \"bad\": field \"every\": \"5x\" is not a duration")),
                "{what}: stderr does not name file:line:column, job and field:\n{stderr}"
            );
            assert!(stderr.ends_with(&format!("error: {p} has 1 error\n")), "{what}:\n{stderr}");
        } else {
            assert!(stderr.starts_with(&format!("error: cannot read {missing}: ")), "{what}:\n{stderr}");
        }
        assert!(!stderr.contains("connecting to redis"), "{what}: it went on to connect:\n{stderr}");
    }
    assert_eq!(connections_received(&redis), before + 1, "only this test's own probes connected");
    let keys: i64 = redis::cmd("DBSIZE").query(&mut redis.connection()).unwrap();
    assert_eq!(keys, 0, "an invalid config wrote to Redis");
}

fn connections_received(redis: &RedisServer) -> u64 {
    redis.info_field("stats", "total_connections_received").parse().unwrap()
}

#[test]
fn sigterm_stops_the_clock_promptly_while_redis_is_down() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, "[jobs.tick]\nevery = \"1s\"\ncommand = \"true\"\n").expect("config written");
    let log = dir.path().join("clock.log");
    let mut clock = common::spawn_clock(&redis, &config, &log);
    common::wait_until("the clock leads", Duration::from_secs(20), || common::leader_pid(&redis).is_some());

    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut redis.connection());
    common::wait_until("the clock notices Redis is gone", Duration::from_secs(20), || {
        std::fs::read_to_string(&log).unwrap_or_default().contains("retrying")
    });
    let signalled = Instant::now();
    common::send_signal(clock.id(), libc::SIGTERM).expect("SIGTERM the clock");
    common::wait_until("the clock exits", Duration::from_secs(10), || clock.try_wait().unwrap().is_some());
    assert!(clock.try_wait().unwrap().is_some_and(|s| s.success()), "exit 0 on SIGTERM");
    // A stop waits for Redis at most a second (then the lease lapses by
    // itself), not for the connection's retries.
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "took {took:?} to stop:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
}

/// A failover to a replica that had not received the latest writes takes
/// the tick state and the pending lists back in time together. The clock
/// must notice (its next enqueue finds the state's write sequence behind the
/// one it saw) and push the lost ticks again, each still exactly once.
#[test]
fn tick_state_rolled_back_by_a_lossy_failover_is_caught_up() {
    let mut rig = Rig::new(RedisServer::start());
    let started = now_secs();
    let mut clock = rig.spawn("clock");
    rig.wait_checking_started(Duration::from_secs(20));

    // The replica's view: every key of both queues as of now, atomically.
    let keys: Vec<String> = QUEUES
        .iter()
        .flat_map(|q| ["ticks", "pending", "stats"].map(|k| format!("campanile:{{{q}}}:{k}")))
        .collect();
    let mut snapshot = redis::pipe();
    snapshot.atomic();
    for key in &keys {
        snapshot.cmd("DUMP").arg(key);
    }
    let dumps: Vec<Option<Vec<u8>>> = snapshot.query(&mut rig.con).unwrap();
    rig.note("snapshot taken".into());
    // The primary goes on accepting ticks the replica never sees.
    let before = rig.pushed().values().map(Vec::len).sum::<usize>();
    rig.wait_for("three more ticks of every job", Duration::from_secs(20), |rig| {
        (rig.pushed().values().map(Vec::len).sum::<usize>() >= before + 3 * JOBS.len()).then_some(())
    });
    let mut restore = redis::pipe();
    restore.atomic();
    for (key, dump) in keys.iter().zip(&dumps) {
        match dump {
            Some(dump) => restore.cmd("RESTORE").arg(key).arg(0).arg(dump).arg("REPLACE").ignore(),
            None => restore.cmd("DEL").arg(key).ignore(),
        };
    }
    let () = restore.query(&mut rig.con).unwrap();
    let rolled_back = now_secs();
    rig.note("rolled back to the snapshot".into());

    rig.wait_for("the clock to notice", Duration::from_secs(10), |_| {
        clock.log().contains("tick state went back").then_some(())
    });
    rig.wait_checkable_past(rolled_back, Duration::from_secs(30));
    let stop = now_secs();
    rig.stop(&mut clock);
    let checked = rig.assert_exactly_once(started + 10, stop, &[rolled_back]);
    eprintln!("{checked} ticks checked across a rollback");
}
