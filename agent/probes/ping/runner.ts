/**
 * Runs the system `ping` (iputils or BusyBox) for one target and hands back its raw text output.
 *
 * Why `child_process` and not the `ping` npm package (which package.json lists): checked against
 * ping 1.0.0, the package
 *  - does not expose the child process, so a ping that hangs (a resolver that never answers) can
 *    only be abandoned, never killed: each stuck run would leak a process;
 *  - does not report the exit code;
 *  - always passes `-c` (`min_reply` falls back to 1 when given 0), and iputils with `-c` stops
 *    waiting 2×(slowest RTT so far) after the last request, so on a satellite path a slow last reply
 *    is counted as lost (see `pingArgs` for what we pass instead);
 *  - runs a separate `ping6` binary for IPv6 and parses the output itself with a parser that can
 *    throw inside its 'close' handler (an uncaught exception) on a header line it does not expect;
 *  - declares `engines: node >= 22`, while the agent runs on Node 20.
 * Its parsed fields (`min`/`avg`/`packetLoss`… as strings or "unknown") would not be used anyway:
 * `parse.ts` reads the raw output. Spawning ping directly is ~80 lines and has none of these problems.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

/** One run of ping against one target. */
export interface PingRequest {
  host: string;
  /** `-6` when true, `-4` otherwise. */
  ipv6: boolean;
  /** Echo requests that count (the parser only counts the first `count`; see `pingArgs`). */
  count: number;
  intervalMs: number;
  /** How long each request may wait for its reply. */
  timeoutMs: number;
}

/** What came back from one run. */
export interface PingRunResult {
  /** stdout and stderr, in the order they arrived. */
  output: string;
  /** Exit code of ping; null when it did not start or was killed by a signal. */
  exitCode: number | null;
  /**
   * Whether the command itself failed: it could not be started, was killed by a signal, or ran
   * past its deadline and was stopped. A ping that ran and reported loss or an unknown host has not failed.
   */
  failed: boolean;
  /** Why it failed. */
  error?: string;
}

/** Runs ping. Implementations never reject: a failure is a result with `failed: true`. */
export interface PingRunner {
  run(req: PingRequest): Promise<PingRunResult>;
}

/** The `-w` deadline of a run, in whole seconds: the last counted request still gets `timeoutMs`. */
export function pingDeadlineSeconds(req: Pick<PingRequest, 'count' | 'intervalMs' | 'timeoutMs'>): number {
  return Math.max(1, Math.ceil(((req.count - 1) * req.intervalMs + req.timeoutMs) / 1000));
}

function seconds(ms: number): string {
  return String(Math.round(ms) / 1000);
}

/**
 * Arguments for iputils and BusyBox ping alike: `-n -4|-6 -i <s> -w <s> <host>`.
 *
 * There is deliberately no `-c`. With `-c N` alone, iputils and BusyBox exit 2×(slowest RTT so
 * far) after the N-th request (at least 1 s in BusyBox), so a reply slower than that to the last
 * request is lost; with `-c N -w D` iputils keeps sending until N replies arrive, so `sent` grows
 * with loss and the extra requests get less than `timeoutMs`. Instead ping sends for `-w D` seconds,
 * where D leaves the N-th request `timeoutMs` to be answered, and the parser counts only the first
 * N requests (by sequence number) and their replies. The few extra requests sent after the N-th
 * (about timeoutMs / intervalMs of them, 84 bytes each) are ignored.
 */
export function pingArgs(req: PingRequest): string[] {
  return ['-n', req.ipv6 ? '-6' : '-4', '-i', seconds(req.intervalMs), '-w', String(pingDeadlineSeconds(req)), req.host];
}

/** Options of the system ping runner. */
export interface SystemPingRunnerOptions {
  /** Program to run; default `ping`. Use `busybox` with `prefixArgs: ['ping']` for BusyBox. */
  command?: string;
  /** Arguments before ours, e.g. `['ping']` for `busybox ping`. */
  prefixArgs?: readonly string[];
  /**
   * Milliseconds past ping's own `-w` deadline after which it is stopped (SIGINT, then SIGKILL a
   * second later) and the run counts as failed. Covers name resolution, which `-w` does not bound.
   * Default 10000.
   */
  killGraceMs?: number;
  /** Output kept per run; the rest is dropped. Default 256 KiB. */
  maxOutputBytes?: number;
}

/** A PingRunner that spawns the system ping with `pingArgs()`, in the C locale. */
export function createSystemPingRunner(opts: SystemPingRunnerOptions = {}): PingRunner {
  const command = opts.command ?? 'ping';
  const prefix = opts.prefixArgs ?? [];
  const killGraceMs = opts.killGraceMs ?? 10_000;
  const maxOutputBytes = opts.maxOutputBytes ?? 256 * 1024;

  return {
    run(req: PingRequest): Promise<PingRunResult> {
      if (req.host.startsWith('-')) {
        return Promise.resolve({ output: '', exitCode: null, failed: true, error: `refusing host "${req.host}": looks like an option` });
      }
      return new Promise((resolve) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        let timedOut = false;
        let settled = false;
        const timers: NodeJS.Timeout[] = [];
        const finish = (r: PingRunResult): void => {
          if (settled) return;
          settled = true;
          timers.forEach(clearTimeout);
          resolve(r);
        };
        const output = (): string => Buffer.concat(chunks).toString('utf8');

        let child: ChildProcessByStdio<null, Readable, Readable>;
        try {
          child = spawn(command, [...prefix, ...pingArgs(req)], {
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
          });
        } catch (e) {
          finish({ output: '', exitCode: null, failed: true, error: `cannot run ${command}: ${(e as Error).message}` });
          return;
        }
        const keep = (b: Buffer): void => {
          if (bytes >= maxOutputBytes) return;
          const part = b.subarray(0, maxOutputBytes - bytes);
          chunks.push(part);
          bytes += part.length;
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.once('error', (e) => {
          finish({ output: output(), exitCode: null, failed: true, error: `cannot run ${command}: ${e.message}` });
        });
        child.once('close', (code, signal) => {
          if (timedOut) {
            finish({ output: output(), exitCode: code, failed: true, error: `ping ran past its deadline and was stopped (${signal ?? `exit ${code}`})` });
          } else if (signal) {
            finish({ output: output(), exitCode: null, failed: true, error: `ping was killed by ${signal}` });
          } else {
            finish({ output: output(), exitCode: code, failed: false });
          }
        });
        const hardMs = pingDeadlineSeconds(req) * 1000 + killGraceMs;
        timers.push(
          setTimeout(() => {
            timedOut = true;
            child.kill('SIGINT');
            timers.push(setTimeout(() => child.kill('SIGKILL'), 1000));
          }, hardMs),
        );
      });
    },
  };
}
