//! Test harness: a private `redis-server` per test, on a free port with its
//! own temp dir, stopped when the handle drops. Tests never share a server,
//! so they run in parallel without seeing each other's keys, and never touch
//! a Redis the machine already runs. [`cluster`] and [`sentinel`] build
//! real multi-process topologies out of such servers.

#![allow(dead_code)] // each test binary uses a different part

pub mod bullmq;
pub mod cluster;
pub mod deployment;
pub mod foreign_worker;
pub mod procs;
pub mod sentinel;
pub mod tickers;
pub mod webhook;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const INSTALL_HINT: &str = "redis-server was not found on PATH; the tests need a real one. \
     Install it (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) and re-run.";

/// A running private redis-server.
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server and waits until it answers PING. Panics with an
    /// install hint when `redis-server` is missing.
    pub fn start() -> RedisServer {
        Self::start_program("redis-server")
    }

    /// [`RedisServer::start`] with an explicit server binary.
    pub fn start_program(program: &str) -> RedisServer {
        let mut last_error = String::new();
        // A free port can be taken between choosing it and the server binding
        // it; try a few.
        for _ in 0..5 {
            match Self::try_start(program) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    fn try_start(program: &str) -> Result<RedisServer, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let args = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
        Self::launch(program, port, dir, args.map(Into::into).to_vec())
    }

    /// Spawns `program args… --dir <dir> --logfile <dir>/redis.log` (so the
    /// config file, if any, comes first in `args`) and waits until it answers
    /// PING on `port`. An `Err` means the process exited first, usually
    /// because the port was taken meanwhile: the caller retries on new ports.
    pub(crate) fn launch(
        program: &str,
        port: u16,
        dir: tempfile::TempDir,
        mut args: Vec<std::ffi::OsString>,
    ) -> Result<RedisServer, String> {
        args.extend(["--dir".into(), dir.path().as_os_str().to_owned()]);
        args.extend(["--logfile".into(), dir.path().join("redis.log").into_os_string()]);
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
            Err(e) => return Err(format!("spawning {program}: {e}")),
        };
        let mut server = RedisServer { child, port, dir };
        server.wait_ready()?;
        Ok(server)
    }

    /// Waits for the server to accept a PING, or to exit (port taken).
    /// SIGKILLs a server from [`RedisServer::start`] (which keeps nothing on
    /// disk), waits `down_for`, and starts an empty one on the same port, as
    /// a Redis without persistence comes back from a crash.
    pub fn restart_empty(&mut self, down_for: Duration) {
        self.kill();
        std::thread::sleep(down_for);
        let args =
            ["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
        let mut args: Vec<std::ffi::OsString> = args.map(Into::into).to_vec();
        args.extend(["--dir".into(), self.dir.path().as_os_str().to_owned()]);
        args.extend(["--logfile".into(), self.dir.path().join("redis.log").into_os_string()]);
        self.child = Self::spawn_with(args);
        if let Err(e) = self.wait_ready() {
            panic!("restarting redis-server on port {}: {e}", self.port);
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                return Err(format!("redis-server exited with {status}: {log}"));
            }
            if self.ping().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("redis-server did not answer PING within 10s".into())
    }

    fn ping(&self) -> redis::RedisResult<String> {
        let mut con = self.client().get_connection_with_timeout(Duration::from_millis(200))?;
        redis::cmd("PING").query(&mut con)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("valid redis url")
    }

    /// A synchronous connection, for assertions.
    pub fn connection(&self) -> redis::Connection {
        self.client().get_connection().expect("connect to test redis-server")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGKILLs the server, as a crash would, and reaps it; the handle (and
    /// its dir, with the log) stays valid.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (`libc::SIGSTOP`, `libc::SIGCONT`) to the server: a
    /// stopped server accepts connections but answers nothing, as a hung one.
    pub fn signal(&self, signal: libc::c_int) {
        if let Err(e) = send_signal(self.child.id(), signal) {
            panic!("signal {signal} to redis-server on port {} failed: {e}", self.port);
        }
    }

    /// Starts a killed server again on its port and dir with `args` (as
    /// for [`RedisServer::launch`]), and waits until it answers PING.
    pub fn start_again_with(&mut self, mut args: Vec<std::ffi::OsString>) {
        args.extend(["--dir".into(), self.dir.path().as_os_str().to_owned()]);
        args.extend(["--logfile".into(), self.dir.path().join("redis.log").into_os_string()]);
        self.child = Self::spawn_with(args);
        if let Err(e) = self.wait_ready() {
            panic!("restarting redis-server on port {}: {e}", self.port);
        }
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    /// A connection that fails instead of hanging on a server that is down
    /// or busy, for polling a topology while it changes.
    pub fn try_connection(&self) -> redis::RedisResult<redis::Connection> {
        let con = self.client().get_connection_with_timeout(Duration::from_millis(500))?;
        con.set_read_timeout(Some(Duration::from_secs(2)))?;
        con.set_write_timeout(Some(Duration::from_secs(2)))?;
        Ok(con)
    }
}

/// Persistent servers that survive a restart: every write is fsynced to an
/// append-only file in the server's dir before it is acknowledged, so a
/// `SHUTDOWN` and a start on the same port and dir lose nothing.
impl RedisServer {
    /// Arguments of a persistent server; the same for every (re)start.
    fn persistent_args(port: u16, dir: &Path) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> =
            ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""]
                .iter()
                .map(Into::into)
                .collect();
        args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(Into::into));
        args.extend(["--dir".into(), dir.as_os_str().to_owned()]);
        args.extend(["--logfile".into(), dir.join("redis.log").into_os_string()]);
        args
    }

    /// Like [`RedisServer::start`], but with an fsynced append-only file, so
    /// [`RedisServer::restart`] keeps the data.
    pub fn start_persistent() -> RedisServer {
        let mut last_error = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let child = Self::spawn_with(Self::persistent_args(port, dir.path()));
            let mut server = RedisServer { child, port, dir };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start a persistent redis-server: {last_error}");
    }

    fn spawn_with(args: Vec<std::ffi::OsString>) -> Child {
        match Command::new("redis-server")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
            Err(e) => panic!("spawning redis-server: {e}"),
        }
    }

    /// Stops a server from [`RedisServer::start_persistent`] with `SHUTDOWN`
    /// (which flushes the append-only file) and waits for the process to
    /// exit. Clients see connection errors until [`RedisServer::start_again`].
    pub fn shutdown_keeping_data(&mut self) {
        let mut con = self.connection();
        let aof: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("appendonly").query(&mut con).unwrap();
        assert_eq!(aof.get(1).map(String::as_str), Some("yes"), "only a persistent server keeps its data");
        // The server closes the connection instead of replying.
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut con);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "redis-server exited with {status} on SHUTDOWN");
                    return;
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                other => panic!("redis-server did not exit within 10s of SHUTDOWN: {other:?}"),
            }
        }
    }

    /// Starts a server stopped by [`RedisServer::shutdown_keeping_data`]
    /// again, on the same port and dir (so with its data), and waits until
    /// it answers PING (that is, has loaded the data).
    pub fn start_again(&mut self) {
        self.child = Self::spawn_with(Self::persistent_args(self.port, self.dir.path()));
        if let Err(e) = self.wait_ready() {
            panic!("restarting redis-server on port {}: {e}", self.port);
        }
    }

    /// [`RedisServer::shutdown_keeping_data`], `down_for`, then
    /// [`RedisServer::start_again`].
    pub fn restart(&mut self, down_for: Duration) {
        self.shutdown_keeping_data();
        std::thread::sleep(down_for);
        self.start_again();
    }

    /// `run_id` from `INFO server`: changes on every start.
    pub fn run_id(&self) -> String {
        self.info_field("server", "run_id")
    }

    /// One field of `INFO <section>`; panics if it is missing.
    pub fn info_field(&self, section: &str, field: &str) -> String {
        let info: String = redis::cmd("INFO").arg(section).query(&mut self.connection()).unwrap();
        let prefix = format!("{field}:");
        info.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
    }

    /// One statistic (`calls`, `usec`, …) of `command` in `INFO
    /// commandstats`, which counts the commands scripts run too; 0 for a
    /// command that has not run.
    pub fn command_stat(&self, command: &str, stat: &str) -> f64 {
        let info: String = redis::cmd("INFO").arg("commandstats").query(&mut self.connection()).unwrap();
        let (line, stat) = (format!("cmdstat_{command}:"), format!("{stat}="));
        info.lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .and_then(|stats| stats.split(',').find_map(|s| s.strip_prefix(stat.as_str())))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (right now).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// `n` distinct free ports: all are bound at once, so none repeats.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("local addr").port()).collect()
}

