#!/usr/bin/env bash
# Builds gort-bench (preset "release") and its peers, runs every workload at 1
# and 2 workers side by side (warm-up + 5 runs each, systems alternating), and
# prints a table of medians that it also writes to docs/benchmarks.md.
#
#   ./scripts/bench.sh                 all workloads
#   ./scripts/bench.sh spawn skynet    some of them
#   GORT_BENCH_RUNS=3 ./scripts/bench.sh
#
# Peers: Go (bench/go, needs `go`) and Boost.Fiber (bench/boostfiber, the CMake
# target `boostfiber-bench`, configured only when libboost-fiber-dev is found).
# A missing peer is skipped with a note, never an error. Also writes the ratio
# chart docs/benchmarks.svg. A full run takes 10-15 minutes.
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

# Boost.Fiber: bench/CMakeLists.txt adds the target only when Boost.Fiber is found.
if [ -f "$GORT_ROOT/bench/boostfiber/CMakeLists.txt" ] &&
   cmake --build "$bin" --target help 2>/dev/null | grep '^boostfiber-bench:' >/dev/null; then
  cmake --build "$bin" -j "$GORT_JOBS" --target boostfiber-bench
  bf="$(find "$bin" -name boostfiber-bench -type f -perm -u+x | head -1)"
  [ -n "$bf" ] && args+=(--boostfiber "$bf")
fi

cd "$GORT_ROOT"
exec python3 scripts/bench.py "${args[@]}" ${notes[@]+"${notes[@]}"} \
  --runs "${GORT_BENCH_RUNS:-5}" --out docs/benchmarks.md "$@"
