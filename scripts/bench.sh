#!/usr/bin/env bash
# Builds gort-bench (preset "release") and its peers, runs every workload at 1
# and 2 workers side by side (warm-up + 5 runs each, systems alternating), and
# prints a table of medians that it also writes to docs/benchmarks.md.
#
#   ./scripts/bench.sh                 all workloads
#   ./scripts/bench.sh spawn skynet    some of them
#   GORT_BENCH_RUNS=3 ./scripts/bench.sh
#
# Peers: Go (bench/go, needs `go`), Boost.Fiber (bench/boostfiber, the CMake
# target `boostfiber-bench`, configured only when libboost-fiber-dev is found)
# and Boost.Asio with C++20 coroutines (bench/asio, the target `asio-bench`,
# configured only when Asio's coroutines compile: libboost-dev with GCC).
# A missing peer is skipped with a note, never an error. Also writes the ratio
# chart docs/benchmarks.svg. A full run takes 15-20 minutes.
set -euo pipefail
source "$(dirname "$0")/common.sh"
preset=release
bin="$GORT_ROOT/build/$preset"
notes=()

"$GORT_ROOT/scripts/deps.sh" bench
configure_and_build "$preset" --target gort-bench
args=(--gort "$bin/bench/gort-bench")

# Go: standard library only, so it builds offline.
if command -v go >/dev/null; then
  mkdir -p "$bin/go"
  (cd "$GORT_ROOT/bench/go" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$bin/go/gortbench" .)
  args+=(--go "$bin/go/gortbench")
else
  notes+=(--note "go is not installed: Go was skipped.")
fi

# The C++ peers: bench/CMakeLists.txt adds each target only when its Boost
# library is found. peer <target> <bench.py flag>: builds it, passes it on.
peer() {
  local target="$1" flag="$2" exe
  cmake --build "$bin" --target help 2>/dev/null | grep "^$target:" >/dev/null || return 0
  cmake --build "$bin" -j "$GORT_JOBS" --target "$target"
  exe="$(find "$bin/bench" -name "$target" -type f -perm -u+x | head -1)"
  if [ -n "$exe" ]; then args+=("$flag" "$exe"); fi
}
peer boostfiber-bench --boostfiber
peer asio-bench --asio

cd "$GORT_ROOT"
exec python3 scripts/bench.py "${args[@]}" ${notes[@]+"${notes[@]}"} \
  --runs "${GORT_BENCH_RUNS:-5}" --out docs/benchmarks.md "$@"
