#!/usr/bin/env bash
# Sets up what the demo needs, then runs the 20-school demo (Ctrl-C to stop, or pass --duration 60s).
# Arguments are checked first (when node_modules is there already): a typo installs and starts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d node_modules ]; then npx tsx scripts/demo-args.ts "$@"; fi
bash scripts/setup.sh demo
exec npm run --silent demo -- "$@"
