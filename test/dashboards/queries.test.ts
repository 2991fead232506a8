/**
 * Runs every panel query and every template-variable query of every dashboard against a real
 * InfluxDB 1.x seeded with every measurement of docs/schema.md for a few schools over the last
 * hours, with Grafana's macros and variables substituted, and asserts each returns rows.
 */
import { expect } from 'chai';
import { allPanels, loadDashboards, substitute, variableOptions, type MacroValues } from './dashboards.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { bundledDivisions, parseRegistry, regionPoints } from '../../collector/registry/index.js';
import { toLineProtocol } from '../../collector/sink/line-protocol.js';
import { DERIVED_FIELDS, storedFields } from '../../collector/ingest/stored-fields.js';

interface SeedSchool {
  school: string;
  province: string;
  city: string;
  county: string;
  link: string;
  agent: string;
  /** Minutes ago the school stopped reporting (0: still reporting). */
  silentForMin: number;
}

const SCHOOLS: SeedSchool[] = [
  { school: '1640104001', province: '640000', city: '640100', county: '640104', link: 'fiber', agent: 'gw-01', silentForMin: 0 },
  { school: '1640104002', province: '640000', city: '640100', county: '640104', link: 'dsl', agent: 'gw-01', silentForMin: 45 },
  { school: '1640105001', province: '640000', city: '640100', county: '640105', link: 'sat-geo', agent: 'gw-01', silentForMin: 0 },
  { school: '1650102001', province: '650000', city: '650100', county: '650102', link: 'sat-leo', agent: 'box-1', silentForMin: 0 },
];

const HOURS = 3;
const STEP_MS = 60_000;
const CLASSES = ['ap', 'display', 'pc', 'phone', 'printer', 'camera', 'switch', 'router', 'iot', 'unknown'];

