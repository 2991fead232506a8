/**
 * The throughput probe: at the scheduled times measures download and upload with iperf3 against the
 * province's servers, within a byte budget per test and per day, and emits one `throughput`
 * measurement per test, whatever happened (see README.md).
 *
 * A test takes 20-30 s, longer than a cycle may wait, so it runs in the background: the cycle that
 * finds a test due starts it, and the first cycle after it ends reports it.
 */
import type { Logger } from 'pino';
import { THROUGHPUT_RESULT, type Measurement } from '../../../protocol/index.js';
import type { Probe, ProbeContext } from '../probe.js';
import { rateCapBps, type ResolvedThroughputConfig } from './config.js';
import { parseIperfRun, type DirectionResult, type ThroughputResultCode } from './parse.js';
import { createSystemIperfRunner, type IperfRunner } from './runner.js';
import { dueSlot, loadThroughputState, saveThroughputState, stateForDay, throughputStateFile, type ThroughputState } from './schedule.js';

export * from './config.js';
export * from './parse.js';
export * from './runner.js';
export * from './schedule.js';

/** A `throughput` measurement. */
export type ThroughputMeasurement = Extract<Measurement, { name: 'throughput' }>;

/** Options of createThroughputProbe. */
export interface ThroughputProbeOptions {
  config: ResolvedThroughputConfig;
  /** Spreads the schedule: school and agent id. */
  seed: string;
  stateDir: string;
  /** Default: the system iperf3 (`config.command`). */
  runner?: IperfRunner;
}

/** A probe with a way to wait for the test in flight (tests, shutdown). */
export interface ThroughputProbe extends Probe {
  /** Resolves when no test is running. */
  idle(): Promise<void>;
}

/** A rate within 10 % of the cap may have been held down by it. */
const CAP_SHARE = 0.9;

function worst(a: ThroughputResultCode, b: ThroughputResultCode): ThroughputResultCode {
  return a === THROUGHPUT_RESULT.ok ? b : a;
}

/** The measurement of a test from its two directions. Pure. */
export function throughputMeasurement(server: string, down: DirectionResult, up: DirectionResult | undefined, capBps: number, durationMs: number): ThroughputMeasurement {
  const capped = [down, up].some((d) => d?.bps !== undefined && d.bps >= CAP_SHARE * capBps);
  return {
    name: 'throughput',
    tags: { server },
    fields: {
      ...(down.bps !== undefined && { down_mbps: down.bps / 1e6 }),
      ...(up?.bps !== undefined && { up_mbps: up.bps / 1e6 }),
      bytes_used: Math.round(down.bytes + (up?.bytes ?? 0)),
      duration_ms: durationMs,
      ...(up?.rttMs !== undefined && { rtt_ms: up.rttMs }),
      ...(up?.retransmits !== undefined && { retransmits: up.retransmits }),
      capped: capped ? 1 : 0,
      result_code: worst(down.resultCode, up?.resultCode ?? THROUGHPUT_RESULT.error),
    },
  };
}

