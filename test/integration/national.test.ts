/**
 * A small national deployment, end to end: three provincial collectors (child processes, each with its own
 * influxd, its own one-province registry and in-process agents) and a national hub (child process, its own
 * influxd). National counts are the sum of the provinces'; a province SIGKILLed for a while is shown stale
 * with its last figures, then catches up; a hub outage is caught up from the provinces' spools; every
 * roll-up is in the hub's InfluxDB exactly once; a roll-up forged for another province is refused.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import Database from 'better-sqlite3';
import type { AgentRuntime } from '../../agent/runtime.js';
import { issueCodes } from '../../collector/enroll/codes.js';
import { runCli, repoPath } from '../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { makeReport } from '../helpers/reports.js';
import { CollectorChild, startAgent, tempDir, until } from '../fault/harness.js';

const HEAD = 'school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon,hub_school_id';
/** 江苏 is not in the example registry: four schools of two cities. */
const JIANGSU = [
  '3201020001,南京市玄武区第一小学,primary,320000,江苏省,320100,南京市,320102,玄武区,fiber,1000,1800,36,32.0486,118.7978,',
  '3201040001,南京市秦淮区第一中学,secondary,320000,江苏省,320100,南京市,320104,秦淮区,fiber,1000,2100,40,32.0333,118.7967,',
  '3202050001,无锡市锡山区东港小学,primary,320000,江苏省,320200,无锡市,320205,锡山区,dsl,100,900,20,31.6000,120.3500,',
  '3202050002,无锡市锡山区羊尖中学,secondary,320000,江苏省,320200,无锡市,320205,锡山区,cellular,50,700,16,31.6200,120.4500,',
];

/** A one-province registry file: the example's rows of `p`, or Jiangsu's. */
function registryFile(p: string): { path: string; schools: string[] } {
  const rows = p === '32' ? JIANGSU : readFileSync(repoPath('config/schools.example.csv'), 'utf8').trim().split('\n').slice(1).filter((r) => r.split(',')[3] === `${p}0000`);
  const path = join(tempDir(`registry-${p}`), 'schools.csv');
  writeFileSync(path, [HEAD, ...rows].join('\n'));
  return { path, schools: rows.map((r) => r.split(',')[0] as string) };
}

interface Province {
  code: string;
  influx: TestInfluxd;
  collector: CollectorChild;
  schools: string[];
  agents: AgentRuntime[];
  runs: { stop(): Promise<void> }[];
}

const getJson = async (url: string): Promise<any> => (await fetch(url)).json();
const status = (p: Province) => getJson(`${p.collector.url}/api/v1/rollup/status`);
const feeds = (hub: CollectorChild) => getJson(`${hub.url}/api/v1/hub/feeds`);
const coverage = (p: Province) => getJson(`${p.collector.url}/api/v1/coverage?level=province&code=${p.code}0000`);

