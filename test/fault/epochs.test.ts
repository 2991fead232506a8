/**
 * Agent identity that cannot lose data, against a real collector and a real influxd: sequence epochs
 * (reinstall, two boxes with one id, another token pre-empting sequences, a cloned SD card), a damaged
 * `seq`, clocks (1970, a step with a backlog) and the collector's time window (far-future and far-past).
 */
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { AgentRuntime } from '../../agent/runtime.js';
import { CollectorPool } from '../../agent/transport/pool.js';
import { UploadError } from '../../agent/transport/uploader.js';
import type { BatchSender } from '../../agent/transport/pool.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { makeReport } from '../helpers/reports.js';
import { CollectorChild, SCHOOLS, TypicalProbe, agentConfig, freePort, seqsInInflux, startAgent, tempDir, until } from './harness.js';

const DAY = 86_400_000;

/** An in-process agent whose log lines are kept. */
function loggedAgent(o: { school: string; url: string; token: string; dir: string; agentId: string; now?: () => number; monoNow?: () => number; sender?: BatchSender }) {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const runtime = new AgentRuntime({ config: agentConfig(o), log, probes: [new TypicalProbe()], now: o.now, monoNow: o.monoNow, sender: o.sender });
  return { runtime, lines, codes: () => lines.map((l) => (JSON.parse(l) as { code?: string }).code).filter(Boolean) };
}

