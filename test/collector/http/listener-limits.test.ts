import http2 from 'node:http2';
import net from 'node:net';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { createApp, type AppOptions } from '../../../collector/http/app.js';
import { createIngest } from '../../../collector/http/ingest.js';
import { ResourceAlarm } from '../../../collector/http/limits.js';
import { listen, openFileLimit, type ListenOptions, type Listener } from '../../../collector/http/listener.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { oneSchoolOptions } from '../../helpers/one-school.js';
import { typicalReport } from '../../helpers/reports.js';


/** A pino logger whose entries land in `lines`. */
function capturingLog(lines: any[]) {
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return pino({ level: 'info' }, dest);
}

function appOptions(sink: MemorySink): AppOptions {
  return oneSchoolOptions(sink, 'fiber');
}

/** One HTTP/2 POST of a batch; resolves with status and headers. */
function h2Upload(session: http2.ClientHttp2Session, seq: number, auth = 'Bearer good'): Promise<{ status: number; headers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(JSON.stringify({ reports: [typicalReport({ seq })] }));
    const s = session.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-type': 'application/json', authorization: auth, 'content-length': body.length });
    let headers: http2.IncomingHttpHeaders = {};
    s.on('response', (h) => (headers = h));
    s.resume();
    s.on('end', () => resolve({ status: Number(headers[':status']), headers }));
    s.on('error', reject);
    s.end(body);
  });
}

