import http2 from 'node:http2';
import { expect } from 'chai';
import { pino } from 'pino';
import { CollectorPool } from '../../../agent/transport/pool.js';
import { createApp, type AppOptions } from '../../../collector/http/app.js';
import { createIngest } from '../../../collector/http/ingest.js';
import { listen, type Listener } from '../../../collector/http/listener.js';
import { COLS_ENCODING, encodeBatch } from '../../../protocol/index.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { oneSchoolOptions } from '../../helpers/one-school.js';
import { T0, makeReport, typicalReport } from '../../helpers/reports.js';


/** One HTTP/2 request on `session`; resolves with status and parsed JSON body. */
function h2Post(session: http2.ClientHttp2Session, path: string, headers: Record<string, string | number>, body: Buffer): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':method': 'POST', ':path': path, ...headers });
    let status = 0;
    let text = '';
    s.on('response', (h) => (status = Number(h[':status'])));
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('end', () => resolve({ status, body: JSON.parse(text) }));
    s.on('error', reject);
    s.end(body);
  });
}

describe('collector/http/listener', () => {
  const sink = new MemorySink();
  let listener: Listener;
  let url: string;

  before(async () => {
    const opts: AppOptions = oneSchoolOptions(sink);
    listener = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log: opts.log });
    url = `http://127.0.0.1:${listener.port}`;
  });
  after(() => listener.close());
  beforeEach(() => (sink.points = []));

  it('listen() serves HTTP/1.1 and HTTP/2 on one port: health over HTTP/1.1, a columnar batch over HTTP/2', async () => {
    expect((await fetch(`${url}/healthz`)).status).to.equal(200);
    const session = http2.connect(url);
    const reports = [1, 2, 3, 4].map((seq) => typicalReport({ seq }));
    const body = encodeBatch(reports, COLS_ENCODING);
    const res = await h2Post(session, '/api/v1/reports', { 'content-type': 'application/json', 'content-encoding': COLS_ENCODING, authorization: 'Bearer good', 'content-length': body.length }, body);
    expect(res).to.deep.equal({ status: 200, body: { v: 1, accepted: [1, 2, 3, 4], serverTime: T0 + 5000 } });
    expect(sink.points.filter((p) => p.measurement === 'report')).to.have.length(4);
    expect(sink.points.filter((p) => p.measurement === 'ping')).to.have.length(20);
    session.close();
  });

  it('over HTTP/2 a bad payload gets 400 saying what is wrong and nothing is written; a missing token 401', async () => {
    const session = http2.connect(url);
    const bad = Buffer.from(JSON.stringify({ reports: [makeReport({ seq: 0 })] }));
    const res = await h2Post(session, '/api/v1/reports', { 'content-type': 'application/json', authorization: 'Bearer good' }, bad);
    expect(res.status).to.equal(400);
    expect(res.body.error.code).to.equal('COL_ERR_INVALID_PAYLOAD');
    expect(res.body.error.issues[0].path).to.equal('reports.0.seq');
    const anon = await h2Post(session, '/api/v1/reports', { 'content-type': 'application/json' }, bad);
    expect(anon.status).to.equal(401);
    expect(sink.points).to.have.length(0);
    session.close();
  });

  it('over HTTP/2 anything but POST /api/v1/reports is 404 in the catalogue shape', async () => {
    const session = http2.connect(url);
    const res = await h2Post(session, '/api/v1/coverage', {}, Buffer.alloc(0));
    expect(res.status).to.equal(404);
    expect(res.body.error.code).to.equal('COL_ERR_NOT_FOUND');
    session.close();
  });

  it('CollectorPool with http2 sends many batches over one HTTP/2 connection', async () => {
    const pool = new CollectorPool({ urls: [url], token: 'good', timeoutMs: 2000, gzip: true, dictionary: true, http2: true, version: '0.1.0', now: Date.now });
    const before = { ...listener.connections };
    for (let seq = 1; seq <= 20; seq++) expect((await pool.send([typicalReport({ seq })])).ack.accepted).to.deep.equal([seq]);
    expect({ http1: listener.connections.http1 - before.http1, http2: listener.connections.http2 - before.http2 }).to.deep.equal({ http1: 0, http2: 1 });
    expect(sink.points.filter((p) => p.measurement === 'report')).to.have.length(20);
    pool.close();
  });

  it('an HTTP/1.1 POST /api/v1/reports goes to the ingest handler, not the app; other HTTP/1.1 requests to the app', async () => {
    const seen: string[] = [];
    const other = await listen({
      host: '127.0.0.1',
      port: 0,
      app: (q, r) => {
        seen.push(`app ${q.method} ${q.url}`);
        r.end('{}');
      },
      ingest: (q, r) => {
        seen.push('ingest');
        q.on('data', () => undefined);
        q.on('end', () => r.end('{"v":1}'));
        q.resume();
      },
      log: pino({ level: 'silent' }),
    });
    const base = `http://127.0.0.1:${other.port}`;
    expect((await fetch(`${base}/api/v1/reports`, { method: 'POST', body: 'x' })).status).to.equal(200);
    await fetch(`${base}/api/v1/reports`);
    await fetch(`${base}/api/v1/reports?x=1`, { method: 'POST', body: 'x' });
    await fetch(`${base}/healthz`);
    expect(seen).to.deep.equal(['ingest', 'app GET /api/v1/reports', 'app POST /api/v1/reports?x=1', 'app GET /healthz']);
    await other.close();
  });

  it('a real HTTP/1.1 upload through the listener is acknowledged and written', async () => {
    const reports = [1, 2].map((seq) => typicalReport({ seq: 100 + seq }));
    const body = encodeBatch(reports, COLS_ENCODING);
    const res = await fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': COLS_ENCODING, authorization: 'Bearer good' }, body });
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { accepted: number[] }).accepted).to.deep.equal([101, 102]);
    expect(sink.points.filter((p) => p.measurement === 'report')).to.have.length(2);
  });

  it('close() ends open HTTP/2 connections, so stopping never waits for an idle agent', async () => {
    const other = await listen({ host: '127.0.0.1', port: 0, app: (_q, r) => r.end(), ingest: (_q, r) => r.end('{}'), log: pino({ level: 'silent' }) });
    const session = http2.connect(`http://127.0.0.1:${other.port}`);
    await new Promise((r) => session.once('remoteSettings', r));
    const closed = new Promise((r) => session.once('close', r));
    await other.close();
    await closed;
  });
});
