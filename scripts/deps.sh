# Sourced by scripts/run and scripts/test: installs the Debian/Ubuntu packages
# they need when a command is missing, or stops with exit 2 and the one-line
# install command when it cannot (no root and no passwordless sudo, no
# apt-get).

# The packages to install: one per missing command.
missing=()

# need PACKAGE TEST...: PACKAGE is missing when `TEST...` fails.
need() {
  local package=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}

has() { command -v "$1"; }

# Installs every package in `missing`, saying which, or exits 2.
install_missing() {
  [ ${#missing[@]} -eq 0 ] && return 0
  local line="sudo apt-get install -y ${missing[*]}"
  local run_as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if has sudo >/dev/null && sudo -n true 2>/dev/null; then
      run_as_root=(sudo -n)
    else
      run_as_root=(none)
    fi
  fi
  if ! has apt-get >/dev/null || [ "${run_as_root[0]:-}" = none ]; then
    echo "$(basename "$0"): missing ${missing[*]}; cannot install them here (needs apt-get as root or with passwordless sudo). Install them with:" >&2
    echo "$line" >&2
    exit 2
  fi
  echo "$(basename "$0"): installing ${missing[*]}"
  "${run_as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${run_as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}