/** Polls until `cond` holds (the listener's side of a close arrives a moment after the client's). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

const closed = (x: { once(e: 'close', cb: () => void): unknown }) => new Promise<void>((r) => x.once('close', () => r()));
const connected = async (url: string) => {
  const s = http2.connect(url);
  await new Promise((r, j) => {
    s.once('remoteSettings', r);
    s.once('error', j);
  });
  return s;
};

describe('collector/http/listener limits', () => {
  const sink = new MemorySink();
  const open: Listener[] = [];
  const clients: { destroy(): void }[] = [];
  const start = async (o: Partial<ListenOptions> = {}) => {
    const opts = appOptions(sink);
    const l = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log: opts.log, maxBodyBytes: opts.maxBodyBytes, reservedFds: 0, ...o });
    open.push(l);
    return { l, url: `http://127.0.0.1:${l.port}` };
  };
  const raw = async (port: number) => {
    const s = net.connect(port, '127.0.0.1');
    clients.push(s);
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    return s;
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await Promise.all(open.splice(0).map((l) => l.close()));
  });

  it('over maxConnections a new connection is accepted and closed at once, while the HTTP/2 session already held keeps uploading', async () => {
    const { l, url } = await start({ limits: { maxConnections: 2 } });
    const agent = await connected(url);
    clients.push(agent);
    expect((await h2Upload(agent, 1)).status).to.equal(200);
    await raw(l.port);
    const third = await raw(l.port);
    await closed(third);
    expect(third.bytesRead).to.equal(0);
    expect((await h2Upload(agent, 2)).status).to.equal(200);
    expect(l.stats()).to.include({ open: 2, http2Sessions: 1, refused: 1 });
  });

  it('over maxHttp2Sessions a new HTTP/2 connection is closed, and HTTP/1.1 is still served', async () => {
    const { l, url } = await start({ limits: { maxHttp2Sessions: 1 } });
    const first = await connected(url);
    clients.push(first);
    const second = http2.connect(url);
    second.on('error', () => {});
    clients.push(second);
    await closed(second);
    expect((await fetch(`${url}/healthz`)).status).to.equal(200);
    expect((await h2Upload(first, 3)).status).to.equal(200);
    expect(l.stats().refused).to.equal(1);
  });

  it('announces maxConcurrentStreams in the HTTP/2 SETTINGS', async () => {
    const { url } = await start({ limits: { maxConcurrentStreams: 3 } });
    const s = await connected(url);
    clients.push(s);
    expect(s.remoteSettings.maxConcurrentStreams).to.equal(3);
  });

  it('a body that would exceed the in-flight budget is answered 503 COL_ERR_OVERLOADED with Retry-After; the budget comes back when the first request ends', async () => {
    const { l, url } = await start({ limits: { maxInflightBodyBytes: 50_000, retryAfterS: 9 } });
    // A first upload that declares 40,000 bytes and sends only part of them holds its reservation.
    const slow = await raw(l.port);
    slow.write(`POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nContent-Type: application/json\r\nContent-Length: 40000\r\n\r\n{"reports":[`);
    await until(() => l.stats().bodyInflightBytes === 40_000);
    const body = JSON.stringify({ reports: [typicalReport({ seq: 1 })], pad: 'x'.repeat(20_000) });
    const refused = await fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, body });
    expect(refused.status).to.equal(503);
    expect(refused.headers.get('retry-after')).to.equal('9');
    expect(((await refused.json()) as any).error.code).to.equal('COL_ERR_OVERLOADED');
    expect(l.stats().overloaded).to.equal(1);
    slow.destroy();
    await until(() => l.stats().bodyInflightBytes === 0);
    const again = await fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, body });
    expect(again.status).to.not.equal(503);
  });

  it('over maxInflightRequests an upload is answered 503 COL_ERR_OVERLOADED with Retry-After at once, naming the limit; the slot comes back when the first one ends', async () => {
    const { l, url } = await start({ limits: { maxInflightRequests: 1, retryAfterS: 7 } });
    // A first upload that has sent its headers but not all of its body holds the only slot.
    const slow = await raw(l.port);
    slow.write(`POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"reports":[`);
    await until(() => l.stats().inflightRequests === 1);
    const body = JSON.stringify({ reports: [typicalReport({ seq: 1 })] });
    const refused = await fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, body });
    expect(refused.status).to.equal(503);
    expect(refused.headers.get('retry-after')).to.equal('7');
    const err = ((await refused.json()) as any).error;
    expect(err.code).to.equal('COL_ERR_OVERLOADED');
    expect(err.message).to.include('http.maxInflightRequests');
    expect(l.stats()).to.include({ overloaded: 1, maxInflightRequests: 1 });
    slow.destroy();
    await until(() => l.stats().inflightRequests === 0);
    const again = await fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, body });
    expect(again.status).to.not.equal(503);
  });

  it('over HTTP/2 too, a body the budget cannot hold is answered 503 COL_ERR_OVERLOADED with Retry-After, and the session stays usable', async () => {
    const { l, url } = await start({ limits: { maxInflightBodyBytes: 10_000, retryAfterS: 4 } });
    const agent = await connected(url);
    clients.push(agent);
    const answer = await new Promise<{ status: number; retryAfter: unknown; text: string }>((resolve, reject) => {
      const s = agent.request({ ':method': 'POST', ':path': '/api/v1/reports', authorization: 'Bearer good', 'content-type': 'application/json', 'content-length': 20_000 });
      let h: http2.IncomingHttpHeaders = {};
      let text = '';
      s.on('response', (x) => (h = x));
      s.on('data', (c: Buffer) => (text += c));
      s.on('end', () => resolve({ status: Number(h[':status']), retryAfter: h['retry-after'], text }));
      s.on('error', reject);
      s.end(Buffer.alloc(20_000, 0x20));
    });
    expect(answer.status).to.equal(503);
    expect(answer.retryAfter).to.equal('4');
    expect(JSON.parse(answer.text).error.code).to.equal('COL_ERR_OVERLOADED');
    expect((await h2Upload(agent, 7)).status).to.equal(200);
    expect(l.stats()).to.include({ overloaded: 1, bodyInflightBytes: 0 });
  });

  it('an HTTP/2 session that never has a request answered other than 401 is closed after unauthenticatedTimeoutMs; an authenticated one stays', async () => {
    const { l, url } = await start({ limits: { unauthenticatedTimeoutMs: 300 } });
    const agent = await connected(url);
    clients.push(agent);
    expect((await h2Upload(agent, 4)).status).to.equal(200);
    const idle = await connected(url);
    const stranger = await connected(url);
    clients.push(idle, stranger);
    expect((await h2Upload(stranger, 5, 'Bearer wrong')).status).to.equal(401);
    await Promise.all([closed(idle), closed(stranger)]);
    expect(agent.destroyed).to.equal(false);
    expect((await h2Upload(agent, 6)).status).to.equal(200);
    expect(l.stats().http2Sessions).to.equal(1);
  });

  it('a connection that sends nothing is closed after firstByteTimeoutMs; an HTTP/1.1 request whose headers never end after headersTimeoutMs', async () => {
    const { l } = await start({ limits: { firstByteTimeoutMs: 200, headersTimeoutMs: 400 } });
    const silent = await raw(l.port);
    const slowHeaders = await raw(l.port);
    slowHeaders.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await Promise.all([closed(silent), closed(slowHeaders)]);
    await until(() => l.stats().open === 0);
  });

  it('caps connections at the descriptor limit minus reservedFds, and says so in the log', async function () {
    const nofile = openFileLimit();
    if (nofile === undefined) throw new Error('needs /proc/self/limits (Linux)');
    const lines: any[] = [];
    const { l } = await start({ log: capturingLog(lines), reservedFds: (nofile as number) - 5 });
    expect(l.limits.maxConnections).to.equal(5);
    expect(lines.find((x) => x.level === 40 && x.cap === 5)?.msg).to.match(/LimitNOFILE/);
  });

  it('ResourceAlarm logs COL_ERR_RESOURCE_EXHAUSTED once per interval, with the count of the suppressed ones', () => {
    const lines: any[] = [];
    let t = 0;
    const alarm = new ResourceAlarm(capturingLog(lines), 10_000, () => t);
    const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
    for (let i = 0; i < 1000; i++) alarm.raise('accept', emfile);
    t = 10_000;
    alarm.raise('accept', emfile);
    expect(lines.map((x) => [x.code, x.errno, x.suppressed])).to.deep.equal([
      ['COL_ERR_RESOURCE_EXHAUSTED', 'EMFILE', 0],
      ['COL_ERR_RESOURCE_EXHAUSTED', 'EMFILE', 999],
    ]);
    expect(alarm.counts).to.deep.equal({ EMFILE: 1001 });
  });
});
