/**
 * Runs every `bench/*.bench.ts` in turn (`npm run bench`) and prints each result. A benchmark module
 * exports `run(): Promise<BenchResult>`. Exit code 1 when a benchmark misses its goal or fails.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './snmp-poll.bench.js';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const f of files) {
  const mod = (await import(new URL(f, import.meta.url).href)) as { run?: () => Promise<BenchResult> };
  if (typeof mod.run !== 'function') {
    console.error(`${f}: exports no run()`);
    failed++;
    continue;
  }
  const t0 = Date.now();
  try {
    const r = await mod.run();
    console.log(`${r.pass ? 'PASS' : 'MISS'} ${r.name}: ratio ${r.ratio.toFixed(3)} (goal: ${r.goal}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const [k, v] of Object.entries(r.figures)) console.log(`       ${k}: ${v}`);
    if (!r.pass) failed++;
  } catch (e) {
    console.error(`FAIL ${f}: ${(e as Error).stack ?? String(e)}`);
    failed++;
  }
}
process.exit(failed > 0 ? 1 : 0);
