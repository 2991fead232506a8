/** Fixtures for the alert tests: a seeded registry, reports of one school, an engine on a manual clock. */
import { pino } from 'pino';
import { AlertEngine, type AlertEngineOptions } from '../../../collector/alerts/engine.js';
import { parseAlertRules, type AlertRule } from '../../../collector/alerts/rules.js';
import { parseRegistry, type Registry } from '../../../collector/registry/index.js';
import { PROTOCOL_VERSION, type Measurement, type Report } from '../../../protocol/index.js';
import { registryCsv as provinceCsv } from '../../../bench/coverage.bench.js';
import { registryCsv, seedSchools, type SeedSchool } from '../views/harness.js';

export const MIN = 60_000;
export const quiet = pino({ level: 'silent' });

/** A registry of `n` seeded schools (9 Ningxia counties; links fiber, cellular, sat-geo, sat-leo in turn). */
export function seededRegistry(n = 36): { registry: Registry; schools: SeedSchool[] } {
  const schools = seedSchools(n);
  return { registry: parseRegistry(registryCsv(schools), { source: 'test' }), schools };
}

/** A country-wide registry of `n` schools (31 provinces × 10 cities × 10 counties; the benchmarks' generator). */
export function provinceRegistry(n: number): Registry {
  return parseRegistry(provinceCsv(n), { source: 'test' });
}

/** An internet ping with the given loss, RTT and jitter. */
export function internet(loss: number, rtt = 20, jitter = 2): Measurement {
  const received = Math.round(5 * (1 - loss / 100));
  return {
    name: 'ping',
    tags: { target: 'internet.example', role: 'internet' },
    fields: { ...(received > 0 ? { rtt_min_ms: rtt, rtt_avg_ms: rtt, rtt_max_ms: rtt, jitter_ms: jitter } : {}), loss_pct: loss, sent: 5, received, result_code: received > 0 ? 0 : 2 },
  };
}

export function agentM(spool: number, version = '0.1.0'): Measurement {
  return { name: 'agent', tags: { version }, fields: { spool_reports: spool, spool_bytes: spool * 1000, dropped_reports: 0, sent_bytes: 0, cycle_ms: 100, rss_bytes: 1e7, uptime_s: 100 } };
}

export function modemM(fields: Record<string, number>): Measurement {
  return { name: 'modem', tags: { device: 'modem', profile: 'idirect' }, fields };
}

let seq = 0;
/** A report collected at `atMs` and sent at `sentAtMs` (default: at once). */
export function report(school: string, atMs: number, measurements: Measurement[], sentAtMs = atMs): Report {
  return { v: PROTOCOL_VERSION, school, agent: 'gw-01', seq: ++seq, collectedAt: atMs, sentAt: sentAtMs, measurements };
}

export function rules(yaml: string): AlertRule[] {
  return parseAlertRules(yaml, 'test');
}

/** An engine on a manual clock. */
export function engineFor(registry: Registry, ruleList: readonly AlertRule[], clock: { now: number }, over: Partial<AlertEngineOptions> = {}): AlertEngine {
  return new AlertEngine({
    rules: ruleList,
    registry: () => registry,
    now: () => clock.now,
    log: quiet,
    onlineWindowMs: 15 * MIN,
    staleAfterMs: 15 * MIN,
    maxActive: 100_000,
    consoleUrl: 'https://campuslink.example.cn/',
    ...over,
  });
}
