/**
 * Agent identity end to end, with a real collector (child process) and a real influxd: enrollment
 * (one code, bulk CSV, expiry, use count), agent-id binding, the agents-per-school cap, revocation,
 * rotation under load, a registry blip during `run`, and a moved agent.
 */
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { agentConfigSchema, type AgentConfig } from '../../agent/config.js';
import { enrollAgent } from '../../agent/identity/enroll.js';
import { AgentRuntime } from '../../agent/runtime.js';
import { issueToken } from '../../collector/auth/tokens.js';
import { issueCodes } from '../../collector/enroll/codes.js';
import { loadRegistry } from '../../collector/registry/load.js';
import { runCli } from '../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { makeReport } from '../helpers/reports.js';
import { CollectorChild, REGISTRY, SCHOOLS, TypicalProbe, expectExactlyOnce, seqsInInflux, tempDir, until } from '../fault/harness.js';

const [A, B] = SCHOOLS as [string, string];
const log = pino({ level: process.env.FAULT_LOG ?? 'silent' });

/** An agent config; enrolled agents have no token of their own. */
function config(o: { url: string; school: string; dir: string; token?: string; enrollCode?: string; agentId?: string }): AgentConfig {
  return agentConfigSchema.parse({
    school: o.school,
    agentId: o.agentId ?? 'OpenWrt',
    collector: { url: o.url, ...(o.token && { token: o.token }), timeoutMs: 5000, backoffBaseMs: 100, backoffMaxMs: 500, uploadIntervalMs: 0, http2: false },
    ...(o.enrollCode && { enrollCode: o.enrollCode }),
    auth: { retryMinMs: 200, retryMaxMs: 400 },
    spool: { dir: join(o.dir, 'spool') },
    stateDir: o.dir,
    logLevel: process.env.FAULT_LOG ?? 'silent',
  });
}

const runtime = (c: AgentConfig, cycleEveryMs?: number) => new AgentRuntime({ config: c, log, probes: [new TypicalProbe()], ...(cycleEveryMs && { cycleEveryMs }) });

const post = (url: string, token: string, reports: unknown[]) =>
  fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ reports }) });

const code = (stateDir: string, school: string, o: { uses?: number; expiresAtMs?: number } = {}): string => {
  let out = '';
  issueCodes({ stateDir, schools: [school], uses: o.uses ?? 1, expiresAtMs: o.expiresAtMs ?? Date.now() + 86_400_000, onIssued: (c) => (out = c) });
  return out;
};

