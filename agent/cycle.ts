/** One collection cycle: run every probe, add the agent's own health, and build a valid report. */
import type { Logger } from 'pino';
import { PROTOCOL_VERSION, measurementSchema, reportSchema, toIssues, type Measurement, type Report } from '../protocol/index.js';
import type { Probe } from './probes/probe.js';
import type { SpoolStats } from './spool/spool.js';
import type { AgentCounters } from './state/stats.js';
import { AGENT_VERSION } from './version.js';

/** Default largest clock offset left uncorrected, ms. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 120_000;

export interface CollectOptions {
  probes: readonly Probe[];
  school: string;
  agent: string;
  /** The sequence number of this report. */
  seq: number;
  now: () => number;
  log: Logger;
  /** Spool size before this report is added. */
  spool: SpoolStats;
  counters: Readonly<AgentCounters>;
  /** When the agent process started, ms since the epoch. */
  startedAtMs: number;
  /** Collector time minus agent time, ms, from the last ack (undefined before the first). */
  clockOffsetMs?: number;
  /** An offset larger than this (ms) corrects `collectedAt` by the offset and flags the report. */
  maxClockSkewMs?: number;
  /** `collectedAt` of this agent's previous report, if any (see `collectedAtAfter`). */
  previousCollectedAt?: number;
}

/**
 * The collection time of a new report: `now`, or 1 ms after the previous report's when the clock reads the
 * same millisecond or slightly earlier (two cycles in one ms, a small step back). Two reports of one agent
 * must never share a timestamp: their points would have identical series and time, and InfluxDB would keep
 * only one. A large step back (more than a second) is taken as it is, so the timestamps stay true.
 */
export function collectedAtAfter(now: number, previous: number | undefined): number {
  if (previous === undefined) return now;
  return now <= previous && previous - now < 1000 ? previous + 1 : now;
}

/**
 * Runs the probes concurrently and returns the report. A probe that throws, or returns a measurement
 * that breaks the schema, is logged (AGT_ERR_PROBE_FAILED) and left out: it never stops the cycle.
 */
export async function collectReport(opts: CollectOptions): Promise<Report> {
  const started = collectedAtAfter(opts.now(), opts.previousCollectedAt);
  const settled = await Promise.allSettled(opts.probes.map((p) => p.collect({ now: opts.now, log: opts.log.child({ probe: p.name }) })));
  const measurements: Measurement[] = [];
  settled.forEach((s, i) => {
    const probe = opts.probes[i]?.name;
    if (s.status === 'rejected') {
      opts.log.error({ code: 'AGT_ERR_PROBE_FAILED', probe, err: String(s.reason) }, 'probe threw; its measurements are missing from this cycle');
      return;
    }
    for (const m of s.value) {
      const ok = measurementSchema.safeParse(m);
      if (ok.success) measurements.push(ok.data);
      else opts.log.error({ code: 'AGT_ERR_PROBE_FAILED', probe, issues: toIssues(ok.error) }, 'probe produced an invalid measurement; left out');
    }
  });
  const deviceEvents = opts.probes.map((p) => p.deviceEvents?.()).find((e) => e !== undefined);
  const end = opts.now();
  measurements.push({
    name: 'agent',
    tags: { version: AGENT_VERSION },
    fields: {
      spool_reports: opts.spool.reports,
      spool_bytes: opts.spool.bytes,
      dropped_reports: opts.counters.droppedReports,
      sent_bytes: opts.counters.sentBytes,
      cycle_ms: Math.max(0, end - started),
      rss_bytes: process.memoryUsage.rss(),
      uptime_s: Math.max(0, (end - opts.startedAtMs) / 1000),
      ...(opts.clockOffsetMs !== undefined ? { clock_offset_ms: opts.clockOffsetMs } : {}),
    },
  });
  // A badly wrong local clock: stamp the report in collector time and say so, rather than have its
  // points land in the wrong place (or be refused) at the collector.
  const skewed = opts.clockOffsetMs !== undefined && Math.abs(opts.clockOffsetMs) > (opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS);
  const shift = skewed ? (opts.clockOffsetMs as number) : 0;
  return reportSchema.parse({
    v: PROTOCOL_VERSION,
    school: opts.school,
    agent: opts.agent,
    seq: opts.seq,
    collectedAt: started + shift,
    sentAt: end + shift,
    ...(skewed ? { clockCorrected: true, clockOffsetMs: shift } : {}),
    measurements,
    ...(deviceEvents ? { devices: deviceEvents } : {}),
  });
}
