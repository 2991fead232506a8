#!/usr/bin/env bash
# Installs what campuslink needs on a fresh Debian machine with Node 20, then builds.
#   bash scripts/setup.sh demo    # what the demo runs: influxd (and ping)
#   bash scripts/setup.sh test    # everything the test suite runs (the default)
# Debian packages: installed with apt-get (progress shown) when run as root, otherwise the exact
# command is printed. .ci/run installs a superset of the "test" set.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-test}

need_node=20
have_node=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$have_node" -lt "$need_node" ]; then
  echo "campuslink needs Node.js >= $need_node (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# command -> Debian package, per purpose
declare -A pkg_of
case "$purpose" in
  demo)
    # The demo embeds influxd and its agents ping loopback; nothing else.
    pkg_of=( [influxd]=influxdb [ping]=iputils-ping )
    ;;
  test)
    pkg_of=( [influxd]=influxdb [snmpd]=snmpd [snmpwalk]=snmp [snmpbulkwalk]=snmp [ping]=iputils-ping [busybox]=busybox
             [chromium]=chromium [systemd-analyze]=systemd [sqlite3]=sqlite3 [openssl]=openssl [python3]=python3 [ip]=iproute2 [iperf3]=iperf3 [prometheus]=prometheus [prometheus-alertmanager]=prometheus-alertmanager [fping]=fping [curl]=curl [haproxy]=haproxy )
    ;;
  *)
    echo "usage: bash scripts/setup.sh [demo|test]" >&2
    exit 2
    ;;
esac
missing=()
for cmd in "${!pkg_of[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then missing+=("${pkg_of[$cmd]}"); fi
done
# Chinese names in the console's screenshots (a test) need a CJK font.
if [ "$purpose" = test ] && [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then missing+=(fonts-wqy-microhei); fi
# Place names with CJK Extension A characters (湖㳇镇) need a font that has them: WenQuanYi Zen Hei does, Micro Hei does not.
if [ "$purpose" = test ] && [ ! -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; then missing+=(fonts-wqy-zenhei); fi
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ -n "${CAMPUSLINK_SETUP_DRY_RUN:-}" ]; then
    # For tests: say what would be installed, install and build nothing.
    echo "would run: apt-get update && apt-get install -y ${missing[*]}"
    exit 0
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages for the $purpose: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${missing[@]}"
  else
    echo "Missing Debian packages for the $purpose: ${missing[*]}" >&2
    echo "Install them with:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# npm ci deletes node_modules first, following a symlink into a shared install: never run it on one.
if [ -n "${CAMPUSLINK_SETUP_DRY_RUN:-}" ]; then
  echo "nothing to install"
  exit 0
fi
if [ -L node_modules ]; then
  npm ls --depth=0 >/dev/null 2>&1 || echo "node_modules is a symlink to a shared install that does not match package-lock.json; update it there (not run here)" >&2
elif [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
