/** One collection cycle: run every probe, add the agent's own health, and build a valid report. */
import type { Logger } from 'pino';
import { z } from 'zod';
import { MAX_MEASUREMENTS_PER_REPORT, PROTOCOL_VERSION, deviceEventsSchema, deviceSchema, macSchema, measurementSchema, reportSchema, toIssues, type DeviceEvents, type Measurement, type Report } from '../protocol/index.js';
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
  /** The agent state's epoch (undefined: the legacy epoch, sent without the key). */
  epoch?: string;
  /** The sequence number of this report, within its epoch. */
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
  /** Told how many measurements and device entries this cycle left out because they broke the schema. */
  onDropped?: (dropped: DroppedItems) => void;
}

/** What a cycle left out of its report because it broke the schema. */
export interface DroppedItems {
  measurements: number;
  devices: number;
}

/**
 * The device events with every entry that breaks the schema left out (counted in `dropped`), so one
 * bad device never costs the list. Undefined when nothing valid is left.
 */
function validDeviceEvents(events: DeviceEvents, dropped: DroppedItems, log: Logger): DeviceEvents | undefined {
  const whole = deviceEventsSchema.safeParse(events);
  if (whole.success) return whole.data;
  const added = (Array.isArray(events.added) ? events.added : []).filter((d) => deviceSchema.safeParse(d).success);
  const removed = (Array.isArray(events.removed) ? events.removed : []).filter((m) => macSchema.safeParse(m).success);
  const lost = (events.added?.length ?? 0) - added.length + (events.removed?.length ?? 0) - removed.length;
  dropped.devices += lost;
  log.error({ code: 'AGT_ERR_PROBE_FAILED', dropped: lost, issues: toIssues(whole.error).slice(0, 5) }, 'device list entries broke the schema; left out, the rest of the list is sent');
  const out = deviceEventsSchema.safeParse({ full: events.full === true, added, removed });
  return out.success && (out.data.added.length || out.data.removed.length || out.data.full) ? out.data : undefined;
}

/** The report without its measurements and devices: each of those was validated once, as it was collected. */
const reportHeaderSchema = reportSchema.omit({ measurements: true, devices: true });

/** The report's keys in the order reportSchema's output has them, so a report reads (and spools) as it did. */
const REPORT_KEYS = Object.keys(reportSchema.shape) as (keyof Report)[];

/** The measurements array's own check (its length), without its elements'. */
const measurementCountSchema = z.array(z.unknown()).max(MAX_MEASUREMENTS_PER_REPORT);

/**
 * The report from measurements and device events already validated one by one: too many measurements lose the
 * excess (the agent's own health, last, stays), counted, never the report; the rest (school, agent, seq,
 * times: the config's and the agent's own) is validated here and a problem there still throws.
 */
function parseReport(candidate: Omit<Report, 'measurements'> & { measurements: Measurement[] }, dropped: DroppedItems, log: Logger): Report {
  let measurements = candidate.measurements;
  const count = measurementCountSchema.safeParse(measurements);
  if (!count.success) {
    const n = measurements.length;
    measurements = [...measurements.slice(0, MAX_MEASUREMENTS_PER_REPORT - 1), measurements[n - 1] as Measurement];
    dropped.measurements += n - measurements.length;
    const issues = toIssues(count.error).map((i) => ({ ...i, path: i.path ? `measurements.${i.path}` : 'measurements' }));
    log.error({ code: 'AGT_ERR_PROBE_FAILED', dropped: n - measurements.length, issues: issues.slice(0, 5) }, 'report broke the schema in some measurements; those are left out, the report is kept');
  }
  const { measurements: _, devices, ...rest } = candidate;
  const header = reportHeaderSchema.parse(rest) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of REPORT_KEYS) {
    const v = k === 'measurements' ? measurements : k === 'devices' ? devices : header[k];
    if (v !== undefined) out[k] = v;
  }
  return out as Report;
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
 * or a device entry that breaks the schema, is logged (AGT_ERR_PROBE_FAILED) and left out, counted
 * through `onDropped`: it never stops the cycle, and never costs the rest of the report.
 */
export async function collectReport(opts: CollectOptions): Promise<Report> {
  const started = collectedAtAfter(opts.now(), opts.previousCollectedAt);
  const dropped: DroppedItems = { measurements: 0, devices: 0 };
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
      if (ok.success) {
        measurements.push(ok.data);
        continue;
      }
      dropped.measurements++;
      opts.log.error({ code: 'AGT_ERR_PROBE_FAILED', probe, issues: toIssues(ok.error) }, 'probe produced an invalid measurement; left out');
    }
  });
  const rawEvents = opts.probes.map((p) => p.deviceEvents?.()).find((e) => e !== undefined);
  const deviceEvents = rawEvents && validDeviceEvents(rawEvents, dropped, opts.log);
  const end = opts.now();
  const health = measurementSchema.safeParse({
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
  if (health.success) measurements.push(health.data);
  else {
    dropped.measurements++;
    opts.log.error({ code: 'AGT_ERR_PROBE_FAILED', probe: 'agent', issues: toIssues(health.error) }, "the agent's own health measurement broke the schema; left out");
  }
  // A badly wrong local clock: stamp the report in collector time and say so, rather than have its
  // points land in the wrong place (or be refused) at the collector.
  const skewed = opts.clockOffsetMs !== undefined && Math.abs(opts.clockOffsetMs) > (opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS);
  const shift = skewed ? (opts.clockOffsetMs as number) : 0;
  const candidate = {
    v: PROTOCOL_VERSION,
    school: opts.school,
    agent: opts.agent,
    ...(opts.epoch ? { epoch: opts.epoch } : {}),
    seq: opts.seq,
    collectedAt: started + shift,
    sentAt: end + shift,
    ...(skewed ? { clockCorrected: true as const, clockOffsetMs: shift } : {}),
    measurements,
    ...(deviceEvents ? { devices: deviceEvents } : {}),
  };
  const report = parseReport(candidate, dropped, opts.log);
  if (dropped.measurements || dropped.devices) opts.onDropped?.(dropped);
  return report;
}
