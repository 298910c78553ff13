#!/usr/bin/env bash
# Loads the http_server demo with wrk and, where `go` is installed, a Go
# net/http server with the same handler (bench/go/http), side by side:
# each server pinned to core 0, wrk (-t1 -c64 -d5s on "/") pinned to core 1,
# the two systems alternating, 3 runs each after a warm-up. Prints the
# requests/sec medians, the server CPU time per request, and the gort/Go
# ratios of both.
#
#   ./scripts/http_bench.sh
#   HTTP_BENCH_RUNS=5 HTTP_BENCH_DURATION=10s ./scripts/http_bench.sh
#   HTTP_SERVER=/path/to/http_server ./scripts/http_bench.sh   (skip the build)
#
# wrk comes from Debian (apt-get install wrk); it is installed if missing and
# possible, else the benchmark is skipped with a note.
set -euo pipefail
source "$(dirname "$0")/common.sh"
runs="${HTTP_BENCH_RUNS:-3}"
duration="${HTTP_BENCH_DURATION:-5s}"
conns="${HTTP_BENCH_CONNS:-64}"
preset=release
bin="$GORT_ROOT/build/$preset"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y wrk >/dev/null || true
  fi
  if ! command -v wrk >/dev/null; then
    echo "http_bench: wrk is not installed (apt-get install wrk): skipped." >&2
    exit 0
  fi
fi

server="${HTTP_SERVER:-}"
if [ -z "$server" ]; then
  configure_and_build "$preset" --target http_server
  server="$bin/demos/http_server"
fi

# Pinning: servers on core 0, wrk on core 1 (when there are two cores).
pin_server=() pin_load=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0) pin_load=(taskset -c 1)
else
  echo "http_bench: fewer than 2 cores or no taskset: running unpinned." >&2
fi

tmp="$(mktemp -d)"
cleanup() {
  # start() runs in a command substitution: the servers' pids are in files.
  for f in "$tmp"/*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start <name> <command...>: starts a server on port 0, prints its address.
start() {
  local name="$1"
  shift
  "${pin_server[@]}" "$@" >"$tmp/$name.out" 2>&1 &
  echo $! >"$tmp/$name.pid"
  for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$tmp/$name.out"; then
      sed -n 's/^listening on //p' "$tmp/$name.out" | head -1
      return
    fi
    sleep 0.1
  done
  echo "http_bench: $name did not start:" >&2
  cat "$tmp/$name.out" >&2
  exit 1
}

# rps <address> <duration>: wrk's requests/sec against http://address/.
rps() {
  "${pin_load[@]}" wrk -t1 -c"$conns" -d"$2" "http://$1/" | awk '/^Requests\/sec:/ {print $2}'
}

# cpu_ticks <pid>: user + system clock ticks the process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

systems=(gort)
addr_gort="$(start gort "$server" --addr 127.0.0.1:0 --workers 1)"
if command -v go >/dev/null; then
  (cd "$GORT_ROOT/bench/go/http" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$tmp/gohttp" .)
  addr_go="$(GOMAXPROCS=1 start go "$tmp/gohttp" -addr 127.0.0.1:0)"
  systems+=(go)
else
  echo "http_bench: go is not installed: Go net/http was skipped." >&2
fi

for s in "${systems[@]}"; do
  a="addr_$s"
  rps "${!a}" 1s >/dev/null  # warm-up
done
for i in $(seq 1 "$runs"); do
  for s in "${systems[@]}"; do
    a="addr_$s"
    pid="$(cat "$tmp/$s.pid")"
    t0="$(cpu_ticks "$pid")"
    r="$(rps "${!a}" "$duration")"
    t1="$(cpu_ticks "$pid")"
    # Server CPU per request (µs): the load generator's core may saturate
    # before the server's does; this shows what each request cost the server.
    us="$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v r="$r" -v d="${duration%s}" \
      'BEGIN {printf "%.2f", t / hz * 1e6 / (r * d)}')"
    echo "run $i $s: $r requests/sec, server CPU $us µs/request"
    echo "$r" >>"$tmp/$s.rps"
    echo "$us" >>"$tmp/$s.cpu"
  done
done

echo
echo "wrk -t1 -c$conns -d$duration on /, server on one core, $runs runs each (median):"
for s in "${systems[@]}"; do
  printf '  %-5s %12.0f requests/sec  %6.2f µs server CPU/request\n' "$s" \
    "$(median <"$tmp/$s.rps")" "$(median <"$tmp/$s.cpu")"
done
if [ -f "$tmp/go.rps" ]; then
  awk -v g="$(median <"$tmp/gort.rps")" -v o="$(median <"$tmp/go.rps")" \
    -v gc="$(median <"$tmp/gort.cpu")" -v oc="$(median <"$tmp/go.cpu")" \
    'BEGIN {printf "  gort/Go ratio: %.2f requests/sec, %.2f server CPU efficiency\n", g / o, oc / gc}'
fi
