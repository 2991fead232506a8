/**
 * The views' liveness store at province scale (issue 11): what it holds per school and what it costs the
 * garbage collector, flat columns against an object per school.
 *
 *   node --expose-gc --max-semi-space-size=64 --import tsx bench/liveness-store.bench.ts [--schools 60000] [--minutes 6] [--pairs 3] [--marks 1]
 *
 * Peer, in the same run and interleaved: the store of session 6 (a `Map` of one `Liveness` object per
 * school, each report's facts folded by `mergeLiveness()` into a new object that replaces the stored one,
 * a `Set` of changed schools). Each case feeds `--minutes` simulated minutes of every school reporting
 * once a minute (`livenessOf()` of a typical report, as `onAccepted` does), with the garbage of the
 * ingest path around it (about 3 kB per report, the last 1,000 reports' worth kept alive as in-flight
 * requests are; `--in-flight` changes how many), and takes the changed schools once a minute as the state flush does. Measured per case:
 * GC pauses (PerformanceObserver: scavenges, mark-compacts, total and longest), ns per apply, the growth
 * of the old generation per report (V8 pretenures the peer's objects: they skip the scavenger and pile up
 * for mark-compact), and the
 * heap held by the filled store after a full GC, per school. Reported: medians over the pairs, with
 * min–max. Goal: less old-generation growth per report than the peer, and fewer bytes per school (the
 * GC pause times are reported too; on a shared box they are too noisy to judge by).
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import { LivenessStore, livenessOf, mergeLiveness, type Liveness } from '../collector/views/liveness/store.js';
import type { Report } from '../protocol/index.js';
import { makeReport, typicalMeasurements } from '../test/helpers/reports.js';
import type { BenchResult } from './snmp-poll.bench.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const spread = (xs: number[], d = 1): string => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** The two stores under test, behind the calls onAccepted and the state flush make. */
interface StoreUnderTest {
  apply(school: string, facts: Liveness): void;
  takeDirty(): Set<string>;
}

/** Session 6's store, as it was: an object per school, replaced on every report. */
class ObjectPerSchoolStore implements StoreUnderTest {
  private readonly bySchool = new Map<string, Liveness>();
  private dirty = new Set<string>();
  apply(school: string, facts: Liveness): void {
    this.bySchool.set(school, mergeLiveness(this.bySchool.get(school), facts));
    this.dirty.add(school);
  }
  takeDirty(): Set<string> {
    const d = this.dirty;
    this.dirty = new Set();
    return d;
  }
}

interface CaseResult {
  scavenges: number;
  scavengeMs: number;
  scavengeMaxMs: number;
  markCompacts: number;
  markCompactMs: number;
  nsPerApply: number;
  bytesPerSchool: number;
  /** Old-generation growth per report over the rounds (garbage for mark-compact to free, unless one ran). */
  oldGrowth: number;
}

/** One case: fill, then `minutes` rounds of every school reporting, with ingest-like garbage around it. */
function runCase(make: () => StoreUnderTest, schools: string[], reports: Report[], minutes: number): CaseRun {
  gc();
  gc();
  const before = heapAndBuffers();
  const store = make();
  const t0 = 1_780_000_000_000;
  for (let i = 0; i < schools.length; i++) store.apply(schools[i] as string, livenessOf(reports[i % reports.length] as Report));
  store.takeDirty();
  gc();
  gc();
  const bytesPerSchool = (heapAndBuffers() - before) / schools.length;
  const inFlight: unknown[] = new Array(Math.max(1, arg('in-flight', 1000)));
  const gcs: { kind: number; ms: number }[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ kind: ((e as unknown as { detail: { kind: number } }).detail).kind, ms: e.duration });
  });
  obs.observe({ entryTypes: ['gc'] });
  const oldBefore = oldSpaceUsed();
  let applyNs = 0n;
  let applies = 0;
  for (let m = 1; m <= minutes; m++) {
    for (let i = 0; i < schools.length; i++) {
      const r = reports[(i + m) % reports.length] as Report;
      // The ingest path's garbage of one report (decoded columns, lines, ack), some of it still in flight.
      inFlight[(applies + i) % inFlight.length] = Array.from({ length: 40 }, (_, k) => ({ k, line: `ping,school=${i} rtt=${k}` }));
      const facts = livenessOf({ ...r, collectedAt: t0 + m * 60_000 + i });
      const a = process.hrtime.bigint();
      store.apply(schools[i] as string, facts);
      applyNs += process.hrtime.bigint() - a;
    }
    applies += schools.length;
    store.takeDirty();
  }
  return { gcs, obs, nsPerApply: Number(applyNs) / applies, bytesPerSchool, oldGrowth: (oldSpaceUsed() - oldBefore) / applies };
}

/** What one case leaves to read: its GC entries arrive asynchronously, after the case returned. */
interface CaseRun {
  gcs: { kind: number; ms: number }[];
  obs: PerformanceObserver;
  nsPerApply: number;
  bytesPerSchool: number;
  oldGrowth: number;
}

/** Bytes used in the old generation (V8 pretenures allocation sites whose objects survive: they skip the scavenger). */
const oldSpaceUsed = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? NaN;

