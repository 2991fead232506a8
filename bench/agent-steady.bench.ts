/**
 * Agent steady state, measured on the shipped agent as a process: `node dist/agent/cli.js run` and the
 * esbuild bundle (`campuslink-agent.mjs`), plain and with the lean Node flags and environment the packaging uses, each for N accelerated cycles (every 10 s) against a real
 * collector with a real influxd, with 5 ping targets on loopback (count 5, 1 s apart: the fiber defaults),
 * one 48-port sim gateway (in a child process) and an inventory of 300 devices from a sim core switch.
 *
 * CPU per cycle comes from /proc/<agent>/stat (utime+stime of the agent plus cutime+cstime of the ping
 * children it waited for) between the end of the first cycle and the end of the last; the 1-minute-cycle
 * figure is CPU per cycle / 60 s. Memory: peak RSS (VmHWM) and the RSS after the last cycle.
 * Goals: ≤ 64 MB RSS and ≤ 1 % of one core averaged. Needs `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { issueToken } from '../collector/auth/tokens.js';
import { loadCollectorConfig } from '../collector/config.js';
import { startCollector } from '../collector/server.js';
import { startInfluxd } from '../collector/sink/influxd.js';
import { buildAgentBundle } from '../scripts/build-agent.js';
import { startSwitch } from '../sim/switch.js';
import { startGatewayChild, type BenchResult } from './snmp-poll.bench.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLK_TCK = 100;
const SCHOOL = '1640104001';

function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ([11, 12, 13, 14].reduce((s, i) => s + Number(f[i]), 0) * 1000) / CLK_TCK;
}

function procKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

interface AgentFigures {
  cpuPerCycleMs: number;
  peakRssMb: number;
  endRssMb: number;
  cycles: number;
}

/** Node flags the packaged agent runs with (systemd unit, procd init): less memory for some CPU. */
export const LEAN_NODE_FLAGS = ['--lite-mode', '--no-expose-wasm', '--max-semi-space-size=1'];

/**
 * Environment the systemd unit adds for glibc: allocations of 32 KiB and more are mmap()ed, so the parser
 * memory of the bundle's start goes back to the system instead of staying resident in about half the runs.
 */
export const LEAN_NODE_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '32768' };

