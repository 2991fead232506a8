/**
 * The heap a registered school costs the collector (issue 11: 250,000 registered), by structure: the
 * parsed registry, the coverage model over it, and the liveness of the schools that reported.
 *
 *   node --expose-gc --import tsx bench/registry-heap.bench.ts [--schools 250000] [--reporting 60000]
 *
 * Heap used after a full GC, before and after each structure is built (the CSV text dropped first),
 * in bytes per registered school (per reporting school for the liveness). A measurement, no goal.
 */
import { pathToFileURL } from 'node:url';
import { parseRegistry } from '../collector/registry/index.js';
import { CoverageModel } from '../collector/views/coverage/model.js';
import { LivenessStore } from '../collector/views/liveness/store.js';
import { registryCsv } from './coverage.bench.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

function used(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Prints heap bytes per school of each structure. */
export function run(): Record<string, number> {
  const n = arg('schools', 250_000);
  const reporting = Math.min(n, arg('reporting', 60_000));
  // Measured from before the CSV exists: the parsed strings may keep slices of it alive.
  const t0 = used();
  let csv: string | undefined = registryCsv(n);
  const registry = parseRegistry(csv);
  csv = undefined;
  const t1 = used();
  const store = new LivenessStore();
  const ids = [...registry.schools.keys()];
  const now = Date.now();
  for (let i = 0; i < reporting; i++) store.apply(ids[i] as string, { lastReportMs: now, internetAtMs: now, internetLossPct: 0, wanSpeedBps: 1e8, wanAtMs: now, throughputMbps: null, throughputAtMs: null });
  store.takeDirty();
  const t2 = used();
  const model = new CoverageModel({ registry, store, onlineWindowMs: 180_000, measuredFreshMs: 30 * 86_400_000, nowMs: now });
  const t3 = used();
  const figures = {
    schools: n,
    reporting,
    registry_bytes_per_school: Math.round((t1 - t0) / n),
    liveness_bytes_per_reporting_school: Math.round((t2 - t1) / reporting),
    coverage_model_bytes_per_school: Math.round((t3 - t2) / n),
    total_mib: Math.round((t3 - t0) / 2 ** 20),
  };
  if (model.rollup(now).national.length === 0) throw new Error('empty rollup');
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [k, v] of Object.entries(run())) console.log(`       ${k}: ${v}`);
}
