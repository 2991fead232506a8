/**
 * Agent steady state: the probes of an agent with 5 ping targets on loopback (127.0.0.1–127.0.0.5)
 * and one 48-port gateway (sim, in a child process so its CPU is not counted), run for N cycles
 * back to back — an accelerated cycle. Measures RSS after each cycle and CPU per cycle of this
 * process plus the `ping` children it waited for (/proc/self/stat utime+stime+cutime+cstime), and
 * reports the 1-minute-cycle equivalent: CPU per cycle / 60 s. Goals: ≤ 64 MB RSS, ≤ 1 % of one core.
 *
 * INVENTORY HOOK: the inventory probe (300 devices) is written in parallel; when it exists, add it
 * to `probes` below (built from the same config via buildProbes once `inventory` is in the agent
 * config) and serve its 300 devices from the gateway child. Until then this measures ping + SNMP.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { agentConfigSchema } from '../agent/config.js';
import { buildProbes } from '../agent/probes/build.js';
import { measurementSchema } from '../protocol/report.js';
import { startGatewayChild, type BenchResult } from './snmp-poll.bench.js';

const CLK_TCK = 100;

/** CPU ms used by this process and its waited-for children, from /proc/self/stat. */
function cpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state(0) … utime(11) stime(12) cutime(13) cstime(14).
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(f[i]), 0);
  return (ticks * 1000) / CLK_TCK;
}

/** Runs the benchmark. */
export async function run(options: { cycles?: number } = {}): Promise<BenchResult> {
  const cycles = options.cycles ?? 8;
  // RSS of the benchmark process before any probe exists (node + tsx loader + imported modules).
  const baselineRss = process.memoryUsage.rss();
  const gw = await startGatewayChild({ count: 1, ports: 48 });
  const log = pino({ level: 'silent' });
  try {
    const config = agentConfigSchema.parse({
      school: '1640104001',
      targets: [1, 2, 3, 4, 5].map((i) => ({ host: `127.0.0.${i}`, role: i === 1 ? 'gateway' : 'internet', count: 3, intervalMs: 200 })),
      snmp: { host: `127.0.0.1:${gw.ports[0]}` },
    });
    const probes = buildProbes({ config, stateDir: '/tmp/campuslink-bench-state' });
    const cycle = async (): Promise<number> => {
      const settled = await Promise.all(probes.map((p) => p.collect({ now: Date.now, log })));
      const ms = settled.flat();
      for (const m of ms) if (!measurementSchema.safeParse(m).success) throw new Error(`invalid measurement ${JSON.stringify(m)}`);
      return ms.length;
    };
    await cycle(); // warm-up: module loading, JIT, first SNMP baseline
    if (global.gc) global.gc();
    const cpu0 = cpuMs();
    const t0 = performance.now();
    let peakRss = 0;
    let measurements = 0;
    for (let i = 0; i < cycles; i++) {
      measurements = await cycle();
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }
    const cpuPerCycleMs = (cpuMs() - cpu0) / cycles;
    const wallPerCycleMs = (performance.now() - t0) / cycles;
    const cpuPct1min = (cpuPerCycleMs / 60_000) * 100;
    const rssMb = peakRss / 2 ** 20;
    const ratio = Math.max(rssMb / 64, cpuPct1min / 1);
    return {
      name: 'agent steady state (5 ping targets, 48-port gateway; inventory not yet included)',
      figures: {
        cycles,
        measurements_per_cycle: measurements,
        wall_per_cycle_ms: Number(wallPerCycleMs.toFixed(0)),
        cpu_per_cycle_ms: Number(cpuPerCycleMs.toFixed(1)),
        cpu_pct_of_one_core_at_1min_cycle: Number(cpuPct1min.toFixed(3)),
        peak_rss_mb: Number(rssMb.toFixed(1)),
        baseline_rss_before_probes_mb: Number((baselineRss / 2 ** 20).toFixed(1)),
        note: 'run under tsx: RSS includes the TypeScript loader; measure dist/ with node for the shipped figure',
      },
      ratio,
      goal: 'max(RSS / 64 MB, CPU % / 1 %) ≤ 1',
      pass: ratio <= 1,
    };
  } finally {
    await gw.stop();
  }
}
