/**
 * Memory and time of the compliance evidence on the school calendar, at 250,000 schools.
 *
 *   npx tsx --expose-gc bench/compliance-evidence.bench.ts [--schools 250000] [--rounds 3]
 *
 * Each school gets two reports a school day (10:00 and 15:00, every kind of measurement the rules
 * read) and one on other days, over the 30 days up to a judgement time inside 寒假 of a province
 * whose breaks are configured (the other provinces use the national calendar, with the Spring
 * Festival). Measured: heap + array buffers retained per school (after GC, against the empty
 * evidence), the blob saved per school, the time per folded report, and the time to plan every
 * rule of the shipped profiles for all 34 calendar groups (what each rollup refresh does), median
 * and spread over `rounds`. Peer: the China-day ring the evidence had before (one bucket per China
 * day for every channel), sized for the reach of "the last 7 school days" at the same time.
 */
import { pathToFileURL } from 'node:url';
import { SchoolCalendar, calendarSectionSchema } from '../collector/calendar/index.js';
import { RulePlans, chinaDayNumber } from '../collector/views/compliance/engine.js';
import { Evidence, evidenceLayout } from '../collector/views/compliance/evidence.js';
import { loadProfiles } from '../collector/views/compliance/profile.js';
import { SchoolWindows } from '../collector/views/compliance/windows.js';
import { PROTOCOL_VERSION, type Measurement, type Report } from '../protocol/index.js';
import type { BenchResult } from './snmp-poll.bench.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const DAY = 86_400_000;
/** Inside 寒假 of the provinces with breaks, and just after the Spring Festival for the others. */
const NOW = Date.parse('2026-02-26T16:00:00+08:00');
const PROVINCES = Array.from({ length: 34 }, (_, i) => `${11 + i}0000`);

