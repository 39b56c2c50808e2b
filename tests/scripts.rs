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
    let copy = readable_copy_of_scripts();
    let script = copy.path().join("scripts").join(script.file_name().unwrap());
    let mut command = if is_root() {
        let mut c = Command::new(which("setpriv").expect("setpriv (util-linux) is needed to drop root"));
        c.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "--"]);
        c.arg(script);
        c
    } else {
        Command::new(script)
    };
    // Not the machine's /snap/bin, where a Chromium snap may be installed.
    command
        .env_clear()
        .env("PATH", path)
        .env("HOME", "/nonexistent")
        .env("CAMPANILE_SNAP_BIN", "/nonexistent");
    command.envs(env.iter().map(|(k, v)| (*k, *v)));
    command.output().unwrap()
}

/// A copy of `scripts/` in a temp dir that every user can read, for nobody
/// to run: a checkout in root's home (mode 0700, as on a fresh machine where
/// root clones the repository) is out of nobody's reach.
fn readable_copy_of_scripts() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let copy = tempfile::tempdir().unwrap();
    let scripts = copy.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")).unwrap() {
        let entry = entry.unwrap();
        let to = scripts.join(entry.file_name());
        std::fs::copy(entry.path(), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for dir in [copy.path(), &scripts] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    copy
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
    let os_release = ubuntu_os_release();
    let out =
        run_without_root_with(&script("test"), path.path(), &[("CAMPANILE_OS_RELEASE", os_release.path())]);
    // Without `snap` on the PATH, its package snapd joins the apt packages.
    assert_stops_with(
        &out,
        "sudo apt-get install -y python3 python3-pip ruby-sidekiq nodejs npm snapd && sudo snap install chromium",
    );
}

