#!/usr/bin/env bash
# Imports a whole CRM ticket export with samples/support-tickets.job.json against the emulator and
# checks every ticket arrived exactly once, text intact; then with samples/open-tickets.job.json, and
# checks the tasks are exactly the tickets counted open apart from the tool (bench/tickets.ts). The
# tests do the same on a small synthetic export (test/fixtures/tickets/); this is for the real thing,
# thousands of rows.
#   bash bench/tickets.sh <export.csv>
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bash bench/tickets.sh <export.csv>" >&2
  exit 2
fi
export_csv=$(realpath -e -- "$1")
cd "$(dirname "$0")/.."
npm run build --silent
npx tsc -p tsconfig.bench.json
exec node dist-bench/bench/tickets.js "$export_csv"
