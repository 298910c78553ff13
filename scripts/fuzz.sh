#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang 14 with
# -fsanitize=fuzzer,address,undefined) and runs each one for a while, starting
# from its committed seed corpus (fuzz/corpus/<target>/). A crash, a sanitizer
# report, a leak, an input that runs past the timeout (a hang) or past the
# memory limit fails the run; libFuzzer saves the input that did it as
# build/fuzz/artifacts/<target>-crash-<sha1> (or -leak-, -timeout-, -oom-).
#
#   ./scripts/fuzz.sh                 every target, 60 s each
#   ./scripts/fuzz.sh api             one target (api, http, ...), 60 s
#   ./scripts/fuzz.sh all 3600        every target, an hour each
#   FUZZ_ARGS="-jobs=2 -workers=2" ./scripts/fuzz.sh api 3600
#                                     more libFuzzer flags (here: 2 processes)
#
# Running longer: give more seconds. New interesting inputs are kept in
# build/fuzz/corpus/<target>/ between runs, so each run goes on from where the
# last one stopped. Replay a saved input: build/fuzz/fuzz/fuzz_<target> <file>.
# To grow the committed seed corpus, minimise into it and commit a few small
# files only:
#   build/fuzz/fuzz/fuzz_api -merge=1 fuzz/corpus/api build/fuzz/corpus/api
# A target may list extra libFuzzer flags, one per line, in
# fuzz/<target>.options, and a dictionary in fuzz/<target>.dict.
#
# The last line is "N passed, M failed" (one per target); the exit status is
# non-zero when any target failed.
set -euo pipefail
source "$(dirname "$0")/common.sh"
target="${1:-all}"
seconds="${2:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: seconds must be a positive number, not \"$seconds\"" >&2
  exit 2
fi

"$GORT_ROOT/scripts/deps.sh"
build="$GORT_ROOT/build/fuzz"
list="$build/fuzz/targets.txt"
if [ "$target" = all ]; then
  configure_and_build fuzz --target fuzz_targets
  mapfile -t targets <"$list"
else
  if [ -f "$list" ] && ! grep -qx "$target" "$list"; then
    echo "fuzz.sh: no fuzz target \"$target\" (known: $(tr '\n' ' ' <"$list"))" >&2
    exit 2
  fi
  configure_and_build fuzz --target "fuzz_$target"
  targets=("$target")
fi

export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p "$build/artifacts"
passed=0 failed=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  flags=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1
         -artifact_prefix="$build/artifacts/$t-")
  [ -f "$GORT_ROOT/fuzz/$t.dict" ] && flags+=(-dict="$GORT_ROOT/fuzz/$t.dict")
  if [ -f "$GORT_ROOT/fuzz/$t.options" ]; then
    mapfile -t extra < <(grep -v '^#' "$GORT_ROOT/fuzz/$t.options" | grep -v '^$')
    flags+=("${extra[@]}")
  fi
  # shellcheck disable=SC2206  # FUZZ_ARGS is a list of flags on purpose
  flags+=(${FUZZ_ARGS:-})
  echo "== fuzz $t: ${seconds}s from fuzz/corpus/$t (new inputs: build/fuzz/corpus/$t)"
  if "$build/fuzz/fuzz_$t" "${flags[@]}" "$corpus" "$GORT_ROOT/fuzz/corpus/$t"; then
    echo "== fuzz $t: passed"
    passed=$((passed + 1))
  else
    echo "== fuzz $t: FAILED (the input is in build/fuzz/artifacts/)" >&2
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
