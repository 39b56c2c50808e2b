# Sourced by scripts/run and scripts/test: installs the Debian/Ubuntu packages
# they need when a command is missing, or stops with exit 2 and the one-line
# install command when it cannot (no root and no passwordless sudo, no
# apt-get).

# The packages to install: one per missing command; and the snaps.
missing=()
missing_snaps=()

# need PACKAGE TEST...: PACKAGE is missing when `TEST...` fails.
need() {
  local package=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}

has() { command -v "$1"; }

# has_any COMMAND...: one of them is on the PATH.
has_any() {
  local c
  for c in "$@"; do has "$c" && return 0; done
  return 1
}

# need_snap SNAP TEST...: like `need`, for what a distribution ships only as
# a snap (Ubuntu's Chromium: its apt packages are shims that need snapd).
need_snap() {
  local snap=$1
  shift
  "$@" >/dev/null 2>&1 && return 0
  [[ " ${missing_snaps[*]} " == *" $snap "* ]] || missing_snaps+=("$snap")
}

# The distribution's ID from os-release (`debian`, `ubuntu`, …).
distribution() {
  (. "${CAMPANILE_OS_RELEASE:-/etc/os-release}" 2>/dev/null && echo "${ID:-}") || true
}

# Installs every package in `missing` and snap in `missing_snaps`, saying
# which, or exits 2 with the command that would. What apt-get cannot install
# here stops everything before anything is installed; a snap that `snap`
# cannot install (snapd not running, as in a container or chroot, or the
# store out of reach) stops after the apt packages, with the snap's line.
install_missing() {
  [ ${#missing[@]} -eq 0 ] && [ ${#missing_snaps[@]} -eq 0 ] && return 0
  # `snap` itself comes from the snapd package.
  if [ ${#missing_snaps[@]} -gt 0 ] && ! has snap >/dev/null; then
    missing+=(snapd)
  fi
  local lines=()
  [ ${#missing[@]} -gt 0 ] && lines+=("sudo apt-get install -y ${missing[*]}")
  [ ${#missing_snaps[@]} -gt 0 ] && lines+=("sudo snap install ${missing_snaps[*]}")
  local line
  line=$(printf '%s && ' "${lines[@]}")
  line=${line% && }
  local run_as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if has sudo >/dev/null && sudo -n true 2>/dev/null; then
      run_as_root=(sudo -n)
    else
      run_as_root=(none)
    fi
  fi
  if [ "${run_as_root[0]:-}" = none ] || { [ ${#missing[@]} -gt 0 ] && ! has apt-get >/dev/null; }; then
    local tools=()
    [ ${#missing[@]} -gt 0 ] && tools+=(apt-get)
    [ ${#missing_snaps[@]} -gt 0 ] && tools+=(snap)
    echo "$(basename "$0"): missing $(echo ${missing[*]} ${missing_snaps[*]}); cannot install them here (needs ${tools[*]} as root or with passwordless sudo). Install them with:" >&2
    echo "$line" >&2
    exit 2
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "$(basename "$0"): installing ${missing[*]}"
    "${run_as_root[@]}" apt-get update -qq
    # Through `env`, as sudo drops the caller's environment: without
    # noninteractive, tzdata's configuration asks for a time zone and waits.
    "${run_as_root[@]}" env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes \
      apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#missing_snaps[@]} -gt 0 ]; then
    echo "$(basename "$0"): installing the snap(s) ${missing_snaps[*]}"
    local error
    if ! error=$("${run_as_root[@]}" snap install "${missing_snaps[@]}" 2>&1 >/dev/null); then
      [ -n "$error" ] && printf '%s\n' "$error" >&2
      echo "$(basename "$0"): snap could not install ${missing_snaps[*]} here (snapd must be running and reach the snap store). Install them with:" >&2
      echo "sudo snap install ${missing_snaps[*]}" >&2
      exit 2
    fi
  fi
}