/// An os-release file, readable by nobody, for an Ubuntu 24.04.
fn ubuntu_os_release() -> tempfile::NamedTempFile {
    let os_release = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(os_release.path(), "NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n")
        .unwrap();
    std::fs::set_permissions(os_release.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    os_release
}

/// Writes an executable shell script `name` into `dir`.
fn write_program(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[test]
fn on_ubuntu_where_snapd_cannot_run_the_test_script_installs_the_apt_packages_then_stops_with_the_snap_line()
{
    // As in a container or chroot: sudo works, apt-get installs (here it
    // writes down what it was asked), `snap` exists but snapd does not run.
    // sudo, as the real one, passes on none of the caller's environment.
    let path = bare_path(&["redis-server", "redis-cli", "openssl", "true", "env"]);
    let calls = tempfile::NamedTempFile::new().unwrap();
    std::fs::set_permissions(calls.path(), std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    write_program(path.path(), "sudo", "[ \"$1\" = -n ] && shift\nexec env -i PATH=\"$PATH\" \"$@\"\n");
    write_program(
        path.path(),
        "apt-get",
        &format!("echo \"apt-get $* (DEBIAN_FRONTEND=$DEBIAN_FRONTEND)\" >>{}\n", calls.path().display()),
    );
    write_program(
        path.path(),
        "snap",
        &format!(
            "echo \"snap $*\" >>{}\necho 'error: cannot communicate with server: Post \"http://localhost/v2/snaps\": \
             dial unix /run/snapd.socket: connect: no such file or directory' >&2\nexit 1\n",
            calls.path().display()
        ),
    );
    let os_release = ubuntu_os_release();
    let out =
        run_without_root_with(&script("test"), path.path(), &[("CAMPANILE_OS_RELEASE", os_release.path())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert_eq!(stderr.lines().last(), Some("sudo snap install chromium"), "stderr:\n{stderr}");
    assert!(stderr.contains("/run/snapd.socket"), "snap's own error is shown:\n{stderr}");
    assert_eq!(
        std::fs::read_to_string(calls.path()).unwrap(),
        "apt-get update -qq (DEBIAN_FRONTEND=)\n\
         apt-get install -y -qq python3 python3-pip ruby-sidekiq nodejs npm (DEBIAN_FRONTEND=noninteractive)\n\
         snap install chromium\n",
        "the apt packages are installed first, without questions (tzdata asks for a zone), then the snap is tried"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "test: installing python3 python3-pip ruby-sidekiq nodejs npm\ntest: installing the snap(s) chromium\n",
        "nothing is built or run"
    );
}

#[test]
fn run_script_without_root_stops_with_exit_2_and_the_install_line() {
    let path = bare_path(&["apt-get"]);
    let out = run_without_root(&script("run"), path.path());
    assert_stops_with(&out, "sudo apt-get install -y redis-server");
}

#[test]
fn on_ubuntu_the_test_script_finds_the_chromium_snap_in_snap_bin_off_the_path() {
    // A shell that is not a login shell has no /snap/bin on its PATH.
    let path = bare_path(&["apt-get", "redis-server", "redis-cli", "openssl"]);
    let snap_bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(snap_bin.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for program in ["chromium", "chromium.chromedriver"] {
        write_program(snap_bin.path(), program, "exit 0\n");
    }
    let os_release = ubuntu_os_release();
    let out = run_without_root_with(
        &script("test"),
        path.path(),
        &[("CAMPANILE_OS_RELEASE", os_release.path()), ("CAMPANILE_SNAP_BIN", snap_bin.path())],
    );
    assert_stops_with(&out, "sudo apt-get install -y python3 python3-pip ruby-sidekiq nodejs npm");
}

#[test]
fn when_pip_cannot_install_a_tool_the_test_script_stops_with_exit_2_and_the_pip_command() {
    // Every system package is there; PyPI is out of reach, and pip says so
    // in its own words.
    let path = bare_path(&[
        "redis-server",
        "redis-cli",
        "openssl",
        "chromium",
        "chromedriver",
        "sidekiq",
        "node",
        "npm",
    ]);
    write_program(
        path.path(),
        "python3",
        "[ \"$1 $2 $3\" = '-m pip --version' ] && exit 0\n\
         [ \"$1 $2\" = '-m pip' ] && { echo 'ERROR: ResolutionImpossible' >&2; exit 1; }\n\
         exit 1\n",
    );
    let out = run_without_root(&script("test"), path.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("pip could not install honcho==2.0.0 into target/tools/honcho"),
        "stderr:\n{stderr}"
    );
    assert_eq!(
        stderr.lines().last(),
        Some(
            "python3 -m pip install --disable-pip-version-check --root-user-action=ignore --upgrade \
             --constraint scripts/python-constraints.txt --target target/tools/honcho honcho==2.0.0"
        ),
        "stderr:\n{stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "test: installing honcho==2.0.0 into target/tools/honcho\n"
    );
}

/// Programs in every minimal Debian 12 and Ubuntu 24.04 (`debootstrap
/// --variant=minbase`: their essential packages), which the tests may run
/// without `scripts/test` installing them.
const IN_MINIMAL_SYSTEM: &[&str] = &[
    "sh",     // dash
    "bash",   // bash
    "script", // bsdutils
];

/// The commands `scripts/test` checks for (and installs when missing): the
/// ones after `has` or `has_any` in its `need` and `need_snap` lines.
fn commands_scripts_test_installs() -> Vec<String> {
    let text = std::fs::read_to_string(script("test")).unwrap();
    let mut commands = Vec::new();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split('#').next().unwrap().split_whitespace().collect();
        if let ["need" | "need_snap", _package, "has" | "has_any", rest @ ..] = words.as_slice() {
            commands.extend(rest.iter().map(|c| c.to_string()));
        }
    }
    assert!(commands.iter().any(|c| c == "redis-server"), "no `need … has` lines found in scripts/test");
    commands
}

#[test]
fn the_tests_run_by_name_only_programs_scripts_test_installs_or_a_minimal_system_has() {
    // `kill`, for one, is procps, which a minimal Debian lacks: the tests
    // signal processes through libc instead.
    let installed = commands_scripts_test_installs();
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [tests.clone(), tests.join("common")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut strays = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (at, _) in text.match_indices("Command::new(\"") {
            let rest = &text[at + "Command::new(\"".len()..];
            let program = &rest[..rest.find('"').unwrap()];
            if !IN_MINIMAL_SYSTEM.contains(&program) && !installed.iter().any(|c| c == program) {
                strays.push(format!("{}: {program}", file.strip_prefix(&tests).unwrap().display()));
            }
        }
    }
    assert!(
        strays.is_empty(),
        "tests run programs neither scripts/test installs nor a minimal Debian or Ubuntu has:\n{}",
        strays.join("\n")
    );
}
