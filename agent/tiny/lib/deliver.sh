# Delivery: batches of the oldest waiting reports to POST /api/v1/reports (JSON + gzip), and the answers
# handled as the full agent does (protocol/errors.ts agentActionFor, agent/transport/policy.ts):
#   2xx              forget the accepted sequences; store newToken (rotation); measure the clock offset
#   400/413/415/4xx  a batch of several: sent again report by report; a single report: dropped and counted
#   401/403          pause sending AUTH_RETRY_MIN_S, doubling to AUTH_RETRY_MAX_S; the spool is kept; never for good
#   429/5xx/none     keep everything; back off (full jitter, BACKOFF_BASE_S doubling to BACKOFF_MAX_S), never
#                    sooner than Retry-After

# Random integer in 0..$1.
rand_to() { awk -v m="$1" -v s="$$$(date +%s)" 'BEGIN { srand(s % 2147483647); printf "%d\n", rand() * (m + 1) }'; }

back_off() {
	_cap=$((BACKOFF_BASE_S << (BACKOFF_N < 16 ? BACKOFF_N : 16)))
	[ "$_cap" -gt "$BACKOFF_MAX_S" ] && _cap=$BACKOFF_MAX_S
	BACKOFF_N=$((BACKOFF_N + 1))
	_d=$(rand_to "$_cap")
	[ -n "$HTTP_RETRY_AFTER" ] && [ "$_d" -lt "$HTTP_RETRY_AFTER" ] && _d=$HTTP_RETRY_AFTER
	NEXT_TRY_MS=$(($(now_ms) + _d * 1000))
	_code=AGT_ERR_COLLECTOR_UNAVAILABLE
	[ -n "$HTTP_TLS_FAILED" ] && _code=AGT_ERR_TLS_REFUSED
	log warn "$_code" "collector $COLLECTOR_URL: $1; reports kept, next try in ${_d} s"
}

auth_pause() {
	_p=$((AUTH_RETRY_MIN_S << (AUTH_N < 16 ? AUTH_N : 16)))
	[ "$_p" -gt "$AUTH_RETRY_MAX_S" ] && _p=$AUTH_RETRY_MAX_S
	AUTH_N=$((AUTH_N + 1))
	_now=$(date +%s)
	NEXT_TRY_MS=$(($(now_ms) + _p * 1000))
	if [ $((_now - AUTH_LOGGED_S)) -ge 3600 ]; then
		AUTH_LOGGED_S=$_now
		log error "$2" "$1; sending paused ${_p} s (doubling to ${AUTH_RETRY_MAX_S} s), spool kept, tried again by itself"
	fi
}

answer_ok() {
	BACKOFF_N=0 AUTH_N=0 AUTH_LOGGED_S=0 NEXT_TRY_MS=0
}

# The collector's error code in the body, when it sent one.
error_code() { sed -n 's/.*"code":"\([A-Z_]*\)".*/\1/p' "$RUN_DIR/http.body" | head -n 1; }

# JSON value of key $1 (number or string) in file $2, first occurrence.
json_num() { sed -n "s/.*\"$1\":\(-\{0,1\}[0-9][0-9]*\).*/\1/p" "$2" | head -n 1; }
json_str() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }

# Measures the clock offset from serverTime against the request's midpoint ($1 = start ms, $2 = end ms).
clock_from_ack() {
	_st=$(json_num serverTime "$RUN_DIR/http.body")
	[ -n "$_st" ] || return 0
	[ $(($2 - $1)) -le 30000 ] || return 0
	CLOCK_OFFSET_MS=$((_st - ($1 + $2) / 2))
}

# Token rotation: newToken in the ack is stored durably, then used from the next request on.
take_new_token() {
	_nt=$(sed -n 's/.*"newToken":{\([^}]*\)}.*/\1/p' "$RUN_DIR/http.body" | head -n 1)
	[ -n "$_nt" ] || return 0
	echo "$_nt" >"$RUN_DIR/newtoken"
	_tok=$(json_str token "$RUN_DIR/newtoken")
	_tid=$(json_str id "$RUN_DIR/newtoken")
	[ -n "$_tok" ] || return 0
	if credential_write "$CRED_SCHOOL" "$CRED_AGENT" "$_tok" "$_tid" "$CRED_SOURCE"; then
		CRED_TOKEN=$_tok
		log info - "token rotated (new token id $_tid), used from the next request on"
	else
		log error AGT_ERR_CREDENTIAL_IO "the rotated token could not be stored in $STATE_DIR/credential: the old one stays in use"
	fi
}

