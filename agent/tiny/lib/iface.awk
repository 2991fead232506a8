# Interface counters to `iface` measurements, one JSON object a line, with the full agent's counter rules
# (agent/probes/snmp/counters.ts): a counter that went backwards below 2^32 wrapped once (32-bit kernel
# counters of a 32-bit router) unless line rate could not have done it in the interval, then it is a reset;
# a counter at or above 2^32 is 64-bit and going backwards is a reset; a delta above line rate x 1.1 is
# discarded; a reboot (uptime went backwards or advanced far less than the wall clock) or a recreated
# interface (new ifindex) gives counter_reset=1 and no rates; a first or stale (> 30 min) reading gives none.
# Files: INFO (ifname ifindex oper_up speed_mbps role), PREV (state), /proc/net/dev. Writes the new state to
# -v state_out=…; -v now_ms=… uptime_cs=… device=…
function delta(p, c, maxps,    d) {
  kind = "ok"
  if (c >= p) d = c - p
  else if (p >= T32 || c >= T32) { kind = "reset"; return 0 }
  else {
    if (maxps > 0 && !(dev_s < T32 / maxps)) { kind = "reset"; return 0 }
    d = c + T32 - p
  }
  if (maxps > 0 && d / wall_s > maxps * 1.1) kind = "implausible"
  return d
}
function jesc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return s }
BEGIN { T32 = 4294967296 }
FILENAME == ARGV[1] { want[$1] = 1; idx[$1] = $2; up[$1] = $3; spd[$1] = $4; role[$1] = $5; order[++n] = $1; next }
FILENAME == ARGV[2] {
  if ($1 == "T") { pwall = $2; pup = $3; have_t = 1 }
  else if ($1 == "I") { pidx[$2] = $3; prx[$2] = $4; ptx[$2] = $5; pre[$2] = $6; pte[$2] = $7; prd[$2] = $8; ptd[$2] = $9; had[$2] = 1 }
  next
}
{
  line = $0; c = index(line, ":"); if (c == 0) next
  name = substr(line, 1, c - 1); gsub(/ /, "", name)
  if (!(name in want)) next
  split(substr(line, c + 1), f, " ")
  rx[name] = f[1]; rerr[name] = f[3]; rdrop[name] = f[4]; tx[name] = f[9]; terr[name] = f[11]; tdrop[name] = f[12]; seen[name] = 1
}
END {
  interval = "none"
  if (have_t) {
    wall_ms = now_ms - pwall; wall_s = wall_ms / 1000
    tol = wall_ms * 0.01; if (tol < 5000) tol = 5000
    if (!(wall_ms > 0)) interval = "none"
    else if (uptime_cs < pup || uptime_cs * 10 + tol < wall_ms || ((uptime_cs - pup) * 10) + tol < wall_ms) interval = "reboot"
    else if (wall_ms > 1800000) interval = "none"
    else { interval = "ok"; dev_s = (uptime_cs - pup) / 100 }
  }
  printf "T %.0f %.0f\n", now_ms, uptime_cs > state_out
  for (i = 1; i <= n; i++) {
    nm = order[i]; if (!(nm in seen)) continue
    printf "I %s %s %s %s %s %s %s %s\n", nm, idx[nm], rx[nm], tx[nm], rerr[nm], terr[nm], rdrop[nm], tdrop[nm] > state_out
    sp = spd[nm] > 0 ? spd[nm] * 1000000 : 0
    o = "{\"name\":\"iface\",\"tags\":{\"device\":\"" jesc(device) "\",\"ifname\":\"" jesc(nm) "\",\"role\":\"" role[nm] "\"},\"fields\":{"
    if (sp > 0) o = o sprintf("\"speed_bps\":%.0f,", sp)
    o = o "\"oper_up\":" (up[nm] == 1 ? 1 : 0)
    reset = 0
    if (interval == "reboot" && had[nm]) reset = 1
    else if (interval == "ok" && had[nm] && pidx[nm] != idx[nm]) reset = 1
    else if (interval == "ok" && had[nm]) {
      maxps = sp / 8
      split("in out", dirs, " ")
      for (k = 1; k <= 2; k++) {
        d = (k == 1) ? delta(prx[nm], rx[nm], maxps) : delta(ptx[nm], tx[nm], maxps)
        if (kind == "reset") { reset = 1; continue }
        if (kind == "implausible") continue
        bps = d * 8 / wall_s; if (sp > 0 && bps > sp) bps = sp
        o = o sprintf(",\"%s_bps\":%.0f", dirs[k], bps)
        if (sp > 0) o = o sprintf(",\"%s_util_pct\":%s", dirs[k], sprintf("%.2f", bps / sp * 100) + 0)
      }
      maxpps = sp / 8 / 64
      split("in_errors out_errors in_discards out_discards", pn, " ")
      for (k = 1; k <= 4; k++) {
        if (k == 1) d = delta(pre[nm], rerr[nm], maxpps); else if (k == 2) d = delta(pte[nm], terr[nm], maxpps)
        else if (k == 3) d = delta(prd[nm], rdrop[nm], maxpps); else d = delta(ptd[nm], tdrop[nm], maxpps)
        if (kind == "reset") { reset = 1; continue }
        if (kind == "implausible") continue
        o = o sprintf(",\"%s\":%.0f", pn[k], d)
      }
    }
    if (reset) o = o ",\"counter_reset\":1"
    print o "}}"
  }
}
