#!/usr/bin/env bash
# Builds gort and runs the whole test suite (ctest), installing the Debian
# packages it needs first when they are missing.
#
#   ./scripts/test.sh                 everything, preset "ci" (-O2 with assertions)
#   ./scripts/test.sh -R Chan         extra arguments go to ctest
#   GORT_PRESET=dev ./scripts/test.sh another preset (dev, ci, release)
#
# The last thing it prints is ctest's summary; its exit status is ctest's.
set -euo pipefail
source "$(dirname "$0")/common.sh"
preset="${GORT_PRESET:-ci}"

"$GORT_ROOT/scripts/deps.sh"
configure_and_build "$preset"
cd "$GORT_ROOT"
exec ctest --preset "$preset" --output-on-failure -j "$GORT_JOBS" "$@"
