/**
 * County proxies end to end, on a real collector (child process) and a real influxd: `enroll issue
 * --proxy` (CLI), the enrollment answer, the per-batch scope check (403 COL_ERR_PROXY_SCOPE for that
 * batch only, another school's batch in the same second unaffected), the agent kind recorded and shown
 * by the console API, proxy silence as `proxy_down` gaps, an unreachable gateway as offline `link_down`,
 * and `token list` / `token revoke --proxy`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { proxyEnrollAnswerSchema, type ProxyEnrollAnswer } from '../../../protocol/enroll.js';
import type { Measurement, Report } from '../../../protocol/index.js';
import { readSchoolsFile, SchoolsFileError } from '../../../collector/enroll/proxy-cli.js';
import { loadRegistry } from '../../../collector/registry/load.js';
import { launchConsoleBrowser } from '../../console/browser.js';
import { runCli } from '../../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';
import { CollectorChild, REGISTRY, tempDir, until } from '../../fault/harness.js';

/** The two schools of county 640104 in the example registry, and one of another province. */
const IN_A = '1640104001';
const IN_B = '1640104002';
const OUTSIDE = '1632722001';

const ping = (role: 'gateway' | 'isp', loss: number, target = role === 'gateway' ? '10.1.1.1' : '10.0.0.1'): Measurement => ({
  name: 'ping',
  tags: { target, role },
  fields: { ...(loss < 100 && { rtt_min_ms: 2, rtt_avg_ms: 3, rtt_max_ms: 5, jitter_ms: 1 }), loss_pct: loss, sent: 5, received: Math.round(5 * (1 - loss / 100)), result_code: loss < 100 ? 0 : 2 },
});

const report = (o: { school: string; agent: string; seq: number; at: number; loss?: number; kind?: Report['agentKind'] }): Report => ({
  v: 1,
  school: o.school,
  agent: o.agent,
  epoch: 'proxyepoch01',
  seq: o.seq,
  collectedAt: o.at,
  sentAt: Date.now(),
  ...(o.kind && { agentKind: o.kind }),
  measurements: [ping('gateway', o.loss ?? 0), ping('isp', o.loss ?? 0)],
});

const post = async (url: string, token: string, reports: Report[]) => {
  const res = await fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ reports }) });
  return { status: res.status, body: (await res.json()) as { accepted?: number[]; error?: { code: string; message: string } } };
};

