/**
 * Pings many targets with few processes: requests that arrive within a short window are gathered into
 * one `fping -C` run per timing (count, interval, timeout, address family), at most `maxTargetsPerRun`
 * targets each and `maxRuns` runs at once. Why not one system `ping` per target, as the full agent
 * does: 2,000 schools × 5 targets is 10,000 processes a minute; measured on the 2-core box, spawning
 * them costs ~2.5 ms of the agent's CPU and ~4 ms of ping's each (~108 % of a core in all), while
 * fping pings the same 10,000 targets for ~2.7 s of CPU a minute (agent/proxy/README.md).
 *
 * The numbers come out as the full agent's: fping's per-request times become ParsedPing replies and
 * computePingStats() derives sent/received/loss/RTT/jitter exactly as for `ping` output.
 */
import { spawn } from 'node:child_process';
import { PING_RESULT } from '../../protocol/index.js';
import { computePingStats, type ParsedPing, type PingStats } from '../probes/ping/parse.js';
import type { ResolvedPingTarget } from '../probes/ping/config.js';

/** Options of the batching pinger. */
export interface FpingOptions {
  /** Program to run (default `fping`, Debian package `fping`). */
  command?: string;
  /** Most targets in one fping run (default 512). */
  maxTargetsPerRun?: number;
  /** Most fping runs at once (default 8). */
  maxRuns?: number;
  /** Time requests are gathered before a run starts, ms (default 50). */
  gatherMs?: number;
  /** fping's `-i`: least time between two packets of one run, ms (default 1). */
  packetIntervalMs?: number;
  /** Time past a run's expected end after which it is killed and its targets fail, ms (default 10000). */
  killGraceMs?: number;
}

/** One target's outcome: the numbers, and why it is not a clean result (for the log). */
export interface FpingOutcome {
  stats: PingStats;
  reason?: string;
}

/** What a run must be given. */
type Timing = Pick<ResolvedPingTarget, 'count' | 'intervalMs' | 'timeoutMs' | 'ipv6'>;

interface Waiter {
  host: string;
  timing: Timing;
  resolve: (o: FpingOutcome) => void;
}

/** Pings targets in shared fping runs; `ping()` never rejects. */
export interface BatchPinger {
  ping(target: Timing & { host: string }): Promise<FpingOutcome>;
  /** fping runs started since creation. */
  readonly runs: number;
}

const RESULT_LINE = /^(\S+)\s+:\s+((?:[\d.]+|-)(?:\s+(?:[\d.]+|-))*)\s*$/;

/** The per-request times of `fping -C -q` output (stderr), by target as given; other lines by target too. */
export function parseFpingOutput(text: string): { times: Map<string, (number | undefined)[]>; notes: Map<string, string> } {
  const times = new Map<string, (number | undefined)[]>();
  const notes = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = RESULT_LINE.exec(line);
    if (m) {
      times.set(m[1] as string, (m[2] as string).split(/\s+/).map((v) => (v === '-' ? undefined : Number(v))));
      continue;
    }
    // "name.invalid: Name or service not known", "ICMP Host Unreachable from 10.0.0.1 for ICMP Echo sent to 10.0.0.9".
    const host = /^(\S+?):\s/.exec(line)?.[1] ?? / sent to (\S+)/.exec(line)?.[1];
    if (host && !notes.has(host)) notes.set(host, line.slice(0, 300));
  }
  return { times, notes };
}

const UNRESOLVED = /Name or service not known|Temporary failure in name resolution|No address associated|Name does not resolve|address not found/i;

/** The outcome of one target from a finished run. */
export function fpingOutcome(host: string, timing: Timing, parsed: ReturnType<typeof parseFpingOutput>, runError?: string): FpingOutcome {
  const t = parsed.times.get(host);
  const note = parsed.notes.get(host);
  if (!t) {
    if (note && UNRESOLVED.test(note)) {
      const p: ParsedPing = { replies: [], icmpErrors: [], errors: [], unresolved: note, unrecognized: [] };
      return { stats: computePingStats(p, timing), reason: note };
    }
    const reason = runError ?? note ?? 'fping printed no result for this target';
    return { stats: { resultCode: PING_RESULT.error, sent: timing.count, received: 0, lossPct: 100, duplicates: 0 }, reason };
  }
  const replies = t.flatMap((rtt, seq) => (rtt === undefined ? [] : [{ seq, rttMs: rtt, from: host, duplicate: false }]));
  const p: ParsedPing = { replies, icmpErrors: [], errors: [], unrecognized: [], summary: { transmitted: t.length, received: replies.length, duplicates: 0, errors: 0 } };
  const stats = computePingStats(p, timing);
  return { stats, ...(note || stats.reason ? { reason: note ?? stats.reason } : {}) };
}

