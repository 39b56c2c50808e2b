//! `clock dev` owns its Redis: without `REDIS_URL` it starts a private
//! redis-server (never the machine's), which dies with it even when it is
//! SIGKILLed; with `REDIS_URL` it uses that one and says which.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{RedisServer, bin, wait_until};

const CONFIG: &str = "[jobs.tick]\nevery = \"1s\"\ncommand = 'echo \"dev tick $CAMPANILE_JOB_ID\"'\n";

/// A `clock dev` with its own temp dir (`TMPDIR`) and config.
struct Dev {
    child: Child,
    log: PathBuf,
}

fn spawn_dev(dir: &Path, redis_url: Option<&str>) -> Dev {
    spawn_dev_with(dir, redis_url, CONFIG)
}

fn spawn_dev_with(dir: &Path, redis_url: Option<&str>, config_text: &str) -> Dev {
    let config = dir.join("clock.toml");
    std::fs::write(&config, config_text).unwrap();
    let log = dir.join(format!("dev-{}.log", std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos()));
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut command = Command::new(bin("clock"));
    command
        .args(["dev", "--config"])
        .arg(&config)
        .env("TMPDIR", &tmp)
        .env("CAMPANILE_LOG_FORMAT", "logfmt")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    match redis_url {
        Some(url) => command.env("REDIS_URL", url),
        None => command.env_remove("REDIS_URL"),
    };
    Dev { child: command.spawn().unwrap(), log }
}

impl Drop for Dev {
    /// A failing test leaves no clock dev (nor its redis-server) behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal(libc::SIGINT);
            if !common::poll_until(Duration::from_secs(10), || matches!(self.child.try_wait(), Ok(Some(_)))) {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

impl Dev {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for(&self, text: &str) -> String {
        let mut seen = String::new();
        let held = common::poll_until(Duration::from_secs(30), || {
            seen = self.log();
            seen.contains(text)
        });
        assert!(held, "clock dev never wrote {text:?}:\n{seen}");
        seen
    }

    fn signal(&self, signal: libc::c_int) {
        let _ = common::send_signal(self.child.id(), signal);
    }
}

/// The private server `clock dev` reported: (port, pid, dir).
fn private_server(log: &str) -> (u16, u32, PathBuf) {
    let rest = log.split("started a private redis-server at redis://127.0.0.1:").nth(1).expect(log);
    let port = rest.split(' ').next().unwrap().parse().unwrap();
    let pid = rest.split("(pid ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    let dir = rest.split(", dir ").nth(1).unwrap().split(')').next().unwrap();
    (port, pid, PathBuf::from(dir))
}

/// Whether `pid` is still a running process (a zombie waiting for its
/// reaper has stopped running).
fn running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit(')').next().unwrap_or("").split_whitespace().next();
    state != Some("Z")
}

fn campanile_keys(port: u16) -> Vec<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    redis::cmd("KEYS").arg("campanile:*").query(&mut client.get_connection().unwrap()).unwrap()
}

#[test]
fn dev_without_redis_url_runs_on_its_own_private_redis() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = spawn_dev(dir.path(), None);
    let log = dev.wait_for("line=\"dev tick tick@");
    let (port, pid, server_dir) = private_server(&log);
    assert_ne!(port, 6379, "never the machine's Redis");
    assert!(running(pid));
    assert!(server_dir.starts_with(dir.path().join("tmp")), "{}", server_dir.display());
    assert!(!campanile_keys(port).is_empty(), "the clock writes into the private server");

    dev.signal(libc::SIGINT);
    assert!(dev.child.wait().unwrap().success());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the private redis-server stopped");
    assert!(!server_dir.exists(), "its directory is removed");
}

#[test]
fn private_redis_dies_with_a_sigkilled_dev_and_the_next_dev_removes_its_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = spawn_dev(dir.path(), None);
    let (_, pid, server_dir) = private_server(&dev.wait_for("started a private redis-server"));
    dev.signal(libc::SIGKILL);
    dev.child.wait().unwrap();
    wait_until("the private redis-server to die with clock dev", Duration::from_secs(10), || !running(pid));
    assert!(server_dir.exists(), "a SIGKILLed clock dev cannot clean up");

    let mut next = spawn_dev(dir.path(), None);
    next.wait_for("started a private redis-server");
    assert!(!server_dir.exists(), "the next clock dev removed {}", server_dir.display());
    next.signal(libc::SIGINT);
    assert!(next.child.wait().unwrap().success());
}

#[test]
fn dev_with_redis_url_uses_that_redis_and_prints_it_redacted() {
    let redis = RedisServer::start();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cret")
        .query(&mut redis.connection())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://:s3cret@127.0.0.1:{}", redis.port());
    let mut dev = spawn_dev(dir.path(), Some(&url));
    let log = dev.wait_for("line=\"dev tick tick@");
    assert!(
        log.contains(&format!("clock dev: using Redis at redis://:***@127.0.0.1:{}", redis.port())),
        "{log}"
    );
    assert!(!log.contains("s3cret") && !log.contains("private"), "{log}");
    dev.signal(libc::SIGINT);
    assert!(dev.child.wait().unwrap().success());
}

#[test]
fn dev_with_a_redis_url_that_does_not_answer_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{}", common::free_port());
    let mut dev = spawn_dev(dir.path(), Some(&url));
    assert_eq!(dev.child.wait().unwrap().code(), Some(1));
    assert!(dev.log().contains(&format!("error: cannot connect to {url}")), "{}", dev.log());
}

#[test]
fn logs_name_outcomes_as_the_cli_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[jobs.ok]\nevery = \"1s\"\ncommand = \"true\"\nretries = 0\n\n\
        [jobs.bad]\nevery = \"1s\"\ncommand = \"false\"\nretries = 0\n\n\
        [jobs.slow]\nevery = \"2s\"\ncommand = \"sleep 30\"\ntimeout = \"1s\"\nretries = 0\n";
    let mut dev = spawn_dev_with(dir.path(), None, config);
    for outcome in ["success", "failed", "timed_out"] {
        dev.wait_for(&format!("outcome={outcome} "));
    }
    dev.signal(libc::SIGINT);
    dev.child.wait().unwrap();
    for old in ["Success", "Failed", "TimedOut"] {
        assert!(!dev.log().contains(&format!("outcome={old}")), "{}", dev.log());
    }
}

/// A tick's line carries its batch (`at`, `jobs`); a job's output line
/// carries its run (`attempt`, which the line itself does not name).
#[test]
fn log_lines_carry_their_tick_batch_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = spawn_dev(dir.path(), None);
    let log = dev.wait_for("line=\"dev tick tick@");
    dev.signal(libc::SIGINT);
    dev.child.wait().unwrap();
    let tick = log.lines().find(|l| l.contains("msg=\"tick enqueued\"")).expect("a tick line");
    let at = tick.split(" at=").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or_default();
    assert!(at.ends_with('Z') && at.len() >= 20, "{tick}");
    assert!(tick.contains(" jobs=1"), "{tick}");
    let output = log.lines().find(|l| l.contains("line=\"dev tick tick@")).unwrap();
    assert!(output.contains(" attempt=1"), "{output}");
    assert_eq!(output.matches(" job=tick").count(), 1, "a field the line has is not repeated: {output}");
}
