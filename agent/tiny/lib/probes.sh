# Probes of the tiny agent. Each prints measurements as JSON objects, one a line.

# PING_TARGETS="role:host …" (roles: gateway isp platform peer internet). All targets are pinged at once.
probe_ping() {
	_i=0
	for t in $PING_TARGETS; do
		_i=$((_i + 1))
		ping -c "$PING_COUNT" -i "$PING_INTERVAL_S" -W "$PING_TIMEOUT_S" -w $((PING_COUNT * ${PING_INTERVAL_S%.*} + PING_TIMEOUT_S + 1)) "${t#*:}" >"$RUN_DIR/ping.$_i" 2>&1 &
	done
	wait
	_i=0
	for t in $PING_TARGETS; do
		_i=$((_i + 1))
		awk -v target="${t#*:}" -v role="${t%%:*}" -v count="$PING_COUNT" -v timeout_ms=$((PING_TIMEOUT_S * 1000)) -f "$LIB/ping.awk" "$RUN_DIR/ping.$_i"
		rm -f "$RUN_DIR/ping.$_i"
	done
}

# The role of interface $1: WAN_IFACES, LAN_IFACES, else other.
iface_role() {
	for w in $WAN_IFACES; do [ "$w" = "$1" ] && { echo wan; return; }; done
	for l in $LAN_IFACES; do [ "$l" = "$1" ] && { echo lan; return; }; done
	echo other
}

# IFACES (default: every interface of /proc/net/dev but lo), counters from PROC_NET_DEV, link state and speed
# from SYS_CLASS_NET; rates against the previous reading kept in RAM ($RUN_DIR/iface.state).
probe_iface() {
	_names=$IFACES
	[ -n "$_names" ] || _names=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); if ($1 != "lo") print $1 }' "$PROC_NET_DEV")
	: >"$RUN_DIR/iface.info"
	for n in $_names; do
		_d=$SYS_CLASS_NET/$n
		_idx=$(cat "$_d/ifindex" 2>/dev/null || echo 0)
		_op=$(cat "$_d/operstate" 2>/dev/null)
		_car=$(cat "$_d/carrier" 2>/dev/null)
		_up=0
		{ [ "$_op" = up ] || { [ "$_op" = unknown ] && [ "$_car" = 1 ]; }; } && _up=1
		_sp=$(cat "$_d/speed" 2>/dev/null)
		case $_sp in '' | -* | *[!0-9]*) _sp=0 ;; esac
		echo "$n $_idx $_up $_sp $(iface_role "$n")" >>"$RUN_DIR/iface.info"
	done
	[ -f "$RUN_DIR/iface.state" ] || : >"$RUN_DIR/iface.state"
	awk -v now_ms="$1" -v uptime_cs="$(uptime_cs)" -v device="$DEVICE_NAME" -v state_out="$RUN_DIR/iface.state.new" \
		-f "$LIB/iface.awk" "$RUN_DIR/iface.info" "$RUN_DIR/iface.state" "$PROC_NET_DEV" &&
		mv "$RUN_DIR/iface.state.new" "$RUN_DIR/iface.state"
}

uptime_cs() { awk '{ printf "%.0f\n", $1 * 100 }' "$PROC_UPTIME"; }

# The router itself: uptime and what it is (sys, as an SNMP device would report it).
probe_sys() {
	_descr=$(
		if [ -r /etc/openwrt_release ]; then . /etc/openwrt_release 2>/dev/null; echo "${DISTRIB_DESCRIPTION:-OpenWrt} $(uname -m)"; else uname -srm; fi
	)
	awk -v device="$DEVICE_NAME" -v descr="$_descr" '
		function jesc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/[\001-\037]/, " ", s); return s }
		{ printf "{\"name\":\"sys\",\"tags\":{\"device\":\"%s\"},\"fields\":{\"uptime_s\":%.0f,\"descr\":\"%s\",\"result_code\":0,\"errors\":0}}\n", jesc(device), $1, jesc(substr(descr, 1, 1024)) }' "$PROC_UPTIME"
}

# MODEM_URL answers a flat JSON object; its numeric snake_case keys become the `modem` measurement's fields
# (the open set of the schema), with result_code 0, or 2 (no answer) / 3 (not JSON numbers) and nothing else.
probe_modem() {
	[ -n "$MODEM_URL" ] || return 0
	http_request GET "$MODEM_URL" "" "" ""
	_rc=0
	[ "$HTTP_STATUS" = 000 ] && _rc=2
	case $HTTP_STATUS in 2??) ;; 000) ;; *) _rc=3 ;; esac
	tr ',{}' '\n\n\n' <"$RUN_DIR/http.body" | awk -v device="$MODEM_DEVICE" -v profile="$MODEM_PROFILE" -v rc="$_rc" '
		BEGIN { split("school province city county link agent target role device ifname class profile version server time result_code", r, " "); for (i in r) reserved[r[i]] = 1 }
		rc == 0 && /^ *"[a-z][a-z0-9_]*" *: *-?[0-9][0-9.eE+-]* *$/ {
			k = $0; sub(/^ *"/, "", k); sub(/".*/, "", k); v = $0; sub(/.*: */, "", v); sub(/ *$/, "", v)
			if (length(k) <= 64 && !(k in reserved) && !(k in seen) && v ~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) { seen[k] = 1; f = f "\"" k "\":" v "," ; n++ }
		}
		END { if (rc == 0 && n == 0) rc = 3; printf "{\"name\":\"modem\",\"tags\":{\"device\":\"%s\",\"profile\":\"%s\"},\"fields\":{%s\"result_code\":%d}}\n", device, profile, (rc == 0 ? f : ""), rc }'
}

# The agent's own health (the `agent` measurement); $1 = cycle_ms.
probe_agent() {
	_rss=$(rss_bytes)
	_off=
	[ -n "$CLOCK_OFFSET_MS" ] && _off=",\"clock_offset_ms\":$CLOCK_OFFSET_MS"
	printf '{"name":"agent","tags":{"version":"tiny-%s"},"fields":{"spool_reports":%s,"spool_bytes":%s,"dropped_reports":%s,"sent_bytes":%s,"cycle_ms":%s,"rss_bytes":%s,"uptime_s":%s%s}}\n' \
		"$VERSION" "$SPOOL_REPORTS" "$SPOOL_BYTES" "$DROPPED" "$SENT_BYTES" "$1" "$_rss" $(($(date +%s) - STARTED_S)) "$_off"
}

# Resident memory of the agent: the shell and whatever it runs at that moment (kB in /proc → bytes).
rss_bytes() {
	awk '/^VmRSS:/ { print $2 * 1024; exit }' "/proc/$$/status" 2>/dev/null || echo 0
}
