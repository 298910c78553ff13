#!/usr/bin/env bash
# Builds gort (preset "release") and runs the showcase demo, installing the
# Debian packages it needs first when they are missing. Arguments go to the
# demo. Until demos/ has a `showcase` target, it builds the demos that exist
# and runs each briefly (10 s at most, stdin closed) so they can be seen.
set -euo pipefail
source "$(dirname "$0")/common.sh"
preset=release
bin="$GORT_ROOT/build/$preset"

"$GORT_ROOT/scripts/deps.sh"
configure_and_build "$preset" --target gort >/dev/null

targets="$(cmake --build "$bin" --target help | sed -n 's/^\([A-Za-z0-9_.+-]*\): .*/\1/p')"
has_target() { grep -qx "$1" <<<"$targets"; }
demo_path() { find "$bin/demos" -name "$1" -type f -perm -u+x | head -1; }

# The demos that exist (one target per demos/*.cpp or demos/*/).
demos=()
for f in "$GORT_ROOT"/demos/*.cpp "$GORT_ROOT"/demos/*/; do
  [ -e "$f" ] || continue
  name="$(basename "${f%/}" .cpp)"
  has_target "$name" && demos+=("$name")
done

if has_target showcase; then
  # The showcase runs its sibling demo binaries: build them all.
  cmake --build "$bin" -j "$GORT_JOBS" --target "${demos[@]}"
  exe="$(demo_path showcase)"
  echo "== running $exe $*"
  exec "$exe" "$@"
fi

echo "showcase.sh: there is no \`showcase\` demo target yet (demos/showcase.cpp)."
if [ "${#demos[@]}" -eq 0 ]; then
  echo "showcase.sh: no demos exist yet either; the library built fine in $bin."
  exit 0
fi
echo "showcase.sh: building and running the demos that exist instead: ${demos[*]}"
cmake --build "$bin" -j "$GORT_JOBS" --target "${demos[@]}"
for d in "${demos[@]}"; do
  exe="$(demo_path "$d")"
  echo
  echo "== $d"
  set +e
  timeout 10 "$exe" </dev/null
  rc=$?
  set -e
  case $rc in
    0) ;;
    124) echo "== $d: still running after 10 s, stopped" ;;
    *) echo "== $d: exit status $rc" ;;
  esac
done
