#!/usr/bin/env bash
# Runs every benchmark (bench/*.bench.ts, bench/*.bench.py) and prints the table of results.
# Each benchmark writes bench/results/<name>.json; commit those with the change that moved them.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
only="${BENCH:-}"
for f in bench/*.bench.ts; do
  [ -n "$only" ] && [[ "$f" != *"$only"* ]] && continue
  echo "== $f"
  npx tsx "$f"
done
for f in bench/*.bench.py; do
  [ -n "$only" ] && [[ "$f" != *"$only"* ]] && continue
  echo "== $f"
  if [[ "$f" == *eval-physionet* ]]; then
    # The real-data benchmark needs PhysioNet folders and takes long (the whole import -> Spark ->
    # train chain): it runs when EVAL_TRAIN (and optionally EVAL_TEST) name them, as
    # `make eval-physionet TRAIN=<dir> [TEST=<dir>]` does.
    if [ -z "${EVAL_TRAIN:-}" ]; then
      echo "   skipped: set EVAL_TRAIN=<dir of .psv> [EVAL_TEST=<dir>], or run make eval-physionet TRAIN=<dir>"
      continue
    fi
    .venv/bin/python "$f" --train "$EVAL_TRAIN" ${EVAL_TEST:+--test "$EVAL_TEST"}
    continue
  fi
  .venv/bin/python "$f"
done
npx tsx bench/table.ts
