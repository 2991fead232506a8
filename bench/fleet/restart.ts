/**
 * Restart timing of the real collector: stop it (SIGTERM, or SIGKILL of the collector and its embedded
 * influxd, as a supervisor killing the service's process group would), start it again on the same
 * config, and time until /readyz answers 200 and until a batch is accepted.
 */
import { startCollectorProcess, type CollectorProcess } from './collector-process.js';
import type { FleetSchool } from './fleet.js';
import { postOneBatch } from './generator.js';
import { getStatus } from './tls-trust.js';

/** One restart, timed. */
export interface RestartResult {
  signal: 'SIGTERM' | 'SIGKILL';
  /** From the signal until the old process exited, ms. */
  stopMs: number;
  /** From spawning the new process until it printed that it listens, ms. */
  listenMs: number;
  /** From spawning until /readyz answered 200, ms (NaN: never within the deadline). */
  readyMs: number;
  /** From spawning until a batch was acknowledged (200), ms (NaN: never). */
  firstBatchMs: number;
  /** Why the start failed, when it did. */
  error?: string;
  /** The old process did not exit within stopTimeoutMs of SIGTERM and was killed. */
  stopTimedOut?: boolean;
}

export interface RestartOptions {
  running: CollectorProcess;
  signal: 'SIGTERM' | 'SIGKILL';
  configPath: string;
  logPath: string;
  /** A school, its token and a sequence it has not sent yet, for the first-batch probe. */
  probe: { school: FleetSchool; token: string; seq: number };
  deadlineMs?: number;
  /** After SIGTERM, how long the old process may take to exit before it is killed, ms. Default 60000. */
  stopTimeoutMs?: number;
}

async function waitFor(fn: () => Promise<boolean>, deadline: number): Promise<boolean> {
  while (performance.now() < deadline) {
    if (await fn().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Stops `running` with `signal` and starts a new collector; resolves with the timings and the new process. */
export async function restartCollector(opts: RestartOptions): Promise<{ result: RestartResult; next?: CollectorProcess }> {
  const { running, signal } = opts;
  const t0 = performance.now();
  running.child.kill(signal);
  if (signal === 'SIGKILL' && running.influxdPid) {
    try {
      process.kill(running.influxdPid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  let stopTimedOut = false as boolean;
  // A collector that does not stop within the deadline is killed, as a supervisor would (systemd's TimeoutStopSec).
  const stopDeadline = setTimeout(() => {
    stopTimedOut = true;
    running.child.kill('SIGKILL');
    if (running.influxdPid) {
      try {
        process.kill(running.influxdPid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }, opts.stopTimeoutMs ?? 60_000);
  await running.exited;
  clearTimeout(stopDeadline);
  // The embedded influxd must be gone too before a new one can open its data directory.
  if (running.influxdPid) {
    await waitFor(async () => {
      try {
        process.kill(running.influxdPid as number, 0);
        return false;
      } catch {
        return true;
      }
    }, performance.now() + 30_000);
  }
  const stopMs = performance.now() - t0;
  const t1 = performance.now();
  const deadline = t1 + (opts.deadlineMs ?? 300_000);
  let next: CollectorProcess;
  try {
    next = await startCollectorProcess({ configPath: opts.configPath, logPath: opts.logPath, timeoutMs: opts.deadlineMs ?? 300_000 });
  } catch (e) {
    return { result: { signal, stopMs, listenMs: NaN, readyMs: NaN, firstBatchMs: NaN, error: (e as Error).message.slice(0, 2000), ...(stopTimedOut ? { stopTimedOut: true } : {}) } };
  }
  const listenMs = performance.now() - t1;
  const ready = await waitFor(async () => (await getStatus(`${next.url}/readyz`)) === 200, deadline);
  const readyMs = ready ? performance.now() - t1 : NaN;
  const { school, token, seq } = opts.probe;
  const accepted = await waitFor(async () => (await postOneBatch({ url: next.url, school, token, seq, collectedAt: Date.now() - 2000, timeoutMs: 10_000 })).status === 200, deadline);
  const firstBatchMs = accepted ? performance.now() - t1 : NaN;
  return { result: { signal, stopMs, listenMs, readyMs, firstBatchMs, ...(stopTimedOut ? { stopTimedOut: true } : {}) }, next };
}
