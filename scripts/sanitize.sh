#!/usr/bin/env bash
# Builds gort under a sanitizer and runs the test suite there (race
# detection). A sanitizer report fails the run: ASan/UBSan abort the test,
# and TSan exits non-zero (halt_on_error).
#
#   ./scripts/sanitize.sh asan      the whole suite under AddressSanitizer + UBSan (gcc)
#   ./scripts/sanitize.sh tsan      the short suite under ThreadSanitizer (clang)
#   ./scripts/sanitize.sh race      the racy demos must be reported, at 1 worker and at 2 (race_condition
#                                   races, waitgroup_sum's sleep orders nothing), the safe demos must not
#
# Left out everywhere: the million-fiber test (hours under a sanitizer), the
# gdb test (ptrace on an instrumented binary) and the package tests (they
# rebuild gort from scratch). Under TSan also the tests and demos that keep
# tens of thousands of fibers alive (TSan's per-fiber state): the TSan suite
# keeps at most 2,000 live fibers per test.
set -euo pipefail
source "$(dirname "$0")/common.sh"
mode="${1:?usage: sanitize.sh asan|tsan|race}"
shift || true
"$GORT_ROOT/scripts/deps.sh"
cd "$GORT_ROOT"

common_exclude='Million|^gdb\.|^package\.|^memcheck\.'
# Under ASan+UBSan also the test that runs the http_server demo out of file
# descriptors: UBSan's vptr check probes memory through a pipe, which a process
# with no descriptor left cannot open, so it reports the std::system_error that
# accept threw as having an invalid vptr. It runs in the other suites.
asan_exclude="$common_exclude|HttpServer\.KeepsServingWhenOutOfDescriptors"
tsan_exclude="$common_exclude|demo\.race_condition|demo\.waitgroup_sum|demo\.skynet|demo\.showcase|ThousandConcurrent|ChanStress|SelectStress|ManyFibersAcrossWorkers|IdsAreNeverReused|demo\.stats"

case "$mode" in
  asan)
    configure_and_build asan
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    exec ctest --preset asan --output-on-failure -j "$GORT_JOBS" --timeout 600 -E "$asan_exclude" "$@"
    ;;
  tsan)
    configure_and_build tsan
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    exec ctest --preset tsan --output-on-failure -j "$GORT_JOBS" --timeout 600 -E "$tsan_exclude" "$@"
    ;;
  race)
    racy="race_condition waitgroup_sum"
    clean="atomic_sum mutex_messages channels pipeline fan_out_fan_in return_channel buffers read_them"
    # shellcheck disable=SC2086
    configure_and_build tsan --target $racy $clean
    bin="$GORT_ROOT/build/tsan/demos"
    export TSAN_OPTIONS="halt_on_error=0"
    checks=0
    # Go's -race promise: a race is reported whether or not the fibers ran at
    # the same time, so at 1 worker (fibers taking turns) as at 2.
    for workers in 1 2; do
      for demo in $racy; do
        if [ "$demo" = race_condition ]; then
          out=$("$bin/$demo" "$workers" 2>&1 || true)
        else
          out=$(GORT_MAXPROCS=$workers "$bin/$demo" 2>&1 || true)
        fi
        if ! grep -q "WARNING: ThreadSanitizer: data race" <<<"$out"; then
          echo "$out"
          echo "race check: FAILED - TSan did not report the race in $demo at $workers worker(s)" >&2
          exit 1
        fi
        echo "race check: $demo reported at $workers worker(s), as it should be"
        checks=$((checks + 1))
      done
      for demo in $clean; do
        out=$(GORT_MAXPROCS=$workers "$bin/$demo" 2>&1) || {
          echo "$out"
          echo "race check: $demo failed at $workers worker(s)" >&2
          exit 1
        }
        if grep -q "ThreadSanitizer" <<<"$out"; then
          echo "$out"
          echo "race check: FAILED - TSan reported a race in $demo at $workers worker(s)" >&2
          exit 1
        fi
        echo "race check: $demo clean at $workers worker(s)"
        checks=$((checks + 1))
      done
    done
    echo "$checks passed, 0 failed"
    ;;
  *)
    echo "sanitize.sh: unknown mode \"$mode\" (asan, tsan or race)" >&2
    exit 2
    ;;
esac
