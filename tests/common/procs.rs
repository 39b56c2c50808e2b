//! Worker and clock processes for the process tests: spawned with their log
//! in a file, killed when dropped; process groups and pids a job writes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{RedisServer, bin};

/// A `worker` or `clock` process with its stderr (the log) in a file; killed
/// (SIGKILL) if still running when dropped, so a failing test leaves nothing
/// behind.
pub struct Proc {
    child: Child,
    log: PathBuf,
    label: String,
    exited: Option<ExitStatus>,
}

impl Proc {
    pub fn spawn(
        program: &str,
        args: &[&str],
        redis: &RedisServer,
        config: &Path,
        cwd: &Path,
        label: &str,
    ) -> Proc {
        Proc::spawn_with_url(program, args, &redis.url(), config, cwd, label)
    }

    /// [`Proc::spawn`] with `REDIS_URL` set to `url`.
    pub fn spawn_with_url(
        program: &str,
        args: &[&str],
        url: &str,
        config: &Path,
        cwd: &Path,
        label: &str,
    ) -> Proc {
        let log = cwd.join(format!("{label}.log"));
        let child = Command::new(bin(program))
            .arg("--config")
            .arg(config)
            .args(args)
            .current_dir(cwd)
            .env("REDIS_URL", url)
            .env("RUST_LOG", "info")
            .env("CAMPANILE_LOG_FORMAT", "logfmt")
            .env_remove("CAMPANILE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        Proc { child, log, label: label.to_owned(), exited: None }
    }

    pub fn worker(redis: &RedisServer, config: &Path, cwd: &Path, args: &[&str], label: &str) -> Proc {
        Proc::spawn("worker", args, redis, config, cwd, label)
    }

    pub fn clock(redis: &RedisServer, config: &Path, cwd: &Path, label: &str) -> Proc {
        Proc::spawn("clock", &[], redis, config, cwd, label)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn sigterm(&self) {
        if let Err(e) = super::send_signal(self.pid(), libc::SIGTERM) {
            panic!("SIGTERM to {} ({}) failed: {e}", self.pid(), self.label);
        }
    }

    /// SIGKILL, and reap.
    pub fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.exited = Some(self.child.wait().expect("wait for killed process"));
    }

    /// The exit status if the process exits within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited {
                return Some(status);
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exited = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!(
            "--- {} log (last {} lines) ---\n{}",
            self.label,
            lines.len() - from,
            lines[from..].join("\n")
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Kills the process groups whose leaders' pids were written to these files,
/// when dropped: a job that outlives a failing test does not linger.
pub struct GroupReaper(pub Vec<PathBuf>);

impl Drop for GroupReaper {
    fn drop(&mut self) {
        for file in &self.0 {
            if let Some(pid) = read_pid(file) {
                let _ = super::send_group_signal(pid, libc::SIGKILL);
            }
        }
    }
}

pub fn read_pid(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live process (a zombie, already dead but not yet
/// reaped by its new parent, counts as gone).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Fields: pid (comm) state ...; comm may contain spaces and parens.
        Ok(stat) => match stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()) {
            Some(state) => state != "Z" && state != "X",
            None => true,
        },
        Err(_) => false,
    }
}

pub fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("clock.toml");
    std::fs::write(&path, body).expect("write clock.toml");
    path
}

/// A path for use inside a shell command (single-quoted).
pub fn sh_path(path: &Path) -> String {
    let s = path.to_str().expect("utf-8 temp path");
    assert!(!s.contains('\''), "temp path {s:?} contains a quote");
    format!("'{s}'")
}

/// Polls `probe` every 50 ms until it returns `Some`, or panics after
/// `timeout` with `what` and the diagnostics from `diag`.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
    diag: impl FnOnce() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}\n{}", diag());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
