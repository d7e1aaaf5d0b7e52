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
  .venv/bin/python "$f"
done
npx tsx bench/table.ts
