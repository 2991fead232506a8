/**
 * SNMP poll of a 48-port gateway: campuslink's interface probe (one collect(): sysDescr/sysUpTime,
 * the ifTable and ifXTable columns it needs) against Debian's `snmpbulkwalk -v2c -Cr<n>` of the same
 * two tables, in the same run, against the same simulated gateway (net-snmp's agent on loopback,
 * in a child process so neither side shares its CPU with the agent). Reports the median time of
 * each side and the ratio ours / snmpbulkwalk (goal ≤ 1.2).
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createIfaceProbe } from '../agent/probes/snmp/iface.js';

const execFileAsync = promisify(execFile);

/** What every benchmark returns to bench/run.ts. */
export interface BenchResult {
  name: string;
  /** The figures, for the report. */
  figures: Record<string, number | string>;
  /** ours / peer, or measured / goal; ≤ 1 meets the goal when `goal` is given as 1. */
  ratio: number;
  goal: string;
  pass: boolean;
}

/** Starts `count` sim gateways with `ports` interfaces each in a child process; resolves their ports. */
export async function startGatewayChild(options: { count: number; ports: number }): Promise<{ ports: number[]; pid: number; stop: () => Promise<void> }> {
  const code = `import { startGatewayFleet } from ${JSON.stringify(new URL('../sim/gateway.js', import.meta.url).pathname)};
const f = await startGatewayFleet({ count: ${options.count}, interfaces: ${options.ports} });
console.log(JSON.stringify(f.addresses.map((a) => a.port)));
process.stdin.resume(); process.stdin.on('end', () => f.stop().then(() => process.exit(0)));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ports = await new Promise<number[]>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('['));
      if (line) resolve(JSON.parse(line) as number[]);
    });
    child.once('exit', (c) => reject(new Error(`gateway child exited with ${c}`)));
  });
  return {
    ports,
    pid: child.pid ?? -1,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Runs the benchmark. */
export async function run(options: { iterations?: number; repetitions?: number } = {}): Promise<BenchResult> {
  const iterations = options.iterations ?? 30;
  const reps = options.repetitions ?? 50;
  const gw = await startGatewayChild({ count: 1, ports: 48 });
  const port = gw.ports[0] as number;
  const log = pino({ level: 'silent' });
  try {
    const probe = createIfaceProbe({ device: 'bench', host: `127.0.0.1:${port}`, timeoutMs: 2000, maxRepetitions: reps, wanInterface: 1 });
    const walk = async (): Promise<void> => {
      for (const table of ['.1.3.6.1.2.1.2.2', '.1.3.6.1.2.1.31.1.1']) {
        await execFileAsync('snmpbulkwalk', ['-v2c', '-c', 'public', `-Cr${reps}`, '-On', '-Oq', `127.0.0.1:${port}`, table], { env: { ...process.env, MIBS: '' } });
      }
    };
    try {
      await walk();
    } catch (e) {
      throw new Error(`snmpbulkwalk failed (install the Debian package "snmp": apt-get install snmp): ${(e as Error).message}`);
    }
    // Warm-up of both sides, then alternate so drift hits both alike.
    await probe.collect({ now: Date.now, log });
    const ours: number[] = [];
    const peer: number[] = [];
    for (let i = 0; i < iterations; i++) {
      let t = performance.now();
      const ms = await probe.collect({ now: Date.now, log });
      ours.push(performance.now() - t);
      if (ms.filter((m) => m.name === 'iface').length !== 48) throw new Error(`expected 48 iface measurements, got ${ms.length - 1}`);
      t = performance.now();
      await walk();
      peer.push(performance.now() - t);
    }
    const o = median(ours);
    const p = median(peer);
    return {
      name: 'snmp-poll (48-port gateway)',
      figures: { iterations, maxRepetitions: reps, ours_median_ms: Number(o.toFixed(2)), snmpbulkwalk_median_ms: Number(p.toFixed(2)) },
      ratio: o / p,
      goal: 'ours / snmpbulkwalk ≤ 1.2',
      pass: o / p <= 1.2,
    };
  } finally {
    await gw.stop();
  }
}
