# Sourced by the scripts in this folder: the repository root, the job count
# and ccache as the compiler launcher when it is installed.
GORT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GORT_JOBS="${GORT_JOBS:-2}"
if [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] && command -v ccache >/dev/null; then
  # Read by CMake when it first configures a build folder.
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi

# configure_and_build <preset> [cmake --build args...]
configure_and_build() {
  local preset="$1"
  shift
  local log
  log="$(mktemp)"
  # Configure quietly; show the whole log when it fails.
  if ! (cd "$GORT_ROOT" && cmake --preset "$preset") >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  grep -iE 'warning|deprecat' "$log" >&2 || true
  rm -f "$log"
  (cd "$GORT_ROOT" && cmake --build --preset "$preset" -j "$GORT_JOBS" "$@")
}
