/**
 * Roles by region through the real `campuslink-collector serve` (state database, live registry, every
 * module as `serve` builds them): accounts and read tokens issued by the CLI while it runs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startCli, repoPath, runCli, type CliProcess } from '../../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';
import { basic } from './scope-harness.js';

describe('collector/auth/scope through campuslink-collector serve', function () {
  this.timeout(90_000);
  let influx: TestInfluxd;
  let collector: CliProcess;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'cl-scope-serve-'));
  const env = () => ({ CAMPUSLINK_STATE_DIR: dir, CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv'), CAMPUSLINK_INFLUX_URL: influx.url, CAMPUSLINK_LISTEN: '127.0.0.1:0', CAMPUSLINK_LOG_LEVEL: 'warn' });
  const cli = async (args: string[]) => {
    const r = await runCli('collector', args, env());
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout.trim().split('\n').pop() as string;
  };

  before(async () => {
    influx = await startTestInfluxd();
    collector = await startCli('collector', ['serve'], { env: env(), ready: /listening on (http\S+)/ });
    url = /listening on (http\S+)/.exec(collector.readyLine)?.[1] as string;
  });
  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
  });

  it('a county account issued while serve runs is answered for its county only, a read token reads and never ingests, an agent token never reads', async () => {
    const county = basic('xingqing', await cli(['viewer', 'add', '--name', 'xingqing', '--scope', '640104', '--by', 'test']));
    const operator = basic('xingqing-noc', await cli(['viewer', 'add', '--name', 'xingqing-noc', '--scope', '640104', '--role', 'operator', '--by', 'test']));
    const read = `Bearer ${await cli(['viewer', 'token', 'issue', '--label', 'grafana', '--scope', '640104', '--by', 'test'])}`;
    const agent = `Bearer ${await cli(['token', 'issue', '--school', '1640104001'])}`;
    const get = (path: string, auth: string) => fetch(`${url}${path}`, { headers: { authorization: auth } });

    const cov = (await (await get('/api/v1/coverage?level=national', county)).json()) as { level: string; code: string };
    expect(cov).to.include({ level: 'county', code: '640104' });
    const qinghai = await get('/api/v1/console/schools/1632722001', county);
    expect(qinghai.status).to.equal(403);
    expect(((await qinghai.json()) as { error: { message: string } }).error.message).to.include('640104');

    expect((await get('/api/v1/coverage?level=county&code=640104&format=csv', read)).status).to.equal(200);
    expect((await get('/api/v1/alerts/board', read)).status).to.equal(200);
    const ingest = await fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { authorization: read, 'content-type': 'application/json' }, body: '{"reports":[]}' });
    expect(ingest.status).to.equal(401);
    const agentRead = await get('/api/v1/coverage?level=national', agent);
    expect(agentRead.status).to.equal(403);
    expect(((await agentRead.json()) as { error: { code: string } }).error.code).to.equal('COL_ERR_TOKEN_NOT_FOR_READS');

    const window = await fetch(`${url}/api/v1/maintenance`, { method: 'POST', headers: { authorization: operator, 'content-type': 'application/json' }, body: JSON.stringify({ target: '1640104001', endsAt: new Date(Date.now() + 3_600_000).toISOString(), reason: 'router swap' }) });
    expect(window.status, await window.clone().text()).to.equal(201);
    const audit = (await runCli('collector', ['audit', 'list'], env())).stdout.trim().split('\n').map((l) => l.split('\t').slice(1, 3).join(' '));
    expect(audit).to.deep.equal(['cli:root token.issue', 'cli:test read_token.issue', 'cli:test viewer.add', 'cli:test viewer.add'].map((x) => x.replace('root', process.env.SUDO_USER || process.env.USER || 'root')));
  });
});
