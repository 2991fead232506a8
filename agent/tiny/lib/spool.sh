# The tiny agent's spool on flash: segments $STATE_DIR/spool/<first seq>, one report (a JSON line) each line,
# appended once per cycle and never rewritten. $STATE_DIR/acked holds the highest sequence the collector
# acknowledged (or that was refused and counted); a segment whose reports are all at or below it is deleted,
# at which point $STATE_DIR/seq records the last sequence (the newest segment's last line says it otherwise).
# So while the collector is unreachable a cycle writes one file: one append to the newest segment
# (a new segment when it is full, the oldest deleted when the spool is over SPOOL_MAX_BYTES).

spool_dir() { echo "$STATE_DIR/spool"; }

# Segments oldest first (names are first sequences: numeric sort).
spool_segments() { ls "$STATE_DIR/spool" 2>/dev/null | grep -E '^[0-9]+$' | sort -n; }

# Highest sequence held in the spool, or empty.
spool_last_seq() {
	_last=$(spool_segments | tail -n 1)
	[ -n "$_last" ] || return 0
	# The last complete line (a kill -9 mid-append leaves a partial one, which is never sent).
	grep '^{.*}$' "$STATE_DIR/spool/$_last" | tail -n 1 | sed -n 's/.*"seq":\([0-9]*\),.*/\1/p'
}

spool_bytes() { ls -ln "$STATE_DIR/spool" 2>/dev/null | awk '{ s += $5 } END { print s + 0 }'; }

# Segments that may hold reports above the acked mark, oldest first (a segment followed by one starting at or
# below ACKED + 1 is wholly acknowledged: never read again).
spool_pending() {
	spool_segments | awk -v a="$ACKED" 'NR > 1 && !($1 + 0 <= a + 1) { print prev } { prev = $1 } END { if (NR) print prev }'
}

# Reports waiting (above the acked mark); only the first pending segment is read line by line.
spool_waiting() {
	_t=0
	for s in $(spool_pending); do
		if [ "$s" -gt "$ACKED" ]; then
			_t=$((_t + $(grep -c '^{.*}$' "$STATE_DIR/spool/$s")))
		else
			_t=$((_t + $(awk -v a="$ACKED" '/^\{.*\}$/ { s = $0; sub(/.*"seq":/, "", s); sub(/,.*/, "", s); if (s + 0 > a) n++ } END { print n + 0 }' "$STATE_DIR/spool/$s")))
		fi
	done
	echo "$_t"
}

# Appends one report line; starts a new segment when the newest is full; drops the oldest segment (counting
# its unacknowledged reports) when the spool is over SPOOL_MAX_BYTES.
spool_append() {
	_seq=$1 _line=$2
	_last=$(spool_segments | tail -n 1)
	if [ -z "$_last" ] || [ "$(wc -c <"$STATE_DIR/spool/$_last")" -ge "$SPOOL_SEGMENT_BYTES" ]; then
		_last=$_seq
	fi
	_f=$STATE_DIR/spool/$_last
	# A partial line left by a kill mid-append is ended first, so the new report starts on a line of its own.
	if [ -s "$_f" ] && [ "$(tail -c 1 "$_f" | od -An -c | tr -d ' ')" != '\n' ]; then
		_line="
$_line"
	fi
	if ! printf '%s\n' "$_line" >>"$_f"; then
		DROPPED=$((DROPPED + 1))
		log error AGT_ERR_SPOOL_IO "report $_seq could not be stored in $_f: dropped and counted"
		return 1
	fi
	spool_trim
}

spool_trim() {
	while [ "$(spool_bytes)" -gt "$SPOOL_MAX_BYTES" ] && [ "$(spool_segments | wc -l)" -gt 1 ]; do
		_old=$(spool_segments | head -n 1)
		_lost=$(awk -v a="$ACKED" '/^\{.*\}$/ { s = $0; sub(/.*"seq":/, "", s); sub(/,.*/, "", s); if (s + 0 > a) n++ } END { print n + 0 }' "$STATE_DIR/spool/$_old")
		rm -f "$STATE_DIR/spool/$_old"
		if [ "$_lost" -gt 0 ]; then
			DROPPED=$((DROPPED + _lost))
			log error AGT_ERR_SPOOL_FULL "spool over SPOOL_MAX_BYTES=$SPOOL_MAX_BYTES: the oldest $_lost reports dropped and counted"
			counters_save
		fi
	done
}

# Up to $1 waiting reports, oldest first, one a line, into file $2.
spool_take() {
	spool_pending | while read -r s; do cat "$STATE_DIR/spool/$s"; done |
		awk -v a="$ACKED" -v max="$1" '/^\{.*\}$/ { s = $0; sub(/.*"seq":/, "", s); sub(/,.*/, "", s); if (s + 0 > a) { print; if (++n >= max) exit } }' >"$2"
}

# Marks everything up to $1 done: acked (or refused and counted). Deletes segments that hold nothing newer.
spool_done_through() {
	[ "$1" -gt "$ACKED" ] || return 0
	ACKED=$1
	write_file "$STATE_DIR/acked" "$ACKED"
	_segs=$(spool_segments)
	_n=$(echo "$_segs" | wc -w)
	_i=0
	for s in $_segs; do
		_i=$((_i + 1))
		_next=$(echo "$_segs" | tr ' ' '\n' | sed -n "$((_i + 1))p")
		if [ -n "$_next" ]; then
			# Every report of this segment is below the next one's first sequence.
			[ "$_next" -le $((ACKED + 1)) ] && rm -f "$STATE_DIR/spool/$s"
		elif [ "$SEQ" -le "$ACKED" ]; then
			# The newest segment: emptied once the seq file holds the last sequence.
			write_file "$STATE_DIR/seq" "$SEQ" && rm -f "$STATE_DIR/spool/$s"
		fi
	done
	: "$_n"
}
