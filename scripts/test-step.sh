#!/usr/bin/env bash
# Runs one test step, keeping its whole output in .local/logs/tests/<name>.log. When the step fails,
# the part of its output that says why (Vitest's "Failed Tests"/"Unhandled Errors" sections, pytest's
# FAILURES and short summary) is appended to .local/logs/tests/FAILURES.txt, which scripts/with-stack.sh
# prints again as the very last thing a failed run shows: CI logs are often read from the tail.
#   usage: scripts/test-step.sh NAME COMMAND [ARGS...]
set -uo pipefail
cd "$(dirname "$0")/.."
name=$1
shift
dir=.local/logs/tests
mkdir -p "$dir"
log="$dir/$name.log"
"$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  plain=$(sed -e 's/\x1b\[[0-9;]*m//g' "$log")
  {
    echo "===== $name failed (exit $rc); full log: $log ====="
    why=$(printf '%s\n' "$plain" | awk '
      /⎯+ (Failed Tests|Unhandled (Errors|Rejection)|Failed Suites)/ { on = 1 }
      /^=+ (FAILURES|ERRORS|short test summary info) =+$/ { on = 1 }
      on { print; n++ }
      n >= 150 { exit }')
    if [ -n "$why" ]; then printf '%s\n' "$why"; else printf '%s\n' "$plain" | tail -n 60; fi
  } >>"$dir/FAILURES.txt"
fi
exit "$rc"
