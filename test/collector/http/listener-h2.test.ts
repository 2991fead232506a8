import http2 from 'node:http2';
import type { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { createApp, type AppOptions } from '../../../collector/http/app.js';
import { createIngest, type IngestRequest, type IngestResponse } from '../../../collector/http/ingest.js';
import { listen, type ListenOptions, type Listener } from '../../../collector/http/listener.js';
import { TokenShares } from '../../../collector/ingest/fairness.js';
import { COLS_ENCODING, encodeBatch } from '../../../protocol/index.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { oneSchoolOptions } from '../../helpers/one-school.js';
import { T0, typicalReport } from '../../helpers/reports.js';

/** Listener counts of an emitter, by event name. */
function listenerCounts(e: EventEmitter): Record<string, number> {
  return Object.fromEntries(e.eventNames().map((n) => [String(n), e.listenerCount(n)]));
}

/** One HTTP/2 upload of report `seq`; resolves with the status, headers and body text. */
function upload(session: http2.ClientHttp2Session, seq: number, auth = 'Bearer good'): Promise<{ status: number; headers: http2.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const body = encodeBatch([typicalReport({ seq })], COLS_ENCODING);
    const s = session.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-type': 'application/json', 'content-encoding': COLS_ENCODING, authorization: auth, 'content-length': body.length });
    let headers: http2.IncomingHttpHeaders = {};
    let text = '';
    s.on('response', (h) => (headers = h));
    s.on('data', (c: Buffer) => (text += c));
    s.on('end', () => resolve({ status: Number(headers[':status']), headers, text }));
    s.on('error', reject);
    s.end(body);
  });
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

