#!/usr/bin/env bash
# Installs the Debian 12 packages gort needs, only when some are missing, so a
# rerun costs one dpkg query. Idempotent; runs as root (or through sudo).
#
#   scripts/deps.sh          build + tests + demos
#   scripts/deps.sh bench    the above + the benchmark peers (Go, Boost.Fiber, Boost.Asio
#                            and Beast, gnuplot) and wrk for scripts/http_bench.sh
#   scripts/deps.sh browser  the above + chromium, for the dashboard's browser
#                            test (ctest debug.browser; skipped without it)
#
# Packages of the "bench" group are best effort: a failure is a note, not an
# error, because scripts/bench.sh skips a peer that is missing.
set -euo pipefail

build_pkgs=(
  cmake ninja-build g++ make pkg-config git ccache
  libboost-context-dev libfmt-dev libdw-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libhttp-parser-dev nlohmann-json3-dev
  python3 gdb valgrind time procps curl
  clang libclang-rt-14-dev
)
bench_pkgs=(golang-go libboost-fiber-dev libboost-dev gnuplot-nox wrk)
browser_pkgs=(chromium)

missing_of() {  # prints the packages of "$@" that are not installed
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
      printf '%s\n' "$p"
    fi
  done
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "deps.sh: need root (or sudo) to run: $*" >&2; return 1
  fi
}

apt_updated=0
apt_install() {  # apt-get update once per run, then install "$@"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -q
    apt_updated=1
  fi
  as_root apt-get install -y -q --no-install-recommends "$@" </dev/null
}

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "deps.sh: not a Debian system; install by hand: ${build_pkgs[*]}" >&2
  exit 0
fi

mapfile -t missing < <(missing_of "${build_pkgs[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

if [ "${1:-}" = bench ]; then
  mapfile -t missing < <(missing_of "${bench_pkgs[@]}")
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "deps.sh: installing (best effort) ${missing[*]}"
    for p in "${missing[@]}"; do
      apt_install "$p" || echo "deps.sh: note: could not install $p; benchmarks that need it are skipped" >&2
    done
  fi
fi

if [ "${1:-}" = browser ]; then
  mapfile -t missing < <(missing_of "${browser_pkgs[@]}")
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "deps.sh: installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
fi