function measurements(i: number, k: number): Measurement[] {
  const lossy = (i + k) % 13 === 0;
  return [
    { name: 'ping', tags: { target: '223.5.5.5', role: 'internet' }, fields: { loss_pct: lossy ? 100 : 0, sent: 5, received: lossy ? 0 : 5, result_code: lossy ? 2 : 0, ...(lossy ? {} : { rtt_avg_ms: 20, jitter_ms: 2 }) } },
    { name: 'ping', tags: { target: '2400:3200::1', role: 'internet' }, fields: { loss_pct: 0, sent: 5, received: 5, result_code: 0, rtt_avg_ms: 30 } },
    { name: 'ping', tags: { target: 'hub.example', role: 'peer' }, fields: { loss_pct: 0, sent: 5, received: 5, result_code: 0, rtt_avg_ms: 40 + (i % 600), jitter_ms: 3 } },
    { name: 'iface', tags: { device: 'gw', ifname: 'wan0', role: 'wan' }, fields: { speed_bps: 1e9, in_bps: 1e6 * (1 + (i % 90)), oper_up: 1 } },
    { name: 'throughput', tags: { server: 'iperf.example' }, fields: { down_mbps: 50 + (i % 200), up_mbps: 10, bytes_used: 1e6, duration_ms: 20_000, capped: 0, result_code: 0 } },
    { name: 'inventory', tags: { class: 'ap' }, fields: { count: i % 6 } },
    { name: 'inventory', tags: { class: 'pc' }, fields: { count: 10 + (i % 50) } },
    { name: 'inventory', tags: { class: 'display' }, fields: { count: i % 20 } },
  ];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const spread = (xs: number[], d = 1): string => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const retained = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

export async function run(options: { schools?: number; rounds?: number } = {}): Promise<BenchResult> {
  const SCHOOLS = options.schools ?? arg('schools', 250_000);
  const ROUNDS = options.rounds ?? arg('rounds', 3);
  // Half the provinces with their own 寒假 (2026-01-24 … 2026-03-01), as the config would list them.
  const breaks = Object.fromEntries(PROVINCES.filter((_, i) => i % 2 === 0).map((p) => [p, [{ from: '2026-01-24', to: '2026-03-01', name: '寒假' }]]));
  const windows = new SchoolWindows(new SchoolCalendar(calendarSectionSchema.parse({ breaks })));
  const profiles = loadProfiles('config/compliance');
  const layout = evidenceLayout(profiles.values(), windows);
  const perSchool: number[] = [];
  const perReportUs: number[] = [];
  const planMs: number[] = [];
  let blob = 0;
  let kept = 0;
  let ev: Evidence | undefined;
  const base = retained();
  for (let round = 0; round < ROUNDS; round++) {
    ev = new Evidence(layout, windows);
    let n = 0;
    const t0 = performance.now();
    for (let i = 0; i < SCHOOLS; i++) {
      const id = `s${i}`;
      const province = PROVINCES[i % PROVINCES.length] as string;
      for (let d = 29; d >= 0; d--) {
        const dayStart = (chinaDayNumber(NOW) - d) * DAY - 8 * 3_600_000;
        const school = windows.isSchoolDay(chinaDayNumber(NOW) - d, province);
        for (const h of school ? [10, 15] : [11]) {
          const t = dayStart + h * 3_600_000;
          if (t > NOW) continue;
          const r: Report = { v: PROTOCOL_VERSION, school: id, agent: 'gw', seq: 1, collectedAt: t, sentAt: t, measurements: measurements(i, d) };
          ev.apply(id, r, t, NOW, province);
          n++;
        }
      }
    }
    perReportUs.push(((performance.now() - t0) * 1000) / n);
    perSchool.push((retained() - base) / SCHOOLS);
    blob = ev.serialize('s0')?.byteLength ?? 0;
    kept = ev.size;
    const t1 = performance.now();
    for (const p of profiles.values()) new RulePlans(p, NOW + round * 60_000, windows).signature();
    planMs.push(performance.now() - t1);
    // The next round measures against the same empty base.
    ev = undefined;
  }
  // The former China-day ring: "the last 7 school days" reaches back this far for the 寒假 provinces.
  const reach = chinaDayNumber(NOW) - Math.min(...PROVINCES.map((p) => windows.span({ schoolDays: 7, from: '08:00', to: '17:00' }, NOW, p).days[0] ?? chinaDayNumber(NOW))) + 1;
  const peerBytes = (reach + 1) * (4 + 8 * (layout.slots + layout.schoolSlots));
  const mb = (b: number): string => (b / 2 ** 20).toFixed(0);
  console.log(`compliance evidence on the school calendar: ${SCHOOLS} schools (${kept} with evidence), ${ROUNDS} rounds, node ${process.version}${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for exact memory)'}`);
  console.log(`layout: ${layout.days} China days × ${layout.slots} slots + ${layout.schoolDays} school days × ${layout.schoolSlots} slots; blob ${blob} B a school (${mb(blob * SCHOOLS)} MiB at ${SCHOOLS})`);
  console.log(`retained per school ${median(perSchool).toFixed(0)} B (${spread(perSchool, 0)}); ${mb(median(perSchool) * SCHOOLS)} MiB at ${SCHOOLS}`);
  console.log(`peer, a China-day ring reaching the 7 school days before 寒假 (${reach} days): ${peerBytes} B of arrays a school (against ${blob} B), ${mb(peerBytes * SCHOOLS)} MiB`);
  console.log(`fold: ${median(perReportUs).toFixed(2)} µs a report (${spread(perReportUs, 2)}); plans of ${profiles.size} profiles × ${windows.calendar.groups().length} calendar groups: ${median(planMs).toFixed(1)} ms (${spread(planMs)})`);
  return {
    name: `compliance evidence on the school calendar, ${SCHOOLS} schools`,
    figures: {
      blob_bytes_per_school: blob,
      retained_bytes_per_school: Number(median(perSchool).toFixed(0)),
      retained_mib_total: Number(mb(median(perSchool) * SCHOOLS)),
      peer_day_ring_bytes_per_school: peerBytes,
      fold_us_per_report: Number(median(perReportUs).toFixed(2)),
      plan_all_groups_ms: Number(median(planMs).toFixed(1)),
    },
    ratio: blob / peerBytes,
    goal: 'bytes kept per school (the blob: the rings\' arrays) below the China-day ring that would reach as far (ratio < 1); planning every group well under 50 ms',
    pass: blob < peerBytes && median(planMs) < 50,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (r) => {
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
