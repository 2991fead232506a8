/**
 * The ping probe: pings every configured target with the system ping and emits one `ping`
 * measurement per target, every cycle, whatever happened (see README.md).
 */
import type { Logger } from 'pino';
import { ConfigError } from '../../../protocol/config.js';
import { PING_RESULT, toIssues, type Measurement } from '../../../protocol/index.js';
import type { Probe, ProbeContext } from '../probe.js';
import { pingTargetsSchema, resolvePingTarget, type LinkType, type PingTargetInput, type ResolvedPingTarget } from './config.js';
import { computePingStats, parsePingOutput, type PingResultCode, type PingStats } from './parse.js';
import { mapWithConcurrency } from './pool.js';
import { createSystemPingRunner, type PingRunner, type PingRunResult } from './runner.js';

export * from './config.js';
export * from './parse.js';
export * from './runner.js';

/** A `ping` measurement. */
export type PingMeasurement = Extract<Measurement, { name: 'ping' }>;

/** Options of createPingProbe. */
export interface PingProbeOptions {
  /** Targets as written in the config (validated again here). */
  targets: readonly PingTargetInput[];
  /** The school's uplink type, which sets the default count, interval and timeout. Default `other`. */
  linkType?: LinkType;
  /** Pings running at once. Default 8. */
  concurrency?: number;
  /** How ping is run; default the system ping (`createSystemPingRunner()`). */
  runner?: PingRunner;
}

/** Pings running at once when not configured. */
export const DEFAULT_PING_CONCURRENCY = 8;

/** A measurement for a run that produced no numbers: everything lost, no RTTs. */
function failedMeasurement(t: ResolvedPingTarget, resultCode: PingResultCode): PingMeasurement {
  return { name: 'ping', tags: { target: t.tag, role: t.role }, fields: { loss_pct: 100, sent: t.count, received: 0, result_code: resultCode } };
}

/** What went wrong in a run, for the log. */
export interface PingRunNote {
  /** Why the result code is not 0. */
  reason?: string;
  /** Duplicate replies seen. */
  duplicates: number;
}

/** The `ping` measurement of one target from its statistics (also the county proxy's, from fping). */
export function pingMeasurementOf(t: ResolvedPingTarget, s: PingStats): PingMeasurement {
  return {
    name: 'ping',
    tags: { target: t.tag, role: t.role },
    fields: {
      ...(s.rttMinMs !== undefined ? { rtt_min_ms: s.rttMinMs } : {}),
      ...(s.rttAvgMs !== undefined ? { rtt_avg_ms: s.rttAvgMs } : {}),
      ...(s.rttMaxMs !== undefined ? { rtt_max_ms: s.rttMaxMs } : {}),
      ...(s.jitterMs !== undefined ? { jitter_ms: s.jitterMs } : {}),
      loss_pct: s.lossPct,
      sent: s.sent,
      received: s.received,
      result_code: s.resultCode,
    },
  };
}

/**
 * The measurement of one run of ping against one target, and a note for the log. Pure.
 * A failed command gives result_code 3; otherwise the output decides (see computePingStats).
 */
export function pingMeasurementFromRun(t: ResolvedPingTarget, run: PingRunResult): { measurement: PingMeasurement; note: PingRunNote } {
  if (run.failed) {
    return { measurement: failedMeasurement(t, PING_RESULT.error), note: { reason: run.error ?? 'ping failed', duplicates: 0 } };
  }
  const parsed = parsePingOutput(run.output);
  const s = computePingStats(parsed, { count: t.count, timeoutMs: t.timeoutMs });
  if (run.exitCode === 0 && parsed.replies.length === 0 && s.resultCode !== PING_RESULT.unresolved) {
    // ping says it got replies but not one reply line could be read: report an error rather than
    // a false outage. (Replies only to uncounted extra requests are a real "no reply", exit 0 or not.)
    return {
      measurement: failedMeasurement(t, PING_RESULT.error),
      note: { reason: `ping exited 0 but no reply could be read${parsed.unrecognized[0] ? `: ${parsed.unrecognized[0]}` : ''}`, duplicates: s.duplicates },
    };
  }
  return {
    measurement: pingMeasurementOf(t, s),
    note: { ...(s.reason ? { reason: s.reason } : {}), duplicates: s.duplicates },
  };
}

async function measure(t: ResolvedPingTarget, runner: PingRunner, log: Logger): Promise<PingMeasurement> {
  try {
    const run = await runner.run({ host: t.host, ipv6: t.ipv6, count: t.count, intervalMs: t.intervalMs, timeoutMs: t.timeoutMs });
    const { measurement, note } = pingMeasurementFromRun(t, run);
    const f = measurement.fields;
    const ctx = { target: t.tag, host: t.host, ipv6: t.ipv6, result_code: f.result_code, loss_pct: f.loss_pct, ...note };
    if (f.result_code === PING_RESULT.error) log.warn({ ...ctx, exitCode: run.exitCode, output: run.output.slice(0, 500) }, 'ping failed');
    else if (f.result_code !== PING_RESULT.ok) log.info(ctx, 'ping target not answering');
    else log.debug(ctx, 'ping done');
    return measurement;
  } catch (e) {
    // A runner must not reject; a custom one might. Record it as data, like any other failure.
    log.warn({ target: t.tag, host: t.host, err: String(e) }, 'ping runner threw');
    return failedMeasurement(t, PING_RESULT.error);
  }
}

/**
 * Creates the ping probe. Validates the targets (unknown keys, bad hosts, two targets with one
 * `target` tag) and throws a ConfigError (AGT_ERR_CONFIG_INVALID) if they are invalid.
 *
 * `collect()` never throws: it returns exactly one measurement per target, in the targets' order.
 */
export function createPingProbe(opts: PingProbeOptions): Probe {
  const parsed = pingTargetsSchema.safeParse(opts.targets);
  if (!parsed.success) {
    throw new ConfigError('AGT_ERR_CONFIG_INVALID', 'targets', toIssues(parsed.error).map((i) => ({ ...i, path: i.path ? `targets.${i.path}` : 'targets' })));
  }
  const linkType = opts.linkType ?? 'other';
  const targets = parsed.data.map((t) => resolvePingTarget(t, linkType));
  const runner = opts.runner ?? createSystemPingRunner();
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_PING_CONCURRENCY));

  return {
    name: 'ping',
    async collect(ctx: ProbeContext): Promise<Measurement[]> {
      try {
        return await mapWithConcurrency(targets, concurrency, (t) => measure(t, runner, ctx.log));
      } catch (e) {
        // Unreachable (measure() catches everything), but collect() must never throw.
        ctx.log.error({ err: String(e) }, 'ping probe failed');
        return targets.map((t) => failedMeasurement(t, PING_RESULT.error));
      }
    },
  };
}
