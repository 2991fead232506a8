/**
 * Per-school budgets at province scale: what `SchoolBudgets.admit()` costs on the ingest path and what its
 * state holds for 60,000 schools.
 *
 *   npx tsx --expose-gc bench/budgets.bench.ts [--schools 60000] [--pairs 7]
 *
 * (a) CPU: admit() of a typical report (21 measurements, every series known after the school's first
 *     report) against its peer in the same run, interleaved: `reportToLines()`, the line protocol the
 *     collector builds for the same report anyway. Median of the pairs (with min–max) of ns per report, and
 *     the ratio admit/lines. Goal: ≤ 0.5 (the budget costs less than half of building the lines).
 * (b) Memory: heap and array buffers (after GC) held by the budgets of `--schools` schools that each sent one typical report,
 *     in bytes per school. Goal: ≤ 1,500 B per school (90 MB at 60,000 would be too much for one 2-core box).
 * (c) The longest admit() of a 5,000-measurement report of new series (a flood), in ms: must stay far below
 *     the 50 ms event-loop budget.
 */
import { pino } from 'pino';
import { DEFAULT_BUDGETS, SchoolBudgets } from '../collector/ingest/budgets.js';
import { LineCache, reportToLines, type RegistryTags } from '../collector/ingest/points.js';
import type { Measurement, Report } from '../protocol/index.js';
import { makeReport, pingMeasurement, typicalReport } from '../test/helpers/reports.js';
import type { BenchResult } from './snmp-poll.bench.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] as string) : def;
};

const school = (i: number) => String(1_000_000_000 + i);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** ns per report of `fn` over `reports`. */
function timeIt(reports: readonly Report[], fn: (r: Report, i: number) => unknown): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reports.length; i++) fn(reports[i] as Report, i);
  return Number(process.hrtime.bigint() - t0) / reports.length;
}

export async function run(): Promise<BenchResult> {
  const schools = Number(arg('schools', '60000'));
  const pairs = Number(arg('pairs', '7'));
  const log = pino({ level: 'silent' });
  const clock = { t: Date.UTC(2026, 10, 23, 2, 0) };
  const tags: RegistryTags = { school: '', province: '640000', city: '640100', county: '640104', link: 'fiber' };

  // (b) memory of `schools` schools' state, one typical report each.
  const held = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers; // the hash tables' Int32Arrays live outside the JS heap
  };
  gc();
  const heap0 = held();
  const big = new SchoolBudgets({ settings: DEFAULT_BUDGETS, log, now: () => clock.t });
  const report = typicalReport({ seq: 1 });
  for (let i = 0; i < schools; i++) big.admit(school(i), [{ ...report, school: school(i) }], 3000);
  gc();
  const bytesPerSchool = (held() - heap0) / schools;
  if (big.size !== schools) throw new Error(`expected ${schools} schools with budget state, got ${big.size}`);

  // (a) CPU, interleaved with the peer; 2,000 schools, 10 reports each, series known after the first.
  const budgets = new SchoolBudgets({ settings: DEFAULT_BUDGETS, log, now: () => clock.t });
  const reports: Report[] = [];
  for (let seq = 1; seq <= 10; seq++) for (let i = 0; i < 2000; i++) reports.push(typicalReport({ seq, school: school(i) }));
  for (let i = 0; i < 2000; i++) budgets.admit(school(i), [reports[i] as Report], 3000);
  const cache = new LineCache();
  const ours: number[] = [];
  const peer: number[] = [];
  for (let p = 0; p < pairs; p++) {
    const a = () => ours.push(timeIt(reports, (r) => budgets.admit(r.school, [r], 3000)));
    const b = () => peer.push(timeIt(reports, (r) => reportToLines({ report: r, tags: { ...tags, school: r.school }, receivedAtMs: r.sentAt, cache })));
    if (p % 2 === 0) (a(), b());
    else (b(), a());
  }
  const ratio = median(ours) / median(peer);

  // (c) a flood report: 5,000 new series at once.
  let worstMs = 0;
  const flood = new SchoolBudgets({ settings: DEFAULT_BUDGETS, log, now: () => clock.t });
  for (let k = 0; k < 5; k++) {
    const ms: Measurement[] = Array.from({ length: 5000 }, (_, i) => pingMeasurement({ target: `flood-${k}-${i}.example.net` }));
    const r = makeReport({ seq: k + 1, measurements: ms });
    const t0 = process.hrtime.bigint();
    flood.admit(r.school, [r], 1_000_000);
    worstMs = Math.max(worstMs, Number(process.hrtime.bigint() - t0) / 1e6);
  }

  const figures = {
    'admit ns/report (median, min–max)': `${median(ours).toFixed(0)} (${Math.min(...ours).toFixed(0)}–${Math.max(...ours).toFixed(0)})`,
    'reportToLines ns/report (median, min–max)': `${median(peer).toFixed(0)} (${Math.min(...peer).toFixed(0)}–${Math.max(...peer).toFixed(0)})`,
    [`heap per school, B (${schools} schools)`]: bytesPerSchool.toFixed(0),
    [`heap for ${schools} schools, MiB`]: ((bytesPerSchool * schools) / 1024 / 1024).toFixed(1),
    'worst admit() of a 5,000-series flood report, ms': worstMs.toFixed(2),
    gc: (globalThis as { gc?: unknown }).gc ? 'yes' : 'no (run with --expose-gc for exact heap figures)',
  };
  return { name: 'budgets', figures, ratio, goal: 'admit ≤ 0.5 × reportToLines, ≤ 1,500 B per school, flood report ≤ 10 ms', pass: ratio <= 0.5 && bytesPerSchool <= 1500 && worstMs <= 10 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.log(`${r.pass ? 'PASS' : 'MISS'} ${r.name}: ratio ${r.ratio.toFixed(3)} (goal: ${r.goal})`);
  for (const [k, v] of Object.entries(r.figures)) console.log(`  ${k}: ${v}`);
}
