import { expect } from 'chai';
import type { Measurement } from '../../../protocol/index.js';
import { NOW, inventory, ping, seedSchools, startHarness, throughput, wan, type Harness, type SeedSchool } from './harness.js';

const id = (serial: number) => `1640104${String(serial).padStart(3, '0')}`;
/** Schools of 兴庆区 with a role in the scenarios (serials from seedSchools: 1 fibre hub, 2/6/10/14/18 cellular, 3/7 GEO, 4 LEO). */
const A = id(2); // passes what it can
const B = id(6); // fails
const C = id(10); // reports, but nothing a rule needs: unknown
const D = id(3); // GEO teaching point within the GEO allowance
const E = id(7); // GEO teaching point beyond it
const F = id(4); // LEO teaching point with no data
const G = id(14); // 150 Mbps: passes cn-moe, fails Ningxia's 200 since 2020
const H = id(18); // 1,000 students at 30 Mbps: INT-01 scales its threshold to 50
const TWO_HOURS = 2 * 3_600_000;
const HISTORIC = Date.parse('2019-06-10T10:00:00+08:00');

/** Measured downloads (throughput tests), Mbit/s. The WAN ports say otherwise (1 Gbit/s for B, D, E): ignored. */
const MEASURED: Record<string, number> = { [A]: 1200, [B]: 50, [D]: 10, [E]: 1, [G]: 150, [H]: 30 };
const DATA: Record<string, Measurement[]> = {
  [A]: [ping('internet', 0), ping('internet', 0, { target: '2001:db8::1' }), ping('peer', 0, { rtt: 40, jitter: 5 }), wan(1.2e9, 1e7), throughput(1200), inventory('ap', 3), inventory('display', 18), inventory('pc', 60)],
  [B]: [ping('internet', 100), ping('internet', 100, { target: '2001:db8::1' }), ping('peer', 0, { rtt: 400, jitter: 5 }), wan(1e9, 2e6), throughput(50), inventory('pc', 10)],
  [C]: [ping('gateway', 0), throughput(0, { resultCode: 2 })],
  [D]: [ping('internet', 0), ping('peer', 0, { rtt: 650, jitter: 10 }), wan(1e9), throughput(10)],
  [E]: [ping('internet', 0), ping('peer', 0, { rtt: 950, jitter: 10 }), wan(1e9), throughput(1)],
  [G]: [ping('internet', 0), wan(1.5e8), throughput(150)],
  [H]: [ping('internet', 0), wan(3e7), throughput(30)],
};

type J = { rule: string; status: string; value: unknown; threshold: unknown; validFrom: string | null; window: { description: string; fromMs: number; toMs: number }; source: string; reason?: string };

