# Parses BusyBox (or iputils) ping output into one `ping` measurement as a JSON object on one line.
# -v target=… role=… count=N (requests asked for) timeout_ms=N (a later reply is lost). Rules as the full
# agent (agent/probes/ping/parse.ts): replies counted once per seq (DUP! ignored), only seq < count;
# result_code 1 name not resolved, 0 a reply, 2 sent and unanswered, 3 anything else.
function r(x) { return x < 1 ? sprintf("%.3f", x) + 0 : x < 10 ? sprintf("%.2f", x) + 0 : sprintf("%.1f", x) + 0 }
function jesc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return s }
/bad address|unknown host|Name or service not known|Temporary failure in name resolution|Name does not resolve/ { unresolved = 1 }
/seq=[0-9]+/ && /time=/ && !/DUP/ {
  s = $0; sub(/.*seq=/, "", s); sub(/[^0-9].*/, "", s); s += 0
  t = $0; sub(/.*time=/, "", t); sub(/[^0-9.].*/, "", t); t += 0
  if (!(s in seen) && s < count && t <= timeout_ms) { seen[s] = 1; rt[s] = t; n++ }
}
/packets transmitted/ { tx = $1 + 0; have_tx = 1 }
/Destination .*Unreachable|Time to live exceeded/ { icmp = 1 }
END {
  head = "{\"name\":\"ping\",\"tags\":{\"target\":\"" jesc(target) "\",\"role\":\"" role "\"},\"fields\":{"
  if (unresolved) { printf "%s\"loss_pct\":100,\"sent\":%d,\"received\":0,\"result_code\":1}}\n", head, count; exit }
  sent = have_tx ? (tx < count ? tx : count) : count
  if (n > 0) {
    if (sent < n) sent = n
    k = 0; sum = 0; jsum = 0
    for (i = 0; i < count; i++) if (i in rt) {
      v = rt[i]; sum += v
      if (k == 0 || v < mn) mn = v
      if (k == 0 || v > mx) mx = v
      if (k > 0) jsum += (v > prev ? v - prev : prev - v)
      prev = v; k++
    }
    out = head "\"rtt_min_ms\":" r(mn) ",\"rtt_avg_ms\":" r(sum / k) ",\"rtt_max_ms\":" r(mx)
    if (k >= 2) out = out ",\"jitter_ms\":" r(jsum / (k - 1))
    loss = sprintf("%.3f", 100 * (sent - n) / sent) + 0
    printf "%s,\"loss_pct\":%s,\"sent\":%d,\"received\":%d,\"result_code\":0}}\n", out, loss, sent, n
    exit
  }
  if ((have_tx && tx > 0) || icmp) { printf "%s\"loss_pct\":100,\"sent\":%d,\"received\":0,\"result_code\":2}}\n", head, (have_tx && tx > 0 ? sent : count); exit }
  printf "%s\"loss_pct\":100,\"sent\":%d,\"received\":0,\"result_code\":3}}\n", head, count
}
