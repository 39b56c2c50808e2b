//! Running one job's command: `sh -c` with the documented environment, args
//! on stdin, output streamed to the log and its tail kept, a timeout that
//! takes down the whole process group.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::Job;
use crate::payload::Payload;
use crate::run::Outcome;
use crate::time::TimeSource;

/// Bytes of output kept for the history entry.
pub const OUTPUT_TAIL: usize = 4096;

/// Bytes of one output line kept, in the log and the history entry; the
/// rest of a longer line is cut and counted.
pub const LINE_CAP: usize = 8192;

/// `args` JSON longer than this is not put in `CAMPANILE_ARGS` (the
/// environment must fit in what `execve` takes); it comes on stdin only.
pub const ARGS_ENV_LIMIT: usize = 64 * 1024;

/// Between SIGTERM and SIGKILL when a run is stopped.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// Between SIGTERM and SIGKILL for processes a command left running after
/// its shell exited.
pub const LEFTOVER_GRACE: Duration = Duration::from_secs(2);

/// What to do, once, when a run is still going after `after` (the job's
/// `warn_after`): the run goes on.
pub struct LongRunning {
    pub after: Duration,
    pub fire: Box<dyn FnOnce(Duration) + Send>,
}

/// How a command ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub output: String,
    /// Why the command could not be started, if it could not.
    pub start_error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// Runs `job`'s command (`script`, checked to exist by the caller) for
/// `payload`. `stop` interrupts it (worker shutdown). Nothing from the
/// payload reaches the shell command line: the payload's fields arrive as
/// environment variables and stdin. `long_running` is told once if the run
/// outlasts its `after`.
pub async fn execute(
    job: &Job,
    script: &str,
    payload: &Payload,
    stop: &CancellationToken,
    time: &dyn TimeSource,
    long_running: Option<LongRunning>,
) -> Finished {
    let started_at = time.now();
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(OUTPUT_TAIL)));
    let args = payload.args.to_string();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script)
        .envs(&job.env)
        .env("CAMPANILE_JOB", &payload.job)
        .env("CAMPANILE_JOB_ID", &payload.id)
        .env("CAMPANILE_SCHEDULED_AT", payload.scheduled_at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .env("CAMPANILE_ATTEMPT", payload.attempt.to_string())
        .env("CAMPANILE_QUEUE", &payload.queue)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout can signal every descendant.
        .process_group(0)
        .kill_on_drop(true);
    if args.len() <= ARGS_ENV_LIMIT {
        command.env("CAMPANILE_ARGS", &args);
    }
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls prctl(2), which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            // If the worker dies (SIGKILL, lost machine) the command dies with
            // it rather than running on while another worker recovers and
            // re-runs its payload. Survives the exec of a simple command by
            // `sh -c`; processes the command forks do not inherit it. Tied to
            // the spawning thread, which is the worker's only runtime thread.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let output = format!("cannot start sh: {e}");
            return Finished {
                outcome: Outcome::Failed,
                exit_code: None,
                signal: None,
                output,
                start_error: Some(e.to_string()),
                started_at,
                finished_at: time.now(),
            };
        }
    };
    // The run owns its stdin writer and output readers: a set aborts them
    // when it is dropped, also when the run itself is dropped. They log in
    // the run's span.
    let mut writer = JoinSet::new();
    let mut readers = JoinSet::new();
    // A command that does not read stdin closes it early: not an error.
    if let Some(mut stdin) = child.stdin.take() {
        let write = async move {
            let _ = stdin.write_all(args.as_bytes()).await;
        };
        writer.spawn(write.in_current_span());
    }
    if let Some(out) = child.stdout.take() {
        readers.spawn(stream(out, "stdout", payload.clone(), tail.clone()).in_current_span());
    }
    if let Some(err) = child.stderr.take() {
        readers.spawn(stream(err, "stderr", payload.clone(), tail.clone()).in_current_span());
    }
    let (outcome, status) = wait(&mut child, job.timeout.as_duration(), stop, long_running).await;
    // A background grandchild may hold the pipes open: give the readers a
    // moment to drain, then stop reading.
    writer.abort_all();
    let drained = tokio::time::timeout(Duration::from_millis(200), async {
        while readers.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::debug!(job = %payload.job, id = %payload.id, "output still open after exit");
        readers.abort_all();
    }
    let output = {
        let bytes: Vec<u8> = tail.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    use std::os::unix::process::ExitStatusExt;
    let (exit_code, signal) = status.map_or((None, None), |s| (s.code(), s.signal()));
    let outcome = match outcome {
        Outcome::Success if exit_code != Some(0) => Outcome::Failed,
        other => other,
    };
    Finished { outcome, exit_code, signal, output, start_error: None, started_at, finished_at: time.now() }
}

/// Waits for the child, its timeout or a stop request; on either of the
/// latter, terminates the whole process group. `long_running` fires on the
/// way, without ending the wait.
async fn wait(
    child: &mut Child,
    timeout: Duration,
    stop: &CancellationToken,
    mut long_running: Option<LongRunning>,
) -> (Outcome, Option<std::process::ExitStatus>) {
    let group = child.id().map(|pid| -(pid as i32));
    let started = tokio::time::Instant::now();
    let outcome = loop {
        let warn_at = long_running.as_ref().map(|l| started + l.after);
        tokio::select! {
            status = child.wait() => {
                if let Some(group) = group {
                    end_leftovers(group, stop).await;
                }
                return (Outcome::Success, status.ok());
            }
            _ = tokio::time::sleep_until(started + timeout) => break Outcome::TimedOut,
            _ = stop.cancelled() => break Outcome::Interrupted,
            // `Child::wait` is cancel-safe: the next pass waits on.
            _ = sleep_until_some(warn_at) => {
                if let Some(l) = long_running.take() {
                    (l.fire)(l.after);
                }
            }
        }
    };
    let status = terminate_group(child).await;
    (outcome, status)
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// After the command's shell exited: SIGTERM to whatever is left of its
/// process group (background processes it started), SIGKILL to what is
/// still there after [`LEFTOVER_GRACE`] (or at once if the worker is being
/// stopped and its grace is over).
async fn end_leftovers(group: i32, stop: &CancellationToken) {
    if !group_exists(group) {
        return;
    }
    signal(group, libc::SIGTERM);
    let deadline = tokio::time::Instant::now() + LEFTOVER_GRACE;
    while group_exists(group) && tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = stop.cancelled() => break,
        }
    }
    signal(group, libc::SIGKILL);
}

