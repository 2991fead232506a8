/**
 * Contract tests of `grafana push` against test/helpers/grafana-contract-server.ts, a local server
 * that follows Grafana's documented HTTP API (no Grafana can be installed here).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Command } from 'commander';
import { GrafanaApiError, GrafanaClient } from '../../../collector/grafana/client.js';
import { registerGrafanaCommands } from '../../../collector/grafana/cli.js';
import { DATASOURCE_UID, pushToGrafana, type PushOptions } from '../../../collector/grafana/push.js';
import { startGrafanaContractServer, type GrafanaContractServer } from '../../helpers/grafana-contract-server.js';
import { DASHBOARD_DIR } from '../../dashboards/dashboards.js';

const TOKENS = { admin: 'Admin', editor: 'Editor', viewer: 'Viewer' } as const;

async function rejection(p: Promise<unknown>): Promise<GrafanaApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(GrafanaApiError);
    return e as GrafanaApiError;
  }
  throw new Error('expected a GrafanaApiError');
}

describe('grafana push (contract test against the documented Grafana HTTP API)', () => {
  let server: GrafanaContractServer;
  let dir: string;
  const opts = (o: Partial<PushOptions> & { token?: string } = {}): PushOptions => ({
    client: new GrafanaClient({ url: server.url, token: o.token ?? 'admin', timeoutMs: 2000 }),
    dashboardsDir: dir,
    datasource: { influxUrl: 'http://influxdb:8086', database: 'campuslink', password: 'secret-from-env' },
    ...o,
  });

  beforeEach(async () => {
    server = await startGrafanaContractServer({ tokens: TOKENS });
    dir = mkdtempSync(join(tmpdir(), 'campuslink-dash-'));
    cpSync(DASHBOARD_DIR, dir, { recursive: true, filter: (src) => !src.includes('provisioning') });
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the data source, the folder and every dashboard on a fresh Grafana', async () => {
    const changes = await pushToGrafana(opts());
    expect(changes.map((c) => `${c.action} ${c.kind} ${c.uid}`)).to.deep.equal([
      `create datasource ${DATASOURCE_UID}`,
      'create folder campuslink',
      'create dashboard campuslink-coverage',
      'create dashboard campuslink-fleet',
      'create dashboard campuslink-satellite',
      'create dashboard campuslink-school',
    ]);
    expect(server.datasources.get(DATASOURCE_UID)).to.include({ type: 'influxdb', url: 'http://influxdb:8086', access: 'proxy' });
    expect(server.secrets.get(DATASOURCE_UID)).to.deep.equal({ password: 'secret-from-env' });
    expect([...server.dashboards.values()].every((d) => d.folderUid === 'campuslink')).to.equal(true);
    expect(server.dashboards.get('campuslink-school')?.dashboard.title).to.equal('campuslink — School detail');
  });

  it('changes nothing on a second run (idempotent): no write request at all', async () => {
    await pushToGrafana(opts());
    const writes = server.writes.length;
    const versions = [...server.dashboards.values()].map((d) => d.dashboard.version);
    const changes = await pushToGrafana(opts());
    expect(changes.every((c) => c.action === 'unchanged'), JSON.stringify(changes)).to.equal(true);
    expect(server.writes.length).to.equal(writes);
    expect([...server.dashboards.values()].map((d) => d.dashboard.version)).to.deep.equal(versions);
  });

  it('updates only the dashboard whose file changed, sending the version it read', async () => {
    await pushToGrafana(opts());
    const file = join(dir, 'fleet-health.json');
    const d = JSON.parse(readFileSync(file, 'utf8')) as { title: string };
    d.title = 'campuslink — Fleet health (v2)';
    writeFileSync(file, JSON.stringify(d));
    const before = server.writes.length;
    const changes = await pushToGrafana(opts());
    expect(changes.filter((c) => c.action !== 'unchanged')).to.deep.equal([
      { kind: 'dashboard', uid: 'campuslink-fleet', title: 'campuslink — Fleet health (v2)', action: 'update', changed: ['title'] },
    ]);
    expect(server.writes.slice(before)).to.deep.equal([{ method: 'POST', path: '/api/dashboards/db', status: 200 }]);
    expect(server.dashboards.get('campuslink-fleet')?.dashboard).to.include({ title: 'campuslink — Fleet health (v2)', version: 2 });
  });

  it('updates the data source when its settings changed, keeping its uid', async () => {
    await pushToGrafana(opts());
    const changes = await pushToGrafana(opts({ datasource: { influxUrl: 'http://influx2:8086', database: 'campuslink' } }));
    expect(changes[0]).to.deep.include({ kind: 'datasource', action: 'update', changed: ['url'] });
    expect(server.datasources.get(DATASOURCE_UID)).to.include({ url: 'http://influx2:8086', uid: DATASOURCE_UID });
  });

  it('--dry-run reports what would change and writes nothing', async () => {
    const changes = await pushToGrafana(opts({ dryRun: true }));
    expect(changes.every((c) => c.action === 'create')).to.equal(true);
    expect(server.writes).to.deep.equal([]);
    expect(server.dashboards.size).to.equal(0);
  });

  it('moves dashboards into the folder given with --folder, creating it with a derived uid', async () => {
    await pushToGrafana(opts());
    const changes = await pushToGrafana(opts({ folder: 'School network' }));
    expect(changes.find((c) => c.kind === 'folder')).to.include({ uid: 'school-network', action: 'create' });
    expect(changes.filter((c) => c.kind === 'dashboard').every((c) => c.action === 'update' && c.changed?.includes('(folder)'))).to.equal(true);
    expect([...server.dashboards.values()].every((d) => d.folderUid === 'school-network')).to.equal(true);
  });

  it('refuses with a clear 412 version-mismatch when a dashboard was edited in Grafana after it was read', async () => {
    await pushToGrafana(opts());
    const file = join(dir, 'school-detail.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), refresh: '5m' }));
    // Someone saves the dashboard in the UI between our read and our write.
    const client = new GrafanaClient({ url: server.url, token: 'admin' });
    const request = client.request.bind(client);
    client.request = (async (method: 'GET' | 'POST' | 'PUT', path: string, what: string, body?: unknown, allow?: number[]) => {
      if (method === 'POST' && path === '/api/dashboards/db') server.editDashboard('campuslink-school', { description: 'edited in the UI' });
      return request(method, path, what, body, allow);
    }) as typeof client.request;
    const err = await rejection(pushToGrafana(opts({ client })));
    expect(err.status).to.equal(412);
    expect(err.grafanaStatus).to.equal('version-mismatch');
    expect(err.message).to.match(/updating dashboard campuslink-school: .*412 version-mismatch.*--force/);
    expect(server.dashboards.get('campuslink-school')?.dashboard.description).to.equal('edited in the UI');
  });

  it('--force overwrites a dashboard edited in Grafana meanwhile', async () => {
    await pushToGrafana(opts());
    server.editDashboard('campuslink-school', { description: 'edited in the UI' });
    const changes = await pushToGrafana(opts({ force: true }));
    expect(changes.find((c) => c.uid === 'campuslink-school')).to.deep.include({ action: 'update', changed: ['description'] });
    expect(server.dashboards.get('campuslink-school')?.dashboard.description).to.not.equal('edited in the UI');
  });

  it('refuses with a clear 412 name-exists when another dashboard in the folder has the same title', async () => {
    server.folders.set('campuslink', { id: 99, uid: 'campuslink', title: 'campuslink', version: 1 });
    server.addDashboard({ uid: 'someone-elses', title: 'campuslink — Fleet health' }, 'campuslink');
    const err = await rejection(pushToGrafana(opts()));
    expect([err.status, err.grafanaStatus]).to.deep.equal([412, 'name-exists']);
    expect(err.message).to.match(/creating dashboard campuslink-fleet: .*same title/);
  });

  it('explains a 401 (bad token)', async () => {
    const err = await rejection(pushToGrafana(opts({ token: 'nope' })));
    expect(err.status).to.equal(401);
    expect(err.message).to.match(/reading data source campuslink-influxdb: Grafana rejected the token \(401: Unauthorized\)/);
  });

  it('explains a 403 (an Editor token cannot create data sources; a Viewer cannot read them)', async () => {
    const e1 = await rejection(pushToGrafana(opts({ token: 'editor' })));
    expect(e1.status).to.equal(403);
    expect(e1.message).to.match(/creating data source campuslink: the token lacks permission \(403: Permission denied\).*Admin/);
    const e2 = await rejection(pushToGrafana(opts({ token: 'viewer' })));
    expect(e2.status).to.equal(403);
  });

  it('explains a 404 from a wrong base URL', async () => {
    const client = new GrafanaClient({ url: `${server.url}/wrong/prefix`, token: 'admin' });
    // GET of a missing data source is a normal 404; the first POST shows the bad URL.
    const err = await rejection(pushToGrafana(opts({ client })));
    expect(err.status).to.equal(404);
    expect(err.message).to.match(/not found \(404: Not found\).*is --url the Grafana base URL\?/);
  });

  it('explains an unreachable Grafana', async () => {
    const gone = await startGrafanaContractServer({ tokens: TOKENS });
    await gone.close();
    const err = await rejection(pushToGrafana(opts({ client: new GrafanaClient({ url: gone.url, token: 'admin', timeoutMs: 1000 }) })));
    expect(err.status).to.equal(0);
    expect(err.message).to.match(/cannot reach Grafana at http:\/\/127.0.0.1:\d+: ECONNREFUSED/);
  });

  describe('the command line', () => {
    async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ out: string; err: string; exitCode: number }> {
      const program = new Command('campuslink-collector').exitOverride();
      registerGrafanaCommands(program, env);
      let out = '';
      let err = '';
      const w = { out: process.stdout.write, err: process.stderr.write };
      process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
      process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
      const before = process.exitCode;
      try {
        await program.parseAsync(['node', 'cli', ...args]);
      } finally {
        process.stdout.write = w.out;
        process.stderr.write = w.err;
      }
      const exitCode = Number(process.exitCode ?? 0);
      process.exitCode = before;
      return { out, err, exitCode };
    }

    it('grafana push --dry-run prints what would change; a real run then a second run reports no change', async () => {
      const dry = await run(['grafana', 'push', '--url', server.url, '--token', 'admin', '--dashboards', dir, '--dry-run']);
      expect(dry.exitCode).to.equal(0);
      expect(dry.out).to.match(/would create\s+dashboard\s+campuslink-school/);
      expect(dry.out).to.match(/dry run: 6 changes would be made/);
      expect(server.writes).to.deep.equal([]);
      const first = await run(['grafana', 'push', '--url', server.url, '--dashboards', dir], { CAMPUSLINK_GRAFANA_TOKEN: 'admin' });
      expect(first.out).to.match(/6 changes made/);
      const second = await run(['grafana', 'push', '--url', server.url, '--dashboards', dir], { CAMPUSLINK_GRAFANA_TOKEN: 'admin' });
      expect(second.out).to.match(/\n0 changes made\n$/);
    });

    it('grafana push exits 1 with the error code and the reason', async () => {
      const r = await run(['grafana', 'push', '--url', server.url, '--token', 'nope', '--dashboards', dir]);
      expect(r.exitCode).to.equal(1);
      expect(r.err).to.match(/^COL_ERR_GRAFANA_API: .*401/);
    });
  });
});