/** fping arguments of one run (targets go on stdin). */
export function fpingArgs(timing: Timing, packetIntervalMs: number): string[] {
  return [timing.ipv6 ? '-6' : '-4', '-q', '-C', String(timing.count), '-p', String(timing.intervalMs), '-t', String(timing.timeoutMs), '-i', String(packetIntervalMs)];
}

/** How long a run of `n` targets should take at most, ms, before the grace. */
export function fpingExpectedMs(timing: Timing, n: number, packetIntervalMs: number): number {
  const round = Math.max(timing.intervalMs, n * packetIntervalMs);
  return (timing.count - 1) * round + n * packetIntervalMs + timing.timeoutMs;
}

/** Creates the batching pinger. */
export function createBatchPinger(opts: FpingOptions = {}): BatchPinger {
  const command = opts.command ?? 'fping';
  const maxTargets = Math.max(1, opts.maxTargetsPerRun ?? 512);
  const maxRuns = Math.max(1, opts.maxRuns ?? 8);
  const gatherMs = opts.gatherMs ?? 50;
  const packetIntervalMs = opts.packetIntervalMs ?? 1;
  const killGraceMs = opts.killGraceMs ?? 10_000;
  /** Requests not yet in a run, by timing key. */
  const gathering = new Map<string, Waiter[]>();
  /** Batches ready to run, waiting for a free run slot. */
  const ready: Waiter[][] = [];
  let active = 0;
  let runs = 0;
  let timer: NodeJS.Timeout | undefined;

  const keyOf = (t: Timing) => `${t.ipv6 ? 6 : 4}/${t.count}/${t.intervalMs}/${t.timeoutMs}`;

  const startRuns = (): void => {
    while (active < maxRuns && ready.length) {
      const batch = ready.shift() as Waiter[];
      active++;
      runs++;
      runBatch(batch).finally(() => {
        active--;
        startRuns();
      });
    }
  };

  const seal = (): void => {
    timer = undefined;
    for (const [key, waiters] of gathering) {
      gathering.delete(key);
      for (let i = 0; i < waiters.length; i += maxTargets) ready.push(waiters.slice(i, i + maxTargets));
    }
    startRuns();
  };

  const runBatch = (batch: Waiter[]): Promise<void> =>
    new Promise((done) => {
      const timing = (batch[0] as Waiter).timing;
      // One host twice in a run would print two lines of one name: ping it once, answer every asker.
      const hosts = [...new Set(batch.map((w) => w.host))];
      let out = '';
      let settled = false;
      const finish = (runError?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(kill);
        const parsed = parseFpingOutput(out);
        for (const w of batch) {
          try {
            w.resolve(fpingOutcome(w.host, timing, parsed, runError));
          } catch (e) {
            w.resolve({ stats: { resultCode: PING_RESULT.error, sent: timing.count, received: 0, lossPct: 100, duplicates: 0 }, reason: String(e) });
          }
        }
        done();
      };
      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(command, fpingArgs(timing, packetIntervalMs), { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
      } catch (e) {
        finish(`cannot run ${command}: ${(e as Error).message}`);
        return;
      }
      const kill = setTimeout(() => {
        child.kill('SIGKILL');
        finish(`fping ran past its deadline (${fpingExpectedMs(timing, hosts.length, packetIntervalMs) + killGraceMs} ms) and was stopped`);
      }, fpingExpectedMs(timing, hosts.length, packetIntervalMs) + killGraceMs);
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (c: string) => {
        if (out.length < 4 * 1024 * 1024) out += c;
      });
      child.once('error', (e) => finish(`cannot run ${command}: ${e.message}${(e as NodeJS.ErrnoException).code === 'ENOENT' ? ' (install the Debian package fping)' : ''}`));
      // Exit 1 (some unreachable) and 2 (some unresolvable) are normal; the lines say which.
      child.once('close', (code, signal) => finish(signal ? `fping was killed by ${signal}` : code !== null && code > 2 ? `fping exited with ${code}: ${out.slice(0, 200)}` : undefined));
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(hosts.join('\n') + '\n');
    });

  return {
    get runs() {
      return runs;
    },
    ping(target) {
      return new Promise<FpingOutcome>((resolve) => {
        if (target.host.startsWith('-')) {
          resolve({ stats: { resultCode: PING_RESULT.error, sent: target.count, received: 0, lossPct: 100, duplicates: 0 }, reason: `refusing host "${target.host}": looks like an option` });
          return;
        }
        const timing: Timing = { count: target.count, intervalMs: target.intervalMs, timeoutMs: target.timeoutMs, ipv6: target.ipv6 };
        const key = keyOf(timing);
        const list = gathering.get(key) ?? [];
        list.push({ host: target.host, timing, resolve });
        gathering.set(key, list);
        if (list.length >= maxTargets) {
          gathering.delete(key);
          ready.push(list);
          startRuns();
        } else {
          timer ??= setTimeout(seal, gatherMs);
        }
      });
    },
  };
}
