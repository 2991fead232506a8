#!/usr/bin/env bash
# The whole test suite: sets up what is missing, then runs every test (unit, integration with real
# influxd/snmpd/ping). The README's Quick start and .ci/run both call exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if [ $# -eq 0 ]; then set -- "test/**/*.test.ts"; fi
exec npx mocha "$@"