/** Creates the probe. `collect()` never throws and never waits for a test. */
export function createThroughputProbe(opts: ThroughputProbeOptions): ThroughputProbe {
  const cfg = opts.config;
  const runner = opts.runner ?? createSystemIperfRunner({ command: cfg.command });
  const file = throughputStateFile(opts.stateDir);
  const capBps = rateCapBps(cfg);
  let state: ThroughputState | undefined;
  let running: Promise<void> | undefined;
  const finished: ThroughputMeasurement[] = [];

  async function load(nowMs: number, log: Logger): Promise<ThroughputState> {
    if (!state) {
      const r = await loadThroughputState(file, nowMs);
      state = r.state;
      if (r.problem) {
        log.warn({ file }, r.problem);
        state = { ...state, bytesUsed: cfg.maxBytesPerDay };
      }
    }
    state = stateForDay(state, nowMs);
    return state;
  }

  /** One direction against the first server that is neither busy nor unreachable. */
  async function direction(reverse: boolean, servers: readonly { host: string; port: number; tag: string }[], log: Logger): Promise<{ server: string; r: DirectionResult }> {
    let bytes = 0;
    let last: { server: string; r: DirectionResult } | undefined;
    for (const s of servers) {
      const run = await runner.run({ host: s.host, port: s.port, reverse, durationS: cfg.durationS, omitS: cfg.omitS, rateCapBps: capBps, connectTimeoutMs: cfg.connectTimeoutMs });
      const r = parseIperfRun(run);
      bytes += r.bytes;
      last = { server: s.tag, r };
      if (r.resultCode === THROUGHPUT_RESULT.ok || r.resultCode === THROUGHPUT_RESULT.error) break;
      log.info({ server: s.tag, result_code: r.resultCode, reason: r.reason }, 'iperf3 server not available; trying the next');
    }
    const found = last as { server: string; r: DirectionResult };
    return { ...found, r: { ...found.r, bytes } };
  }

  async function save(log: Logger): Promise<boolean> {
    try {
      if (state) await saveThroughputState(file, state);
      return true;
    } catch (e) {
      log.warn({ file, err: String(e) }, 'throughput state not saved');
      return false;
    }
  }

  async function test(slot: number, ctx: ProbeContext): Promise<void> {
    const started = ctx.now();
    const s = await load(started, ctx.log);
    const skip = s.bytesUsed + cfg.maxBytesPerTest > cfg.maxBytesPerDay;
    // The slot and the worst case of its bytes are saved before the test runs: an agent killed mid-test (or
    // a `once` run that exits) must not test again in the same slot, nor forget what the test may have used.
    state = { ...s, done: [...s.done, slot], bytesUsed: s.bytesUsed + (skip ? 0 : cfg.maxBytesPerTest) };
    if (!skip && !(await save(ctx.log))) {
      ctx.log.warn('throughput test not run: its budget could not be saved first');
      finished.push({ name: 'throughput', tags: { server: cfg.servers[0]?.tag ?? 'none' }, fields: { bytes_used: 0, duration_ms: 0, capped: 0, result_code: THROUGHPUT_RESULT.error } });
      return;
    }
    let m: ThroughputMeasurement;
    if (skip) {
      m = { name: 'throughput', tags: { server: cfg.servers[0]?.tag ?? 'none' }, fields: { bytes_used: 0, duration_ms: 0, capped: 0, result_code: THROUGHPUT_RESULT.budget } };
      ctx.log.info({ bytesUsed: s.bytesUsed, maxBytesPerDay: cfg.maxBytesPerDay }, 'throughput test skipped: it could exceed the day\'s byte budget');
    } else {
      const down = await direction(true, cfg.servers, ctx.log);
      // The upload goes to the server the download used, so both halves describe one path.
      const same = cfg.servers.filter((x) => x.tag === down.server);
      const up = down.r.resultCode === THROUGHPUT_RESULT.ok ? await direction(false, same, ctx.log) : undefined;
      m = throughputMeasurement(down.server, down.r, up?.r, capBps, ctx.now() - started);
      const f = m.fields;
      if (f.result_code !== THROUGHPUT_RESULT.ok) ctx.log.warn({ server: down.server, result_code: f.result_code, reason: up?.r.reason ?? down.r.reason }, 'throughput test failed');
      else ctx.log.info({ server: down.server, down_mbps: f.down_mbps, up_mbps: f.up_mbps, bytes_used: f.bytes_used }, 'throughput test done');
    }
    // The reservation becomes what the test used.
    if (!skip) state = { ...state, bytesUsed: state.bytesUsed - cfg.maxBytesPerTest + m.fields.bytes_used };
    finished.push(m);
    await save(ctx.log);
  }

  return {
    name: 'throughput',
    async collect(ctx: ProbeContext): Promise<Measurement[]> {
      try {
        const out = finished.splice(0);
        if (!running && cfg.servers.length) {
          const s = await load(ctx.now(), ctx.log);
          const slot = dueSlot(s, opts.seed, ctx.now(), cfg.testsPerDay);
          if (slot !== undefined) {
            running = test(slot, ctx)
              .catch((e: unknown) => {
                // Counted as done all the same: a test that keeps failing must not run every cycle.
                if (state) state = { ...state, done: [...state.done, slot] };
                ctx.log.error({ err: String(e) }, 'throughput test failed unexpectedly');
              })
              .finally(() => (running = undefined));
          }
        }
        return out;
      } catch (e) {
        ctx.log.error({ err: String(e) }, 'throughput probe failed');
        return [];
      }
    },
    async idle(): Promise<void> {
      await running;
    },
  };
}
