#!/usr/bin/env bash
# Polls a gort::debug server's statistics once a second, as the dashboard
# does, to measure what that polling costs a running workload (run it beside
# a program that serves gort::debug, e.g. the debug_dashboard demo, or a
# gort-bench run that does).
#
#   scripts/poll_debug.sh http://127.0.0.1:6060 [SECONDS]   (default: until interrupted)
#
# Also fetches the fiber dump every second poll, as the dashboard does. Prints
# one line per poll (HTTP status, bytes, seconds taken) and a summary; exits 1
# if any poll failed.
set -euo pipefail
base="${1:?usage: poll_debug.sh http://HOST:PORT [SECONDS]}"
base="${base%/}"
seconds="${2:-0}"
case "$seconds" in ''|*[!0-9]*) echo "poll_debug.sh: SECONDS must be a whole number, not \"$seconds\"" >&2; exit 2 ;; esac
command -v curl >/dev/null || { echo "poll_debug.sh: needs curl" >&2; exit 2; }

polls=0 failed=0
start=$(date +%s)
while [ "$seconds" -eq 0 ] || [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
  for path in stats $([ $((polls % 2)) -eq 0 ] && echo fibers); do
    out=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$base/debug/gort/$path" || echo "000 0 0")
    echo "$path $out"
    [ "${out%% *}" = 200 ] || failed=$((failed + 1))
  done
  polls=$((polls + 1))
  sleep 1
done
echo "poll_debug.sh: $polls polls, $failed failed"
[ "$failed" -eq 0 ]
