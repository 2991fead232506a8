import { expect } from 'chai';
import { listAudit } from '../../../collector/auth/audit.js';
import { issueReadToken, revokeReadToken } from '../../../collector/auth/scope-tokens.js';
import { startScopeHarness, type ScopeHarness } from './scope-harness.js';

describe('collector/auth/scope: roles by region on the read side (real influxd)', function () {
  this.timeout(60_000);
  let h: ScopeHarness;
  let county: string; // 640104 兴庆区
  let city: string; // 640100 银川市 (640104 + 640105)
  let mine: string;
  let other: string;

  before(async () => {
    h = await startScopeHarness();
    county = h.account('xingqing', '640104');
    city = h.account('yinchuan', '640100');
    mine = h.schools.find((s) => s.county.county[0] === '640104')!.id;
    other = h.schools.find((s) => s.county.county[0] === '640105')!.id;
  });
  after(async () => h?.close());

  const get = (path: string, auth: string) => fetch(`${h.base}${path}`, { headers: { authorization: auth } });
  const refused = async (path: string, auth: string, scope: string) => {
    const res = await get(path, auth);
    expect(res.status, path).to.equal(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code, path).to.equal('COL_ERR_SCOPE_FORBIDDEN');
    expect(body.error.message, path).to.include(scope);
  };

  it('a county account gets 403 COL_ERR_SCOPE_FORBIDDEN naming its scope for another county\'s coverage, compliance, CSV exports and school pages', async () => {
    for (const path of [
      '/api/v1/coverage?level=county&code=640105',
      '/api/v1/coverage?level=county&code=640105&format=csv',
      '/api/v1/compliance?level=county&code=640105',
      '/api/v1/compliance?level=city&code=640300&format=csv',
      '/api/v1/regions/640105',
      `/api/v1/schools/${other}/compliance`,
      `/api/v1/schools/${other}/compliance?format=csv`,
      `/api/v1/schools/${other}/devices`,
      `/api/v1/console/schools/${other}`,
      `/api/v1/console/schools/${other}/series`,
      `/api/v1/ingest/budgets/${other}`,
      '/api/v1/console/offline?region=640105&format=csv',
      '/api/v1/console/schools?region=640302',
      '/api/v1/console/trail/640105',
      '/api/v1/alerts?region=640105',
      '/api/v1/ingest/budgets',
      // Express matches routes without case and decodes parameters; the scope check does too.
      `/API/V1/console/schools/${other}`,
      `/api/v1/console/schools/%3${other.slice(0, 1)}${other.slice(1)}`,
      '/api/v1/regions/%3640105'.replace('%3640105', '%36%34%30%31%30%35'),
    ]) {
      await refused(path, county, '640104');
    }
    // Its own county answers as before.
    expect((await get(`/api/v1/console/schools/${mine}`, county)).status).to.equal(200);
    expect((await get(`/api/v1/ingest/budgets/${mine}`, county)).status).to.equal(200);
    expect((await get('/api/v1/coverage?level=county&code=640104', county)).status).to.equal(200);
  });

  it('a county account asking for the national or provincial level gets its own county only, marked with X-Campuslink-Scope', async () => {
    const cov = await get('/api/v1/coverage?level=national', county);
    expect(cov.status).to.equal(200);
    expect(cov.headers.get('x-campuslink-scope')).to.equal('640104');
    const c = (await cov.json()) as { level: string; code: string; registered: number; children: { code: string }[] };
    expect(c).to.include({ level: 'county', code: '640104', registered: 25 });
    expect(c.children.every((x) => x.code.startsWith('1640104'))).to.equal(true);

    const list = (await (await get('/api/v1/console/schools?pageSize=200', county)).json()) as { total: number; items: { county: { code: string } }[] };
    expect(list.total).to.equal(25);
    expect(new Set(list.items.map((i) => i.county.code))).to.deep.equal(new Set(['640104']));

    const csv = await (await get('/api/v1/console/offline?region=640000&format=csv', county)).text();
    const rows = csv.trim().split('\n').slice(1);
    expect(rows.every((r) => r.startsWith('1640104'))).to.equal(true);

    const comp = (await (await get('/api/v1/compliance?level=province&code=640000', county)).json()) as { level: string; code: string };
    expect(comp).to.include({ level: 'county', code: '640104' });
    const regions = (await (await get('/api/v1/regions', county)).json()) as { code: string };
    expect(regions.code).to.equal('640104');
  });

  it('a city account sees both its counties and not the other city\'s, and the nation\'s account sees everything', async () => {
    expect((await get(`/api/v1/console/schools/${other}`, city)).status).to.equal(200);
    await refused('/api/v1/console/schools?region=640302', city, '640100');
    const cov = (await (await get('/api/v1/coverage?level=national', city)).json()) as { level: string; code: string; registered: number };
    expect(cov).to.include({ level: 'city', code: '640100', registered: 50 });
    const nation = h.account('nx-all', '000000');
    // The paths the county account is refused above do reach the school page for an account allowed to see it.
    for (const path of [`/API/V1/console/schools/${other}`, `/api/v1/console/schools/%31${other.slice(1)}`]) expect((await get(path, nation)).status, path).to.equal(200);
    const all = (await (await get('/api/v1/coverage?level=national', nation)).json()) as { registered: number };
    expect(all.registered).to.equal(100);
    const me = (await (await get('/api/v1/me', city)).json()) as { name: string; scope: string; role: string };
    expect(me).to.include({ name: 'yinchuan', scope: '640100', role: 'viewer' });
  });

  it('a read-only token reads inside its scope, is refused for ingest (401) and for writes (403); an agent token is refused for reads (403)', async () => {
    const { token } = issueReadToken({ state: h.state, label: 'grafana xingqing', scope: '640104', by: 'cli:test' });
    const bearer = `Bearer ${token}`;
    const ok = await get('/api/v1/coverage?level=county&code=640104&format=csv', bearer);
    expect(ok.status).to.equal(200);
    await refused('/api/v1/coverage?level=county&code=640105', bearer, '640104');

    const ingest = await fetch(`${h.base}/api/v1/reports`, { method: 'POST', headers: { authorization: bearer, 'content-type': 'application/json' }, body: '{"reports":[]}' });
    expect(ingest.status).to.equal(401);
    const write = await fetch(`${h.base}/api/v1/alerts/ack`, { method: 'POST', headers: { authorization: bearer, 'content-type': 'application/json' }, body: '{"key":"x"}' });
    expect(write.status).to.equal(403);
    expect(((await write.json()) as { error: { code: string } }).error.code).to.equal('COL_ERR_ROLE_FORBIDDEN');

    const agent = await get('/api/v1/coverage?level=national', `Bearer t-${mine}`);
    expect(agent.status).to.equal(403);
    expect(((await agent.json()) as { error: { code: string } }).error.code).to.equal('COL_ERR_TOKEN_NOT_FOR_READS');

    const id = /^clr1_([0-9a-f]{12})_/.exec(token)![1]!;
    expect(revokeReadToken({ state: h.state, id, by: 'cli:test' })).to.equal(true);
    expect((await get('/api/v1/coverage?level=county&code=640104', bearer)).status).to.equal(401);
  });

  it('a viewer account may not acknowledge alerts or edit maintenance windows (403 COL_ERR_ROLE_FORBIDDEN); an operator may, inside its scope only', async () => {
    const post = (path: string, auth: string, body: unknown) => fetch(`${h.base}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const window = { target: '640104', endsAt: new Date(h.clock.now + 3_600_000).toISOString(), reason: '光缆割接' };
    const v = await post('/api/v1/maintenance', county, window);
    expect(v.status).to.equal(403);
    expect(((await v.json()) as { error: { code: string } }).error.code).to.equal('COL_ERR_ROLE_FORBIDDEN');
    const op = h.account('xingqing-noc', '640104', 'operator');
    const created = await post('/api/v1/maintenance', op, window);
    expect(created.status).to.equal(201);
    expect(await created.json()).to.include({ target: '640104', inForce: true, createdBy: 'api:xingqing-noc' });
    const outside = await post('/api/v1/maintenance', op, { ...window, target: '640105' });
    expect(outside.status).to.equal(403);
    expect(((await outside.json()) as { error: { code: string } }).error.code).to.equal('COL_ERR_SCOPE_FORBIDDEN');
    const bad = await post('/api/v1/maintenance', op, { ...window, endsAt: 'tomorrow' });
    expect(bad.status).to.equal(400);
    const listed = (await (await get('/api/v1/maintenance', city)).json()) as { windows: { target: string }[] };
    expect(listed.windows.map((w) => w.target)).to.deep.equal(['640104']);
  });

  it('an admin issues and revokes read tokens through the API inside its scope and reads the audit log; viewers and scoped admins may not', async () => {
    const send = (method: string, path: string, auth: string, body?: unknown) =>
      fetch(`${h.base}${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const admin = h.account('nx-admin', '000000', 'admin');
    const issued = await send('POST', '/api/v1/read-tokens', admin, { label: 'script 640104', scope: '640104', expiresDays: 30 });
    expect(issued.status).to.equal(201);
    const t = (await issued.json()) as { id: string; token: string; scope: string; issuedBy: string };
    expect(t).to.include({ scope: '640104', issuedBy: 'api:nx-admin' });
    expect((await get('/api/v1/coverage?level=county&code=640104', `Bearer ${t.token}`)).status).to.equal(200);

    const countyAdmin = h.account('xingqing-admin', '640104', 'admin');
    const outside = await send('POST', '/api/v1/read-tokens', countyAdmin, { label: 'x', scope: '640105' });
    expect(outside.status).to.equal(403);
    expect(((await outside.json()) as { error: { code: string } }).error.code).to.equal('COL_ERR_SCOPE_FORBIDDEN');
    expect((await get('/api/v1/audit', countyAdmin)).status).to.equal(403);
    for (const path of ['/api/v1/read-tokens', '/API/V1/READ-TOKENS', '/api/v1/audit']) {
      const r = await get(path, county);
      expect(r.status, path).to.equal(403);
      expect(((await r.json()) as { error: { code: string } }).error.code, path).to.equal('COL_ERR_ROLE_FORBIDDEN');
    }

    expect((await send('DELETE', `/api/v1/read-tokens/${t.id}`, admin)).status).to.equal(200);
    expect((await get('/api/v1/coverage?level=county&code=640104', `Bearer ${t.token}`)).status).to.equal(401);
    const audit = (await (await get(`/api/v1/audit?subject=${t.id}`, admin)).json()) as { entries: { actor: string; action: string }[] };
    expect(audit.entries.map((e) => `${e.actor} ${e.action}`)).to.deep.equal(['api:nx-admin read_token.revoke', 'api:nx-admin read_token.issue']);
  });

  it('account and token changes are in the audit log with who made them', () => {
    const log = listAudit(h.state, { limit: 1000 });
    const of = (subject: string) => log.filter((e) => e.subject === subject).map((e) => `${e.actor} ${e.action} ${e.detail}`);
    expect(of('xingqing')).to.deep.equal(['cli:test viewer.add scope 640104, role viewer']);
    expect(of('xingqing-noc')).to.deep.equal(['cli:test viewer.add scope 640104, role operator']);
    const tokenLines = log.filter((e) => e.action.startsWith('read_token.') && e.actor.startsWith('cli:')).map((e) => `${e.actor} ${e.action}`);
    expect(tokenLines).to.deep.equal(['cli:test read_token.revoke', 'cli:test read_token.issue']);
    expect(log.find((e) => e.action === 'read_token.issue')!.detail).to.include('scope 640104').and.not.include('clr1_');
  });
});
