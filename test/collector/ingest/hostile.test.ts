/**
 * Issue 13's table, collector side: one school (hostile or broken) can never hurt another, and one bad
 * value never costs a whole report. Every case runs against the real collector path (listener, ingest,
 * budgets, fairness, the InfluxDB 1.x sink) and a real influxd.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { expect } from 'chai';
import { http1Exchange } from '../../../agent/transport/exchange.js';
import { UploadError, uploadBatch } from '../../../agent/transport/uploader.js';
import { budgetsSchema } from '../../../collector/ingest/budgets.js';
import type { Measurement } from '../../../protocol/index.js';
import { SCHOOLS, post, schoolReport, startHarness, until, type Harness } from '../../helpers/collector-harness.js';
import { makeReport, pingMeasurement, typicalMeasurements } from '../../helpers/reports.js';

const [H, B] = SCHOOLS;

const pingsTo = (prefix: string, n: number): Measurement[] => Array.from({ length: n }, (_, i) => pingMeasurement({ target: `${prefix}-${i}.flood.example` }));

describe('collector ingest against hostile and broken schools (real influxd)', function () {
  this.timeout(120_000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  const stored = async (school: string, seq: number) => (await h.db.query(`SELECT seq FROM report WHERE school='${school}' AND seq=${seq}`)).length === 1;

  it('a flood of 5,000 unique ping targets × 10 reports from one school leaves another school\'s new targets stored and acknowledged', async () => {
    for (const batch of [0, 1]) {
      const reports = Array.from({ length: 5 }, (_, i) => schoolReport(H, batch * 5 + i + 1, 0, pingsTo(`b${batch}r${i}`, 5000)));
      const res = await post(h.url, H, reports);
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).to.equal(200);
      expect(res.body.accepted).to.have.lengthOf(5);
      expect(res.body.dropped_points.budget_tag_values).to.be.greaterThan(0);
    }
    const [row] = await h.db.query(`SELECT count(loss_pct) FROM ping WHERE school='${H}'`);
    expect(row?.count, "the flooding school's targets are capped at tagValuesPerKeyPerDay").to.equal(budgetsSchema.parse({}).tagValuesPerKeyPerDay);
    for (let seq = 1; seq <= 3; seq++) {
      const m = [...typicalMeasurements(seq), pingMeasurement({ target: `new-target-${seq}.example.net` })];
      const res = await post(h.url, B, [schoolReport(B, seq, 0, m)]);
      expect(res.status).to.equal(200);
      expect(res.body).to.not.have.property('dropped_points');
      expect(await stored(B, seq)).to.equal(true);
    }
    expect(await h.db.query(`SELECT loss_pct FROM ping WHERE school='${B}' AND target='new-target-3.example.net'`)).to.have.lengthOf(1);
    const counters = (await (await fetch(`${h.url}/api/v1/ingest/budgets/${H}`)).json()) as any;
    expect(counters.today.dropped_points.budget_tag_values).to.equal(50_000 - 2_000);
    const list = (await (await fetch(`${h.url}/api/v1/ingest/budgets`)).json()) as any;
    expect(list.schools.map((s: any) => s.school)).to.deep.equal([H]);
    // The fleet dashboard's view: the `ingest_budget` points of the flooding school, and none of the other.
    const sumOf = async (school: string) => (await h.db.query(`SELECT sum(dropped_points_budget_tag_values) AS n FROM ingest_budget WHERE school='${school}'`))[0]?.n;
    const end = Date.now() + 5000;
    while ((await sumOf(H)) !== 48_000 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(await sumOf(H)).to.equal(48_000);
    expect(await sumOf(B)).to.equal(undefined);
  });

  it('the same flood with the budgets raised out of the way fills the database\'s tag-value limit for everybody: the other school\'s new targets are dropped, counted, and its report still acknowledged (per-point failure)', async () => {
    await h.close();
    h = await startHarness({ tagValuesPerKeyPerDay: 1_000_000, seriesPerDay: 10_000_000 });
    for (const batch of [0, 1]) {
      const reports = Array.from({ length: 5 }, (_, i) => schoolReport(H, batch * 5 + i + 1, 0, pingsTo(`b${batch}r${i}`, 5000)));
      expect((await post(h.url, H, reports)).status).to.equal(200);
    }
    const res = await post(h.url, B, [schoolReport(B, 1, 0, [...typicalMeasurements(1), pingMeasurement({ target: 'new-target-1.example.net' })])]);
    expect(res.status).to.equal(200);
    expect(res.body.dropped_points.tag_values_limit).to.be.greaterThan(0);
    expect(await stored(B, 1)).to.equal(true);
    expect(h.budgets.counters(B)?.today.dropped_points.tag_values_limit).to.be.greaterThan(0);
  });

  it('a field type conflict caused by another writer costs only the conflicting value: every report of both schools is acknowledged, the rest stored, the loss counted', async () => {
    // A Telegraf-style writer made `iface.in_bps` an integer in this shard.
    const at = Date.now() - 3_600_000;
    await h.sink.writeLines([`iface,host=telegraf in_bps=5i ${at}`]);
    for (const school of [H, B]) {
      for (let seq = 1; seq <= 3; seq++) {
        const res = await post(h.url, school, [schoolReport(school, seq)]);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect(res.body.accepted).to.deep.equal([seq]);
        expect(res.body).to.not.have.property('dropped_points');
        expect(res.body.dropped_fields).to.deep.equal({ type_conflict: 4 });
        expect(await stored(school, seq)).to.equal(true);
      }
      expect(await h.db.query(`SELECT loss_pct FROM ping WHERE school='${school}'`)).to.have.lengthOf(15);
      const ifaces = await h.db.query(`SELECT in_bps, out_bps FROM iface WHERE school='${school}'`);
      expect(ifaces).to.have.lengthOf(12);
      for (const r of ifaces) expect(r.in_bps).to.equal(null), expect(r.out_bps).to.be.a('number');
      expect(h.budgets.counters(school)?.today.dropped_fields).to.deep.equal({ type_conflict: 12 });
    }
  });

  it("a gateway interface whose ifName ends in \\ costs that interface's point only: the report is acknowledged and its ping points stored", async () => {
    const ms = typicalMeasurements(1);
    const bad = ms.find((m) => m.name === 'iface') as Measurement & { tags: { ifname: string } };
    bad.tags.ifname = 'GigabitEthernet0/0/1\\';
    const res = await post(h.url, H, [schoolReport(H, 1, 0, ms)]);
    expect(res.status).to.equal(200);
    expect(res.body.dropped_points).to.deep.equal({ unencodable_tag: 1 });
    expect(await h.db.query(`SELECT loss_pct FROM ping WHERE school='${H}'`)).to.have.lengthOf(5);
    expect(await h.db.query(`SELECT oper_up FROM iface WHERE school='${H}'`)).to.have.lengthOf(3);
  });

  it("a modem field named `school` is refused at validation, naming the field, and never shadows the other schools' modem data", async () => {
    expect((await post(h.url, B, [schoolReport(B, 1)])).status).to.equal(200);
    const ms = typicalMeasurements(1);
    (ms.find((m) => m.name === 'modem') as { fields: Record<string, number> }).fields.school = 1;
    const res = await post(h.url, H, [schoolReport(H, 1, 0, ms)]);
    expect(res.status).to.equal(400);
    expect(res.body.error.code).to.equal('COL_ERR_INVALID_PAYLOAD');
    expect(res.body.error.message).to.include('fields.school');
    const keys = await h.db.query('SHOW FIELD KEYS FROM modem');
    expect(keys.map((k) => k.fieldKey)).to.not.include('school');
    expect(await h.db.query(`SELECT snr_db FROM modem WHERE school='${B}'`)).to.have.lengthOf(1);
  });

  it('30 requests of 500 empty reports from one school within a minute (a sequence pre-emption attack) get 429 past the default reportsPerMinute, nothing of them written; another school is accepted', async () => {
    const t = Date.now();
    const limit = budgetsSchema.parse({}).reportsPerMinute;
    const statuses: number[] = [];
    let refusal: any;
    for (let i = 0; i < 30; i++) {
      const reports = Array.from({ length: 500 }, (_, k) => makeReport({ school: H, agent: 'gw-victim', seq: i * 500 + k + 1, collectedAt: t - 1_000_000 + i * 500 + k, sentAt: t, measurements: [] }));
      const res = await post(h.url, H, reports);
      statuses.push(res.status);
      if (res.status === 429) refusal ??= res;
    }
    const accepted = statuses.filter((x) => x === 200).length;
    // A request within the rate gets through whole (the bucket may go into debt by one request), then every one is refused.
    expect(statuses, statuses.join(',')).to.deep.equal([...Array(accepted).fill(200), ...Array(30 - accepted).fill(429)]);
    expect(accepted * 500).to.be.within(limit, limit + 500);
    expect(refusal.retryAfter).to.match(/^\d+$/);
    expect(refusal.body.error.code).to.equal('COL_ERR_BUDGET_EXCEEDED');
    expect(refusal.body.budget).to.deep.include({ name: 'reportsPerMinute', limit });
    expect((await post(h.url, B, [schoolReport(B, 1)])).status).to.equal(200);
    await until(() => h.budgets.counters(H)?.today.budget_refusals.reportsPerMinute === 30 - accepted);
    const written = async () => Number((await h.db.query(`SELECT count(seq) AS n FROM report WHERE school='${H}'`))[0]?.n ?? 0);
    for (const end = Date.now() + 10_000; (await written()) < accepted * 500 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
    expect(await written(), 'the accepted requests written, the refused ones not').to.equal(accepted * 500);
  });

  it("one token sending maximal batches 4 at a time gets 429 beyond its share while the other school's uploads all succeed", async () => {
    // Maximal batches: bodies of just under ingest.maxBodyBytes (8 MiB), each declared and sent slowly, so the four overlap for sure.
    const json = JSON.stringify({ reports: Array.from({ length: 200 }, (_, i) => schoolReport(H, i + 1, 0, pingsTo(`g${i}`, 20))) });
    const body = Buffer.from(json.padEnd(8 * 1024 * 1024 - 1024, ' '));
    const port = h.listener.port;
    const greedy = Array.from({ length: 4 }, () => {
      let req!: http.ClientRequest;
      const answer = new Promise<{ status: number; retryAfter?: string; body: string }>((resolve, reject) => {
        req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/reports', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer t-${H}`, 'content-length': body.length } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body: text }));
        });
        req.on('error', reject);
      });
      req.write(body.subarray(0, 1024));
      return { req, answer };
    });
    const answered: number[] = [];
    greedy.forEach((g, i) => void g.answer.then(() => answered.push(i), () => answered.push(i)));
    await until(() => answered.length >= 2);
    const refusedIdx = answered.slice(0, 2);
    const admittedIdx = [0, 1, 2, 3].filter((i) => !refusedIdx.includes(i));
    for (const i of refusedIdx) {
      const r = await (greedy[i] as (typeof greedy)[number]).answer;
      expect(r.status).to.equal(429);
      expect(r.retryAfter).to.equal('5');
      expect(JSON.parse(r.body).budget).to.deep.include({ name: 'maxInflightBodyBytesPerToken', limit: 16 * 1024 * 1024 });
    }
    // While the greedy token holds its share, the other school's uploads go through, every one.
    for (let seq = 1; seq <= 10; seq++) {
      const res = await post(h.url, B, [schoolReport(B, seq)]);
      expect(res.status, `B seq ${seq}`).to.equal(200);
    }
    expect(answered, 'the greedy token\'s admitted uploads are still held').to.have.lengthOf(2);
    for (const i of admittedIdx) (greedy[i] as (typeof greedy)[number]).req.end(body.subarray(1024));
    const admitted = await Promise.all(admittedIdx.map((i) => (greedy[i] as (typeof greedy)[number]).answer));
    expect(admitted.map((a) => a.status)).to.deep.equal([200, 200]);
    for (let seq = 1; seq <= 10; seq++) expect(await stored(B, seq)).to.equal(true);
    expect(h.budgets.counters(H)?.today.budget_refusals).to.deep.equal({ maxInflightBodyBytesPerToken: 2 });
    expect(h.budgets.counters(B)).to.equal(undefined);
  });
});

describe('collector ingest: fairness over HTTP/2 (real influxd)', function () {
  this.timeout(60_000);

  it("a token's streams beyond its share in one HTTP/2 session get 429 at once; the session and another school's session go on", async () => {
    const h = await startHarness();
    const sessions: http2.ClientHttp2Session[] = [];
    try {
      const connect = () => {
        const s = http2.connect(h.url);
        sessions.push(s);
        return s;
      };
      const greedy = connect();
      const body = Buffer.from(JSON.stringify({ reports: [schoolReport(H, 1)] }));
      const statuses: number[] = [];
      const streams = Array.from({ length: 6 }, () => {
        const st = greedy.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-type': 'application/json', authorization: `Bearer t-${H}`, 'content-length': body.length });
        st.on('response', (hd) => statuses.push(Number(hd[':status'])));
        st.on('error', () => undefined);
        st.resume();
        st.write(body.subarray(0, 10));
        return st;
      });
      await until(() => statuses.length >= 2);
      expect(statuses).to.deep.equal([429, 429]);
      const other = connect();
      const answer = await new Promise<number>((resolve, reject) => {
        const b = Buffer.from(JSON.stringify({ reports: [schoolReport(B, 1)] }));
        const st = other.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-type': 'application/json', authorization: `Bearer t-${B}`, 'content-length': b.length });
        st.on('response', (hd) => resolve(Number(hd[':status'])));
        st.on('error', reject);
        st.resume();
        st.end(b);
      });
      expect(answer).to.equal(200);
      for (const st of streams) if (!st.destroyed) st.end(body.subarray(10));
      await until(() => statuses.length >= 6);
      expect(statuses.filter((x) => x === 200)).to.have.lengthOf(4);
    } finally {
      for (const s of sessions) s.destroy();
      await h.close();
    }
  });
});

describe('collector ingest: a school over a rate budget (real influxd)', function () {
  this.timeout(60_000);

  it("is answered 429 COL_ERR_BUDGET_EXCEEDED naming the budget; the agent's uploader reads it as keep and back off with the collector's Retry-After; other schools go on", async () => {
    const h = await startHarness({ reportsPerMinute: 10 });
    try {
      const upload = (school: string, reports: Parameters<typeof uploadBatch>[1]) =>
        uploadBatch({ url: h.url, token: `t-${school}`, timeoutMs: 10_000, encoding: 'gzip', version: 'test', exchange: http1Exchange({ url: h.url }) }, reports);
      const first = await upload(H, Array.from({ length: 15 }, (_, i) => schoolReport(H, i + 1)));
      expect(first.ack.accepted).to.have.lengthOf(15);
      const refused = await upload(H, [schoolReport(H, 16)]).then(
        () => expect.fail('expected a 429'),
        (e: unknown) => e as UploadError,
      );
      expect(refused).to.be.instanceOf(UploadError);
      expect(refused).to.include({ status: 429, action: 'keep-and-back-off', retryable: true, retryAfterMs: 30_000 });
      expect(refused.message).to.include('COL_ERR_BUDGET_EXCEEDED').and.include('reportsPerMinute = 10');
      expect(await h.db.query(`SELECT seq FROM report WHERE school='${H}' AND seq=16`)).to.have.lengthOf(0);
      expect((await upload(B, [schoolReport(B, 1)])).ack.accepted).to.deep.equal([1]);
      expect(h.budgets.counters(H)?.today.budget_refusals).to.deep.equal({ reportsPerMinute: 1 });
    } finally {
      await h.close();
    }
  });
});

describe('collector ingest: 40 slowly-sent 8 MiB bodies from one token (real influxd)', function () {
  this.timeout(120_000);

  it('are bounded: beyond the token\'s share they are refused with 429 before their bodies are read, the collector\'s memory stays bounded, and another school is served', async () => {
    const h = await startHarness({}, 8 * 1024 * 1024);
    const sockets: http.ClientRequest[] = [];
    try {
      const size = 8 * 1024 * 1024;
      const rssBefore = process.memoryUsage().rss;
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const req = http.request({ host: '127.0.0.1', port: h.listener.port, method: 'POST', path: '/api/v1/reports', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer t-${H}`, 'content-length': size } }, (res) => {
          res.resume();
          statuses.push(res.statusCode ?? 0);
        });
        req.on('error', () => statuses.push(-1));
        // Slowly: 256 KiB now, the rest never (a slow loris with big bodies).
        req.write(Buffer.alloc(256 * 1024, 0x20));
        sockets.push(req);
      }
      await until(() => statuses.length >= 38, 20_000);
      expect(statuses.filter((s) => s === 429), 'the 38 beyond the share are refused at once').to.have.lengthOf(38);
      const res = await post(h.url, B, [schoolReport(B, 1)]);
      expect(res.status).to.equal(200);
      const grownMiB = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
      expect(grownMiB, 'RSS growth, MiB').to.be.below(100);
    } finally {
      for (const s of sockets) s.destroy();
      await h.close();
    }
  });
});