describe('collector/views compliance (real influxd, seeded scenarios)', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    const schools = seedSchools().map((s): SeedSchool => {
      if ([A, B, C].includes(s.id)) return { ...s, hub: id(1) };
      if (s.id === H) return { ...s, students: 1000 };
      return s;
    });
    h = await startHarness({ schools });
    for (const [school, measurements] of Object.entries(DATA)) await h.post(school, [{ atMs: NOW - TWO_HOURS, measurements }]);
    await h.post(G, [{ atMs: HISTORIC, measurements: [wan(1.5e8), throughput(150)] }]);
  });
  after(async () => h?.close());

  const judge = async (school: string, profile = 'cn-moe', at?: string): Promise<Record<string, J>> => {
    const res = await h.get(`/api/v1/schools/${school}/compliance?profile=${profile}${at ? `&at=${encodeURIComponent(at)}` : ''}`);
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { judgements: J[] };
    return Object.fromEntries(body.judgements.map((j) => [j.rule, j]));
  };
  const statuses = async (school: string, profile = 'cn-moe') => Object.fromEntries(Object.entries(await judge(school, profile)).map(([k, j]) => [k, j.status]));

  it('every cn-moe rule passes where the school meets it', async () => {
    const s = await statuses(A);
    expect(s).to.deep.include({ 'CN-BB-01': 'pass', 'CN-BB-02': 'pass', 'CN-BB-05': 'pass', 'CN-DC-01': 'pass', 'CN-DC-02': 'pass', 'CN-DC-03': 'pass', 'CN-DC-04': 'pass', 'C2C-01': 'pass' });
    expect((await statuses(D))['CN-BB-03']).to.equal('pass');
  });

  it('every cn-moe rule fails where the school misses it', async () => {
    const s = await statuses(B);
    expect(s).to.deep.include({ 'CN-BB-01': 'fail', 'CN-BB-02': 'fail', 'CN-BB-05': 'fail', 'CN-DC-01': 'fail', 'CN-DC-02': 'fail', 'CN-DC-03': 'fail', 'CN-DC-04': 'fail', 'C2C-01': 'fail' });
    expect((await statuses(E))['CN-BB-03']).to.equal('fail');
  });

  it('every rule is unknown, never pass, without the measurement it needs; bandwidth rules fall back to the contracted bandwidth, labelled so', async () => {
    const s = await statuses(C);
    for (const rule of ['CN-BB-01', 'CN-DC-01', 'CN-DC-02', 'CN-DC-03', 'CN-DC-04', 'CN-DC-05', 'C2C-01']) expect(s[rule], rule).to.equal('unknown');
    // C's only throughput test failed (result_code 2): its contract (300 Mbit/s) decides, and says so.
    const c = (await judge(C))['CN-BB-02'] as J & { basis?: string };
    expect(c).to.include({ status: 'pass', value: 300, basis: 'contracted' });
    expect(c.reason).to.include('contracted').and.not.include('measured:');
    const fContract = seedSchools().find((x) => x.id === F)!.contractedMbps;
    expect((await judge(F))['CN-BB-03']).to.include({ status: fContract >= 2 ? 'pass' : 'fail', value: fContract, basis: 'contracted' });
    // CN-DC-05 has no probe yet: unknown even for the school that passes everything else.
    expect((await judge(A))['CN-DC-05']).to.include({ status: 'unknown', reason: 'no probe measures this yet' });
  });

  it('a 10 Mbit/s GEO school behind a 1 Gbit/s port is not ≥ 100 Mbit/s: CN-BB-02 fails on the measured 10, CN-BB-03 passes', async () => {
    const d = await judge(D);
    expect(d['CN-BB-02']).to.include({ status: 'fail', value: 10, basis: 'measured' });
    expect(d['CN-BB-02']?.reason).to.include('measured');
    expect(d['CN-BB-03']).to.include({ status: 'pass', value: 10, basis: 'measured' });
    expect((await judge(B))['CN-BB-05']).to.include({ status: 'fail', value: 50 });
  });

  it('a rule that does not apply to a school says not_applicable (CN-BB-03 for a fibre primary school)', async () => {
    expect((await statuses(A))['CN-BB-03']).to.equal('not_applicable');
  });

  it('the class-to-class rule gives GEO paths their RTT allowance, and only that', async () => {
    const d = (await judge(D))['C2C-01'] as J;
    expect(d.status).to.equal('pass');
    expect(d.threshold).to.deep.equal({ loss_pct: 1, jitter_ms: 30, rtt_ms: 900 });
    expect(d.value).to.deep.include({ rtt_ms: 650, loss_pct: 0 });
    expect((await judge(E))['C2C-01']?.status).to.equal('fail');
    expect((await judge(B))['C2C-01']?.threshold).to.deep.equal({ loss_pct: 1, jitter_ms: 30, rtt_ms: 300 });
  });

  it('each judgement carries its evidence: value, threshold, window and source', async () => {
    const j = (await judge(A))['CN-BB-02'] as J;
    expect(j).to.include({ status: 'pass', value: 1200, threshold: 100, validFrom: '2015-01-01', basis: 'measured' });
    // Whole China-time days (the evidence's day buckets) plus today so far.
    expect(j.window.description).to.equal('the last 7 days (from midnight China time) and today so far');
    expect(j.window.fromMs).to.equal(Date.parse('2026-11-16T00:00:00+08:00'));
    expect(j.window.toMs).to.equal(NOW);
    expect(j.source).to.include('Ten-Year Plan');
    const bb01 = (await judge(A))['CN-BB-01'] as J;
    expect(bb01.window.description).to.include('08:00-17:00');
    expect(bb01.window.fromMs).to.equal(Date.parse('2026-11-23T08:00:00+08:00'));
  });

  it('itu-2030: INT-01 scales with students above 400, INT-04 judges the measured rate; both pass, fail and unknown', async () => {
    const a = await judge(A, 'itu-2030');
    expect(a['INT-01']).to.include({ status: 'pass', threshold: 40 });
    expect(a['INT-04']).to.include({ status: 'pass', value: 10 });
    const hh = await judge(H, 'itu-2030');
    expect(hh['INT-01']).to.include({ status: 'fail', value: 30, threshold: 50 });
    expect((await judge(B, 'itu-2030'))['INT-04']?.status).to.equal('fail');
    const c = await statuses(C, 'itu-2030');
    expect(c).to.deep.equal({ 'INT-01': 'pass', 'INT-04': 'unknown' });
  });

  it('ningxia inherits cn-moe and raises CN-BB-02 to 200 Mbps from 2020; a 2019 report is judged by the 100 Mbps then in force', async () => {
    expect((await judge(G))['CN-BB-02']).to.include({ status: 'pass', threshold: 100 });
    const now = (await judge(G, 'ningxia'))['CN-BB-02'] as J;
    expect(now).to.include({ status: 'fail', threshold: 200, validFrom: '2020-01-01' });
    expect(now.source).to.include('CN-BB-04').and.include('Ningxia');
    const then = (await judge(G, 'ningxia', '2019-06-12T12:00:00+08:00'))['CN-BB-02'] as J;
    expect(then).to.include({ status: 'pass', value: 150, threshold: 100, validFrom: '2015-01-01' });
    expect(Object.keys(await judge(G, 'ningxia'))).to.have.length(10);
  });

  it('GET /api/v1/compliance rolls up per rule with counts and shares, unknown never counted as pass', async () => {
    const res = await h.get('/api/v1/compliance?level=county&code=640104');
    expect(res.status).to.equal(200);
    const body = await res.json();
    expect(body).to.include({ level: 'county', code: '640104', schools: 34 });
    expect(body.profile.id).to.equal('cn-moe');
    const bb02 = body.rules.find((r: { rule: string }) => r.rule === 'CN-BB-02');
    // Measured where tested, contracted elsewhere: every school is judged, none unknown.
    const expected = (prefix: string) => {
      const seeds = seedSchools().filter((x) => x.county.startsWith(prefix));
      const pass = seeds.filter((x) => (MEASURED[x.id] ?? x.contractedMbps) >= 100).length;
      return { pass, fail: seeds.length - pass, unknown: 0 };
    };
    expect(bb02).to.include({ ...expected('640104'), notApplicable: 0 });
    expect(bb02.passShare).to.be.closeTo(expected('640104').pass / 34, 1e-9);
    expect(bb02.knownShare).to.equal(1);
    expect(body.children).to.have.length(34);
    for (const [level, prefix] of [['national', ''], ['province&code=640000', '64'], ['city&code=640100', '6401']] as const) {
      const up = await (await h.get(`/api/v1/compliance?level=${level}`)).json();
      const r = up.rules.find((x: { rule: string }) => x.rule === 'CN-BB-02');
      expect(r, level).to.include(expected(prefix));
      for (const k of ['pass', 'fail', 'unknown', 'notApplicable']) {
        const sum = up.children.reduce((n: number, c: { rules: ({ rule: string } & Record<string, number>)[] }) => n + (c.rules.find((x) => x.rule === 'CN-BB-02')?.[k] as number), 0);
        expect(sum, `${level} ${k}`).to.equal(r[k]);
      }
    }
  });

  it('both compliance endpoints export CSV with a UTF-8 BOM', async () => {
    for (const [path, head] of [
      ['/api/v1/compliance?level=city&code=640100&format=csv', 'profile,level,code,name,schools,rule,pass,fail,unknown,not_applicable,pass_pct,known_pct'],
      [`/api/v1/schools/${A}/compliance?format=csv`, 'profile,school,name,rule,status,value,unit,comparison,threshold,valid_from,window,window_from,window_to,source,reason'],
    ] as const) {
      const res = await h.get(path);
      expect(res.status, path).to.equal(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect([...bytes.slice(0, 3)], path).to.deep.equal([0xef, 0xbb, 0xbf]);
      const lines = new TextDecoder().decode(bytes).replace(/^\uFEFF/, '').trim().split('\r\n');
      expect(lines[0]).to.equal(head);
      expect(lines[1]).to.match(/银川市|兴庆区/);
    }
    const accept = await h.get(`/api/v1/schools/${A}/compliance`, { accept: 'text/csv' });
    expect(accept.headers.get('content-type')).to.match(/^text\/csv/);
  });

  it('malformed parameters answer 400 COL_ERR_INVALID_QUERY; an unknown school 404', async () => {
    for (const path of [
      '/api/v1/compliance?level=county',
      '/api/v1/compliance?level=national&profile=nope',
      '/api/v1/compliance?level=national&at=yesterday',
      '/api/v1/compliance?level=national&profile=CN_MOE',
      `/api/v1/schools/${A}/compliance?at=2026-13-45`,
      `/api/v1/schools/${A}/compliance?foo=1`,
      '/api/v1/schools/12345/compliance',
    ]) {
      const res = await h.get(path);
      expect(res.status, path).to.equal(400);
      const body = await res.json();
      expect(body.error.code, path).to.equal('COL_ERR_INVALID_QUERY');
      expect(body.error.message, path).to.not.equal('');
    }
    expect((await h.get('/api/v1/schools/1999999999/compliance')).status).to.equal(404);
  });
});
