/**
 * The doctor's throughput checks: iperf3 runs, and each server's port accepts a connection. Moves no test
 * data (a metered link is not spent on a check): a TCP connect that is closed at once.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { AgentConfig } from '../../config.js';
import type { Check } from '../../doctor.js';

function runs(command: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(command, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => resolve(code === 0 ? (out.split('\n')[0] ?? '').trim() : undefined));
  });
}

function accepts(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (problem: string | undefined): void => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer in ${timeoutMs} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/** Nothing when the probe is off; else whether iperf3 runs and every server accepts a connection. */
export async function checkThroughput(config: Readonly<AgentConfig>): Promise<Check[]> {
  const t = config.throughput;
  if (!t.enabled) return [];
  const version = await runs(t.command);
  const program: Check = version
    ? { status: 'ok', what: 'iperf3', detail: version }
    : { status: 'fail', what: 'iperf3', detail: `${t.command} does not run: install it (apt-get install iperf3, opkg install iperf3) or set throughput.command` };
  const servers = await Promise.all(
    t.servers.map(async (s): Promise<Check> => {
      const what = `iperf3 server ${s.host}:${s.port}`;
      const problem = await accepts(s.host, s.port, Math.min(t.connectTimeoutMs, 10_000));
      return problem === undefined
        ? { status: 'ok', what, detail: 'accepts connections' }
        : { status: 'warn', what, detail: `does not accept a connection (${problem}): tests pass it over for the next server` };
    }),
  );
  return [program, ...servers];
}
