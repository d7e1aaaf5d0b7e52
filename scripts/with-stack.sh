#!/usr/bin/env bash
# Runs a command with the local stack up: starts the services that are not already running,
# runs the command, then stops exactly the services it started (whatever the command's outcome),
# so a developer's running stack (e.g. from `make demo`) is left alone.
set -uo pipefail
cd "$(dirname "$0")/.."
AEPRED="node bin/aepred.js"

healthy_services() {
  $AEPRED stack status --json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{for(const r of JSON.parse(s))if(r.health==="healthy")console.log(r.service)}catch{}})'
}

before=$(healthy_services | sort)
if ! $AEPRED stack up; then
  echo "with-stack: the stack did not come up; see the log tail above and .local/logs/" >&2
  after=$(healthy_services | sort)
  started=$(comm -13 <(echo "$before") <(echo "$after") | xargs)
  [ -n "$started" ] && $AEPRED stack down $started
  exit 1
fi
after=$(healthy_services | sort)
started=$(comm -13 <(echo "$before") <(echo "$after") | xargs)

"$@"
rc=$?

if [ -n "$started" ]; then
  echo "with-stack: stopping what this run started: $started"
  $AEPRED stack down $started || rc=${rc:-1}
fi
# Why it failed, repeated last (scripts/test-step.sh collects it), so a log read from its tail shows it.
if [ "$rc" -ne 0 ] && [ -s .local/logs/tests/FAILURES.txt ]; then
  echo
  cat .local/logs/tests/FAILURES.txt
fi
exit $rc
