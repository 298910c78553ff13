#!/usr/bin/env bash
# Stale-reference check: the repository must explain itself from its own
# files. Fails, listing file:line and the line, when a tracked file mentions
#   - a file outside the repository: the parent directory's shared folder,
#     its contract or design notes (the user reference is docs/api.md, whose
#     sections have names, not numbers);
#   - the work tracker: an issue number, or a label citing an issue by name
#     in the form issue-colon-title or issue-quote-title;
#   - a numbered or ordinal work session or round.
# Say what a change did, and name the commit and date where history matters
# (docs/benchmarks.md does). Other projects' trackers are fine when cited
# by address (golang.org/issue/NNNN).
#
#   tests/repo_check.sh [SOURCE_DIR]     (default: the checkout holding this script)
#
# Run by ctest as repo.stale_references (label `repo`). Needs bash, GNU grep
# and, for the list of tracked files, git (no network). Without git metadata
# (an exported tree) it checks every file outside .git/ and build*/.
# Binary files are skipped, and so is this script (its patterns would match).
set -euo pipefail

root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
self="tests/repo_check.sh"
cd "$root"

# Extended regular expressions, matched case-insensitively, one per line.
patterns=(
  '\.\./shared'                          # the folder beside the checkout
  'shared/api\.md'
  'design\.md'
  'api\.md,? *(section|§)'               # citations by section number of the old contract
  '\bissues? *#?[0-9]+'                  # the word issue(s), then a number, with or without #
  '\bissues? *[:"]'                      # (issue: deadlock detection), issue "runtime core"
  '\bissues?-[0-9]+'                     # issue-7
  "\\bissues'"                           # the issues' definitions
  '\bsessions? *#?[0-9]+'                # the word session(s), then a number
  '\brounds? *#?[0-9]+\b'                # the word round(s), then a number
  '\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|[0-9]+(st|nd|rd|th)) +(work +)?(sessions?|rounds? of work|review rounds?)\b'
  '\b(second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|[0-9]+(st|nd|rd|th)) +rounds?\b'
)

args=()
for p in "${patterns[@]}"; do args+=(-e "$p"); done

list_files() {
  if git -c safe.directory='*' rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -c safe.directory='*' ls-files -z
  else
    find . -type d \( -name .git -o -name 'build*' \) -prune -o -type f -print0 | sed -z 's|^\./||'
  fi
}

hits=$(list_files | grep -zv -x -F "$self" | xargs -0 -r grep -nHIisE "${args[@]}" -- || true)
if [[ -n "$hits" ]]; then
  printf '%s\n' "$hits"
  n=$(printf '%s\n' "$hits" | wc -l)
  echo "repo_check: $n stale reference(s) above; name the repository's own files" \
    "(docs/api.md), commits and dates instead" >&2
  exit 1
fi
echo "repo_check: no stale references in $root"