describe('integration: agent identity (enrollment, binding, cap, revoke, rotation, never give up, move)', function () {
  this.timeout(180_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;
  const registryCopy = join(tempDir('registry'), 'schools.csv');
  const cliEnv = () => ({ CAMPUSLINK_STATE_DIR: collector.stateDir, CAMPUSLINK_REGISTRY: registryCopy, CAMPUSLINK_LOG_LEVEL: 'warn' });

  before(async () => {
    copyFileSync(REGISTRY, registryCopy);
    influx = await startTestInfluxd();
    collector = new CollectorChild(influx, { CAMPUSLINK_REGISTRY: registryCopy, CAMPUSLINK_AUTH_MAX_AGENTS_PER_SCHOOL: '3', CAMPUSLINK_AUTH_ROTATION_GRACE_MS: '1500', CAMPUSLINK_AUTH_ROTATION_REOFFER_MS: '200' });
    await collector.start();
  });

  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
  });

  it('enroll issue + campuslink-agent enroll --code: the agent gets its own agent id and a token bound to it (0600 credential), once delivers under it, and the code is then used up', async () => {
    const issued = await runCli('collector', ['enroll', 'issue', '--school', A], cliEnv());
    expect(issued.code, issued.stderr).to.equal(0);
    const c = issued.stdout.trim().split('\n').pop() as string;
    expect(c).to.match(/^clke_/);
    const dir = tempDir('enroll-one');
    writeFileSync(join(dir, 'agent.yaml'), `school: "${A}"\ncollector: {url: "${collector.url}", http2: false}\nstateDir: "${dir}"\nspool: {dir: "${join(dir, 'spool')}"}\nlogLevel: silent\n`);
    const enrolled = await runCli('agent', ['enroll', '--code', c, '--config', join(dir, 'agent.yaml')]);
    expect(enrolled.code, enrolled.stderr).to.equal(0);
    const agent = /enrolled as agent (\S+) of school (\d+)/.exec(enrolled.stdout);
    expect(agent?.[2]).to.equal(A);
    expect(agent?.[1]).to.match(/^ag-[0-9a-f]{10}$/);
    const credPath = join(dir, 'credential.json');
    expect(statSync(credPath).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(readFileSync(credPath, 'utf8')).current).to.include({ school: A, agent: agent?.[1], source: 'enroll' });

    const rt = runtime(config({ url: collector.url, school: A, dir }));
    const once = await rt.once();
    rt.close();
    expect(once.delivered, once.flush?.stoppedBy?.message).to.equal(true);
    expect(await seqsInInflux(influx, A, agent?.[1] as string)).to.deep.equal([1]);

    const again = await runCli('agent', ['enroll', '--code', c, '--config', join(dir, 'agent.yaml')]);
    expect(again.code).to.equal(1);
    // Another attempt (a new nonce) of the same one-use code is refused by name.
    expect(again.stderr).to.match(/403 COL_ERR_ENROLL_CODE_INVALID: enrollment code \w+ is used up/);
  });

  it('a lost enrollment answer repeated with the same nonce keeps the agent id and uses the code once; an expired code is refused', async () => {
    const c = code(collector.stateDir, A, { uses: 1 });
    const dir = tempDir('enroll-repeat');
    const first = await enrollAgent({ url: collector.url, code: c, stateDir: dir, timeoutMs: 5000, log });
    // The answer "was lost": the nonce file is put back, as if the agent died before storing the credential.
    const nonce = 'n'.repeat(24);
    writeFileSync(join(dir, 'enroll-nonce'), nonce);
    const c2 = code(collector.stateDir, A, { uses: 1 });
    const a = await enrollAgent({ url: collector.url, code: c2, stateDir: dir, timeoutMs: 5000, log });
    writeFileSync(join(dir, 'enroll-nonce'), nonce);
    const b = await enrollAgent({ url: collector.url, code: c2, stateDir: dir, timeoutMs: 5000, log });
    expect(b.current.agent).to.equal(a.current.agent);
    expect(b.current.token).not.to.equal(a.current.token);
    expect(first.current.agent).not.to.equal(a.current.agent);
    // The repeat revoked the first answer's token, which nobody used.
    expect((await post(collector.url, a.current.token as string, [makeReport({ school: A, agent: a.current.agent, seq: 1 })])).status).to.equal(401);
    expect((await post(collector.url, b.current.token as string, [makeReport({ school: A, agent: b.current.agent, seq: 1 })])).status).to.equal(200);

    const expired = code(collector.stateDir, A, { expiresAtMs: Date.now() - 1000 });
    const err = await enrollAgent({ url: collector.url, code: expired, stateDir: tempDir('enroll-expired'), timeoutMs: 5000, log }).catch((e: Error) => e);
    expect(String(err)).to.match(/403 COL_ERR_ENROLL_CODE_INVALID: enrollment code \w+ expired at/);
  });

  it('enrollCode at first start with the collector away: reports pile up, the agent enrolls once it answers, and delivers them all as its enrolled agent, exactly once', async () => {
    let down = true;
    // A stand-in for the path to the collector: 503 while "down", then every request passed through.
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (down) return void res.writeHead(503, { 'retry-after': '0' }).end();
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>;
        fetch(`${collector.url}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) }).then(
          async (r) => res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await r.arrayBuffer())),
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    try {
      const school = SCHOOLS[15] as string;
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const rt = runtime(config({ url, school, dir: tempDir('enroll-later'), enrollCode: code(collector.stateDir, school) }), 50);
      const handle = rt.run();
      await until(() => rt.spool.waiting().length >= 5, 20_000, 'reports collected before enrollment');
      expect(rt.identity.enrolled).to.equal(false);
      down = false;
      await until(() => rt.identity.enrolled && rt.spool.waiting().length === 0, 30_000, 'enrolled and the spool drained');
      await handle.stop();
      await rt.flush();
      rt.close();
      const agent = rt.identity.current().agent;
      expect(agent).to.match(/^ag-/);
      await expectExactlyOnce(influx, { school, agent, collected: rt.spool.lastSeq() });
      expect(await seqsInInflux(influx, school, 'OpenWrt')).to.deep.equal([]);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('enroll issue --region --out writes one code per school of the region as CSV (0600), each enrolls once', async () => {
    const region = loadRegistry(REGISTRY).get(B)?.provinceCode as string;
    const inRegion = [...loadRegistry(REGISTRY).schools.values()].filter((s) => s.provinceCode === region).map((s) => s.id);
    const out = join(tempDir('bulk'), 'codes.csv');
    const r = await runCli('collector', ['enroll', 'issue', '--region', region, '--uses', '2', '--out', out], cliEnv());
    expect(r.code, r.stderr).to.equal(0);
    expect(statSync(out).mode & 0o777).to.equal(0o600);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).to.equal('school,code_id,code,expires_at,uses');
    expect(lines.slice(1).map((l) => l.split(',')[0])).to.deep.equal(inRegion);
    const [school, , c, , uses] = (lines[1] as string).split(',') as [string, string, string, string, string];
    expect(uses).to.equal('2');
    const e = await enrollAgent({ url: collector.url, code: c, stateDir: tempDir('bulk-agent'), timeoutMs: 5000, log });
    expect(e.current.school).to.equal(school);
  });

  it('a token bound to an agent may write only for that agent id: 403 COL_ERR_WRONG_AGENT naming both, nothing written', async () => {
    const e = await enrollAgent({ url: collector.url, code: code(collector.stateDir, B), stateDir: tempDir('bound'), timeoutMs: 5000, log });
    const res = await post(collector.url, e.current.token as string, [makeReport({ school: B, agent: 'someone-else', seq: 1 })]);
    expect(res.status).to.equal(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).to.equal('COL_ERR_WRONG_AGENT');
    expect(body.error.message).to.include(e.current.agent).and.include('someone-else');
    expect(await seqsInInflux(influx, B, 'someone-else')).to.deep.equal([]);
  });

  it('one token cannot invent agent ids: past auth.maxAgentsPerSchool the school gets 403 COL_ERR_AGENT_LIMIT naming the limit; known agents keep writing; revoking an agent frees its place', async () => {
    const school = SCHOOLS[5] as string;
    const t = issueToken({ stateDir: collector.stateDir, school }).token;
    const statuses: number[] = [];
    let refusal = '';
    for (let i = 1; i <= 5; i++) {
      const res = await post(collector.url, t, [makeReport({ school, agent: `fake-${i}`, seq: 1 })]);
      statuses.push(res.status);
      if (res.status !== 200) refusal = ((await res.json()) as { error: { code: string } }).error.code;
      else await res.arrayBuffer();
    }
    expect(statuses).to.deep.equal([200, 200, 200, 403, 403]);
    expect(refusal).to.match(/^COL_ERR_AGENT_LIMIT/);
    const again = await post(collector.url, t, [makeReport({ school, agent: 'fake-4', seq: 1 })]);
    expect(((await again.json()) as { error: { message: string } }).error.message).to.include('auth.maxAgentsPerSchool = 3');
    // Known agents keep working.
    expect((await post(collector.url, t, [makeReport({ school, agent: 'fake-2', seq: 2 })])).status).to.equal(200);
    const rv = await runCli('collector', ['token', 'revoke', '--school', school, '--agent', 'fake-1'], cliEnv());
    expect(rv.code, rv.stderr).to.equal(0);
    expect(rv.stderr).to.include('1 agent place freed');
    expect((await post(collector.url, t, [makeReport({ school, agent: 'fake-4', seq: 1 })])).status).to.equal(200);
  });

  it('token revoke: the running collector answers 401 to the old token at once; token list shows it revoked', async () => {
    const { token, record } = issueToken({ stateDir: collector.stateDir, school: B });
    expect((await post(collector.url, token, [makeReport({ school: B, agent: 'gw-rev', seq: 1 })])).status).to.equal(200);
    const r = await runCli('collector', ['token', 'revoke', '--id', record.id], cliEnv());
    expect(r.code, r.stderr).to.equal(0);
    const res = await post(collector.url, token, [makeReport({ school: B, agent: 'gw-rev', seq: 2 })]);
    expect(res.status).to.equal(401);
    const list = await runCli('collector', ['token', 'list', '--school', B], cliEnv());
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout.split('\n')[0]).to.equal('token_id,school,agent,created,expires,last_seen,state,scope');
    expect(list.stdout).to.match(new RegExp(`^${record.id},${B},,[^,]+,,[^,]*,revoked$`, 'm'));
  });

  it('rotation under load: token rotate --all while 3 enrolled agents deliver every 40 ms; each takes its new token from an ack and switches, the old ones die after the grace period, no report lost or doubled', async () => {
    const schools = [SCHOOLS[6], SCHOOLS[11], SCHOOLS[12]] as string[];
    const agents = schools.map((school) => {
      const dir = tempDir('rotate');
      const c = config({ url: collector.url, school, dir, enrollCode: code(collector.stateDir, school) });
      const rt = runtime(c, 40);
      return { school, dir, c, rt, handle: rt.run() };
    });
    const delivering = (a: (typeof agents)[number]) => a.rt.identity.enrolled && a.rt.spool.lastSeq() >= 3 && a.rt.spool.waiting().length <= 1;
    await until(() => agents.every(delivering), 20_000, 'enrolled and delivering');
    const old = agents.map((a) => ({ token: a.rt.identity.current().token as string, agent: a.rt.identity.current().agent }));
    const r = await runCli('collector', ['token', 'rotate', '--all'], cliEnv());
    expect(r.code, r.stderr).to.equal(0);
    await until(() => agents.every((a, i) => a.rt.identity.current().token !== old[i]?.token), 20_000, 'every agent to switch to its rotated token');
    // Delivering on with the new tokens past the grace period.
    await new Promise((res) => setTimeout(res, 2500));
    for (const a of agents) await a.handle.stop();
    for (const [i, a] of agents.entries()) {
      const { agent, token } = old[i] as { agent: string; token: string };
      await a.rt.flush();
      expect(a.rt.spool.waiting(), `${a.school}: spool empty`).to.deep.equal([]);
      a.rt.close();
      await expectExactlyOnce(influx, { school: a.school, agent, collected: a.rt.spool.lastSeq() });
      expect((await post(collector.url, token, [makeReport({ school: a.school, agent, seq: 10_000 })])).status, 'old token after the grace period').to.equal(401);
      const cred = JSON.parse(readFileSync(join(a.dir, 'credential.json'), 'utf8')) as { current: { token: string } };
      expect(cred.current.token).to.equal(a.rt.identity.current().token);
    }
  });

  it('a registry blip during run (the school gone for a few seconds) pauses sending with a 403 and the agent recovers by itself, without a restart', async () => {
    const school = SCHOOLS[7] as string;
    const token = issueToken({ stateDir: collector.stateDir, school }).token;
    const rt = runtime(config({ url: collector.url, school, dir: tempDir('blip'), token, agentId: 'gw-blip' }), 100);
    const handle = rt.run();
    await until(async () => (await seqsInInflux(influx, school, 'gw-blip')).length >= 2, 20_000, 'first reports');
    const full = readFileSync(registryCopy, 'utf8');
    writeFileSync(registryCopy, full.split('\n').filter((l) => !l.startsWith(`${school},`)).join('\n'));
    await until(() => rt.spool.waiting().length >= 5, 20_000, 'reports piling up while the school is not registered');
    writeFileSync(registryCopy, full);
    await until(async () => rt.spool.waiting().length === 0 && (await seqsInInflux(influx, school, 'gw-blip')).length >= 8, 30_000, 'the backlog delivered after the blip');
    await handle.stop();
    await rt.flush();
    rt.close();
    await expectExactlyOnce(influx, { school, agent: 'gw-blip', collected: rt.spool.lastSeq() });
  });

  it('a moved agent with legacy tokens (config school and token changed) delivers the old school\'s backlog with the old token and reports for the new school at once', async () => {
    const [from, to] = [SCHOOLS[13], SCHOOLS[14]] as [string, string];
    const dir = tempDir('moved-legacy');
    const rt = runtime(config({ url: collector.url, school: from, dir, token: issueToken({ stateDir: collector.stateDir, school: from }).token, agentId: 'gw-legacy' }));
    for (let i = 0; i < 3; i++) await rt.cycle();
    rt.close();
    const moved = runtime(config({ url: collector.url, school: to, dir, token: issueToken({ stateDir: collector.stateDir, school: to }).token, agentId: 'gw-legacy' }));
    const once = await moved.once();
    moved.close();
    expect(once.delivered, once.flush?.stoppedBy?.message).to.equal(true);
    expect(once.flush?.quarantined).to.deep.equal([]);
    expect(await seqsInInflux(influx, from, 'gw-legacy')).to.deep.equal([1, 2, 3]);
    expect(await seqsInInflux(influx, to, 'gw-legacy')).to.deep.equal([4]);
  });

  it('a moved agent delivers the old school\'s backlog with its old credential and reports for the new school at once; a refused old credential quarantines the backlog with a count', async () => {
    const [from, to, third] = [SCHOOLS[8], SCHOOLS[9], SCHOOLS[10]] as [string, string, string];
    const dir = tempDir('moved');
    const first = await enrollAgent({ url: collector.url, code: code(collector.stateDir, from), stateDir: dir, timeoutMs: 5000, log });
    const c = config({ url: collector.url, school: from, dir });
    const rt = runtime(c);
    for (let i = 0; i < 3; i++) await rt.cycle();
    rt.close();
    // Re-enrolled for another school with a backlog of the first one in the spool.
    const second = await enrollAgent({ url: collector.url, code: code(collector.stateDir, to), stateDir: dir, timeoutMs: 5000, log });
    const moved = runtime(c);
    const once = await moved.once();
    expect(once.delivered, once.flush?.stoppedBy?.message).to.equal(true);
    expect(await seqsInInflux(influx, from, first.current.agent)).to.deep.equal([1, 2, 3]);
    expect(await seqsInInflux(influx, to, second.current.agent)).to.deep.equal([4]);
    for (let i = 0; i < 2; i++) await moved.cycle();
    moved.close();

    // Moved again, and the school it leaves revoked that agent: its backlog is quarantined and counted.
    const third1 = await enrollAgent({ url: collector.url, code: code(collector.stateDir, third), stateDir: dir, timeoutMs: 5000, log });
    const rv = await runCli('collector', ['token', 'revoke', '--school', to, '--agent', second.current.agent], cliEnv());
    expect(rv.code, rv.stderr).to.equal(0);
    const again = runtime(c);
    const r = await again.once();
    expect(r.delivered, r.flush?.stoppedBy?.message).to.equal(true);
    expect(r.flush?.quarantined).to.deep.equal([5, 6]);
    expect(await seqsInInflux(influx, third, third1.current.agent)).to.deep.equal([7]);
    const next = await again.cycle();
    again.close();
    const agentM = next.measurements.find((m) => m.name === 'agent') as { fields: { dropped_reports: number } };
    expect(agentM.fields.dropped_reports).to.equal(2);
  });
});
