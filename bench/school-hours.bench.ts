/**
 * The school-hours online rate at province-and-more scale: 250,000 registered schools, each with 30 days of
 * hourly online masks.
 *
 *   npx tsx --expose-gc bench/school-hours.bench.ts [--schools 250000] [--rounds 7]
 *
 * Measures, interleaved over `rounds`: (a) availabilitySnapshot(), the region sums the collector recomputes
 * every minute, in 15 ms slices: its total time and its longest stretch without yielding to the event
 * loop; (b) the peer, the same sums in one synchronous walk (what the event loop would suffer without
 * slicing). Also: markOnline() per accepted report against the peer LivenessStore.apply() (the per-report
 * work the collector already does), and the heap the masks take. Goal: no stretch over 50 ms; markOnline
 * no dearer than the liveness update.
 */
import { pathToFileURL } from 'node:url';
import { SchoolCalendar, calendarSectionSchema } from '../collector/calendar/index.js';
import { parseRegistry, type Registry } from '../collector/registry/index.js';
import { Availability, RATE_WINDOWS, RING_DAYS, availabilitySnapshot } from '../collector/views/coverage/availability.js';
import { LivenessStore } from '../collector/views/liveness/store.js';
import { registryCsv } from './coverage.bench.js';
import type { BenchResult } from './snmp-poll.bench.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SCHOOLS = arg('schools', 250_000);
const ROUNDS = arg('rounds', 7);
const NOW = Date.parse('2026-11-23T16:00:00+08:00');
const DAY = 86_400_000;
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}`;

/** The peer: the same sums in one walk without yielding. */
function syncSums(reg: Registry, a: Availability, nowMs: number): number {
  let total = 0;
  const out = RATE_WINDOWS.map(() => 0);
  for (const s of reg.schools.values()) {
    a.onlineHoursAll(s.id, s.provinceCode, nowMs, out);
    total += (out[0] as number) + (out[1] as number);
  }
  return total;
}

/** Longest gap between event-loop turns while `work` runs, ms. */
async function longestBlock(work: () => Promise<unknown>): Promise<{ totalMs: number; maxBlockMs: number }> {
  let last = performance.now();
  let max = 0;
  let running = true;
  const tick = (): void => {
    const t = performance.now();
    max = Math.max(max, t - last);
    last = t;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const t0 = performance.now();
  await work();
  const totalMs = performance.now() - t0;
  running = false;
  return { totalMs, maxBlockMs: Math.max(max, performance.now() - last) };
}

export async function run(): Promise<BenchResult> {
  const registry = parseRegistry(registryCsv(SCHOOLS), { source: 'bench.csv' });
  const calendar = new SchoolCalendar(calendarSectionSchema.parse({}));
  const today = Math.floor((NOW + 8 * 3_600_000) / DAY);
  const before = heap();
  const a = new Availability(calendar, today - 40);
  // 30 days of masks per school: ~90 % of school hours online, some nights.
  const blob = Buffer.alloc(RING_DAYS * 4 + 4);
  let seed = 1;
  for (const id of registry.schools.keys()) {
    for (let r = 0; r < RING_DAYS; r++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      blob.writeUInt32LE((0x01ff00 & ~(seed & 0x010100)) >>> 0, r * 4);
    }
    blob.writeInt32LE(today, RING_DAYS * 4);
    a.restore(id, blob);
  }
  const masksMb = (heap() - before) / 2 ** 20;

  const sliced: { totalMs: number; maxBlockMs: number }[] = [];
  const sync: { totalMs: number; maxBlockMs: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    sliced.push(await longestBlock(() => availabilitySnapshot(registry, a, NOW)));
    sync.push(await longestBlock(async () => syncSums(registry, a, NOW)));
  }

  // Per accepted report: markOnline() against the liveness update it runs beside.
  const ids = [...registry.schools.keys()];
  const store = new LivenessStore();
  const N = 200_000;
  const markNs: number[] = [];
  const applyNs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const at = NOW - (r + 1) * 3_600_000;
    let t = performance.now();
    for (let k = 0; k < N; k++) a.markOnline(ids[(k * 7919) % ids.length] as string, at, NOW);
    markNs.push(((performance.now() - t) * 1e6) / N);
    t = performance.now();
    for (let k = 0; k < N; k++) store.apply(ids[(k * 7919) % ids.length] as string, { lastReportMs: at, internetAtMs: at, internetLossPct: 0, wanSpeedBps: null, wanAtMs: null });
    applyNs.push(((performance.now() - t) * 1e6) / N);
  }

  const sMax = sliced.map((x) => x.maxBlockMs);
  const sTot = sliced.map((x) => x.totalMs);
  const pTot = sync.map((x) => x.maxBlockMs);
  console.log(`school-hours bench: ${SCHOOLS} schools, ${ROUNDS} rounds interleaved, node ${process.version}${gc ? '' : ' (run with --expose-gc for exact memory)'}`);
  console.log(`hourly masks, 30 days:                 ${masksMb.toFixed(0)} MiB (heap + array buffers)`);
  console.log(`snapshot, sliced: total                median ${median(sTot).toFixed(1)} ms (${spread(sTot)})`);
  console.log(`snapshot, sliced: longest block        median ${median(sMax).toFixed(1)} ms (${spread(sMax)})`);
  console.log(`peer, one synchronous walk: block      median ${median(pTot).toFixed(1)} ms (${spread(pTot)})`);
  console.log(`markOnline per report                  median ${median(markNs).toFixed(0)} ns (${spread(markNs)})`);
  console.log(`peer LivenessStore.apply per report    median ${median(applyNs).toFixed(0)} ns (${spread(applyNs)})`);
  const pass = median(sMax) <= 50;
  return {
    name: `school-hours online rate, ${SCHOOLS} schools`,
    figures: {
      masks_mib: Number(masksMb.toFixed(0)),
      snapshot_total_ms: Number(median(sTot).toFixed(1)),
      snapshot_longest_block_ms: Number(median(sMax).toFixed(1)),
      peer_sync_block_ms: Number(median(pTot).toFixed(1)),
      mark_online_ns: Number(median(markNs).toFixed(0)),
      peer_liveness_apply_ns: Number(median(applyNs).toFixed(0)),
    },
    ratio: median(sMax) / 50,
    goal: 'longest event-loop block of the snapshot ÷ 50 ms ≤ 1',
    pass,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
