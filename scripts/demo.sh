#!/usr/bin/env bash
# Sets up what is missing, then runs the 20-school demo (Ctrl-C to stop, or pass --duration 60s).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npm run --silent demo -- "$@"
