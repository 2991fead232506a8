#!/usr/bin/env bash
# The whole test suite: sets up what is missing, then runs every test (unit, integration with real
# influxd/snmpd/ping). The README's Quick start and .ci/run both call exactly this.
#   bash scripts/test.sh                     # every file, in 2 mocha workers (the slowest files first)
#   bash scripts/test.sh test/x.test.ts ...  # just these, passed to mocha as they are (serial)
# CAMPUSLINK_TEST_JOBS=1 runs the whole suite in one process, as before session 6.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if [ $# -gt 0 ]; then exec npx mocha "$@"; fi
jobs=${CAMPUSLINK_TEST_JOBS:-2}
mapfile -t files < <(node test/support/order-files.cjs)
if [ "$jobs" -le 1 ]; then exec npx mocha "${files[@]}"; fi
exec npx mocha --parallel --jobs "$jobs" "${files[@]}"
