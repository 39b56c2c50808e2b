//! The set-up commands README.md shows, `scripts/run` and `scripts/test`:
//! where they cannot install what is missing (no root, no passwordless sudo,
//! no apt-get) they stop at once with exit 2 and the one-line install
//! command, before building anything.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The uid and gid of `nobody` on Debian and Ubuntu.
const NOBODY: &str = "65534";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join(name)
}

/// A PATH directory holding only `tools` (linked from the system) and a
/// `sudo` that, like one that needs a password, refuses `sudo -n`.
fn bare_path(tools: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for tool in ["bash", "id", "dirname", "basename"].iter().chain(tools) {
        let found = which(tool).unwrap_or_else(|| panic!("{tool} is not on PATH; the script tests need it"));
        symlink(found, dir.path().join(tool)).unwrap();
    }
    let sudo = dir.path().join("sudo");
    std::fs::write(&sudo, "#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&sudo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // Readable by nobody.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| p.is_file())
}

/// Runs `script` with PATH set to `path`, as nobody when this test runs as
/// root (so that neither root nor sudo is available).
fn run_without_root(script: &Path, path: &Path) -> Output {
    run_without_root_with(script, path, &[])
}

/// [`run_without_root`] with more environment variables.
fn run_without_root_with(script: &Path, path: &Path, env: &[(&str, &Path)]) -> Output {
    let mut command = if is_root() {
        let mut c = Command::new(which("setpriv").expect("setpriv (util-linux) is needed to drop root"));
        c.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "--"]);
        c.arg(script);
        c
    } else {
        Command::new(script)
    };
    command.env_clear().env("PATH", path).env("HOME", "/nonexistent");
    command.envs(env.iter().map(|(k, v)| (*k, *v)));
    command.output().unwrap()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn assert_stops_with(out: &Output, install_line: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert_eq!(stderr.lines().last(), Some(install_line), "stderr:\n{stderr}");
    assert!(out.stdout.is_empty(), "nothing is built or run: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn test_script_without_root_or_apt_stops_with_exit_2_and_the_install_line() {
    let path = bare_path(&[]);
    let out = run_without_root(&script("test"), path.path());
    assert_stops_with(
        &out,
        "sudo apt-get install -y redis-server redis-tools openssl python3 python3-pip chromium chromium-driver ruby-sidekiq nodejs npm",
    );
}

#[test]
fn test_script_without_root_stops_even_with_apt_get() {
    // redis-server and openssl are there, and apt-get too.
    let path = bare_path(&["apt-get", "redis-server", "openssl"]);
    let out = run_without_root(&script("test"), path.path());
    assert_stops_with(
        &out,
        "sudo apt-get install -y redis-tools python3 python3-pip chromium chromium-driver ruby-sidekiq nodejs npm",
    );
}

#[test]
fn on_ubuntu_the_test_script_asks_for_chromium_as_a_snap() {
    let path = bare_path(&["apt-get", "redis-server", "redis-cli", "openssl"]);
    let os_release = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(os_release.path(), "NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n")
        .unwrap();
    std::fs::set_permissions(os_release.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out =
        run_without_root_with(&script("test"), path.path(), &[("CAMPANILE_OS_RELEASE", os_release.path())]);
    assert_stops_with(
        &out,
        "sudo apt-get install -y python3 python3-pip ruby-sidekiq nodejs npm && sudo snap install chromium",
    );
}

#[test]
fn run_script_without_root_stops_with_exit_2_and_the_install_line() {
    let path = bare_path(&["apt-get"]);
    let out = run_without_root(&script("run"), path.path());
    assert_stops_with(&out, "sudo apt-get install -y redis-server");
}
