/**
 * The walking skeleton end to end, with real parts: a real influxd, the collector CLI, the agent CLI,
 * a simulated gateway served over real SNMP, and the system ping to 127.0.0.1.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { jsonOf } from '../helpers/http.js';
import { SegmentSpool } from '../../agent/spool/segment-spool.js';
import { loadRegistry } from '../../collector/registry/load.js';
import { startGateway, type Gateway } from '../../sim/gateway.js';
import { repoPath, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { makeReport } from '../helpers/reports.js';

describe('integration: agent → collector → InfluxDB', function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let collector: CliProcess;
  let gateway: Gateway;
  let collectorUrl: string;
  let token: string;
  const stateDir = mkdtempSync(join(tmpdir(), 'cl-e2e-collector-'));
  const agentDir = mkdtempSync(join(tmpdir(), 'cl-e2e-agent-'));
  const registry = loadRegistry(repoPath('config/schools.example.csv'));
  const [school, otherSchool] = [...registry.schools.keys()] as [string, string];
  const collectorEnv = () => ({
    CAMPUSLINK_STATE_DIR: stateDir,
    CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv'),
    CAMPUSLINK_INFLUX_URL: influx.url,
    CAMPUSLINK_INFLUX_DB: 'campuslink',
    CAMPUSLINK_LISTEN: '127.0.0.1:0',
    CAMPUSLINK_LOG_LEVEL: 'warn',
    CAMPUSLINK_INGEST_RETRY_AFTER_S: '1',
    CAMPUSLINK_INFLUX_TIMEOUT_MS: '2000',
  });
  const agentEnv = () => ({
    CAMPUSLINK_SCHOOL: school,
    CAMPUSLINK_TOKEN: token,
    CAMPUSLINK_COLLECTOR_URL: collectorUrl,
    CAMPUSLINK_SPOOL_DIR: join(agentDir, 'spool'),
    CAMPUSLINK_STATE_DIR: agentDir,
    CAMPUSLINK_SNMP_HOST: `${gateway.host}:${gateway.port}`,
    CAMPUSLINK_SNMP_COMMUNITY: gateway.community,
    CAMPUSLINK_TARGETS: '[{host: 127.0.0.1, role: gateway, count: 3, intervalMs: 200}]',
    CAMPUSLINK_LOG_LEVEL: 'warn',
  });
  const count = async (measurement: string): Promise<number> => {
    const dbs = await influx.query('SHOW DATABASES');
    if (!dbs.some((r) => r.name === 'campuslink')) return 0;
    const rows = await influx.query(`SELECT count(*) FROM "${measurement}"`);
    return rows.length ? Math.max(...Object.entries(rows[0] ?? {}).filter(([k]) => k.startsWith('count_')).map(([, v]) => Number(v))) : 0;
  };
  const totalPoints = async () => {
    let n = 0;
    for (const m of ['ping', 'iface', 'sys', 'agent', 'report']) n += await count(m);
    return n;
  };
  const post = (body: string, auth: string) =>
    fetch(`${collectorUrl}/api/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` }, body });

  before(async () => {
    influx = await startTestInfluxd();
    gateway = await startGateway({ host: '127.0.0.1' });
    const issued = await runCli('collector', ['token', 'issue', '--school', school, '--config', repoPath('config/collector.example.yaml')], collectorEnv());
    expect(issued.code, issued.stderr).to.equal(0);
    token = issued.stdout.trim().split('\n').pop() as string;
    collector = await startCli('collector', ['serve', '--config', repoPath('config/collector.example.yaml')], { env: collectorEnv(), ready: /listening on (http\S+)/ });
    collectorUrl = /listening on (http\S+)/.exec(collector.readyLine)?.[1] as string;
  });

  after(async () => {
    await collector?.stop();
    await gateway?.stop();
    await influx?.cleanup();
  });

  it('token issue prints the token as the last line of stdout and stores only its hash', () => {
    expect(token).to.match(/^clk1_[A-Za-z0-9_-]{40,}$/);
    const db = new Database(join(stateDir, 'state.db'), { readonly: true });
    const stored = JSON.stringify(db.prepare('SELECT * FROM tokens').all());
    db.close();
    expect(stored).to.contain(school);
    expect(stored).not.to.contain(token);
    expect(readFileSync(join(stateDir, 'state.db')).toString('latin1')).not.to.contain(token);
  });

  it('agent once --print writes a valid report to stdout and sends and spools nothing', async () => {
    const r = await runCli('agent', ['once', '--print', '--config', repoPath('config/agent.example.yaml')], agentEnv());
    expect(r.code, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout);
    expect(report.school).to.equal(school);
    expect(report.measurements.map((m: { name: string }) => m.name)).to.include.members(['ping', 'sys', 'iface', 'agent']);
    expect(await count('report')).to.equal(0);
    expect(existsSync(join(agentDir, 'spool')) ? readdirSync(join(agentDir, 'spool')).filter((n) => n.endsWith('.seg')) : []).to.deep.equal([]);
  });

  it('agent once uploads, exits 0, and the points appear in InfluxDB with the registry tags and the schema fields', async () => {
    const r = await runCli('agent', ['once', '--config', repoPath('config/agent.example.yaml')], agentEnv());
    expect(r.code, r.stderr).to.equal(0);
    const tags = registry.tagsFor(school);
    const [ping] = await influx.query(`SELECT * FROM "ping" WHERE "school" = '${school}'`);
    expect(ping).to.include({ school, province: tags?.province, city: tags?.city, county: tags?.county, link: tags?.link, target: '127.0.0.1', role: 'gateway', sent: 3, loss_pct: 0, result_code: 0 });
    // `received` is derived, not stored (collector/ingest/stored-fields.ts): round(sent × (100 − loss_pct) / 100).
    expect(ping?.received ?? null).to.equal(null);
    expect(ping?.rtt_avg_ms).to.be.a('number').and.be.greaterThan(0);
    const [sys] = await influx.query(`SELECT * FROM "sys" WHERE "school" = '${school}'`);
    expect(sys).to.include({ device: 'gateway', result_code: 0 });
    expect(sys?.uptime_s).to.be.greaterThan(0);
    const ifaces = await influx.query(`SELECT * FROM "iface" WHERE "school" = '${school}'`);
    expect(ifaces.length).to.be.greaterThan(0);
    expect(ifaces[0]).to.include.keys('oper_up', 'speed_bps', 'ifname', 'role');
    const [agent] = await influx.query(`SELECT * FROM "agent" WHERE "school" = '${school}'`);
    expect(agent).to.include.keys('spool_reports', 'spool_bytes', 'dropped_reports', 'sent_bytes', 'cycle_ms', 'rss_bytes', 'uptime_s', 'version');
    const [report] = await influx.query(`SELECT * FROM "report" WHERE "school" = '${school}'`);
    expect(report?.lag_s).to.be.a('number').and.be.at.least(0);
    expect(report?.seq).to.equal(1);
  });

  it('a bad token gets 401, another school 403, malformed JSON 400, and InfluxDB gets no new points', async () => {
    const before = await totalPoints();
    const valid = JSON.stringify({ reports: [makeReport({ school, seq: 900, collectedAt: Date.now() })] });
    const bad = await post(valid, 'clk1_not-a-token');
    expect(bad.status).to.equal(401);
    const foreign = await post(JSON.stringify({ reports: [makeReport({ school: otherSchool, seq: 901, collectedAt: Date.now() })] }), token);
    expect(foreign.status).to.equal(403);
    expect((await jsonOf(foreign)).error.code).to.equal('COL_ERR_WRONG_SCHOOL');
    const malformed = await post('{"reports": [', token);
    expect(malformed.status).to.equal(400);
    expect((await jsonOf(malformed)).error.code).to.equal('COL_ERR_INVALID_JSON');
    expect(await totalPoints()).to.equal(before);
  });

  it('with influxd stopped the collector answers 503, the agent keeps the report, and delivers it once influxd is back', async () => {
    const spool = join(agentDir, 'spool');
    const seqsBefore = (await influx.query(`SELECT "seq" FROM "report" WHERE "school" = '${school}'`)).map((r) => r.seq);
    await influx.influxd.stop();
    const down = await runCli('agent', ['once', '--config', repoPath('config/agent.example.yaml')], agentEnv());
    expect(down.code).to.equal(1);
    expect(down.stderr).to.match(/503/);
    expect(new SegmentSpool({ dir: spool, maxSpoolBytes: 1 << 20, segmentBytes: 1 << 16 }).waiting()).to.deep.equal([2]);
    expect((await fetch(`${collectorUrl}/readyz`)).status).to.equal(503);

    await influx.influxd.restart();
    const up = await runCli('agent', ['once', '--config', repoPath('config/agent.example.yaml')], agentEnv());
    expect(up.code, up.stderr).to.equal(0);
    expect(new SegmentSpool({ dir: spool, maxSpoolBytes: 1 << 20, segmentBytes: 1 << 16 }).waiting()).to.deep.equal([]);
    const seqs = (await influx.query(`SELECT "seq" FROM "report" WHERE "school" = '${school}'`)).map((r) => r.seq);
    expect(seqs).to.deep.equal([...seqsBefore, 2, 3]);
  });
});
