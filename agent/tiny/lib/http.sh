# HTTP clients of the tiny agent: one POST (or GET), answering status, Retry-After and body.
# Sourced by campuslink-tiny. http_request METHOD URL BODYFILE CONTENT_ENCODING AUTH_TOKEN
# sets HTTP_STATUS (000 = no answer), HTTP_RETRY_AFTER (seconds or empty) and writes the body to $RUN_DIR/http.body.
#
# Clients, by HTTP_CLIENT (auto picks the first that fits the URL):
#   nc            http:// only; the whole answer (status, Retry-After, body): the reference for plain HTTP
#   curl          http:// and https:// (verifies the certificate; CA_FILE for a private CA); the whole answer
#   wget          BusyBox or GNU wget; on a non-2xx answer BusyBox wget gives only the status line, so
#                 Retry-After and the error body are unknown (the backoff is used instead); it posts a file only
#                 up to its first NUL byte, so the body goes as plain JSON (no gzip)
#   uclient-fetch OpenWrt's fetcher: like wget (status only on errors, plain JSON)

# Runs "$@" for at most TIMEOUT_S seconds when the timeout applet is there (nc -w and curl -m bound themselves).
bounded() {
	if command -v timeout >/dev/null 2>&1; then timeout "$TIMEOUT_S" "$@"; else "$@"; fi
}

http_pick_client() {
	case $HTTP_CLIENT in
	auto) ;;
	*) echo "$HTTP_CLIENT"; return ;;
	esac
	case $1 in
	https:*) for c in curl uclient-fetch wget; do command -v "$c" >/dev/null 2>&1 && { echo "$c"; return; }; done ;;
	*) for c in nc curl wget uclient-fetch; do command -v "$c" >/dev/null 2>&1 && { echo "$c"; return; }; done ;;
	esac
	echo none
}