/** Heap used plus array buffers' backing stores (the columns live outside the V8 heap). */
const heapAndBuffers = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

/** A case's figures, once its GC entries have been delivered. */
async function figuresOf(r: CaseRun): Promise<CaseResult> {
  await settle();
  r.obs.disconnect();
  const minor = r.gcs.filter((g) => g.kind === constants.NODE_PERFORMANCE_GC_MINOR);
  const major = r.gcs.filter((g) => g.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
  const sum = (xs: { ms: number }[]): number => xs.reduce((acc, g) => acc + g.ms, 0);
  return { scavenges: minor.length, scavengeMs: sum(minor), scavengeMaxMs: Math.max(0, ...minor.map((g) => g.ms)), markCompacts: major.length, markCompactMs: sum(major), nsPerApply: r.nsPerApply, bytesPerSchool: r.bytesPerSchool, oldGrowth: r.oldGrowth };
}

/** Runs the benchmark (also when this file is run directly). */
export async function run(): Promise<BenchResult> {
  const n = arg('schools', 60_000);
  const minutes = arg('minutes', 6);
  const pairs = arg('pairs', 3);
  const schools = Array.from({ length: n }, (_, i) => String(1_640_000_000 + i));
  const reports = Array.from({ length: 16 }, (_, k) => makeReport({ school: schools[k] as string, seq: k + 1, collectedAt: 1_780_000_000_000, sentAt: 1_780_000_000_000, measurements: typicalMeasurements(k + 1) }));
  const ours: CaseResult[] = [];
  const peer: CaseResult[] = [];
  for (let p = 0; p < pairs; p++) {
    // Alternate which goes first: the second of a pair inherits the first's old generation.
    const order = p % 2 === 0 ? (['peer', 'ours'] as const) : (['ours', 'peer'] as const);
    for (const which of order) {
      // With node --trace-gc-nvp, `--marks 1` lets the promoted and copied bytes be summed per case.
      if (arg('marks', 0)) console.log(`case ${which} ${p}`);
      const r = await figuresOf(runCase(() => (which === 'ours' ? new LivenessStore() : new ObjectPerSchoolStore()), schools, reports, minutes));
      (which === 'ours' ? ours : peer).push(r);
    }
  }
  const f = (xs: CaseResult[], k: keyof CaseResult, d = 1): string => `${median(xs.map((x) => x[k])).toFixed(d)} (${spread(xs.map((x) => x[k]), d)})`;
  const gcMs = (x: CaseResult): number => x.scavengeMs + x.markCompactMs;
  // Old-generation growth is the deterministic figure; GC pause times on a shared box are reported, not judged.
  const ratio = median(ours.map((x) => x.oldGrowth)) / median(peer.map((x) => x.oldGrowth));
  const bytesRatio = median(ours.map((x) => x.bytesPerSchool)) / median(peer.map((x) => x.bytesPerSchool));
  return {
    name: `liveness store, ${n} schools × ${minutes} minutes`,
    figures: {
      pairs,
      gc_ms_ratio: Number((median(ours.map(gcMs)) / median(peer.map(gcMs))).toFixed(2)),
      gc_ms_ours: `${median(ours.map(gcMs)).toFixed(0)} (${spread(ours.map(gcMs), 0)})`,
      gc_ms_peer: `${median(peer.map(gcMs)).toFixed(0)} (${spread(peer.map(gcMs), 0)})`,
      scavenges_ours: f(ours, 'scavenges', 0),
      scavenges_peer: f(peer, 'scavenges', 0),
      scavenge_ms_ours: f(ours, 'scavengeMs', 0),
      scavenge_ms_peer: f(peer, 'scavengeMs', 0),
      scavenge_max_ms_ours: f(ours, 'scavengeMaxMs'),
      scavenge_max_ms_peer: f(peer, 'scavengeMaxMs'),
      mark_compacts_ours: f(ours, 'markCompacts', 0),
      mark_compacts_peer: f(peer, 'markCompacts', 0),
      mark_compact_ms_ours: f(ours, 'markCompactMs', 0),
      mark_compact_ms_peer: f(peer, 'markCompactMs', 0),
      ns_per_apply_ours: f(ours, 'nsPerApply', 0),
      ns_per_apply_peer: f(peer, 'nsPerApply', 0),
      old_generation_growth_bytes_per_report_ours: f(ours, 'oldGrowth', 0),
      old_generation_growth_bytes_per_report_peer: f(peer, 'oldGrowth', 0),
      heap_bytes_per_school_ours: f(ours, 'bytesPerSchool', 0),
      heap_bytes_per_school_peer: f(peer, 'bytesPerSchool', 0),
      heap_bytes_ratio: Number(bytesRatio.toFixed(2)),
    },
    ratio,
    goal: 'old-generation growth per report ours ÷ peer < 1 and fewer heap bytes per school',
    pass: ratio < 1 && bytesRatio < 1,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (r) => {
      console.log(`${r.pass ? 'PASS' : 'MISS'} ${r.name}: old-generation growth ratio ${r.ratio.toFixed(3)} (goal: ${r.goal})`);
      for (const [k, v] of Object.entries(r.figures)) console.log(`       ${k}: ${v}`);
      process.exit(r.pass ? 0 : 1);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
