#!/usr/bin/env bash
# Loads three HTTP servers with the same handler (hello + a visit counter
# behind a lock) with wrk, side by side:
#   gort   the http_server demo (demos/http_server.cpp, --workers K)
#   beast  Boost.Beast + Asio C++20 coroutines (bench/beast, --threads K),
#          when CMake built it (libboost-dev, GCC)
#   go     Go's net/http (bench/go/http, GOMAXPROCS=K), when `go` is installed
# at K = 1 and 2 server cores and 64 and 1,000 connections, on "/". For each
# point every server gets a warm-up, then RUNS runs, the servers alternating;
# the table shows medians of requests/s, of the server's CPU time per request
# (user + system, /proc/PID/stat), of how busy the server's cores and wrk
# were (CPU time over the run's length: a server below 100 % per core was
# waiting for wrk, so its requests/s are wrk's limit, not its own) and of
# wrk's p50/p99/p99.9 latency (wrk --latency; the percentiles are read from
# wrk's histogram by a Lua done() hook, since --latency prints no p99.9).
#
# Pinning (taskset): each server on cores 0..K-1; wrk on the cores after them,
# one wrk thread per core (at most 4). When no core is left for wrk (K = 2 on a
# 2-core machine) wrk runs with one thread on all cores, sharing them with the
# server: those rows say "shared" in the wrk column, and the server loses CPU
# to the load generator there, all three servers alike.
#
#   ./scripts/http_bench.sh
#   HTTP_BENCH_RUNS=5 HTTP_BENCH_DURATION=10s ./scripts/http_bench.sh
#   HTTP_BENCH_CORES="1" HTTP_BENCH_CONNS="64" ./scripts/http_bench.sh
#   HTTP_SERVER=path/http_server BEAST_HTTP=path/beast-http ./scripts/http_bench.sh  (no build)
#   BEAST_IO_CONTEXTS=shared ./scripts/http_bench.sh  (Beast's other threading, see bench/beast)
#
# wrk comes from Debian (apt-get install wrk); it is installed if missing and
# possible, else the benchmark is skipped with a note. Prints the tables as
# Markdown; writes no file.
set -euo pipefail
source "$(dirname "$0")/common.sh"
runs="${HTTP_BENCH_RUNS:-3}"
duration="${HTTP_BENCH_DURATION:-5s}"
all_conns="${HTTP_BENCH_CONNS:-64 1000}"
all_cores="${HTTP_BENCH_CORES:-1 2}"
beast_io="${BEAST_IO_CONTEXTS:-per-thread}"
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
beast="${BEAST_HTTP:-}"
if [ -z "$beast" ] && cmake --build "$bin" --target help 2>/dev/null | grep '^beast-http:' >/dev/null; then
  cmake --build "$bin" -j "$GORT_JOBS" --target beast-http
  beast="$bin/bench/beast/beast-http"
fi
notes=()
[ -n "$beast" ] || notes+=("Boost.Beast was skipped: bench/beast is not built (libboost-dev with GCC).")