# Sends the report lines of file $1 as one batch. Sets BATCH_RESULT: ok | refused (dropped, go on) | stop.
send_batch() {
	_lines=$1
	_t0=$(now_ms)
	{
		printf '{"reports":['
		sed -e "s/^{/{\"school\":\"$CRED_SCHOOL\",\"agent\":\"$CRED_AGENT\",\"epoch\":\"$EPOCH\"$KIND_FIELD,/" -e "s/\"sentAt\":0,/\"sentAt\":$_t0,/" "$_lines" | awk 'NR > 1 { printf "," } { printf "%s", $0 }'
		printf ']}'
	} >"$RUN_DIR/batch.json"
	# BusyBox wget posts a file only up to its first NUL byte: it (and uclient-fetch) get plain JSON.
	case $(http_pick_client "$COLLECTOR_URL") in
	wget | uclient-fetch) _enc= && mv -f "$RUN_DIR/batch.json" "$RUN_DIR/batch.gz" ;;
	*) _enc=gzip && gzip -c "$RUN_DIR/batch.json" >"$RUN_DIR/batch.gz" && rm -f "$RUN_DIR/batch.json" ;;
	esac
	http_request POST "$COLLECTOR_URL/api/v1/reports" "$RUN_DIR/batch.gz" "$_enc" "$CRED_TOKEN"
	_t1=$(now_ms)
	[ "$HTTP_STATUS" = 000 ] || SENT_BYTES=$((SENT_BYTES + $(wc -c <"$RUN_DIR/batch.gz")))
	_prev_sent=$SENT_MAX
	_last=$(sed -n '$s/.*"seq":\([0-9]*\),.*/\1/p' "$_lines")
	[ "$_last" -gt "$SENT_MAX" ] && SENT_MAX=$_last
	_n=$(wc -l <"$_lines")
	case $HTTP_STATUS in
	2??)
		_acc=$(sed -n 's/.*"accepted":\[\([0-9,]*\)\].*/\1/p' "$RUN_DIR/http.body" | head -n 1)
		if [ -z "$(json_num serverTime "$RUN_DIR/http.body")" ]; then
			back_off "answered $HTTP_STATUS without a valid ack"
			BATCH_RESULT=stop
			return
		fi
		# The highest sequence up to which every report of the batch was accepted.
		_done=$(sed -n 's/.*"seq":\([0-9]*\),.*/\1/p' "$_lines" | awk -v acc="$_acc" '
			BEGIN { n = split(acc, a, ","); for (i = 1; i <= n; i++) ok[a[i]] = 1 }
			{ if (!($1 in ok)) exit; d = $1 } END { print d + 0 }')
		answer_ok
		clock_from_ack "$_t0" "$_t1"
		take_new_token
		if cloned "$_prev_sent"; then
			BATCH_RESULT=ok
			return
		fi
		[ "$_done" -gt 0 ] && spool_done_through "$_done"
		counters_save
		BATCH_RESULT=ok
		[ "$_done" -ge "$(sed -n '$s/.*"seq":\([0-9]*\),.*/\1/p' "$_lines")" ] || BATCH_RESULT=stop
		;;
	401 | 403)
		auth_pause "collector answered $HTTP_STATUS $(error_code)" AGT_ERR_AUTH_REJECTED
		BATCH_RESULT=stop
		;;
	429 | 5?? | 000)
		if [ "$HTTP_STATUS" = 000 ]; then back_off "no answer (${HTTP_ERROR:-no HTTP answer})"; else back_off "answered $HTTP_STATUS $(error_code)"; fi
		BATCH_RESULT=stop
		;;
	*)
		if [ "$_n" -gt 1 ]; then
			log warn AGT_ERR_REPORT_REJECTED "collector answered $HTTP_STATUS $(error_code) for a batch of $_n: sending it report by report"
			# Own names: send_batch below sets _lines and _n again.
			_rf=$_lines _rn=$_n _rk=0
			while [ "$_rk" -lt "$_rn" ]; do
				_rk=$((_rk + 1))
				sed -n "${_rk}p" "$_rf" >"$RUN_DIR/single"
				send_batch "$RUN_DIR/single"
				[ "$BATCH_RESULT" = stop ] && return
			done
			BATCH_RESULT=ok
			return
		fi
		_seq=$(sed -n 's/.*"seq":\([0-9]*\),.*/\1/p' "$_lines")
		DROPPED=$((DROPPED + 1))
		log error AGT_ERR_REPORT_REJECTED "report $_seq refused: $HTTP_STATUS $(error_code) $(head -c 300 "$RUN_DIR/http.body"): dropped and counted"
		spool_done_through "$_seq"
		counters_save
		BATCH_RESULT=refused
		;;
	esac
}

# The collector held already a report this process made and never sent (a duplicate above $1): another box
# runs with a copy of this state (a cloned flash). A new epoch starts and the batch goes again under it, so the
# reports of both boxes are kept (docs/protocol.md, Epochs).
cloned() {
	_dups=$(sed -n 's/.*"duplicates":\[\([0-9,]*\)\].*/\1/p' "$RUN_DIR/http.body" | head -n 1)
	[ -n "$_dups" ] || return 1
	echo "$_dups" | tr ',' '\n' | awk -v m="$1" '$1 + 0 > m { f = 1 } END { exit !f }' || return 1
	_old=$EPOCH
	EPOCH=$(new_epoch)
	write_file "$STATE_DIR/epoch" "$EPOCH"
	log error AGT_ERR_STATE_CLONED "the collector already held reports $_dups of epoch $_old that this agent had just made: another box uses a copy of this state; new epoch $EPOCH, the reports are sent again under it"
	return 0
}

# One delivery round: the backlog oldest first, at most MAX_BATCHES_PER_ROUND batches of BATCH_REPORTS.
deliver() {
	[ "$(now_ms)" -ge "$NEXT_TRY_MS" ] || return 0
	identity_ready || return 0
	_b=0
	while [ "$_b" -lt "$MAX_BATCHES_PER_ROUND" ]; do
		spool_take "$BATCH_REPORTS" "$RUN_DIR/batch"
		[ -s "$RUN_DIR/batch" ] || break
		send_batch "$RUN_DIR/batch"
		[ "$BATCH_RESULT" = stop ] && break
		_b=$((_b + 1))
	done
	rm -f "$RUN_DIR/batch" "$RUN_DIR/batch.gz" "$RUN_DIR/single"
}
