//! Both documented Heroku layouts run from their Procfile by honcho, a
//! Procfile runner from PyPI: the binaries where the layout puts them, a
//! clock.toml, a private redis-server. The job runs once per tick, and a
//! SIGTERM to the runner stops every process within Heroku's 30 s.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{RedisServer, bin, poll_until};

/// The honcho release scripts/test installs, and where.
const HONCHO_VERSION: &str = "2.0.0";
const HONCHO_DIR: &str = "target/tools/honcho";

/// The Procfile of an app that vendors the binaries in bin/ (README.md,
/// "Deploy to Heroku").
const VENDORED_PROCFILE: &str = "clock: bin/clock\nworker: bin/worker\n";

/// Heroku's window between SIGTERM and SIGKILL.
const HEROKU_STOP_WINDOW: Duration = Duration::from_secs(30);

const CLOCK_TOML: &str = r#"
[jobs.every-second]
every = "1s"
command = 'echo "$CAMPANILE_SCHEDULED_AT" >> ticks.log'
"#;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `python3 -m honcho` from scripts/test's pinned install; panics with the
/// install command when it is missing.
fn honcho() -> Command {
    let dir = repo().join(HONCHO_DIR);
    let probe = Command::new("python3")
        .args(["-c", &format!("import honcho, sys; sys.exit(honcho.__version__ != {HONCHO_VERSION:?})")])
        .env("PYTHONPATH", &dir)
        .status();
    assert!(
        matches!(probe, Ok(s) if s.success()),
        "honcho {HONCHO_VERSION} is not installed in {HONCHO_DIR}; scripts/test installs it, or run: \
         python3 -m pip install --target {HONCHO_DIR} honcho=={HONCHO_VERSION}"
    );
    let mut command = Command::new("python3");
    command.args(["-m", "honcho", "start"]).env("PYTHONPATH", dir);
    command
}

/// An app folder as the dyno sees it: `binaries` copied to `bin_dir`, the
/// Procfile and the clock.toml at the root.
fn lay_out(procfile: &str, bin_dir: &str) -> tempfile::TempDir {
    let app = tempfile::tempdir().unwrap();
    let bins = app.path().join(bin_dir);
    std::fs::create_dir_all(&bins).unwrap();
    for name in ["clock", "worker"] {
        std::fs::copy(bin(name), bins.join(name)).unwrap();
    }
    std::fs::write(app.path().join("Procfile"), procfile).unwrap();
    std::fs::write(app.path().join("clock.toml"), CLOCK_TOML).unwrap();
    app
}

/// Pids of the processes running a binary from inside `app`.
fn processes_in(app: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(e.path().join("exe")).ok()?;
            exe.starts_with(app).then_some(pid)
        })
        .collect()
}

fn ticks(app: &Path) -> Vec<DateTime<Utc>> {
    let text = std::fs::read_to_string(app.join("ticks.log")).unwrap_or_default();
    text.lines().map(|l| l.parse().unwrap_or_else(|e| panic!("tick {l:?}: {e}"))).collect()
}

fn run_procfile(procfile: &str, bin_dir: &str) {
    let redis = RedisServer::start();
    let app = lay_out(procfile, bin_dir);
    let log_path = app.path().join("honcho.log");
    let mut runner: Child = honcho()
        .current_dir(app.path())
        .env("REDIS_URL", redis.url())
        .env_remove("CAMPANILE_CONFIG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log_path).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3 -m honcho");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let seen = poll_until(Duration::from_secs(60), || ticks(app.path()).len() >= 4);
    assert!(seen, "the job did not run 4 times; honcho output:\n{}", common::tail(&log(), 40));
    let ticks = ticks(app.path());
    for pair in ticks.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::seconds(1), "one run per tick: {ticks:?}");
    }
    assert_eq!(processes_in(app.path()).len(), 2, "clock and worker run from the layout");

    let _ = common::send_signal(runner.id(), libc::SIGTERM);
    let stopped = poll_until(HEROKU_STOP_WINDOW, || {
        matches!(runner.try_wait(), Ok(Some(_))) && processes_in(app.path()).is_empty()
    });
    if !stopped {
        let _ = runner.kill();
    }
    assert!(stopped, "processes left 30 s after SIGTERM; honcho output:\n{}", common::tail(&log(), 40));
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

#[test]
fn buildpack_layout_runs_the_repository_procfile() {
    let procfile = std::fs::read_to_string(repo().join("Procfile")).unwrap();
    assert!(readme().contains(&procfile), "README shows the Procfile:\n{procfile}");
    run_procfile(&procfile, "target/release");
}

#[test]
fn vendored_layout_runs_the_documented_procfile() {
    assert!(readme().contains(VENDORED_PROCFILE), "README shows the vendored Procfile");
    run_procfile(VENDORED_PROCFILE, "bin");
}

#[test]
fn buildpack_config_builds_both_binaries_locked() {
    let config = std::fs::read_to_string(repo().join("RustConfig")).unwrap();
    assert!(
        config.contains(r#"RUST_CARGO_BUILD_FLAGS="--release --locked --bin clock --bin worker""#),
        "{config}"
    );
}

#[test]
fn buildpack_profile_puts_both_binaries_on_path_for_heroku_run() {
    let app = lay_out("", "target/release");
    std::fs::create_dir_all(app.path().join(".profile.d")).unwrap();
    std::fs::copy(repo().join(".profile.d/campanile.sh"), app.path().join(".profile.d/campanile.sh"))
        .unwrap();
    // Heroku sources .profile.d/*.sh with HOME=/app, the app's root.
    let out = Command::new("bash")
        .args(["-c", ". .profile.d/campanile.sh && command -v clock && command -v worker"])
        .current_dir(app.path())
        .env("HOME", app.path())
        .output()
        .unwrap();
    let release = app.path().join("target/release");
    let expected = format!("{}\n{}\n", release.join("clock").display(), release.join("worker").display());
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}
