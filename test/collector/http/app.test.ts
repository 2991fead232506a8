import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { jsonOf } from '../../helpers/http.js';
import { pino } from 'pino';
import type { TokenRecord } from '../../../collector/auth/tokens.js';
import { createApp } from '../../../collector/http/app.js';
import { SinkError } from '../../../collector/sink/sink.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { T0, makeReport } from '../../helpers/reports.js';

const SCHOOL = '1640104001';
const tokens: Record<string, TokenRecord> = {
  good: { id: 'aaa', school: SCHOOL, sha256: 'x', issuedAt: '' },
  unregistered: { id: 'bbb', school: '9999999999', sha256: 'y', issuedAt: '' },
};

describe('collector/http/app', () => {
  let server: Server;
  let base: string;
  const sink = new MemorySink();

  before(async () => {
    const app = createApp({
      sink,
      tokens: { verify: (t) => tokens[t] },
      schools: { tagsFor: (id) => (id === SCHOOL ? { school: id, province: '640000', city: '640100', county: '640104', link: 'fiber' } : undefined) },
      log: pino({ level: 'silent' }),
      now: () => T0 + 5000,
      maxBodyBytes: 64 * 1024,
      retryAfterS: 7,
    });
    server = await new Promise((res) => {
      const s = app.listen(0, '127.0.0.1', () => res(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  beforeEach(() => {
    sink.points = [];
    sink.failWith = undefined;
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}/api/v1/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer good', ...headers },
      body: (typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)) as string | Uint8Array,
    });

  it('POST /api/v1/reports acknowledges the sequences and writes points with registry tags and a report point', async () => {
    const res = await post({ reports: [makeReport({ seq: 4 }), makeReport({ seq: 5, collectedAt: T0 + 60000 })] });
    expect(res.status).to.equal(200);
    expect(await jsonOf(res)).to.deep.equal({ v: 1, accepted: [4, 5], serverTime: T0 + 5000 });
    const ping = sink.points.find((p) => p.measurement === 'ping');
    expect(ping?.tags).to.deep.equal({ school: SCHOOL, province: '640000', city: '640100', county: '640104', link: 'fiber', agent: 'gw-01', target: '127.0.0.1', role: 'gateway' });
    expect(ping?.timestampMs).to.equal(T0);
    const reports = sink.points.filter((p) => p.measurement === 'report');
    expect(reports.map((r) => r.fields.lag_s)).to.deep.equal([5, 0]);
  });

  it('accepts a gzip request body', async () => {
    const res = await post(gzipSync(JSON.stringify({ reports: [makeReport()] })), { 'content-encoding': 'gzip' });
    expect(res.status).to.equal(200);
    expect(sink.points).to.have.length(2);
  });

  it('accepts a body in the preset-dictionary encoding and answers 400 when it is broken', async () => {
    const { deflateRawSync } = await import('node:zlib');
    const { WIRE_DICTIONARY } = await import('../../../protocol/index.js');
    const body = deflateRawSync(JSON.stringify({ reports: [makeReport({ seq: 77 })] }), { dictionary: WIRE_DICTIONARY });
    const res = await post(body, { 'content-encoding': 'x-campuslink-dict1' });
    expect(res.status).to.equal(200);
    expect((await jsonOf(res)).accepted).to.deep.equal([77]);
    const bad = await post(Buffer.from('not deflate'), { 'content-encoding': 'x-campuslink-dict1' });
    expect(bad.status).to.equal(400);
    expect((await jsonOf(bad)).error.code).to.equal('COL_ERR_INVALID_JSON');
  });

  it('answers 401 without a token or with an unknown one, and writes nothing', async () => {
    for (const auth of [{ authorization: '' }, { authorization: 'Bearer nope' }]) {
      const res = await post({ reports: [makeReport()] }, auth);
      expect(res.status).to.equal(401);
      expect((await jsonOf(res)).error.code).to.equal('COL_ERR_UNAUTHENTICATED');
    }
    expect(sink.points).to.have.length(0);
  });

  it('answers 403 when any report of the batch is for another school, and writes none of the batch', async () => {
    const res = await post({ reports: [makeReport({ seq: 1 }), makeReport({ seq: 2, school: '1640104002' })] });
    expect(res.status).to.equal(403);
    const res2 = await post({ reports: [makeReport({ school: '1640104002' })] });
    expect(res2.status).to.equal(403);
    expect((await jsonOf(res2)).error.code).to.equal('COL_ERR_WRONG_SCHOOL');
    expect(sink.points).to.have.length(0);
  });

  it('answers 403 COL_ERR_SCHOOL_NOT_REGISTERED when the token school left the registry', async () => {
    const res = await post({ reports: [makeReport({ school: '9999999999' })] }, { authorization: 'Bearer unregistered' });
    expect(res.status).to.equal(403);
    expect((await jsonOf(res)).error.code).to.equal('COL_ERR_SCHOOL_NOT_REGISTERED');
  });

  it('answers 400 naming the field and the problem for an invalid payload', async () => {
    const bad = makeReport();
    (bad.measurements[0] as { fields: Record<string, unknown> }).fields.loss_pct = -3;
    const res = await post({ reports: [bad] });
    expect(res.status).to.equal(400);
    const body = await jsonOf(res);
    expect(body.error.code).to.equal('COL_ERR_INVALID_PAYLOAD');
    expect(body.error.issues).to.deep.include({ path: 'reports.0.measurements.0.fields.loss_pct', message: 'must be between 0 and 100' });
    expect(sink.points).to.have.length(0);
  });

  it('answers 400 COL_ERR_INVALID_JSON for malformed JSON and for broken gzip', async () => {
    const res = await post('{"reports": [');
    expect(res.status).to.equal(400);
    expect((await jsonOf(res)).error.code).to.equal('COL_ERR_INVALID_JSON');
    const res2 = await post(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    expect(res2.status).to.equal(400);
  });

  it('answers 413 when the body exceeds maxBodyBytes, also when only its decompressed size does', async () => {
    const big = JSON.stringify({ reports: [makeReport({ measurements: [] })], pad: 'x'.repeat(100 * 1024) });
    expect((await post(big)).status).to.equal(413);
    const res = await post(gzipSync(big), { 'content-encoding': 'gzip' });
    expect(res.status).to.equal(413);
    expect((await jsonOf(res)).error.code).to.equal('COL_ERR_BODY_TOO_LARGE');
  });

  it('answers 415 for a wrong content type or an unknown content encoding', async () => {
    const res = await post(JSON.stringify({ reports: [makeReport()] }), { 'content-type': 'text/plain' });
    expect(res.status).to.equal(415);
    expect((await jsonOf(res)).error.code).to.equal('COL_ERR_UNSUPPORTED_MEDIA_TYPE');
    expect((await post(JSON.stringify({ reports: [makeReport()] }), { 'content-encoding': 'compress' })).status).to.equal(415);
  });

  it('answers 503 with Retry-After and acknowledges nothing when the database is unavailable', async () => {
    sink.failWith = new SinkError('ECONNREFUSED', true, 30000);
    const res = await post({ reports: [makeReport()] });
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.equal('30');
    const body = await jsonOf(res);
    expect(body.error.code).to.equal('COL_ERR_SINK_UNAVAILABLE');
    expect(body).not.to.have.property('accepted');
  });

  it('GET /readyz is 503 while the database is down and /healthz stays 200', async () => {
    sink.failWith = new SinkError('down', true);
    expect((await fetch(`${base}/readyz`)).status).to.equal(503);
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    sink.failWith = undefined;
    expect((await fetch(`${base}/readyz`)).status).to.equal(200);
  });

  it('a repeated report is acknowledged and not written twice, also after the collector restarts', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { DedupeStore } = await import('../../../collector/ingest/dedupe.js');
    const { openStateDb } = await import('../../../collector/state/db.js');
    const stateDir = mkdtempSync(join(tmpdir(), 'cl-app-dedupe-'));
    let state = openStateDb({ stateDir });
    const listen = async (dedupe: InstanceType<typeof DedupeStore>) => {
      const app = createApp({ sink, tokens: { verify: (t) => tokens[t] }, schools: { tagsFor: (id) => (id === SCHOOL ? { school: id, province: '640000', city: '640100', county: '640104', link: 'fiber' } : undefined) }, log: pino({ level: 'silent' }), now: () => T0 + 5000, maxBodyBytes: 65536, retryAfterS: 7, dedupe });
      const s: Server = await new Promise((res) => {
        const x = app.listen(0, '127.0.0.1', () => res(x));
      });
      return { s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/api/v1/reports` };
    };
    const send = (url: string, seqs: number[]) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer good' }, body: JSON.stringify({ reports: seqs.map((seq) => makeReport({ seq, collectedAt: T0 + seq })) }) }).then((r) => r.json());
    let d = new DedupeStore({ state });
    let { s, url } = await listen(d);
    expect(await send(url, [1, 2])).to.deep.equal({ v: 1, accepted: [1, 2], heldThrough: 2, serverTime: T0 + 5000 });
    const written = sink.points.length;
    expect(await send(url, [2, 3, 3])).to.deep.equal({ v: 1, accepted: [2, 3], duplicates: [2], heldThrough: 3, serverTime: T0 + 5000 });
    expect(sink.points.length).to.equal(written + 2);
    s.close();
    await state.close();
    state = openStateDb({ stateDir });
    d = new DedupeStore({ state });
    ({ s, url } = await listen(d));
    expect(await send(url, [1, 2, 3])).to.deep.include({ accepted: [1, 2, 3], duplicates: [1, 2, 3] });
    expect(sink.points.length).to.equal(written + 2);
    s.close();
    await state.close();
  });

  it('answers 404 in the catalogue shape for unknown endpoints', async () => {
    const res = await fetch(`${base}/api/v1/nothing`);
    expect(res.status).to.equal(404);
    expect((await jsonOf(res)).error.code).to.equal('COL_ERR_NOT_FOUND');
  });
});

describe('collector/http/app /healthz figures', () => {
  it('GET /healthz reports event-loop delay, the listener\'s connections and the state database\'s health', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createHealth } = await import('../../../collector/http/health.js');
    const { createIngest } = await import('../../../collector/http/ingest.js');
    const { listen } = await import('../../../collector/http/listener.js');
    const { openStateDb } = await import('../../../collector/state/db.js');
    const state = openStateDb({ stateDir: mkdtempSync(join(tmpdir(), 'cl-healthz-')) });
    const health = createHealth({ state });
    const opts = { sink: new MemorySink(), tokens: { verify: () => undefined }, schools: { tagsFor: () => undefined }, log: pino({ level: 'silent' }), maxBodyBytes: 1024, retryAfterS: 1, health };
    const l = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log: opts.log });
    health.attachListener(() => l.stats());
    try {
      // Something for the monitor to measure, once it has taken its first sample: a 100 ms block of the loop.
      await new Promise((r) => setTimeout(r, 50));
      const end = Date.now() + 100;
      while (Date.now() < end);
      await new Promise((r) => setTimeout(r, 50));
      const res = await fetch(`http://127.0.0.1:${l.port}/healthz`);
      expect(res.status).to.equal(200);
      const body = (await res.json()) as any;
      expect(body.status).to.equal('ok');
      expect(body.eventLoop.sinceStart.maxMs).to.be.at.least(50);
      expect(body.eventLoop.sinceStart.p99Ms).to.be.a('number');
      expect(body.eventLoop.window.windowS).to.equal(60);
      expect(body.connections).to.include({ open: 1, http2Sessions: 0, refused: 0, bodyInflightBytes: 0 });
      expect(body.state).to.deep.include({ writable: true, commits: 0 });
    } finally {
      await l.close();
      health.close();
      await state.close();
    }
  });
});
