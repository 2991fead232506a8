/**
 * The national hub's read side at national scale: 32 provinces × ~94 counties (3,008 counties, 320
 * cities) in the roll-up store, 10 compliance rules each. Measures the synchronous work of one answer,
 * which is what blocks the event loop: national coverage, the largest province's coverage, national
 * compliance (each built and serialised to JSON), against a peer measured interleaved in the same run:
 * serialising the store's 32 province rows as they are (the floor of any national answer).
 *
 *   npx tsx bench/hub-views.bench.ts [--provinces 32] [--counties 94] [--rounds 15] [--reps 20]
 *
 * Prints, per operation, the median and spread (min–max) over rounds of the mean time per answer, the
 * slowest single answer (loop block: wall time, and CPU time, which excludes the time a loaded machine ran
 * other processes), and the ratio of each to the peer. Goal: every answer < 50 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubCompliance, hubCoverage, type HubReadOptions } from '../collector/hub/views/coverage.js';
import { HubRollupStore } from '../collector/hub/store.js';
import { openStateDb } from '../collector/state/db.js';
import type { RegionAggregate, Rollup } from '../protocol/rollup.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const PROVINCES = arg('provinces', 32);
const COUNTIES = arg('counties', 94);
const ROUNDS = arg('rounds', 15);
const REPS = arg('reps', 20);
const NOW = Date.parse('2026-11-23T16:00:00+08:00');
const RULES = ['cn-bb-01', 'cn-bb-02', 'cn-bb-03', 'cn-bb-05', 'cn-dc-01', 'cn-dc-02', 'cn-dc-03', 'cn-dc-04', 'cn-dc-05', 'c2c-01'];

function region(code: string, level: RegionAggregate['level'], n: number): RegionAggregate {
  const online = Math.round(n * 0.8), offline = Math.round(n * 0.15), never = n - online - offline;
  return {
    region: code, level, registered: n, online, offline, neverSeen: never, schoolHoursOnlinePct: 88.5,
    tiers: { '1000': { measured: n >> 4, contracted: n >> 3 }, '100': { measured: n >> 3, contracted: n >> 2 }, '20': { measured: 0, contracted: n >> 3 }, '2': { measured: 0, contracted: n >> 4 }, lt2: { measured: 0, contracted: 1 } },
    tierUnknown: 0, links: { fiber: n >> 1, cellular: n >> 2, 'sat-geo': n >> 3, 'sat-leo': n >> 4, other: 1 },
    compliance: Object.fromEntries(RULES.map((r) => [r, { pass: online, fail: offline, unknown: never }])), alertsFiring: { 'school-offline': offline },
  };
}

function province(k: number): Rollup {
  const pp = String(11 + k).padStart(2, '0');
  const regions: RegionAggregate[] = [];
  const cities = Math.ceil(COUNTIES / 10);
  for (let c = 0; c < cities; c++) {
    const city = `${pp}${String(c + 1).padStart(2, '0')}00`;
    const n = Math.min(10, COUNTIES - c * 10);
    for (let j = 0; j < n; j++) regions.push(region(`${city.slice(0, 4)}${String(j + 1).padStart(2, '0')}`, 'county', 20));
    regions.push(region(city, 'city', 20 * n));
  }
  regions.push(region(`${pp}0000`, 'province', 20 * COUNTIES));
  return { v: 1, province: pp, collector: `prov-${pp}`, epoch: 'epoch0001', seq: 1, asOf: NOW - 30_000, sentAt: NOW - 29_000, consoleUrl: `https://collector-${pp}.example/console`, regions };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-views-bench-'));
  const state = openStateDb({ stateDir: dir, checkpointIntervalMs: 0 });
  const store = HubRollupStore.open({ state });
  for (let k = 0; k < PROVINCES; k++) await store.apply(province(k), NOW - (k === 0 ? 600_000 : 20_000));
  const opts: HubReadOptions = { store, now: () => NOW, staleAfterMs: 180_000 };
  const largest = `${String(11).padStart(2, '0')}0000`;
  const ops: Record<string, () => number> = {
    'peer: JSON of the 32 province rows': () => JSON.stringify(store.children('')).length,
    'national coverage': () => JSON.stringify(hubCoverage(opts, 'national', undefined)).length,
    [`province coverage (${COUNTIES} counties)`]: () => JSON.stringify(hubCoverage(opts, 'province', largest)).length,
    'national compliance (10 rules)': () => JSON.stringify(hubCompliance(opts, 'national', undefined)).length,
  };
  const per: Record<string, number[]> = Object.fromEntries(Object.keys(ops).map((k) => [k, []]));
  const worst: Record<string, number> = Object.fromEntries(Object.keys(ops).map((k) => [k, 0]));
  // CPU time of the slowest answer: on a shared box the wall time also holds the time the OS ran others.
  const worstCpu: Record<string, number> = Object.fromEntries(Object.keys(ops).map((k) => [k, 0]));
  for (const f of Object.values(ops)) for (let i = 0; i < 5; i++) f();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, f] of Object.entries(ops)) {
      const t0 = performance.now();
      for (let i = 0; i < REPS; i++) {
        const s = performance.now();
        const c = process.cpuUsage();
        f();
        const cpu = process.cpuUsage(c);
        worst[name] = Math.max(worst[name] as number, performance.now() - s);
        worstCpu[name] = Math.max(worstCpu[name] as number, (cpu.user + cpu.system) / 1000);
      }
      (per[name] as number[]).push((performance.now() - t0) / REPS);
    }
  }
  const peer = median(per['peer: JSON of the 32 province rows'] as number[]);
  process.stdout.write(`hub views: ${PROVINCES} provinces × ${COUNTIES} counties (${PROVINCES * COUNTIES} counties), ${ROUNDS} rounds × ${REPS} answers, interleaved\n`);
  for (const name of Object.keys(ops)) {
    const xs = per[name] as number[];
    const m = median(xs);
    process.stdout.write(`  ${name.padEnd(40)} median ${m.toFixed(3)} ms  (spread ${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})  slowest ${(worst[name] as number).toFixed(2)} ms wall / ${(worstCpu[name] as number).toFixed(2)} ms CPU  ratio to peer ${(m / peer).toFixed(1)}×\n`);
  }
  await state.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