describe('collector: county proxies (scope, kinds, gaps, liveness)', function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;
  let proxy: ProxyEnrollAnswer;
  const cliEnv = () => ({ CAMPUSLINK_STATE_DIR: collector.stateDir, CAMPUSLINK_REGISTRY: REGISTRY, CAMPUSLINK_LOG_LEVEL: 'warn' });

  before(async () => {
    influx = await startTestInfluxd();
    // A small per-school rate, so the test can show it applies per school under one proxy token.
    collector = new CollectorChild(influx, { CAMPUSLINK_BUDGETS_REPORTS_PER_MINUTE: '12' });
    await collector.start();
    const issued = await runCli('collector', ['enroll', 'issue', '--proxy', 'xq', '--region', '640104'], cliEnv());
    expect(issued.code, issued.stderr).to.equal(0);
    expect(issued.stderr).to.match(/proxy proxy-xq \(region:640104, 2 schools/);
    const code = issued.stdout.trim().split('\n').at(-1) as string;
    const res = await fetch(`${collector.url}/api/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v: 1, code, nonce: 'proxy-nonce-0000001' }) });
    expect(res.status).to.equal(200);
    proxy = proxyEnrollAnswerSchema.parse(await res.json());
  });

  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
  });

  it('enrolls with one code: kind proxy, its own agent id, one token and the schools of its region', () => {
    expect(proxy).to.include({ kind: 'proxy', agent: 'proxy-xq', region: '640104' });
    expect(proxy.schools).to.deep.equal([IN_A, IN_B]);
  });

  it('writes for a school in its scope, refuses one outside with 403 COL_ERR_PROXY_SCOPE for that batch only, and a school agent\'s batch in the same second is unaffected', async () => {
    const schoolToken = collector.token(IN_B);
    const now = Date.now();
    const [inScope, outside, other] = await Promise.all([
      post(collector.url, proxy.token, [report({ school: IN_A, agent: 'proxy-xq', seq: 1, at: now - 1000 })]),
      post(collector.url, proxy.token, [report({ school: OUTSIDE, agent: 'proxy-xq', seq: 1, at: now - 1000 })]),
      post(collector.url, schoolToken, [report({ school: IN_B, agent: 'gw-b', seq: 1, at: now - 1000 })]),
    ]);
    expect(inScope.status, JSON.stringify(inScope.body)).to.equal(200);
    expect(inScope.body.accepted).to.deep.equal([1]);
    expect(outside.status).to.equal(403);
    expect(outside.body.error?.code).to.equal('COL_ERR_PROXY_SCOPE');
    expect(outside.body.error?.message).to.include(`school ${OUTSIDE} is outside the scope of proxy proxy-xq (region:640104)`);
    expect(other.status).to.equal(200);
    // A school's own token cannot pass itself off as a proxy, and a proxy batch holds one school.
    const claim = await post(collector.url, schoolToken, [report({ school: IN_B, agent: 'gw-b', seq: 2, at: now, kind: 'proxy' })]);
    expect(claim.status).to.equal(403);
    expect(claim.body.error?.code).to.equal('COL_ERR_PROXY_SCOPE');
    const mixed = await post(collector.url, proxy.token, [report({ school: IN_A, agent: 'proxy-xq', seq: 2, at: now }), report({ school: IN_B, agent: 'proxy-xq', seq: 1, at: now })]);
    expect(mixed.status).to.equal(403);
    expect(mixed.body.error?.code).to.equal('COL_ERR_WRONG_SCHOOL');
    const rows = await influx.query(`SELECT "loss_pct" FROM "ping" WHERE "agent" = 'proxy-xq'`);
    expect(rows.length).to.equal(2);
    expect(await influx.query(`SELECT "loss_pct" FROM "ping" WHERE "school" = '${OUTSIDE}'`)).to.have.length(0);
  });

  it('records the agent kind per (school, agent) and the console shows it on the school page and in the lists', async () => {
    type Detail = { reportedBy: { agent: string; kind: string }[]; status: { seenBy: string | null } };
    await until(async () => {
      const d = (await (await fetch(`${collector.url}/api/v1/console/schools/${IN_A}`)).json()) as Detail;
      return d.reportedBy.some((a) => a.agent === 'proxy-xq' && a.kind === 'proxy') && d.status.seenBy === 'proxy-xq';
    }, 10_000, 'the school page to show the proxy');
    const b = (await (await fetch(`${collector.url}/api/v1/console/schools/${IN_B}`)).json()) as Detail;
    expect(b.reportedBy).to.deep.equal([{ agent: 'gw-b', kind: 'full' }]);
    const list = (await (await fetch(`${collector.url}/api/v1/console/schools?region=640104`)).json()) as { items: { id: string; agents: { agent: string; kind: string }[] }[] };
    expect(list.items.find((i) => i.id === IN_A)?.agents).to.deep.equal([{ agent: 'proxy-xq', kind: 'proxy' }]);
  });

  it('a hole in the proxy\'s stream is a proxy_down gap; a gateway at 100 % loss is no gap but an offline school, reason link_down seen by the proxy', async () => {
    // One-second cycles: 2..6, then the proxy is down for 6 s, then 7 and 8 on schedule again; the last
    // one (gateway 100 % loss) is newer than anything sent before.
    const t0 = Date.now() - 11_500;
    const at = [0, 1, 2, 3, 4, 10, 11].map((s) => t0 + s * 1000);
    for (let i = 0; i < at.length; i++) {
      const r = await post(collector.url, proxy.token, [report({ school: IN_A, agent: 'proxy-xq', seq: i + 2, at: at[i] as number, loss: i === at.length - 1 ? 100 : 0 })]);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
    }
    await until(async () => (await influx.query(`SELECT * FROM "gap" WHERE "school" = '${IN_A}'`)).length > 0, 10_000, 'a gap');
    const gaps = await influx.query(`SELECT "cause", "missing_reports" FROM "gap" WHERE "school" = '${IN_A}'`);
    expect(gaps.map((g) => [g.cause, g.missing_reports])).to.deep.equal([['proxy_down', 5]]);
    type Offline = { items: { id: string; reason: string; since: string; seenBy: string | null; agents: { agent: string; kind: string }[] }[] };
    let off: Offline | undefined;
    await until(async () => {
      off = (await (await fetch(`${collector.url}/api/v1/console/offline?region=640104`)).json()) as Offline;
      return off.items.some((i) => i.id === IN_A);
    }, 10_000, 'the school in the offline list');
    // Offline since the gateway last answered the proxy (InfluxDB's evidence), not since the last report.
    expect(off?.items.find((i) => i.id === IN_A)).to.deep.include({ reason: 'link_down', seenBy: 'proxy-xq', agents: [{ agent: 'proxy-xq', kind: 'proxy' }] });
    // (The newest answer: seq 7's, or the first test's report if that was collected later.)
    const since = Date.parse(off?.items.find((i) => i.id === IN_A)?.since ?? '');
    expect(since).to.be.at.least(at[5] as number).and.below(at[6] as number);
    const csv = await (await fetch(`${collector.url}/api/v1/console/offline?region=640104&format=csv`)).text();
    expect(csv.split('\n')[0]).to.match(/,agent_kind,seen_by\r?$/);
    expect(csv).to.match(new RegExp(`${IN_A},.*,link_down,.*,proxy:proxy-xq,proxy-xq`));
  });

  it('the console pages say it in words: the school page names the county proxy, the offline list says link down seen by it', async () => {
    const browser = await launchConsoleBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${collector.url}/console/school.html?id=${IN_A}`);
      await page.locator('#reported-by').waitFor();
      expect(await page.locator('#reported-by').innerText()).to.equal('县级代理 proxy-xq');
      expect(await page.locator('#latest').innerText()).to.contain('经代理 proxy-xq 观测');
      await page.goto(`${collector.url}/console/offline.html?region=640104&lang=en`);
      const row = page.locator(`#offline-table tr[data-school="${IN_A}"]`);
      await row.waitFor();
      expect(await row.locator('td.cause').innerText()).to.contain('school link down (seen by proxy proxy-xq)');
      expect(await row.locator('td.kinds').innerText()).to.equal('county proxy proxy-xq');
    } finally {
      await browser.close();
    }
  });

  it('the per-school rate budgets apply to each school of the proxy: one school over its rate gets 429, the next school\'s batch passes', async () => {
    const now = Date.now();
    const burst = Array.from({ length: 13 }, (_, i) => report({ school: IN_B, agent: 'proxy-xq', seq: i + 1, at: now - 13_000 + i * 1000 }));
    expect((await post(collector.url, proxy.token, burst)).status).to.equal(200);
    const over = await post(collector.url, proxy.token, [report({ school: IN_B, agent: 'proxy-xq', seq: 14, at: now })]);
    expect(over.status).to.equal(429);
    expect(over.body.error?.code).to.equal('COL_ERR_BUDGET_EXCEEDED');
    expect(over.body.error?.message).to.include(`school ${IN_B}`);
    const next = await post(collector.url, proxy.token, [report({ school: IN_A, agent: 'proxy-xq', seq: 9, at: now })]);
    expect(next.status, JSON.stringify(next.body)).to.equal(200);
  });

  it('token list shows the proxy with its scope; token revoke --proxy ends it and frees its places', async () => {
    const list = await runCli('collector', ['token', 'list', '--proxy', 'xq'], cliEnv());
    expect(list.code, list.stderr).to.equal(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).to.equal('token_id,school,agent,created,expires,last_seen,state,scope');
    expect(lines.slice(1).map((l) => l.split(',')).map((c) => [c[0], c[1], c[2], c[6], c[7]])).to.deep.equal([[proxy.tokenId, 'proxy', 'proxy-xq', 'active', 'region:640104']]);
    const revoked = await runCli('collector', ['token', 'revoke', '--proxy', 'xq'], cliEnv());
    expect(revoked.code, revoked.stderr).to.equal(0);
    expect(revoked.stderr).to.include('revoked 1 token; 2 agent places freed');
    const after = await post(collector.url, proxy.token, [report({ school: IN_A, agent: 'proxy-xq', seq: 20, at: Date.now() })]);
    expect(after.status).to.equal(401);
  });

  it('a --schools file takes a school column or ids one per line, and lists every bad line at once', () => {
    const reg = loadRegistry(REGISTRY);
    const dir = tempDir('proxy-schools');
    const csv = join(dir, 'scope.csv');
    writeFileSync(csv, `name,school_id\nA,${IN_A}\nB,${IN_B}\n`);
    expect([...readSchoolsFile(csv, reg)]).to.deep.equal([IN_A, IN_B]);
    const txt = join(dir, 'scope.txt');
    writeFileSync(txt, `# county Xq\n${IN_A}\n\n164010400\n9999999999\n`);
    expect(() => readSchoolsFile(txt, reg)).to.throw(SchoolsFileError, /line 4: "164010400" is not a 10-digit school id\n {2}line 5: school 9999999999 is not in the registry/);
  });
});
