/**
 * What the proxy measures of one school in one cycle: its ping targets (the gateway, the operator's hops,
 * the school's own extra targets) through the shared batching pinger, and its SNMP devices with the full
 * agent's interface probe (agent/probes/snmp/iface.ts) under one shared limiter. Everything a school
 * does is bounded by its deadline: what has not finished by then is recorded as failed (data), and the
 * school's report goes without waiting any longer.
 */
import type { Logger } from 'pino';
import { PING_RESULT, SNMP_RESULT, type Measurement } from '../../protocol/index.js';
import { resolvePingTarget, type ResolvedPingTarget } from '../probes/ping/config.js';
import { pingMeasurementOf, type PingMeasurement } from '../probes/ping/index.js';
import type { Probe, ProbeContext } from '../probes/probe.js';
import { createIfaceProbe } from '../probes/snmp/iface.js';
import type { Limiter } from '../probes/snmp/limit.js';
import type { BatchPinger, FpingOutcome } from './fping.js';
import type { ProxySchool } from './schools.js';

/** Settings every school's probes share. */
export interface SchoolProbeSettings {
  pinger: BatchPinger;
  /** Devices polled at once over all schools. */
  snmpLimiter: Limiter;
  hops: readonly { host: string; role: ResolvedPingTarget['role']; name?: string }[];
  ping: { count?: number; intervalMs?: number; timeoutMs?: number };
  snmp: { community: string; version: '1' | '2c'; timeoutMs: number; retries: number; maxRepetitions: number };
  /** Client factory for the iface probe (tests). */
  createSnmpClient?: Parameters<typeof createIfaceProbe>[0]['createClient'];
}

/** The ping targets of a school: gateway first, then the operator's hops, then its own; one tag once. */
export function schoolTargets(school: ProxySchool, s: Pick<SchoolProbeSettings, 'hops' | 'ping'>): ResolvedPingTarget[] {
  const raw = [{ host: school.gateway, role: 'gateway' as const }, ...s.hops, ...school.extraTargets];
  const seen = new Set<string>();
  const out: ResolvedPingTarget[] = [];
  for (const t of raw) {
    const r = resolvePingTarget({ ...t, ...(s.ping.count !== undefined && { count: s.ping.count }), ...(s.ping.intervalMs !== undefined && { intervalMs: s.ping.intervalMs }), ...(s.ping.timeoutMs !== undefined && { timeoutMs: s.ping.timeoutMs }) }, school.linkType);
    if (seen.has(r.tag)) continue;
    seen.add(r.tag);
    out.push(r);
  }
  return out;
}

/** The measurement of one target from fping's outcome (the same fields as the full agent's ping probe). */
export function pingMeasurement(t: ResolvedPingTarget, o: FpingOutcome): PingMeasurement {
  return pingMeasurementOf(t, o.stats);
}

/** Resolves with `fallback()` when `p` has not settled within `ms` (p goes on; its result is ignored). */
function withDeadline<T>(p: Promise<T>, ms: number, fallback: () => T): Promise<{ value: T; late: boolean }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ value: fallback(), late: true }), Math.max(0, ms));
    p.then(
      (value) => {
        clearTimeout(timer);
        resolve({ value, late: false });
      },
      () => {
        clearTimeout(timer);
        resolve({ value: fallback(), late: false });
      },
    );
  });
}

/** One school's probes, kept from cycle to cycle (the interface probes hold the counter readings for rates). */
export interface SchoolProbes {
  readonly school: ProxySchool;
  /** Runs everything; resolves by `deadlineAtMs` (on the `now` clock) at the latest. Never rejects. */
  collect(opts: { now: () => number; log: Logger; deadlineAtMs: number }): Promise<{ measurements: Measurement[]; late: string[] }>;
}

/** Creates the probes of one school. Counter state is kept in memory: after a restart, rates start one cycle later. */
export function createSchoolProbes(school: ProxySchool, s: SchoolProbeSettings): SchoolProbes {
  const targets = schoolTargets(school, s);
  const ifaces: Probe[] = school.devices.map((d) =>
    createIfaceProbe({
      device: d.device,
      host: d.host,
      community: d.community ?? s.snmp.community,
      version: s.snmp.version,
      timeoutMs: s.snmp.timeoutMs,
      retries: s.snmp.retries,
      maxRepetitions: s.snmp.maxRepetitions,
      limiter: s.snmpLimiter,
      ...(s.createSnmpClient && { createClient: s.createSnmpClient }),
    }),
  );
  return {
    school,
    async collect({ now, log, deadlineAtMs }) {
      const late: string[] = [];
      const left = () => deadlineAtMs - now();
      const ctx: ProbeContext = { now, log };
      const pings = targets.map(async (t) => {
        const r = await withDeadline(s.pinger.ping(t), left(), () => ({ stats: { resultCode: PING_RESULT.error, sent: t.count, received: 0, lossPct: 100, duplicates: 0 }, reason: 'the school deadline passed before the ping finished' }));
        if (r.late) late.push(`ping ${t.tag}`);
        if (r.value.stats.resultCode === PING_RESULT.error) log.debug({ school: school.id, target: t.tag, reason: r.value.reason }, 'ping failed');
        return pingMeasurement(t, r.value);
      });
      const polls = ifaces.map(async (p, i) => {
        const device = school.devices[i]?.device ?? p.name;
        const r = await withDeadline(p.collect(ctx), left(), (): Measurement[] => [{ name: 'sys', tags: { device }, fields: { result_code: SNMP_RESULT.timeout, errors: 1 } }]);
        if (r.late) late.push(`snmp ${device}`);
        return r.value;
      });
      const [p, d] = await Promise.all([Promise.all(pings), Promise.all(polls)]);
      return { measurements: [...p, ...d.flat()], late };
    },
  };
}
