#!/usr/bin/env bash
# The soak run: builds tests/soak/soak.cpp and the http_server demo, then runs
# a mixed workload (HTTP load against the demo, pipelines, timers, mutex
# contention, fibers stuck in blocking OS calls, fiber churn) for
# $SOAK_SECONDS (default 600), sampling RSS, descriptors, threads and live
# fibers of both processes every second. It fails on growth beyond the bounds
# stated in tests/soak/soak.cpp, on any lost request or wrong result.
#
#   ./scripts/soak.sh                      10 minutes
#   SOAK_SECONDS=180 ./scripts/soak.sh     3 minutes
#   ./scripts/soak.sh --svg docs/soak.svg  also draws RSS over time (gnuplot)
#   GORT_PRESET=release ./scripts/soak.sh  another build (default: ci)
#
# Prints two markdown tables (the figures for docs/reliability.md) and the
# verdict; the per-second samples are in build/<preset>/soak/soak.csv. The
# same run is the ctest entry soak.mixed (label soak), which the default run
# leaves out (it belongs to the `soak` configuration):
#   SOAK_SECONDS=180 ctest --test-dir build/ci -C soak -L soak -V
set -euo pipefail
source "$(dirname "$0")/common.sh"
preset="${GORT_PRESET:-ci}"
svg=""
while [ $# -gt 0 ]; do
  case "$1" in
    --svg) svg="${2:?--svg needs a file name}"; shift 2 ;;
    *) echo "soak.sh: unknown argument \"$1\" (usage: soak.sh [--svg FILE])" >&2; exit 2 ;;
  esac
done
seconds="${SOAK_SECONDS:-600}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 10 ]; then
  echo "soak.sh: SOAK_SECONDS must be a whole number of at least 10, not \"$seconds\"" >&2
  exit 2
fi
if [ -n "$svg" ] && ! command -v gnuplot >/dev/null; then
  echo "soak.sh: --svg needs gnuplot (apt-get install gnuplot-nox, or scripts/deps.sh bench)" >&2
  exit 2
fi

"$GORT_ROOT/scripts/deps.sh"
configure_and_build "$preset" --target soak http_server
out="$GORT_ROOT/build/$preset/soak"
mkdir -p "$out"
status=0
"$GORT_ROOT/build/$preset/tests/soak/soak" --server-exe "$GORT_ROOT/build/$preset/demos/http_server" \
  --seconds "$seconds" --out "$out" || status=$?

if [ -n "$svg" ] && [ -s "$out/soak.csv" ]; then
  gnuplot <<GNUPLOT
set terminal svg size 900,420 dynamic background rgb 'white'
set output "$svg"
set datafile separator ','
set title "gort soak run: resident memory over time (${seconds} s)"
set xlabel 'time (s)'
set ylabel 'RSS (MiB)'
set yrange [0:*]
set grid
set key top left
plot "$out/soak.csv" skip 1 using 1:(\$2/1024) with lines lw 2 title 'soak (workload, HTTP client)', \
     "$out/soak.csv" skip 1 using 1:(\$6/1024) with lines lw 2 title 'http\_server demo'
GNUPLOT
  echo "soak.sh: RSS chart written to $svg"
fi
exit "$status"
