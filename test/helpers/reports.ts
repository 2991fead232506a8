/** Builders of valid protocol objects for tests. */
import { roundRtt } from '../../agent/probes/ping/parse.js';
import { PROTOCOL_VERSION, type Measurement, type Report } from '../../protocol/index.js';

export const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);

/** A `ping` measurement that passes the schema. */
export function pingMeasurement(over: Partial<{ target: string; loss_pct: number }> = {}): Measurement {
  return {
    name: 'ping',
    tags: { target: over.target ?? '127.0.0.1', role: 'gateway' },
    fields: { rtt_min_ms: 0.03, rtt_avg_ms: 0.05, rtt_max_ms: 0.08, jitter_ms: 0.01, loss_pct: over.loss_pct ?? 0, sent: 5, received: 5, result_code: 0 },
  };
}

/** A report that passes the schema. */
export function makeReport(over: Partial<Report> = {}): Report {
  return {
    v: PROTOCOL_VERSION,
    school: '1640104001',
    agent: 'gw-01',
    seq: 1,
    collectedAt: T0,
    sentAt: T0 + 1000,
    measurements: [pingMeasurement()],
    ...over,
  };
}

/** Deterministic pseudo-random in [0, 1) from a seed, so a report's values depend on its seq only. */
function rnd(seed: number): number {
  const x = Math.sin(seed * 12.9898 + 78.233) * 43758.5453;
  return x - Math.floor(x);
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/**
 * A typical school's report: 21 measurements (5 ping targets, 4 interfaces, sys, 9 inventory classes,
 * a satellite modem, the agent's own), with plausible values that vary by `seq`, at the resolution the
 * probes emit (RTTs as roundRtt() gives them, whole bit/s, utilisation in hundredths).
 */
export function typicalMeasurements(seq: number): Measurement[] {
  const roles = ['gateway', 'isp', 'platform', 'peer', 'internet'] as const;
  const ms: Measurement[] = roles.map((role, i) => {
    const base = [0.4, 8, 25, 31, 42][i] as number;
    const avg = roundRtt(base * (1 + rnd(seq * 7 + i) * 0.3));
    return {
      name: 'ping',
      tags: { target: `ping-${role}.example.net`, role },
      fields: { rtt_min_ms: roundRtt(avg * 0.8), rtt_avg_ms: avg, rtt_max_ms: roundRtt(avg * 1.4), jitter_ms: roundRtt(avg * 0.1), loss_pct: 0, sent: 5, received: 5, result_code: 0 },
    };
  });
  const ifaces = [['ge-0/0/0', 'wan'], ['ge-0/0/1', 'lan'], ['ge-0/0/2', 'lan'], ['wlan0', 'lan']] as const;
  ifaces.forEach(([ifname, role], i) => {
    const inBps = Math.round(2e6 * rnd(seq * 11 + i));
    const outBps = Math.round(1e6 * rnd(seq * 13 + i));
    ms.push({
      name: 'iface',
      tags: { device: 'gateway', ifname, role },
      fields: { in_bps: inBps, out_bps: outBps, speed_bps: 1e9, in_util_pct: round((inBps / 1e9) * 100, 2), out_util_pct: round((outBps / 1e9) * 100, 2), oper_up: 1, in_errors: 0, out_errors: 0, in_discards: 0, out_discards: 0 },
    });
  });
  ms.push({ name: 'sys', tags: { device: 'gateway' }, fields: { uptime_s: 86400 + seq * 60, result_code: 0, errors: 0 } });
  for (const [i, cls] of ['ap', 'display', 'pc', 'phone', 'printer', 'camera', 'switch', 'router', 'iot'].entries()) {
    ms.push({ name: 'inventory', tags: { class: cls }, fields: { count: [6, 12, 48, 30, 2, 4, 3, 1, 5][i] as number } });
  }
  ms.push({ name: 'modem', tags: { device: 'vsat', profile: 'idirect' }, fields: { snr_db: round(9 + rnd(seq) * 2, 2), rx_power_dbm: round(-42 - rnd(seq + 1) * 3, 2), tx_power_dbm: round(-10 + rnd(seq + 2), 2), modcod: 12, rain_fade_db: round(rnd(seq + 3) * 0.5, 2) } });
  ms.push({ name: 'agent', tags: { version: '0.1.0' }, fields: { spool_reports: 0, spool_bytes: 0, dropped_reports: 0, sent_bytes: 1000 * seq, cycle_ms: 900 + Math.round(rnd(seq + 4) * 200), rss_bytes: 60_000_000, uptime_s: seq * 60 } });
  return ms;
}

/** A typical school's report for `seq`, collected at T0 + (seq-1) minutes unless told otherwise. */
export function typicalReport(over: Partial<Report> & { seq: number }): Report {
  const collectedAt = over.collectedAt ?? T0 + (over.seq - 1) * 60_000;
  return makeReport({ collectedAt, sentAt: collectedAt + 1000, measurements: typicalMeasurements(over.seq), ...over });
}