function tagStr(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `,${k}=${v.replace(/[ ,=]/g, '\\$&')}`)
    .join('');
}
function fieldStr(fields: Record<string, number | string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? String(v) : `"${v}"`}`)
    .join(',');
}
const line = (m: string, tags: Record<string, string>, fields: Record<string, number | string>, t: number) => `${m}${tagStr(tags)} ${fieldStr(fields)} ${t}`;

/** What the agents sent of the fields the collector no longer stores: `measurement|school|ifname or target|time|field` → value. */
const SENT = new Map<string, number>();
const sentKey = (m: string, school: string, series: string, t: number, field: string) => `${m}|${school}|${series}|${t}|${field}`;
/** The highest value the agent sent in [fromMs, fromMs + stepMs) (what a max() over that time bucket gives). */
function sentMax(m: string, school: string, series: string, fromMs: number, stepMs: number, field: string): number | undefined {
  let max: number | undefined;
  const prefix = `${m}|${school}|${series}|`;
  for (const [k, v] of SENT) {
    if (!k.startsWith(prefix) || !k.endsWith(`|${field}`)) continue;
    const t = Number(k.slice(prefix.length, k.length - field.length - 1));
    if (t >= fromMs && t < fromMs + stepMs && (max === undefined || v > max)) max = v;
  }
  return max;
}

/**
 * A report point as the collector stores it: the first half of the range as before stored-fields.ts (every
 * field the agent sent), the second half without what InfluxDB derives. Remembers what the agent sent.
 */
function reportLine(m: 'ping' | 'iface', tags: Record<string, string>, fields: Record<string, number>, t: number, oldBeforeMs: number): string {
  for (const d of DERIVED_FIELDS) if (d.measurement === m && fields[d.field] !== undefined) SENT.set(sentKey(m, tags.school as string, (tags.ifname ?? tags.target) as string, t, d.field), fields[d.field] as number);
  return line(m, tags, t < oldBeforeMs ? fields : storedFields(m, fields), t);
}
/** Utilisation as the agent sends it: rate / speed × 100 to hundredths (agent/probes/snmp/counters.ts). */
const utilPct = (bps: number, speed: number) => Math.round((bps / speed) * 100 * 100) / 100;

/** Line protocol for every measurement, every minute of the last HOURS hours. */
function seedLines(nowMs: number): string[] {
  const lines: string[] = [];
  const start = nowMs - HOURS * 3600_000;
  const oldBefore = start + (HOURS * 3600_000) / 2;
  for (const [si, s] of SCHOOLS.entries()) {
    const base = { school: s.school, province: s.province, city: s.city, county: s.county, link: s.link, agent: s.agent };
    const sat = s.link.startsWith('sat-');
    let seq = 0;
    for (let t = start, i = 0; t <= nowMs - s.silentForMin * 60_000; t += STEP_MS, i++) {
      seq++;
      const rtt = sat ? (s.link === 'sat-geo' ? 600 : 50) + (i % 7) * 3 : 8 + (i % 5);
      const loss = i % 17 === 0 ? 20 : 0;
      for (const [target, role] of [['127.0.0.1', 'gateway'], ['www.edu.cn', 'internet']] as const) {
        lines.push(reportLine('ping', { ...base, target, role }, { rtt_min_ms: rtt - 1, rtt_avg_ms: rtt, rtt_max_ms: rtt + 2, jitter_ms: 1.5, loss_pct: loss, sent: 5, received: 5 - loss / 20, result_code: 0 }, t, oldBefore));
      }
      const inBps = 4e7 + i * 12345 + si * 7;
      const outBps = 1e7 + ((i * 7919) % 100_003);
      lines.push(reportLine('iface', { ...base, device: 'gateway', ifname: 'wan0', role: 'wan' }, { in_bps: inBps, out_bps: outBps, speed_bps: 1e8, in_util_pct: utilPct(inBps, 1e8), out_util_pct: utilPct(outBps, 1e8), oper_up: 1, in_errors: i % 3, out_errors: 0, in_discards: 1, out_discards: 0, counter_reset: 0 }, t, oldBefore));
      lines.push(reportLine('iface', { ...base, device: 'gateway', ifname: 'lan0', role: 'lan' }, { in_bps: 1e6, out_bps: 3e7, speed_bps: 1e9, in_util_pct: 0.1, out_util_pct: 3, oper_up: 1, in_errors: 0, out_errors: 0, in_discards: 0, out_discards: 0, counter_reset: 0 }, t, oldBefore));
      lines.push(line('sys', { ...base, device: 'gateway' }, { uptime_s: 1000 + i * 60, descr: 'sim gateway', result_code: 0, errors: i % 11 === 0 ? 1 : 0 }, t));
      lines.push(line('agent', { ...base, version: si % 2 ? '0.1.0' : '0.2.0' }, { spool_reports: i % 13, spool_bytes: (i % 13) * 2048, dropped_reports: Math.floor(i / 50), sent_bytes: i * 3000, cycle_ms: 900 + (i % 9) * 10, rss_bytes: 6e7, uptime_s: i * 60 }, t));
      lines.push(line('report', base, { lag_s: 1 + (i % 4), points: 9, seq }, t));
      if (i % 10 === 0) for (const [ci, c] of CLASSES.entries()) lines.push(line('inventory', { ...base, class: c }, { count: ci + 1 }, t));
      if (sat) lines.push(line('modem', { ...base, device: 'modem', profile: 'generic-vsat' }, { snr_db: 9 - (i % 5), esno_db: 8, rx_power_dbm: -42, tx_power_dbm: 12, locked: 1 }, t));
      if (i % 30 === 5) lines.push(line('gap', { ...base, cause: ['link', 'agent', 'collector', 'unknown'][(i / 30) % 4 | 0] as string }, { duration_s: 300, missing_reports: 5 }, t));
    }
  }
  // The collector's ingest_budget points (budgets-api.ts): one school refused twice, another losing points.
  const budgetTags = (s: SeedSchool) => ({ school: s.school, province: s.province, city: s.city, county: s.county, link: s.link });
  for (const ago of [90, 30]) lines.push(line('ingest_budget', budgetTags(SCHOOLS[0]!), { budget_refusals: 3, refused_reports_per_minute: 3, dropped_points: 0, dropped_fields: 0 }, nowMs - ago * STEP_MS));
  lines.push(line('ingest_budget', budgetTags(SCHOOLS[2]!), { budget_refusals: 0, dropped_points: 40, dropped_points_budget_series: 40, dropped_fields: 2, dropped_fields_type_conflict: 2 }, nowMs - 10 * STEP_MS));
  // The collector's coverage roll-up, every 5 minutes, per level.
  const regions: [string, string][] = [['national', '000000'], ['province', '640000'], ['province', '650000'], ['city', '640100'], ['city', '650100'], ['county', '640104'], ['county', '640105'], ['county', '650102'], ['county', '640106']];
  for (let t = start; t <= nowMs; t += 5 * STEP_MS) {
    for (const [level, region] of regions) {
      // 640106 is registered but no school there ever reported.
      const online = region === '640106' ? 0 : 8;
      lines.push(line('coverage', { level, region }, {
        registered: 10, online, offline: 1, never_seen: 1, online_pct: 80,
        tier_1000: 1, tier_100: 5, tier_20: 2, tier_2: 1, tier_lt2: 1, measured_speed: 9, satellite: 2, satellite_pct: 20,
        link_fiber: 5, link_dsl: 1, link_cellular: 1, link_microwave: 0, link_sat_geo: 1, link_sat_leo: 1, link_other: 1,
      }, t));
    }
  }
  // 偃师区 410307 was 偃师市 410381 until a registry reload: its coverage history is under both codes.
  for (let t = start; t <= nowMs; t += 5 * STEP_MS) {
    const region = t < start + (HOURS * 3600_000) / 2 ? '410381' : '410307';
    lines.push(line('coverage', { level: 'county', region }, { registered: 1, online: 1, offline: 0, never_seen: 0, online_pct: 100 }, t));
  }
  // The collector's registry source (the region points it writes, made by its own code) and the
  // school_status points: online schools, the silent one offline, and one school never seen.
  const reg = parseRegistry(registryCsv(), { source: 'seed.csv', divisions: bundledDivisions() });
  for (const t of [nowMs - 10 * STEP_MS, nowMs - STEP_MS]) for (const p of regionPoints(reg, t)) lines.push(toLineProtocol(p));
  for (const t of [nowMs - 6 * STEP_MS, nowMs - STEP_MS]) {
    for (const sc of [...SCHOOLS, NEVER_SEEN]) {
      const status = sc === NEVER_SEEN ? 'never_seen' : sc.silentForMin > 0 ? 'offline' : 'online';
      const fields: Record<string, number | string> = { status, name: reg.get(sc.school)?.name ?? sc.school };
      if (status !== 'never_seen') fields.last_report_s = sc.silentForMin * 60;
      const label = `${sc.school} ${fields.name as string}`;
      lines.push(line('school_status', { school: sc.school, province: sc.province, city: sc.city, county: sc.county, link: sc.link, label }, fields, t));
    }
  }
  return lines;
}

/** Registered in 金凤区 640106, never reported. */
const NEVER_SEEN: SeedSchool = { school: '1640106001', province: '640000', city: '640100', county: '640106', link: 'fiber', agent: '', silentForMin: 0 };

/** Registered in 偃师区 410307, which the alias table says was 410381. */
const RECODED: SeedSchool = { school: '1410307001', province: '410000', city: '410300', county: '410307', link: 'fiber', agent: '', silentForMin: 0 };

/** The registry of the seeded schools (real codes, names from the code list). */
function registryCsv(): string {
  const names: Record<string, [string, string, string]> = { '410307': ['河南省', '洛阳市', '偃师区'], '640104': ['宁夏回族自治区', '银川市', '兴庆区'], '640105': ['宁夏回族自治区', '银川市', '西夏区'], '640106': ['宁夏回族自治区', '银川市', '金凤区'], '650102': ['新疆维吾尔自治区', '乌鲁木齐市', '天山区'] };
  const rows = [...SCHOOLS, NEVER_SEEN, RECODED].map((s) => {
    const [pn, cn, kn] = names[s.county] as [string, string, string];
    return [s.school, `学校${s.school}`, s.province, pn, s.city, cn, s.county, kn, s.link, 100, 100, 10, 38.5, 106.2].join(',');
  });
  return `school_id,school_name,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon\n${rows.join('\n')}\n`;
}

describe('dashboard queries against a seeded InfluxDB 1.x', function () {
  this.timeout(120_000);
  let db: TestInfluxd;
  let macros: MacroValues;

  before(async () => {
    db = await startTestInfluxd();
    await db.query('CREATE DATABASE campuslink');
    const now = Date.now();
    const lines = seedLines(now);
    for (let i = 0; i < lines.length; i += 5000) {
      const res = await fetch(`${db.url}/write?db=campuslink&precision=ms`, { method: 'POST', body: lines.slice(i, i + 5000).join('\n') });
      if (res.status !== 204) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
    }
    macros = {
      timeFilter: 'time > now() - 6h',
      interval: '1m',
      toMs: now + 1000,
      fromMs: now - 6 * 3600_000,
      vars: { province: '640000', city: '640100', county: '640104', school: '1640105001' },
    };
  });
  after(async () => {
    await db?.cleanup();
  });

  const dashboards = loadDashboards();

  it('finds the four dashboards', () => {
    expect(dashboards.map((d) => d.file)).to.have.members(['coverage-overview.json', 'fleet-health.json', 'satellite-links.json', 'school-detail.json']);
  });

  for (const { file, dashboard } of dashboards) {
    describe(file, () => {
      for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
        it(`variable $${v.name} query returns the seeded value`, async () => {
          // Parent variables on "All" of Ningxia's seeded counties, as a user starting from the top sees them.
          const rows = await db.query(substitute(v.query as string, { ...macros, multi: { county: ['640104', '640105', '640106'] } }));
          const options = variableOptions(v, rows.map((r) => String(r.value)));
          expect(options.map((o) => o.value)).to.include(macros.vars[v.name]);
          // Drop-downs show names: a region variable's text is not its code.
          if (v.regex) for (const o of options) expect(o.text, v.name).to.not.match(/^\d+$/);
        });
      }
      for (const panel of allPanels(dashboard)) {
        for (const t of panel.targets ?? []) {
          it(`panel "${panel.title}" target ${t.refId} returns rows`, async () => {
            const rows = await db.query(substitute(t.query, macros));
            expect(rows.length, substitute(t.query, macros)).to.be.greaterThan(0);
            const values = rows.flatMap((r) => Object.entries(r).filter(([k]) => k !== 'time' && k !== 'measurement').map(([, v]) => v));
            expect(values.some((v) => typeof v === 'number'), `no numeric value in ${JSON.stringify(rows.slice(0, 3))}`).to.equal(true);
          });
        }
      }
    });
  }

  it('the offline-schools table lists the offline and the never-seen schools, not the online ones', async () => {
    const { dashboard } = dashboards.find((d) => d.file === 'coverage-overview.json')!;
    const panel = allPanels(dashboard).find((p) => p.title === 'Offline schools')!;
    const rows = await db.query(substitute(panel.targets![0]!.query, { ...macros, multi: { county: ['640104', '640105', '640106'] } }));
    const status = Object.fromEntries(rows.map((r) => [r.school as string, r.status]));
    expect(status).to.include({ '1640104002': 'offline', '1640106001': 'never_seen', '1640104001': 'online' });
    // The panel's transformation drops what is online.
    const filter = (panel as unknown as { transformations: { id: string; options: { type?: string; filters?: { fieldName: string; config: { options: { value: string } } }[] } }[] }).transformations[0]!;
    expect(filter).to.deep.include({ id: 'filterByValue' });
    expect(filter.options).to.deep.include({ type: 'exclude' });
    expect(filter.options.filters?.[0]).to.deep.include({ fieldName: 'status', config: { id: 'equal', options: { value: 'online' } } });
    expect(rows.find((r) => r.school === '1640106001')?.name).to.equal('学校1640106001');
  });

  it('the ingest-budgets table sums each school\'s refusals and drops by reason over the range, one row per affected school', async () => {
    const { dashboard } = dashboards.find((d) => d.file === 'fleet-health.json')!;
    const panel = allPanels(dashboard).find((p) => p.title === 'Ingest budgets by school')!;
    const rows = await db.query(substitute(panel.targets![0]!.query, macros));
    const by = Object.fromEntries(rows.map((r) => [r.school as string, r]));
    expect(Object.keys(by)).to.have.members(['1640104001', '1640105001']);
    expect(by['1640104001']).to.include({ county: '640104', sum_budget_refusals: 6, sum_refused_reports_per_minute: 6, sum_dropped_points: 0 });
    expect(by['1640105001']).to.include({ sum_budget_refusals: 0, sum_dropped_points: 40, sum_dropped_points_budget_series: 40, sum_dropped_fields_type_conflict: 2 });
  });

  it('"All" counties come from the registry: a county where nobody reported counts in the online share', async () => {
    const { dashboard } = dashboards.find((d) => d.file === 'coverage-overview.json')!;
    const countyVar = dashboard.templating.list.find((v) => v.name === 'county')!;
    const options = variableOptions(countyVar, (await db.query(substitute(countyVar.query as string, { ...macros, multi: { city: ['640100'] } }))).map((r) => String(r.value)));
    expect(options).to.deep.include({ value: '640106', text: '金凤区' });
    expect(options.map((o) => o.value)).to.have.members(['640104', '640105', '640106']);
    const reported = (await db.query('SHOW TAG VALUES FROM "report" WITH KEY = "county" WHERE "city" = \'640100\'')).map((r) => r.value);
    expect(reported).to.not.include('640106');
    const panel = allPanels(dashboard).find((p) => p.title === 'Online share')!;
    const [all] = await db.query(substitute(panel.targets![0]!.query, { ...macros, multi: { county: options.map((o) => o.value) } }));
    expect(all?.online).to.be.closeTo((100 * 16) / 30, 1e-9);
  });

  it('a recoded county is one drop-down entry whose value takes its old code too, so its history panel spans the change', async () => {
    const { dashboard } = dashboards.find((d) => d.file === 'coverage-overview.json')!;
    const countyVar = dashboard.templating.list.find((v) => v.name === 'county')!;
    const options = variableOptions(countyVar, (await db.query(substitute(countyVar.query as string, { ...macros, vars: { ...macros.vars, province: '410000', city: '410300' } }))).map((r) => String(r.value)));
    expect(options).to.deep.equal([{ value: '410307|410381', text: '偃师区' }]);
    const panel = allPanels(dashboard).find((p) => p.title === 'Coverage history')!;
    const q = (county: string) => db.query(substitute(panel.targets![0]!.query, { ...macros, interval: '5m', vars: { ...macros.vars, county } }));
    const both = await q('410307|410381');
    const newOnly = await q('410307');
    expect(both.length).to.be.greaterThan(newOnly.length + 10);
    expect(Number(both[0]?.time)).to.be.lessThan(macros.fromMs + 4 * 3600_000);
  });

  it('every time bucket is a Beijing-time bucket: each GROUP BY time() has tz(\'Asia/Shanghai\'), and day buckets start at 00:00 +08:00', async () => {
    for (const { file, dashboard } of dashboards) {
      for (const panel of allPanels(dashboard)) {
        for (const t of panel.targets ?? []) {
          const groups = t.query.match(/GROUP BY time\(/g)?.length ?? 0;
          const tz = t.query.match(/tz\('Asia\/Shanghai'\)/g)?.length ?? 0;
          expect(tz, `${file} "${panel.title}"`).to.equal(groups);
        }
      }
    }
    const { dashboard } = dashboards.find((d) => d.file === 'satellite-links.json')!;
    const daily = allPanels(dashboard).flatMap((p) => p.targets ?? []).find((t) => /time\(1d\)/.test(t.query))!;
    const rows = await db.query(substitute(daily.query, { ...macros, timeFilter: 'time > now() - 3d' }));
    expect(rows.length).to.be.greaterThan(0);
    for (const r of rows) expect(Number(r.time) % 86_400_000, String(r.time)).to.equal(16 * 3_600_000);
  });

  it('the online-share query sums the selected counties\' latest coverage points', async () => {
    const { dashboard } = dashboards.find((d) => d.file === 'coverage-overview.json')!;
    const panel = allPanels(dashboard).find((p) => p.title === 'Online share')!;
    const rows = await db.query(substitute(panel.targets![0]!.query, macros));
    expect(rows[0]?.online).to.equal(80);
  });

  it('the WAN utilisation panel derives, per point, what the agent sent (util_pct stored on old points, not on new ones)', async () => {
    const { dashboard } = dashboards.find((d) => d.file === 'school-detail.json')!;
    const panel = allPanels(dashboard).find((p) => p.title === 'WAN utilisation')!;
    const rows = await db.query(substitute(panel.targets![0]!.query, macros));
    const stored = await db.query(`SELECT count("in_util_pct") AS "n" FROM "iface" WHERE "school" = '${macros.vars.school}' AND "role" = 'wan' AND time > now() - 6h`);
    const points = await db.query(`SELECT count("in_bps") AS "n" FROM "iface" WHERE "school" = '${macros.vars.school}' AND "role" = 'wan' AND time > now() - 6h`);
    // Both kinds of points are there: a part with the stored field, the rest without it.
    expect(stored[0]?.n).to.be.greaterThan(30);
    expect(points[0]?.n).to.be.greaterThan((stored[0]?.n as number) + 30);
    let compared = 0;
    for (const r of rows) {
      if (r.in === null) continue;
      for (const dir of ['in', 'out'] as const) {
        const sent = sentMax('iface', macros.vars.school as string, r.ifname as string, Number(r.time), STEP_MS, `${dir}_util_pct`);
        expect(sent, `agent value at ${String(r.time)}`).to.be.a('number');
        // The agent rounds to hundredths of a percent; the rate it sends is to the whole bit/s.
        expect(r[dir] as number, `${dir} at ${String(r.time)}`).to.be.closeTo(sent as number, 0.005 + 50 / 1e8 + 1e-9);
        compared++;
      }
    }
    expect(compared).to.be.greaterThan(300);
  });

  it('every derivation of collector/ingest/stored-fields.ts gives back, per point in InfluxDB, what the agent sent, on old points and new', async () => {
    for (const d of DERIVED_FIELDS) {
      const series = d.measurement === 'iface' ? 'ifname' : 'target';
      const rows = await db.query(`SELECT ${d.influxql} AS "derived", "${d.field}" AS "stored" FROM "${d.measurement}" WHERE time > now() - 6h GROUP BY "school", "${series}"`);
      let stored = 0;
      let derivedOnly = 0;
      for (const r of rows) {
        const sent = SENT.get(sentKey(d.measurement, r.school as string, r[series] as string, Number(r.time), d.field));
        expect(sent, `${d.measurement}.${d.field} sent at ${String(r.time)}`).to.be.a('number');
        const tolerance = d.field === 'received' ? 0 : 0.005 + 50 / 1e8 + 1e-9;
        expect(r.derived as number, `${d.measurement}.${d.field} ${JSON.stringify(r)}`).to.be.closeTo(sent as number, tolerance);
        if (r.stored === null) derivedOnly++;
        else stored++;
      }
      expect(stored, `${d.field}: old points`).to.be.greaterThan(100);
      expect(derivedOnly, `${d.field}: new points`).to.be.greaterThan(100);
    }
  });
});
