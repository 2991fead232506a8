/**
 * Runs every panel query and every template-variable query of every dashboard against a real
 * InfluxDB 1.x seeded with every measurement of docs/schema.md for a few schools over the last
 * hours, with Grafana's macros and variables substituted, and asserts each returns rows.
 */
import { expect } from 'chai';
import { allPanels, loadDashboards, substitute, type MacroValues } from './dashboards.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';

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

/** Line protocol for every measurement, every minute of the last HOURS hours. */
function seedLines(nowMs: number): string[] {
  const lines: string[] = [];
  const start = nowMs - HOURS * 3600_000;
  for (const [si, s] of SCHOOLS.entries()) {
    const base = { school: s.school, province: s.province, city: s.city, county: s.county, link: s.link, agent: s.agent };
    const sat = s.link.startsWith('sat-');
    let seq = 0;
    for (let t = start, i = 0; t <= nowMs - s.silentForMin * 60_000; t += STEP_MS, i++) {
      seq++;
      const rtt = sat ? (s.link === 'sat-geo' ? 600 : 50) + (i % 7) * 3 : 8 + (i % 5);
      const loss = i % 17 === 0 ? 20 : 0;
      for (const [target, role] of [['127.0.0.1', 'gateway'], ['www.edu.cn', 'internet']] as const) {
        lines.push(line('ping', { ...base, target, role }, { rtt_min_ms: rtt - 1, rtt_avg_ms: rtt, rtt_max_ms: rtt + 2, jitter_ms: 1.5, loss_pct: loss, sent: 5, received: 5 - loss / 20, result_code: 0 }, t));
      }
      lines.push(line('iface', { ...base, device: 'gateway', ifname: 'wan0', role: 'wan' }, { in_bps: 4e7 + i * 1e4, out_bps: 1e7, speed_bps: 1e8, in_util_pct: 40, out_util_pct: 10, oper_up: 1, in_errors: i % 3, out_errors: 0, in_discards: 1, out_discards: 0, counter_reset: 0 }, t));
      lines.push(line('iface', { ...base, device: 'gateway', ifname: 'lan0', role: 'lan' }, { in_bps: 1e6, out_bps: 3e7, speed_bps: 1e9, in_util_pct: 0.1, out_util_pct: 3, oper_up: 1, in_errors: 0, out_errors: 0, in_discards: 0, out_discards: 0, counter_reset: 0 }, t));
      lines.push(line('sys', { ...base, device: 'gateway' }, { uptime_s: 1000 + i * 60, descr: 'sim gateway', result_code: 0, errors: i % 11 === 0 ? 1 : 0 }, t));
      lines.push(line('agent', { ...base, version: si % 2 ? '0.1.0' : '0.2.0' }, { spool_reports: i % 13, spool_bytes: (i % 13) * 2048, dropped_reports: Math.floor(i / 50), sent_bytes: i * 3000, cycle_ms: 900 + (i % 9) * 10, rss_bytes: 6e7, uptime_s: i * 60 }, t));
      lines.push(line('report', base, { lag_s: 1 + (i % 4), points: 9, seq }, t));
      if (i % 10 === 0) for (const [ci, c] of CLASSES.entries()) lines.push(line('inventory', { ...base, class: c }, { count: ci + 1 }, t));
      if (sat) lines.push(line('modem', { ...base, device: 'modem', profile: 'generic-vsat' }, { snr_db: 9 - (i % 5), esno_db: 8, rx_power_dbm: -42, tx_power_dbm: 12, locked: 1 }, t));
      if (i % 30 === 5) lines.push(line('gap', { ...base, cause: ['link', 'agent', 'collector', 'unknown'][(i / 30) % 4 | 0] as string }, { duration_s: 300, missing_reports: 5 }, t));
    }
  }
  // The collector's coverage roll-up, every 5 minutes, per level.
  const regions: [string, string][] = [['national', '000000'], ['province', '640000'], ['province', '650000'], ['city', '640100'], ['city', '650100'], ['county', '640104'], ['county', '640105'], ['county', '650102']];
  for (let t = start; t <= nowMs; t += 5 * STEP_MS) {
    for (const [level, region] of regions) {
      lines.push(line('coverage', { level, region }, {
        registered: 10, online: 8, offline: 1, never_seen: 1, online_pct: 80,
        tier_1000: 1, tier_100: 5, tier_20: 2, tier_2: 1, tier_lt2: 1, measured_speed: 9, satellite: 2, satellite_pct: 20,
        link_fiber: 5, link_dsl: 1, link_cellular: 1, link_microwave: 0, link_sat_geo: 1, link_sat_leo: 1, link_other: 1,
      }, t));
    }
  }
  return lines;
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
          const rows = await db.query(substitute(v.query as string, macros));
          expect(rows.map((r) => r.value)).to.include(macros.vars[v.name]);
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

  it('the offline-schools query gives 0 reports in the last 10 minutes to the silent school only', async () => {
    const { dashboard } = dashboards.find((d) => d.file === 'coverage-overview.json')!;
    const panel = allPanels(dashboard).find((p) => p.title === 'Offline schools')!;
    const rows = await db.query(substitute(panel.targets![0]!.query, { ...macros, vars: { ...macros.vars, county: '640104' } }));
    const bySchool = Object.fromEntries(rows.map((r) => [r.school as string, r.reports_last_10m]));
    expect(bySchool['1640104002']).to.equal(0);
    expect(bySchool['1640104001']).to.be.greaterThan(0);
  });

  it('the online-share query sums the selected counties\' latest coverage points', async () => {
    const { dashboard } = dashboards.find((d) => d.file === 'coverage-overview.json')!;
    const panel = allPanels(dashboard).find((p) => p.title === 'Online share')!;
    const rows = await db.query(substitute(panel.targets![0]!.query, macros));
    expect(rows[0]?.online).to.equal(80);
  });
});