# Splits URL into U_HOST U_PORT U_PATH (http:// only, for nc).
http_split_url() {
	_rest=${1#http://}
	_hp=${_rest%%/*}
	U_PATH=/${_rest#"$_hp"}
	U_PATH=${U_PATH#/}
	U_PATH=/${U_PATH#/}
	case $_hp in
	\[*\]:*) U_HOST=${_hp%]:*}; U_HOST=${U_HOST#[}; U_PORT=${_hp##*]:} ;;
	*:*) U_HOST=${_hp%:*}; U_PORT=${_hp##*:} ;;
	*) U_HOST=$_hp; U_PORT=80 ;;
	esac
}

http_request() {
	_m=$1 _url=$2 _bf=$3 _enc=$4 _tok=$5
	HTTP_STATUS=000 HTTP_RETRY_AFTER= HTTP_ERROR= HTTP_TLS_FAILED=
	_out=$RUN_DIR/http.body _hdr=$RUN_DIR/http.head
	rm -f "$_out" "$_hdr"
	_c=$(http_pick_client "$_url")
	case $_c in
	nc) http_nc ;;
	curl) http_curl ;;
	wget | uclient-fetch) http_wget "$_c" ;;
	*) log error AGT_ERR_COLLECTOR_UNAVAILABLE "no HTTP client for $_url (HTTP_CLIENT=$HTTP_CLIENT): install curl or busybox nc/wget" ;;
	esac
	: >>"$_out"
	case $HTTP_RETRY_AFTER in *[!0-9]* | '') HTTP_RETRY_AFTER= ;; esac
}

http_nc() {
	case $_url in http://*) ;; *) log error AGT_ERR_COLLECTOR_UNAVAILABLE "HTTP_CLIENT=nc speaks only http://, not $_url"; return ;; esac
	http_split_url "$_url"
	_len=0
	[ "$_m" = POST ] && _len=$(wc -c <"$_bf")
	_hostport=$U_HOST
	[ "$U_PORT" = 80 ] || _hostport=$U_HOST:$U_PORT
	# BusyBox nc closes the connection when its input ends, before the answer came: the request goes
	# through a FIFO whose writer stays open (a sleep) until nc has read the answer, then is killed.
	_fifo=$RUN_DIR/nc.fifo
	rm -f "$_fifo"
	mkfifo "$_fifo" || return 0
	nc -w "$TIMEOUT_S" "$U_HOST" "$U_PORT" <"$_fifo" >"$_out.raw" 2>/dev/null &
	_ncpid=$!
	(
		printf '%s %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: campuslink-tiny/%s\r\n' "$_m" "$U_PATH" "$_hostport" "$VERSION"
		[ -n "$_tok" ] && printf 'Authorization: Bearer %s\r\n' "$_tok"
		if [ "$_m" = POST ]; then
			printf 'Content-Type: application/json\r\nContent-Length: %s\r\n' "$_len"
			[ -n "$_enc" ] && printf 'Content-Encoding: %s\r\n' "$_enc"
		fi
		printf '\r\n'
		[ "$_m" = POST ] && cat "$_bf"
		exec sleep "$TIMEOUT_S"
	) >"$_fifo" 2>/dev/null &
	_wpid=$!
	wait "$_ncpid"
	kill "$_wpid" 2>/dev/null
	wait "$_wpid" 2>/dev/null
	rm -f "$_fifo"
	# Status line, headers up to the empty line, then the body.
	awk -v hdr="$_hdr" -v body="$_out" '
		!inbody { sub(/\r$/, ""); if ($0 == "") { inbody = 1; next } print > hdr; next }
		{ print > body }' "$_out.raw"
	rm -f "$_out.raw"
	[ -f "$_hdr" ] || { HTTP_ERROR="nc: no connection to $U_HOST:$U_PORT, or no answer within $TIMEOUT_S s"; return 0; }
	HTTP_STATUS=$(awk 'NR == 1 && /^HTTP\/[0-9.]+ [0-9][0-9][0-9]/ { print $2 }' "$_hdr")
	[ -n "$HTTP_STATUS" ] || HTTP_STATUS=000
	HTTP_RETRY_AFTER=$(awk 'tolower($1) == "retry-after:" { print $2 }' "$_hdr")
}

http_curl() {
	set -- -s -S -o "$_out" -D "$_hdr" -m "$TIMEOUT_S" -H "User-Agent: campuslink-tiny/$VERSION"
	[ -n "$CA_FILE" ] && set -- "$@" --cacert "$CA_FILE"
	[ -n "$_tok" ] && set -- "$@" -H "Authorization: Bearer $_tok"
	if [ "$_m" = POST ]; then
		set -- "$@" -H 'Content-Type: application/json' --data-binary "@$_bf"
		[ -n "$_enc" ] && set -- "$@" -H "Content-Encoding: $_enc"
	fi
	curl "$@" "$_url" 2>"$RUN_DIR/http.err"
	_rc=$?
	if [ "$_rc" != 0 ] && [ ! -s "$_hdr" ]; then
		HTTP_ERROR="curl exit $_rc: $(head -c 200 "$RUN_DIR/http.err" | tr '\n' ' ')"
		# TLS: handshake, certificate or CA problems (curl's exit codes).
		case $_rc in 35 | 51 | 53 | 54 | 58 | 59 | 60 | 64 | 66 | 77 | 80 | 82 | 83 | 90 | 91) HTTP_TLS_FAILED=1 ;; esac
		return 0
	fi
	HTTP_STATUS=$(awk '/^HTTP\/[0-9.]+ [0-9][0-9][0-9]/ { s = $2 } END { print s }' "$_hdr")
	[ -n "$HTTP_STATUS" ] || HTTP_STATUS=000
	HTTP_RETRY_AFTER=$(awk '{ sub(/\r$/, "") } tolower($1) == "retry-after:" { print $2 }' "$_hdr")
}

http_wget() {
	_bin=$1
	# Debian's BusyBox wget has no -T (it crashes on it): the timeout applet bounds it instead.
	set -- -q -O "$_out" -U "campuslink-tiny/$VERSION"
	[ "$_bin" = uclient-fetch ] && set -- "$@" -T "$TIMEOUT_S"
	[ "$_bin" = uclient-fetch ] && [ -n "$CA_FILE" ] && set -- "$@" --ca-certificate "$CA_FILE"
	[ -n "$_tok" ] && set -- "$@" --header "Authorization: Bearer $_tok"
	if [ "$_m" = POST ]; then
		set -- "$@" --header 'Content-Type: application/json' --post-file "$_bf"
		[ -n "$_enc" ] && set -- "$@" --header "Content-Encoding: $_enc"
	fi
	if bounded "$_bin" "$@" "$_url" 2>"$RUN_DIR/http.err"; then
		HTTP_STATUS=200
		return 0
	fi
	rm -f "$_out"
	HTTP_ERROR="$_bin: $(head -c 200 "$RUN_DIR/http.err" | tr '\n' ' ')"
	# "server returned error: HTTP/1.1 429 Too Many Requests" (BusyBox), "HTTP error 429" (uclient-fetch).
	HTTP_STATUS=$(sed -n 's/.*HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p; s/.*HTTP error \([0-9][0-9][0-9]\).*/\1/p' "$RUN_DIR/http.err" | head -n 1)
	[ -n "$HTTP_STATUS" ] || HTTP_STATUS=000
}
