/**
 * Runs `iperf3 --json` for one direction against one server and hands back its output. The child is
 * killed at a deadline (a server that accepts and then stalls must not hold the probe for ever).
 */
import { spawn } from 'node:child_process';

/** One direction of one test. */
export interface IperfRequest {
  host: string;
  port: number;
  /** true: the server sends (download, `-R`). */
  reverse: boolean;
  durationS: number;
  omitS: number;
  /** Rate cap, bit/s (`-b`). */
  rateCapBps: number;
  connectTimeoutMs: number;
}

/** What came back from one run. */
export interface IperfRunResult {
  stdout: string;
  stderr: string;
  /** null when it did not start or was killed. */
  exitCode: number | null;
  /** Why it did not run to its end (could not start, deadline), if so. */
  error?: string;
  wallMs: number;
}

/** Runs iperf3. Implementations never reject. */
export interface IperfRunner {
  run(req: IperfRequest): Promise<IperfRunResult>;
}

/** The arguments of one run: `-c host -p port -J -t T -O omit -b cap [-R] --connect-timeout ms`. */
export function iperfArgs(req: IperfRequest): string[] {
  const args = ['-c', req.host, '-p', String(req.port), '-J', '-t', String(req.durationS), '-O', String(req.omitS), '-b', String(req.rateCapBps), '--connect-timeout', String(req.connectTimeoutMs)];
  if (req.reverse) args.push('-R');
  return args;
}

/** How long a run may take before it is killed: connection, warm-up, measurement and 10 s for the results exchange. */
export function iperfDeadlineMs(req: Pick<IperfRequest, 'durationS' | 'omitS' | 'connectTimeoutMs'>): number {
  return req.connectTimeoutMs + (req.durationS + req.omitS) * 1000 + 10_000;
}

/** Options of the system runner. */
export interface SystemIperfRunnerOptions {
  /** Program; default `iperf3`. */
  command?: string;
  /** Arguments before iperf3's own (e.g. `['netns', 'exec', 'ns', 'iperf3']` with command `ip`). */
  prefixArgs?: readonly string[];
}

/** The runner that spawns iperf3. */
export function createSystemIperfRunner(opts: SystemIperfRunnerOptions = {}): IperfRunner {
  const command = opts.command ?? 'iperf3';
  const prefix = opts.prefixArgs ?? [];
  return {
    run: (req) =>
      new Promise<IperfRunResult>((resolve) => {
        const started = Date.now();
        let stdout = '';
        let stderr = '';
        let error: string | undefined;
        let settled = false;
        const done = (exitCode: number | null): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ stdout, stderr, exitCode, wallMs: Date.now() - started, ...(error !== undefined && { error }) });
        };
        const child = spawn(command, [...prefix, ...iperfArgs(req)], { stdio: ['ignore', 'pipe', 'pipe'] });
        const timer = setTimeout(() => {
          error = `iperf3 ran past its deadline of ${iperfDeadlineMs(req)} ms and was killed`;
          child.kill('SIGKILL');
        }, iperfDeadlineMs(req));
        // iperf3's JSON is a few kB; a runaway output is cut so the agent's memory stays bounded.
        child.stdout.on('data', (d: Buffer) => {
          if (stdout.length < 1_000_000) stdout += d.toString('utf8');
        });
        child.stderr.on('data', (d: Buffer) => {
          if (stderr.length < 10_000) stderr += d.toString('utf8');
        });
        child.on('error', (e: NodeJS.ErrnoException) => {
          error = e.code === 'ENOENT' ? `${command} is not installed (apt-get install iperf3 / opkg install iperf3)` : `${command} could not start: ${e.message}`;
          done(null);
        });
        child.on('close', (code) => done(code));
      }),
  };
}