async function measureAgent(opts: { entry: string; env: Record<string, string>; cycles: number; nodeArgs?: string[] }): Promise<AgentFigures> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.entry, 'run'], { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const pid = child.pid as number;
  let done = 0;
  let cpuAtFirst = 0;
  let cpuAtLast = 0;
  let stderr = '';
  const finished = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const lines = stderr.split('\n');
      stderr = lines.pop() ?? '';
      for (const line of lines) {
        // One "report collected" debug line per cycle, logged after the probes ran and the report was spooled.
        if (!line.includes('"report collected"')) continue;
        done++;
        if (done === 1) cpuAtFirst = procCpuMs(pid);
        if (done === opts.cycles + 1) {
          cpuAtLast = procCpuMs(pid);
          resolve();
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code} after ${done} cycles`)));
  });
  await finished;
  const peakRssMb = procKb(pid, 'VmHWM') / 1024;
  const endRssMb = procKb(pid, 'VmRSS') / 1024;
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  return { cpuPerCycleMs: (cpuAtLast - cpuAtFirst) / opts.cycles, peakRssMb, endRssMb, cycles: opts.cycles };
}

/** Runs the benchmark. */
export async function run(options: { cycles?: number } = {}): Promise<BenchResult> {
  const cycles = options.cycles ?? 6;
  const distEntry = join(ROOT, 'dist', 'agent', 'cli.js');
  if (!existsSync(distEntry)) throw new Error(`${distEntry} is missing: run "npm run build" first`);
  const work = mkdtempSync(join(tmpdir(), 'campuslink-bench-agent-'));
  const log = pino({ level: 'silent' });
  const influxd = await startInfluxd({ dataDir: join(work, 'influxd') });
  const gw = await startGatewayChild({ count: 1, ports: 48 });
  const sw = await startSwitch({ devices: 300 });
  const collectorState = join(work, 'collector');
  const { token } = issueToken({ stateDir: collectorState, school: SCHOOL });
  const collector = await startCollector({
    config: loadCollectorConfig(undefined, {
      CAMPUSLINK_STATE_DIR: collectorState,
      CAMPUSLINK_REGISTRY: join(ROOT, 'config', 'schools.example.csv'),
      CAMPUSLINK_INFLUX_URL: influxd.url,
      CAMPUSLINK_LISTEN: '127.0.0.1:0',
    }),
    log,
  });
  try {
    const bundle = await buildAgentBundle({ outDir: join(work, 'bundle') });
    const envFor = (name: string) => ({
      CAMPUSLINK_SCHOOL: SCHOOL,
      CAMPUSLINK_AGENT_ID: `bench-${name}`,
      CAMPUSLINK_TOKEN: token,
      CAMPUSLINK_COLLECTOR_URL: collector.url,
      CAMPUSLINK_SCHEDULE: '*/10 * * * * *',
      CAMPUSLINK_JITTER_MS: '0',
      CAMPUSLINK_SPOOL_DIR: join(work, name, 'spool'),
      CAMPUSLINK_STATE_DIR: join(work, name),
      CAMPUSLINK_TARGETS: JSON.stringify([1, 2, 3, 4, 5].map((i) => ({ host: `127.0.0.${i}`, role: i === 1 ? 'gateway' : 'internet' }))),
      CAMPUSLINK_SNMP_HOST: `127.0.0.1:${gw.ports[0]}`,
      CAMPUSLINK_INVENTORY_SOURCES: JSON.stringify([{ name: 'core-switch', host: `${sw.host}:${sw.port}`, community: sw.community }]),
      CAMPUSLINK_LOG_LEVEL: 'debug',
    });
    const dist = await measureAgent({ entry: distEntry, env: envFor('dist'), cycles });
    const bundled = await measureAgent({ entry: bundle.file, env: envFor('bundle'), cycles });
    const lean = await measureAgent({ entry: bundle.file, env: { ...envFor('lean'), ...LEAN_NODE_ENV }, cycles, nodeArgs: LEAN_NODE_FLAGS });
    const pct = (f: AgentFigures) => (f.cpuPerCycleMs / 60_000) * 100;
    const ratio = Math.min(...[dist, bundled, lean].map((f) => Math.max(f.peakRssMb / 64, pct(f) / 1)));
    return {
      name: 'agent steady state, real process (5 ping targets, 48-port gateway, 300-device inventory)',
      figures: {
        cycles_measured: cycles,
        dist_cpu_per_cycle_ms: Number(dist.cpuPerCycleMs.toFixed(1)),
        dist_cpu_pct_of_one_core_at_1min_cycle: Number(pct(dist).toFixed(3)),
        dist_peak_rss_mb: Number(dist.peakRssMb.toFixed(1)),
        dist_rss_after_last_cycle_mb: Number(dist.endRssMb.toFixed(1)),
        bundle_cpu_per_cycle_ms: Number(bundled.cpuPerCycleMs.toFixed(1)),
        bundle_cpu_pct_of_one_core_at_1min_cycle: Number(pct(bundled).toFixed(3)),
        bundle_peak_rss_mb: Number(bundled.peakRssMb.toFixed(1)),
        bundle_rss_after_last_cycle_mb: Number(bundled.endRssMb.toFixed(1)),
        lean_flags: LEAN_NODE_FLAGS.join(' '),
        lean_env: Object.entries(LEAN_NODE_ENV).map(([k, v]) => `${k}=${v}`).join(' '),
        lean_bundle_cpu_per_cycle_ms: Number(lean.cpuPerCycleMs.toFixed(1)),
        lean_bundle_cpu_pct_of_one_core_at_1min_cycle: Number(pct(lean).toFixed(3)),
        lean_bundle_peak_rss_mb: Number(lean.peakRssMb.toFixed(1)),
        lean_bundle_rss_after_last_cycle_mb: Number(lean.endRssMb.toFixed(1)),
      },
      ratio,
      goal: 'max(peak RSS / 64 MB, CPU % / 1 %) ≤ 1 for the best of dist, bundle and lean bundle',
      pass: ratio <= 1,
    };
  } finally {
    await collector.stop();
    await sw.stop();
    await gw.stop();
    await influxd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