/// Whether any process is left in the process group.
fn group_exists(group: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the target exists.
    unsafe { libc::kill(group, 0) == 0 }
}

/// SIGTERM to the process group, SIGKILL after [`KILL_GRACE`]; then SIGKILL
/// again for any descendant that outlived the leader.
async fn terminate_group(child: &mut Child) -> Option<std::process::ExitStatus> {
    let Some(pid) = child.id() else { return child.wait().await.ok() };
    let group = -(pid as i32);
    signal(group, libc::SIGTERM);
    let status = match tokio::time::timeout(KILL_GRACE, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            signal(group, libc::SIGKILL);
            child.wait().await.ok()
        }
    };
    signal(group, libc::SIGKILL);
    status
}

fn signal(target: i32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; a stale group id
    // gives ESRCH, which is fine.
    unsafe {
        libc::kill(target, sig);
    }
}

/// Logs each line of one stream and keeps the last [`OUTPUT_TAIL`] bytes.
/// A line keeps at most [`LINE_CAP`] bytes, however long it runs without a
/// newline: the rest is read and counted, not kept.
async fn stream(
    mut reader: impl AsyncRead + Unpin,
    name: &'static str,
    payload: Payload,
    tail: Arc<Mutex<VecDeque<u8>>>,
) {
    let mut chunk = vec![0u8; LINE_CAP];
    let mut line = Line::default();
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for piece in chunk[..n].split_inclusive(|&b| b == b'\n') {
            let (text, ends) = match piece.split_last() {
                Some((b'\n', text)) => (text, true),
                _ => (piece, false),
            };
            line.push(text);
            if ends {
                emit(&line.take(), name, &payload, &tail);
            }
        }
    }
    if !line.is_empty() {
        emit(&line.take(), name, &payload, &tail);
    }
}

/// The line being read: its first [`LINE_CAP`] bytes and how many more.
#[derive(Default)]
struct Line {
    kept: Vec<u8>,
    cut: u64,
}

impl Line {
    fn push(&mut self, bytes: &[u8]) {
        let room = LINE_CAP - self.kept.len();
        let (keep, rest) = bytes.split_at(bytes.len().min(room));
        self.kept.extend_from_slice(keep);
        self.cut += rest.len() as u64;
    }

    fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.cut == 0
    }

    /// The line as logged and kept, with `…[cut N bytes]` if it was cut.
    fn take(&mut self) -> Vec<u8> {
        let mut text = std::mem::take(&mut self.kept);
        if self.cut > 0 {
            text.extend_from_slice(format!("…[cut {} bytes]", self.cut).as_bytes());
        }
        self.cut = 0;
        text
    }
}

fn emit(line: &[u8], name: &'static str, payload: &Payload, tail: &Mutex<VecDeque<u8>>) {
    let text = String::from_utf8_lossy(line);
    tracing::info!(job = %payload.job, id = %payload.id, stream = name, line = %text, "output");
    let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
    tail.extend(line.iter().chain(b"\n"));
    let excess = tail.len().saturating_sub(OUTPUT_TAIL);
    tail.drain(..excess);
}
