#!/usr/bin/env bash
# Installs what campuslink needs on a fresh Debian machine with Node 20, then builds.
# Debian packages: installed with apt-get when run as root, otherwise the exact command is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

need_node=20
have_node=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$have_node" -lt "$need_node" ]; then
  echo "campuslink needs Node.js >= $need_node (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# command -> Debian package
declare -A pkg_of=( [influxd]=influxdb [snmpd]=snmpd [snmpwalk]=snmp [snmpbulkwalk]=snmp [ping]=iputils-ping [busybox]=busybox [chromium]=chromium [systemd-analyze]=systemd )
missing=()
for cmd in "${!pkg_of[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then missing+=("${pkg_of[$cmd]}"); fi
done
# Chinese names in the console's screenshots need a CJK font.
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them with:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
