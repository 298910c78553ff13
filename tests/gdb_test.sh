#!/usr/bin/env bash
# Runs gdb in batch mode on a program stopped at a deadlock and checks what
# the gort extension shows. Usage: gdb_test.sh <gort.py> <gdb_target binary> [readelf]
# Exits 77 (ctest's SKIP_RETURN_CODE) when the binary has no debug information.
set -euo pipefail
script=$1
target=$2
readelf=${3:-readelf}
# The extension reads gort's types from the DWARF debug information, which a
# build without -g (CMAKE_BUILD_TYPE=Release) does not have: skip, saying so.
# (readelf failing, e.g. missing, stops the script: set -e and pipefail.)
sections=$("$readelf" -S --wide "$target")
if ! grep -Eq '[.]z?debug_info\b' <<<"$sections"; then
  echo "gdb_test: skipped: $target has no debug information (no .debug_info section)," \
    "and the gort extension reads gort's types from it; build with -g" \
    "(CMAKE_BUILD_TYPE=Debug or RelWithDebInfo, or any preset) to run this test"
  exit 77
fi
out=$(gdb -nx -batch -ex "source $script" -ex 'set pagination off' -ex 'break gort_debug_deadlock' \
  -ex run -ex 'info gort-fibers' -ex 'gort-bt 1' -ex 'gort-bt 2' -ex 'kill' "$target" 2>&1)
echo "$out"
fail() { echo "gdb_test: $1" >&2; exit 1; }
grep -q '^3 fibers$' <<<"$out" || fail "expected 3 fibers"
grep -Eq '^goroutine 1 \[sync.WaitGroup.Wait\] at .*gdb_target.cpp:[0-9]+$' <<<"$out" || fail "main fiber line"
grep -Eq '^goroutine [0-9]+ \[sync.WaitGroup.Wait\] at .*gdb_target.cpp:[0-9]+, created by goroutine 1 at .*gdb_target.cpp:[0-9]+$' <<<"$out" \
  || fail "child fiber line"
grep -q '^goroutine 2:$' <<<"$out" || fail "gort-bt 2 header"
grep -q 'wait_forever_in_child' <<<"$out" || fail "gort-bt 2 shows the child's frames"
grep -q 'gort::wait_group::wait' <<<"$out" || fail "gort-bt shows wait_group::wait"
echo "gdb_test: ok"