tmp="$(mktemp -d)"
cleanup() {
  # start() runs in a command substitution: the servers' pids are in files.
  for f in "$tmp"/*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

gohttp=""
if command -v go >/dev/null; then
  (cd "$GORT_ROOT/bench/go/http" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$tmp/gohttp" .)
  gohttp="$tmp/gohttp"
else
  notes+=("Go net/http was skipped: go is not installed.")
fi

# 1,000 connections need that many descriptors in wrk and in each server.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi

# wrk's Lua hook: one line with what the tables need (latencies in µs).
cat >"$tmp/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50=%d p99=%d p999=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), e.connect + e.read + e.write + e.status + e.timeout))
end
EOF

have_taskset=0
if command -v taskset >/dev/null; then
  have_taskset=1
else
  notes+=("taskset is missing: nothing was pinned.")
fi
ncpu="$(nproc)"

# pin <cpu list>: the command prefix that runs a command on those cores
# (taskset execs it, so a background command's $! is the command's pid).
pin() {
  pin_cmd=()
  if [ "$have_taskset" = 1 ]; then pin_cmd=(taskset -c "$1"); fi
}

# start <name> <cpus> <command...>: starts a server on port 0, prints its address.
start() {
  local name="$1" cpus="$2"
  shift 2
  pin "$cpus"
  ${pin_cmd[@]+"${pin_cmd[@]}"} "$@" >"$tmp/$name.out" 2>&1 &
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

# stop <name>: ends that server and waits (5 s at most) until it has exited.
stop() {
  local pid
  pid="$(cat "$tmp/$1.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    # Gone, or a zombie nobody reaps (its parent was start's subshell).
    [ -e "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || break
    sleep 0.1
  done
  rm -f "$tmp/$1.pid"
}

# load <address> <connections> <duration>: wrk's RESULT line for
# http://address/, with wrk's own CPU time (user + system) appended as
# wrk_cpu_ms=N.
load() {
  local out result
  pin "$load_cpus"
  out="$(
    TIMEFORMAT='%U %S'
    { time ${pin_cmd[@]+"${pin_cmd[@]}"} wrk -t"$load_threads" -c"$2" -d"$3" --latency \
      -s "$tmp/report.lua" "http://$1/"; } 2>"$tmp/wrk.time"
  )"
  echo "$out" >>"$tmp/wrk.log"
  result="$(grep '^RESULT ' <<<"$out")" || { echo "http_bench: wrk printed no result:" >&2; echo "$out" >&2; exit 1; }
  echo "$result wrk_cpu_ms=$(awk '{printf "%d", ($1 + $2) * 1000}' "$tmp/wrk.time")"
}

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }  # field <name> < RESULT line

# cpu_ticks <pid>: user + system clock ticks the process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

hz="$(getconf CLK_TCK)"
label_gort="gort \`http_server\`" label_beast="Boost.Beast" label_go="Go net/http"
points=()
for k in $all_cores; do
  if [ "$k" -gt "$ncpu" ]; then
    notes+=("$k server cores skipped: this machine has $ncpu.")
    continue
  fi
  server_cpus="0-$((k - 1))"
  if [ "$ncpu" -gt "$k" ]; then
    load_cpus="$k-$((ncpu - 1))" load_threads=$((ncpu - k > 4 ? 4 : ncpu - k)) load_where="cores $load_cpus"
    [ "$k" = $((ncpu - 1)) ] && load_cpus="$k" load_where="core $k"
  else
    load_cpus="0-$((ncpu - 1))" load_threads=1 load_where="shared"
  fi
  systems=(gort)
  addr_gort="$(start gort "$server_cpus" "$server" --addr 127.0.0.1:0 --workers "$k")"
  if [ -n "$beast" ]; then
    addr_beast="$(start beast "$server_cpus" "$beast" --addr 127.0.0.1:0 --threads "$k" --io-contexts "$beast_io")"
    systems+=(beast)
  fi
  if [ -n "$gohttp" ]; then
    addr_go="$(GOMAXPROCS="$k" start go "$server_cpus" "$gohttp" -addr 127.0.0.1:0)"
    systems+=(go)
  fi
  for c in $all_conns; do
    points+=("$k $c $load_where")
    for s in "${systems[@]}"; do
      a="addr_$s"
      load "${!a}" "$c" 1s >/dev/null  # warm-up
    done
    for i in $(seq 1 "$runs"); do
      for s in "${systems[@]}"; do
        a="addr_$s"
        pid="$(cat "$tmp/$s.pid")"
        t0="$(cpu_ticks "$pid")"
        r="$(load "${!a}" "$c" "$duration")"
        t1="$(cpu_ticks "$pid")"
        req="$(field requests <<<"$r")" us="$(field duration_us <<<"$r")" err="$(field errors <<<"$r")"
        # requests/s, server CPU µs per request, p50, p99, p99.9 in ms, server
        # busy % per core, wrk CPU % (of one core)
        line="$(awk -v n="$req" -v d="$us" -v t="$((t1 - t0))" -v hz="$hz" -v k="$k" \
          -v p50="$(field p50 <<<"$r")" -v p99="$(field p99 <<<"$r")" -v p999="$(field p999 <<<"$r")" \
          -v w="$(field wrk_cpu_ms <<<"$r")" 'BEGIN {
            printf "%.0f %.2f %.3f %.3f %.3f %.0f %.0f", n / (d / 1e6), t / hz * 1e6 / n, p50 / 1e3, p99 / 1e3,
              p999 / 1e3, t / hz / (d / 1e6) / k * 100, w / (d / 1e3) * 100 }')"
        echo "$line" >>"$tmp/res.$k.$c.$s"
        echo "cores=$k conns=$c run $i $s: requests/s, CPU µs/request, p50/p99/p99.9 ms, server busy %, wrk CPU %: $line"
        if [ "$err" != 0 ]; then
          notes+=("$s, $k cores, $c connections, run $i: wrk counted $err socket errors or non-2xx answers.")
        fi
      done
    done
  done
  for s in "${systems[@]}"; do stop "$s"; done
done

# med <k> <c> <system> <column 1-7>: the median of that column, or empty.
med() {
  local f="$tmp/res.$1.$2.$3"
  [ -f "$f" ] && awk -v c="$4" '{print $c}' "$f" | median || true
}

# paired <k> <c> <peer> <column>: the median over runs of gort's value in
# that column divided by the peer's in the same run. The servers alternate
# run by run, so a slower or faster spell of the machine that spans a run
# moves both numbers of its pair and leaves their ratio.
paired() {
  paste -d' ' "$tmp/res.$1.$2.gort" "$tmp/res.$1.$2.$3" |
    awk -v c="$4" '{n = NF / 2; if ($(n + c) > 0) print $c / $(n + c)}' | median
}

echo
echo "### HTTP: hello + a counter behind a lock, \`wrk -c<connections> -d$duration\` on \"/\""
echo
echo "Medians of $runs runs after a warm-up, servers alternating. Server CPU: user + system time"
echo "per request. Busy: CPU time over the run's length, the server's per core and wrk's (a"
echo "server below 100 % waited for wrk). Latency: wrk's percentiles (ms)."
echo
echo "| server cores | connections | wrk on | server | requests/s | server CPU µs/request | server busy % | wrk busy % | p50 ms | p99 ms | p99.9 ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for p in "${points[@]}"; do
  read -r k c where <<<"$p"
  for s in gort beast go; do
    [ -f "$tmp/res.$k.$c.$s" ] || continue
    l="label_$s"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$k" "$c" "$where" "${!l}" \
      "$(med "$k" "$c" "$s" 1 | awk '{s = sprintf("%d", $1); r = "";
        while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
        print s r}')" "$(med "$k" "$c" "$s" 2)" "$(med "$k" "$c" "$s" 6)" "$(med "$k" "$c" "$s" 7)" \
      "$(med "$k" "$c" "$s" 3)" "$(med "$k" "$c" "$s" 4)" "$(med "$k" "$c" "$s" 5)"
  done
done

# gort against each peer: requests/s ratio, of the medians and run by run
# (target on one core: ≥ 1.15 against Beast, ≥ 1.6 against Go, judged on
# the run-by-run median), CPU per request ratio, and p99 (target: gort's at
# most each peer's).
echo
echo "Ratios: of the medians above, and the median of the ratios run by run (each run's servers"
echo "ran back to back; the targets are judged on these)."
echo
echo "| server cores | connections | peer | gort ÷ peer requests/s (medians) | run by run | gort ÷ peer CPU/request | gort p99 ≤ peer p99 |"
echo "|---|---|---|---|---|---|---|"
for p in "${points[@]}"; do
  read -r k c where <<<"$p"
  for s in beast go; do
    [ -f "$tmp/res.$k.$c.$s" ] && [ -f "$tmp/res.$k.$c.gort" ] || continue
    l="label_$s"
    target=""
    if [ "$k" = 1 ]; then target="$([ "$s" = beast ] && echo 1.15 || echo 1.6)"; fi
    awk -v k="$k" -v c="$c" -v peer="${!l}" -v t="$target" -v rr="$(paired "$k" "$c" "$s" 1)" \
      -v gr="$(med "$k" "$c" gort 1)" -v pr="$(med "$k" "$c" "$s" 1)" \
      -v gc="$(med "$k" "$c" gort 2)" -v pc="$(med "$k" "$c" "$s" 2)" \
      -v g99="$(med "$k" "$c" gort 4)" -v p99="$(med "$k" "$c" "$s" 4)" 'BEGIN {
        r = pr > 0 ? gr / pr : 0
        mark = (t == "") ? "" : (rr >= t ? " ✓" : " ✗ (≥ " t ")")
        cr = pc > 0 ? gc / pc : 0
        printf "| %s | %s | %s | %.3f | %.3f%s | %.2f | %s (%.3f vs %.3f ms) |\n", k, c, peer, r, rr, mark, cr,
          (g99 <= p99 ? "✓" : "✗"), g99, p99
      }'
  done
done
if [ "${#notes[@]}" -gt 0 ]; then
  echo
  for n in "${notes[@]}"; do echo "- $n"; done
fi
echo
echo "Reproduce: HTTP_BENCH_RUNS=$runs HTTP_BENCH_DURATION=$duration HTTP_BENCH_CORES=\"$all_cores\"" \
  "HTTP_BENCH_CONNS=\"$all_conns\" ./scripts/http_bench.sh ($ncpu cores, load average at the end:" \
  "$(cut -d' ' -f1-3 /proc/loadavg))"