describe('collector/http/listener HTTP/2 uploads', () => {
  const open: Listener[] = [];
  const clients: http2.ClientHttp2Session[] = [];
  /** The server side of the last upload's session, as ingest saw it. */
  let serverSession: http2.ServerHttp2Session | undefined;

  const start = async (extra: Partial<AppOptions> = {}, o: Partial<ListenOptions> = {}) => {
    const opts: AppOptions = { ...oneSchoolOptions(new MemorySink()), ...extra };
    const ingest = createIngest(opts);
    const spy = (req: IngestRequest, res: IngestResponse) => {
      serverSession = (req as unknown as { stream: http2.ServerHttp2Stream }).stream.session as http2.ServerHttp2Session;
      ingest(req, res);
    };
    const l = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: spy, log: opts.log, maxBodyBytes: opts.maxBodyBytes, reservedFds: 0, ...o });
    open.push(l);
    const session = http2.connect(`http://127.0.0.1:${l.port}`);
    session.on('error', () => undefined);
    clients.push(session);
    return { l, session, url: `http://127.0.0.1:${l.port}` };
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await Promise.all(open.splice(0).map((l) => l.close()));
  });

  it('after 300 uploads on one session, the session and its socket hold exactly the listeners they held after the first', async () => {
    const { session } = await start({ shares: new TokenShares({ maxInflightRequestsPerToken: 4, maxInflightBodyBytesPerToken: 1 << 20, busyRetryAfterS: 3 }) });
    expect((await upload(session, 1)).status).to.equal(200);
    const s = serverSession as http2.ServerHttp2Session;
    const first = { session: listenerCounts(s), socket: listenerCounts(s.socket as unknown as EventEmitter) };
    let seq = 2;
    for (let round = 0; round < 75; round++) {
      const answers = await Promise.all([upload(session, seq++), upload(session, seq++), upload(session, seq++), upload(session, seq++, 'Bearer wrong')]);
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 401]);
    }
    expect({ session: listenerCounts(s), socket: listenerCounts(s.socket as unknown as EventEmitter) }).to.deep.equal(first);
  });

  it('a connection keeps no first-byte timeout listener once its first bytes came (it would destroy the session on a later socket timeout)', async () => {
    const { session } = await start();
    expect((await upload(session, 1)).status).to.equal(200);
    const socket = (serverSession as http2.ServerHttp2Session).socket as unknown as EventEmitter;
    expect(socket.listenerCount('timeout')).to.equal(0);
  });

  it('answers an upload with content-type, content-length and the JSON ack', async () => {
    const { session } = await start();
    const a = await upload(session, 1);
    expect(a.status).to.equal(200);
    expect(a.headers['content-type']).to.equal('application/json');
    expect(Number(a.headers['content-length'])).to.equal(Buffer.byteLength(a.text));
    expect(JSON.parse(a.text)).to.deep.equal({ v: 1, accepted: [1], serverTime: T0 + 5000 });
  });

  it('an upload stream the client resets mid-body gives back the body budget, the in-flight count and its token share', async () => {
    const shares = new TokenShares({ maxInflightRequestsPerToken: 1, maxInflightBodyBytesPerToken: 1 << 20, busyRetryAfterS: 3 });
    const { l, session } = await start({ shares });
    const s = session.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-type': 'application/json', authorization: 'Bearer good', 'content-length': 5000 });
    s.on('error', () => undefined);
    s.write(Buffer.alloc(100, 0x20));
    await until(() => l.stats().inflightRequests === 1 && shares.size === 1);
    expect(l.stats().bodyInflightBytes).to.equal(5000);
    s.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => l.stats().inflightRequests === 0);
    expect(l.stats().bodyInflightBytes).to.equal(0);
    expect(shares.size).to.equal(0);
    expect((await upload(session, 2)).status).to.equal(200);
  });

  it('a session whose only stream was reset unanswered is not authenticated: it is closed after unauthenticatedTimeoutMs', async () => {
    const { l, session } = await start({}, { limits: { unauthenticatedTimeoutMs: 300 } });
    const s = session.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-type': 'application/json', authorization: 'Bearer good', 'content-length': 5000 });
    s.on('error', () => undefined);
    s.write(Buffer.alloc(100, 0x20));
    await until(() => l.stats().inflightRequests === 1);
    s.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise<void>((r) => session.once('close', () => r()));
    await until(() => l.stats().http2Sessions === 0);
  });

  it('over HTTP/2 a path other than the upload route is 404 in the catalogue shape, with its body drained', async () => {
    const { session } = await start();
    const s = session.request({ ':method': 'POST', ':path': '/api/v1/coverage', 'content-type': 'application/json' });
    let status = 0;
    let text = '';
    s.on('response', (h) => (status = Number(h[':status'])));
    s.on('data', (c: Buffer) => (text += c));
    await new Promise<void>((r) => {
      s.on('end', () => r());
      s.end(Buffer.alloc(3000, 0x20));
    });
    expect(status).to.equal(404);
    expect(JSON.parse(text).error.code).to.equal('COL_ERR_NOT_FOUND');
    expect((await upload(session, 1)).status).to.equal(200);
  });

  it('over HTTP/2 an upload with expect: 100-continue gets 100 and then its answer; another expectation 417', async () => {
    const { session } = await start();
    const body = encodeBatch([typicalReport({ seq: 1 })], COLS_ENCODING);
    const statuses: number[] = [];
    const s = session.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-type': 'application/json', 'content-encoding': COLS_ENCODING, authorization: 'Bearer good', expect: '100-continue' });
    s.on('continue', () => statuses.push(100));
    s.on('response', (h) => statuses.push(Number(h[':status'])));
    s.resume();
    await new Promise<void>((r) => {
      s.on('end', () => r());
      s.end(body);
    });
    expect(statuses).to.deep.equal([100, 200]);
    const odd = session.request({ ':method': 'POST', ':path': '/api/v1/reports', authorization: 'Bearer good', expect: 'something-else' });
    const status = await new Promise<number>((r) => odd.on('response', (h) => r(Number(h[':status']))));
    expect(status).to.equal(417);
  });
});