describe('fault: sequence epochs, damaged state, clocks and the time window', function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;
  const school = SCHOOLS[0] as string;
  let token: string;
  const gapsOf = async (agent: string) => influx.query(`SELECT * FROM "gap" WHERE "school" = '${school}' AND "agent" = '${agent}'`).catch(() => []);
  const reportsOf = async (agent: string) => influx.query(`SELECT * FROM "report" WHERE "school" = '${school}' AND "agent" = '${agent}'`);
  const post = (body: unknown) =>
    fetch(`${collector.url}/api/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

  before(async () => {
    influx = await startTestInfluxd();
    // This file is about epochs, so two limits other files prove are raised out of the way: the attacks below
    // send 16,500 reports in seconds under the one token, more than the default per-school budget (6,000 a
    // minute would answer 429 and keep the attack out; test/collector/ingest/budgets.test.ts proves it), and
    // its tests use 9 agent ids of one school, one more than auth.maxAgentsPerSchool's default (identity.test.ts).
    collector = new CollectorChild(influx, {
      CAMPUSLINK_GAPS_CLONE_OVERLAP_MS: '0',
      CAMPUSLINK_INFLUX_FLUSH_INTERVAL_MS: '50',
      CAMPUSLINK_BUDGETS_REPORTS_PER_MINUTE: '1000000',
      CAMPUSLINK_AUTH_MAX_AGENTS_PER_SCHOOL: '20',
    });
    await collector.start();
    token = collector.token(school);
  });
  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
  });

  it('a reinstalled agent (state lost, same agent id) starts a new epoch: its reports are stored, not acknowledged as duplicates, and the reset is an agent_reset gap', async () => {
    const old = startAgent({ school, url: collector.url, token, agentId: 'gw-reinstall' });
    for (let i = 0; i < 5; i++) expect((await old.once()).delivered).to.equal(true);
    old.close();
    const fresh = startAgent({ school, url: collector.url, token, agentId: 'gw-reinstall' });
    for (let i = 0; i < 3; i++) {
      const r = await fresh.once();
      expect(r.delivered).to.equal(true);
      expect(r.flush?.acked).to.include(r.report.seq);
    }
    fresh.close();
    await until(async () => (await seqsInInflux(influx, school, 'gw-reinstall')).length >= 8, 10_000, 'both installs stored');
    expect(await seqsInInflux(influx, school, 'gw-reinstall')).to.deep.equal([1, 1, 2, 2, 3, 3, 4, 5]);
    expect(fresh.epoch).to.be.a('string').and.not.equal(old.epoch);
    await until(async () => (await gapsOf('gw-reinstall')).some((g) => g.cause === 'agent_reset'), 10_000, 'an agent_reset gap');
    expect((await gapsOf('gw-reinstall')).map((g) => g.cause)).to.not.include('agent_clone');
  });

  it('two gateways of one school with the same default agent id ("OpenWrt") both have every report stored, and the clash is an agent_clone gap', async () => {
    const a = startAgent({ school, url: collector.url, token, agentId: 'OpenWrt' });
    const b = startAgent({ school, url: collector.url, token, agentId: 'OpenWrt' });
    for (let i = 0; i < 4; i++) {
      expect((await a.once()).delivered).to.equal(true);
      expect((await b.once()).delivered).to.equal(true);
    }
    a.close();
    b.close();
    await until(async () => (await seqsInInflux(influx, school, 'OpenWrt')).length >= 8, 10_000, 'both boxes stored');
    expect(await seqsInInflux(influx, school, 'OpenWrt')).to.deep.equal([1, 1, 2, 2, 3, 3, 4, 4]);
    await until(async () => (await gapsOf('OpenWrt')).some((g) => g.cause === 'agent_clone'), 10_000, 'an agent_clone gap');
    expect((await gapsOf('OpenWrt')).map((g) => g.cause)).to.deep.equal(['agent_clone']);
  });

  it('30 requests of empty reports with high sequences under an agent id do not make that agent\'s own reports duplicates', async () => {
    const t = Date.now();
    for (let i = 0; i < 30; i++) {
      const reports = Array.from({ length: 500 }, (_, k) => makeReport({ school, agent: 'gw-victim', seq: i * 500 + k + 1, collectedAt: t - 1_000_000 + i * 500 + k, sentAt: t, measurements: [] }));
      expect((await post({ reports })).status).to.equal(200);
    }
    const victim = startAgent({ school, url: collector.url, token, agentId: 'gw-victim' });
    for (let i = 0; i < 3; i++) {
      const r = await victim.once();
      expect(r.delivered).to.equal(true);
    }
    victim.close();
    await until(async () => (await reportsOf('gw-victim')).filter((r) => Number(r.points) > 0).length >= 3, 10_000, "the victim's reports stored");
    expect((await reportsOf('gw-victim')).filter((r) => Number(r.points) > 0).map((r) => Number(r.seq))).to.deep.equal([1, 2, 3]);
  });

  it('an agent upgraded from before epochs (legacy epoch) whose id another token pre-empted with high sequences finds its report taken for a repeat, starts an epoch and is stored', async () => {
    const dir = tempDir('legacy');
    writeFileSync(join(dir, 'seq'), '5\n');
    const t = Date.now();
    for (let i = 0; i < 3; i++) {
      const reports = Array.from({ length: 500 }, (_, k) => makeReport({ school, agent: 'gw-legacy', seq: i * 500 + k + 1, collectedAt: t - 1_000_000 + i * 500 + k, sentAt: t, measurements: [] }));
      expect((await post({ reports })).status).to.equal(200);
    }
    const agent = loggedAgent({ school, url: collector.url, token, dir, agentId: 'gw-legacy' });
    expect(agent.runtime.epoch).to.equal(undefined);
    const r = await agent.runtime.once();
    expect(r.report.seq).to.equal(6);
    expect(r.delivered).to.equal(true);
    agent.runtime.close();
    await until(async () => (await reportsOf('gw-legacy')).some((x) => Number(x.points) > 0), 10_000, "the agent's report stored");
    expect((await reportsOf('gw-legacy')).filter((x) => Number(x.points) > 0).map((x) => Number(x.seq))).to.deep.equal([6]);
    expect(agent.codes()).to.include('AGT_ERR_STATE_CLONED');
    expect(agent.runtime.epoch).to.be.a('string');
  });

  it('garbage in the seq file: the agent logs AGT_ERR_STATE_CORRUPT, sets the file aside, starts a new epoch, keeps and sends every spooled report, and does not crash', async () => {
    const dir = tempDir('damaged');
    const offline = await freePort();
    const first = startAgent({ school, url: `http://127.0.0.1:${offline}`, token, agentId: 'gw-damaged', dir });
    for (let i = 0; i < 3; i++) await first.cycle();
    const oldEpoch = first.epoch;
    first.close();
    writeFileSync(join(dir, 'seq'), 'NaN\u0000\u00ff\u00fe');
    const again = loggedAgent({ school, url: collector.url, token, dir, agentId: 'gw-damaged' });
    expect(again.codes()).to.include('AGT_ERR_STATE_CORRUPT');
    expect(readdirSync(dir).some((f) => f.startsWith('seq.corrupt-'))).to.equal(true);
    expect(again.runtime.epoch).to.be.a('string').and.not.equal(oldEpoch);
    const r = await again.runtime.once();
    expect(r.report.seq).to.equal(4);
    expect(r.report.epoch).to.equal(again.runtime.epoch);
    expect(again.runtime.spool.waiting()).to.deep.equal([]);
    again.runtime.close();
    expect(readFileSync(join(dir, 'seq'), 'utf8').trim()).to.equal('4');
    await until(async () => (await seqsInInflux(influx, school, 'gw-damaged')).length >= 4, 10_000, 'all four stored');
    expect(await seqsInInflux(influx, school, 'gw-damaged')).to.deep.equal([1, 2, 3, 4]);
  });

  it('a cloned SD card (same agent id, same epoch, same sequence) is found by the clone itself: it starts a new epoch and nothing of either box is lost', async () => {
    const d1 = tempDir('sd-a');
    const d2 = tempDir('sd-b');
    const a0 = startAgent({ school, url: collector.url, token, agentId: 'gw-sd', dir: d1 });
    for (let i = 0; i < 2; i++) expect((await a0.once()).delivered).to.equal(true);
    a0.close();
    cpSync(d1, d2, { recursive: true });
    const a = startAgent({ school, url: collector.url, token, agentId: 'gw-sd', dir: d1 });
    const b = loggedAgent({ school, url: collector.url, token, agentId: 'gw-sd', dir: d2 });
    expect(b.runtime.epoch).to.equal(a.epoch);
    for (let i = 0; i < 3; i++) {
      expect((await a.once()).delivered).to.equal(true);
      expect((await b.runtime.once()).delivered).to.equal(true);
    }
    a.close();
    b.runtime.close();
    await until(async () => (await seqsInInflux(influx, school, 'gw-sd')).length >= 8, 10_000, 'both boxes stored');
    expect(await seqsInInflux(influx, school, 'gw-sd')).to.deep.equal([1, 2, 3, 3, 4, 4, 5, 5]);
    expect(b.codes()).to.include('AGT_ERR_STATE_CLONED');
    expect(b.runtime.epoch).to.not.equal(a.epoch);
    await until(async () => (await gapsOf('gw-sd')).some((g) => g.cause === 'agent_clone'), 10_000, 'an agent_clone gap');
  });

  it('a gateway whose clock reads 1970 (no RTC, no NTP yet) still collects and sends; the collector stores its reports at the right time, flagged, and the agent corrects itself from the ack', async () => {
    const bootAt = Date.now();
    const wall = () => 5_000 + (Date.now() - bootAt);
    const agent = loggedAgent({ school, url: collector.url, token, dir: tempDir('1970'), agentId: 'gw-1970', now: wall, monoNow: () => performance.now() });
    const first = await agent.runtime.once();
    expect(first.report.collectedAt).to.be.below(DAY);
    expect(first.delivered).to.equal(true);
    const second = await agent.runtime.once();
    expect(second.delivered).to.equal(true);
    expect(second.report.clockCorrected).to.equal(true);
    expect(Math.abs(second.report.collectedAt - Date.now())).to.be.below(60_000);
    agent.runtime.close();
    await until(async () => (await reportsOf('gw-1970')).length >= 2, 10_000, 'both stored');
    for (const r of await reportsOf('gw-1970')) {
      expect(Math.abs(Number(r.time) - Date.now()), `report ${r.seq} stored near now`).to.be.below(120_000);
      expect(r.clock_corrected).to.equal(1);
    }
  });

  it('reports collected while the clock was a day behind and sent after NTP stepped it are stored at their true time and flagged', async () => {
    let stepped = false;
    const wall = () => Date.now() - (stepped ? 0 : DAY);
    let online = false;
    const pool = new CollectorPool({ urls: [collector.url], token, timeoutMs: 5000, gzip: true, version: 'test', now: Date.now, log: pino({ level: 'silent' }) });
    const sender: BatchSender = {
      send: (reports) => (online ? pool.send(reports) : Promise.reject(new UploadError('link down', undefined, 'keep-and-back-off', true))),
    };
    const agent = loggedAgent({ school, url: collector.url, token, dir: tempDir('step'), agentId: 'gw-step', now: wall, monoNow: () => performance.now(), sender });
    const startedAt = Date.now();
    for (let i = 0; i < 3; i++) {
      await agent.runtime.cycle();
      await new Promise((r) => setTimeout(r, 20));
    }
    stepped = true;
    online = true;
    const r = await agent.runtime.once();
    expect(r.flush?.acked).to.have.members([1, 2, 3, 4]);
    agent.runtime.close();
    pool.close();
    await until(async () => (await reportsOf('gw-step')).length >= 4, 10_000, 'all four stored');
    const rows = await reportsOf('gw-step');
    for (const row of rows) expect(Number(row.time), `report ${row.seq} at its true time`).to.be.within(startedAt - 5_000, Date.now() + 5_000);
    expect(rows.filter((row) => Number(row.seq) <= 3).map((row) => row.clock_corrected)).to.deep.equal([1, 1, 1]);
    expect(agent.codes()).to.include('AGT_ERR_CLOCK_STEP');
  });

  it('reports collected far in the future or the past that no clock offset explains are refused with 400 naming the field, and create no InfluxDB shard', async () => {
    const shards = async () => (await influx.query('SHOW SHARDS', 'campuslink')).filter((r) => r.database === 'campuslink').map((r) => String(r.id));
    const before = await shards();
    for (let i = 0; i < 10; i++) {
      // Distinct weeks between 2002 and 2286 (all inside the protocol's range), sent now by a clock that reads now.
      const collectedAt = Date.UTC(2002 + Math.round((i * 284) / 9), 0, 1 + i * 7);
      const res = await post({ reports: [makeReport({ school, agent: 'gw-far', seq: i + 1, collectedAt, sentAt: Date.now() })] });
      expect(res.status, new Date(collectedAt).toISOString()).to.equal(400);
      const body = (await res.json()) as { error: { code: string; issues: { path: string }[] } };
      expect(body.error.code).to.equal('COL_ERR_TIME_OUT_OF_WINDOW');
      expect(body.error.issues.map((x) => x.path)).to.deep.equal(['reports.0.collectedAt']);
    }
    // A clock two years ahead that stamped both times alike is explained by its offset: stored now, flagged.
    const ahead = Date.now() + 730 * DAY;
    const ok = await post({ reports: [makeReport({ school, agent: 'gw-far', seq: 11, collectedAt: ahead, sentAt: ahead + 1000 })] });
    expect(ok.status).to.equal(200);
    await until(async () => (await reportsOf('gw-far')).length >= 1, 10_000, 'the explained report stored');
    const [row] = await reportsOf('gw-far');
    expect(Math.abs(Number(row?.time) - Date.now())).to.be.below(60_000);
    expect(row?.clock_corrected).to.equal(1);
    expect(await shards()).to.deep.equal(before);
  });
});