/// The last `n` lines of `text`, such as a server log in a failure message.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// SIGTERM a child process and wait for it to exit.
pub fn stop(mut child: Child) {
    let _ = send_signal(child.id(), libc::SIGTERM);
    let _ = child.wait();
}

/// Sends `signal` (`libc::SIGTERM`, …) to process `pid`. Through the system
/// call rather than a `kill` program: a minimal Debian has no procps, and
/// the tests must run where `scripts/test` installed only what they name.
pub fn send_signal(pid: u32, signal: libc::c_int) -> std::io::Result<()> {
    kill(libc::pid_t::try_from(pid).expect("a pid fits pid_t"), signal)
}

/// [`send_signal`] to every process of the group `pgid` leads.
pub fn send_group_signal(pgid: u32, signal: libc::c_int) -> std::io::Result<()> {
    kill(-libc::pid_t::try_from(pgid).expect("a pid fits pid_t"), signal)
}

fn kill(target: libc::pid_t, signal: libc::c_int) -> std::io::Result<()> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    if unsafe { libc::kill(target, signal) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// The pid of the clock holding the leader lease, if any.
pub fn leader_pid(redis: &RedisServer) -> Option<u32> {
    let id: Option<String> =
        redis::cmd("GET").arg("campanile:leader").query(&mut redis.connection()).unwrap();
    id?.split(':').nth(1)?.parse().ok()
}

/// Polls `done` until it holds, failing the test after `within`; returns
/// the instant it held.
pub fn wait_until(what: &str, within: Duration, done: impl FnMut() -> bool) -> Instant {
    let held = poll_until(within, done);
    assert!(held, "timed out waiting for {what}");
    Instant::now()
}

/// Polls `done` every 20 ms until it holds (`true`) or `within` has passed
/// (`false`), for a caller that reports the timeout itself.
pub fn poll_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Path of a binary this package builds.
pub fn bin(name: &str) -> PathBuf {
    match name {
        "clock" => PathBuf::from(env!("CARGO_BIN_EXE_clock")),
        "worker" => PathBuf::from(env!("CARGO_BIN_EXE_worker")),
        other => panic!("unknown binary {other}"),
    }
}

/// Runs `clock <args> --config <config>` against `redis`, asserts it
/// succeeds and returns its stdout as JSON (give `--json`).
pub fn clock_json(redis: &RedisServer, config: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin("clock"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A `clock` daemon for `config` against `redis`, logging JSON lines
/// (`CAMPANILE_LOG_FORMAT=json`) at info to `log`.
pub fn spawn_clock(redis: &RedisServer, config: &Path, log: &Path) -> Child {
    Command::new(bin("clock"))
        .arg("--config")
        .arg(config)
        .env("REDIS_URL", redis.url())
        .env("RUST_LOG", "info")
        .env("CAMPANILE_LOG_FORMAT", "json")
        .env_remove("CAMPANILE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("create clock log"))
        .spawn()
        .expect("spawn clock")
}