describe('integration: national hub with three provincial collectors', function () {
  this.timeout(120_000);
  let hubInflux: TestInfluxd;
  let hub: CollectorChild;
  const provinces: Province[] = [];

  /** Every province has delivered everything it spooled, with a roll-up built after `afterMs`. */
  const settled = async (afterMs: number, what: string, timeoutMs = 20_000): Promise<void> =>
    until(
      async () => {
        for (const p of provinces) {
          const s = await status(p).catch(() => undefined);
          if (!s || s.lastBuiltAtMs === undefined || s.lastBuiltAtMs < afterMs || s.spooled !== 0 || s.lastAckedSeq !== s.lastSeq) return false;
        }
        return true;
      },
      timeoutMs,
      what,
    );

  before(async () => {
    const codes = ['64', '63', '32'];
    const dbs = await Promise.all([startTestInfluxd(), ...codes.map(() => startTestInfluxd())]);
    hubInflux = dbs[0] as TestInfluxd;
    hub = new CollectorChild(hubInflux, { CAMPUSLINK_ROLE: 'national', CAMPUSLINK_HUB_STALE_AFTER_MS: '10000', CAMPUSLINK_LOG_LEVEL: 'error' });
    await hub.start();
    // One code through the CLI as an operator issues it, the others directly into the hub's state database.
    const cli = await runCli('collector', ['enroll', 'issue', '--province', '64'], { CAMPUSLINK_ROLE: 'national', CAMPUSLINK_STATE_DIR: hub.stateDir, CAMPUSLINK_LOG_LEVEL: 'warn' });
    expect(cli.code, cli.stderr).to.equal(0);
    expect(cli.stderr).to.match(/enrollment code \w+ for province 64/);
    const enrollCodes: Record<string, string> = { '64': cli.stdout.trim().split('\n').pop() as string };
    for (const c of ['63', '32']) issueCodes({ stateDir: hub.stateDir, schools: [c], uses: 1, expiresAtMs: Date.now() + 3_600_000, onIssued: (code) => (enrollCodes[c] = code) });
    await Promise.all(
      codes.map(async (code, i) => {
        const reg = registryFile(code);
        const collector = new CollectorChild(dbs[i + 1] as TestInfluxd, {
          CAMPUSLINK_REGISTRY: reg.path,
          CAMPUSLINK_HUB_URL: hub.url,
          CAMPUSLINK_HUB_ENROLL_CODE: enrollCodes[code] as string,
          CAMPUSLINK_HUB_INTERVAL_MS: '5000',
          CAMPUSLINK_HUB_MIN_INTERVAL_MS: '1000',
          CAMPUSLINK_HUB_RETRY_BASE_MS: '200',
          CAMPUSLINK_HUB_RETRY_MAX_MS: '1000',
          CAMPUSLINK_HUB_TIMEOUT_MS: '3000',
          CAMPUSLINK_LOG_LEVEL: 'error',
        });
        await collector.start();
        provinces.push({ code, influx: dbs[i + 1] as TestInfluxd, collector, schools: reg.schools, agents: [], runs: [] });
      }),
    );
    provinces.sort((a, b) => a.code.localeCompare(b.code));
  });

  after(async () => {
    for (const p of provinces) {
      await Promise.all(p.runs.map((r) => r.stop()));
      for (const a of p.agents) a.close();
      await p.collector.stop();
      await p.influx.cleanup();
    }
    await hub?.stop();
    await hubInflux?.cleanup();
  });

  it('national counts equal the sum of the provinces, as each province counts itself', async () => {
    for (const p of provinces) {
      for (const school of p.schools.slice(0, 2)) {
        const agent = startAgent({ school, url: p.collector.url, token: p.collector.token(school), cycleEveryMs: 500 });
        p.agents.push(agent);
        p.runs.push(agent.run());
      }
    }
    await until(async () => (await Promise.all(provinces.map(coverage))).every((c) => c.online === 2), 30_000, 'two schools online in every province');
    for (const p of provinces) await Promise.all(p.runs.splice(0).map((r) => r.stop()));
    const stoppedAt = Date.now();
    await settled(stoppedAt + 500, 'a roll-up after the agents stopped, delivered');
    const f = await feeds(hub);
    expect(f.provinces.map((r: { province: string }) => r.province)).to.deep.equal(['32', '63', '64']);
    const sum = { registered: 0, online: 0, offline: 0, neverSeen: 0 };
    for (const p of provinces) {
      const own = await coverage(p);
      const row = f.provinces.find((r: { province: string }) => r.province === p.code);
      expect(row, p.code).to.include({ registered: own.registered, online: own.online, offline: own.offline, neverSeen: own.neverSeen, stale: false, consoleUrl: `http://127.0.0.1:${p.collector.port}/console` });
      expect(row.collector).to.match(new RegExp(`^p${p.code}-[0-9a-f]{8}$`));
      for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += own[k];
    }
    expect(sum.online).to.equal(6);
    expect(sum.registered).to.equal(34 + 22 + 4);
    expect(f.national).to.deep.include({ ...sum, provinces: 3, staleProvinces: [] });
    // The hub's InfluxDB holds the same province figures in the `rollup` measurement.
    const last = await hubInflux.query(`SELECT last("online") AS online, last("registered") AS registered FROM "rollup" WHERE "level" = 'province' GROUP BY "province"`);
    expect(last.map((r) => [r.province, r.online, r.registered]).sort()).to.deep.equal([
      ['32', 2, 4],
      ['63', 2, 22],
      ['64', 2, 34],
    ]);
    const counties = await hubInflux.query(`SELECT last("online") AS online FROM "rollup" WHERE "level" = 'county' AND "province" = '32' GROUP BY "region"`);
    expect(counties.map((r) => r.region).sort()).to.deep.equal(['320102', '320104', '320205']);
  });

  it('a roll-up forged for another province is refused with 403; the hub serves no agent reports', async () => {
    const p64 = provinces.find((p) => p.code === '64') as Province;
    const cred = JSON.parse(readFileSync(join(p64.collector.stateDir, 'hub-credential.json'), 'utf8')) as { token: string; collector: string };
    const region = (code: string, level: string) => ({ region: code, level, registered: 1, online: 1, offline: 0, neverSeen: 0, schoolHoursOnlinePct: 100, tiers: {}, tierUnknown: 1, links: { fiber: 1 }, compliance: {}, alertsFiring: {} });
    const forged = { v: 1, province: '63', collector: cred.collector, epoch: 'forged000001', seq: 1, asOf: Date.now(), sentAt: Date.now(), consoleUrl: 'http://x.example/console', regions: [region('630000', 'province')] };
    const res = await fetch(`${hub.url}/api/v1/rollups`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${cred.token}` }, body: JSON.stringify({ rollups: [forged] }) });
    expect(res.status).to.equal(403);
    expect(((await res.json()) as any).error.code).to.equal('COL_ERR_ROLLUP_WRONG_PROVINCE');
    expect((await feeds(hub)).provinces.find((r: { province: string }) => r.province === '63').online).to.equal(2);
    const report = await fetch(`${hub.url}/api/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${cred.token}` }, body: JSON.stringify({ reports: [makeReport()] }) });
    expect(report.status).to.equal(403);
    expect(((await report.json()) as any).error.code).to.equal('COL_ERR_HUB_ROLE');
  });

  it('a province killed for a while is stale with its last figures, then catches up; a hub outage is caught up from the spools; every roll-up exactly once', async () => {
    const p63 = provinces.find((p) => p.code === '63') as Province;
    const before63 = await status(p63);
    await p63.collector.kill();
    await until(async () => (await feeds(hub)).national.staleProvinces.includes('63'), 20_000, 'province 63 stale');
    const stale = await feeds(hub);
    const row = stale.provinces.find((r: { province: string }) => r.province === '63');
    // Summed with its last known figures and flagged, never counted as zero online.
    expect(row).to.include({ stale: true, online: 2, registered: 22, lastSeq: before63.lastSeq });
    expect(Date.parse(row.staleSince)).to.equal(Date.parse(row.asOf));
    expect(stale.national).to.deep.include({ online: 6, staleProvinces: ['63'] });
    await p63.collector.start();
    await until(async () => !(await feeds(hub)).national.staleProvinces.length, 20_000, 'province 63 fresh again');

    // The hub down while the provinces go on: their roll-ups wait in the spools and are all delivered after.
    const p32 = provinces.find((p) => p.code === '32') as Province;
    await hub.kill();
    const agent = startAgent({ school: p32.schools[2] as string, url: p32.collector.url, token: p32.collector.token(p32.schools[2] as string), cycleEveryMs: 500 });
    p32.agents.push(agent);
    p32.runs.push(agent.run());
    await until(async () => (await status(p32)).spooled >= 2, 20_000, 'roll-ups spooled in province 32 while the hub is down');
    await Promise.all(p32.runs.splice(0).map((r) => r.stop()));
    await hub.start();
    const restarted = Date.now();
    await settled(restarted, 'every spool delivered after the hub came back', 30_000);

    const f = await feeds(hub);
    expect(f.provinces.find((r: { province: string }) => r.province === '32').online).to.equal(3);
    for (const p of provinces) {
      const s = await status(p);
      expect(s, p.code).to.include({ dropped: 0, quarantined: 0, spooled: 0 });
      // Every sequence is in the hub's InfluxDB once (one province point per roll-up, at its own as-of time) ...
      const points = await hubInflux.query(`SELECT count("registered") FROM "rollup" WHERE "region" = '${p.code}0000'`);
      expect(Number(points[0]?.count), p.code).to.equal(s.lastSeq);
      expect(f.provinces.find((r: { province: string }) => r.province === p.code).lastSeq, p.code).to.equal(s.lastSeq);
    }
    // ... and the hub holds each province's sequences 1..last with no hole (its dedupe ledger, as for agents).
    const db = new Database(join(hub.stateDir, 'state.db'), { readonly: true });
    const held = db.prepare('SELECT school AS province, hwm, ranges FROM dedupe_agents ORDER BY school').all() as { province: string; hwm: number; ranges: string }[];
    db.close();
    for (const p of provinces) expect(held.find((h) => h.province === p.code)).to.deep.include({ hwm: (await status(p)).lastSeq, ranges: '' });
    const p63again = await status(p63);
    expect(p63again.epoch).to.equal(before63.epoch);
    expect(p63again.lastSeq).to.be.above(before63.lastSeq);
  });
});
