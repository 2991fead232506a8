import http2 from 'node:http2';
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect } from 'chai';
import { pino } from 'pino';
import type { IngestRequest, IngestResponse } from '../../../collector/http/ingest.js';
import { listen, type ListenOptions, type Listener } from '../../../collector/http/listener.js';

v8.setFlagsFromString('--expose-gc');
/** A full GC (the flag set above makes `gc` available to new contexts). */
const gc = vm.runInNewContext('gc') as () => void;

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One POST on `session`; resolves with the status once the answer ends. */
function post(session: http2.ClientHttp2Session): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-type': 'application/json' });
    let status = 0;
    s.on('response', (h) => (status = Number(h[':status'])));
    s.resume();
    s.on('end', () => resolve(status));
    s.on('error', reject);
    s.end('{}');
  });
}

const closed = (s: http2.ClientHttp2Session) => new Promise<void>((r) => (s.closed || s.destroyed ? r() : s.once('close', () => r())));

describe('collector/http/listener HTTP/2 session lifetime', () => {
  const open: Listener[] = [];
  const clients: http2.ClientHttp2Session[] = [];
  /** The server side of every session that had a request, held weakly. */
  let seen: WeakRef<http2.ServerHttp2Session>[] = [];

  const start = async (o: Partial<ListenOptions> = {}) => {
    const ingest = (req: IngestRequest, res: IngestResponse) => {
      const s = (req as unknown as { stream: http2.ServerHttp2Stream }).stream.session as http2.ServerHttp2Session;
      seen.push(new WeakRef(s));
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    };
    const l = await listen({ host: '127.0.0.1', port: 0, app: (_q, r) => r.end(), ingest, log: pino({ level: 'silent' }), reservedFds: 0, ...o });
    open.push(l);
    return { l, url: `http://127.0.0.1:${l.port}` };
  };
  const connect = (url: string) => {
    const c = http2.connect(url);
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await Promise.all(open.splice(0).map((l) => l.close()));
    seen = [];
  });

  it('a closed session is garbage: no timer or listener of the listener keeps it (nor its socket) reachable', async () => {
    const { l, url } = await start();
    const agents = Array.from({ length: 20 }, () => connect(url));
    expect(await Promise.all(agents.map(post))).to.deep.equal(agents.map(() => 200));
    expect(l.stats().http2Sessions).to.equal(20);
    agents.slice(0, 10).forEach((a) => a.close());
    agents.slice(10).forEach((a) => a.destroy());
    await until(() => l.stats().http2Sessions === 0 && l.stats().open === 0);
    clients.splice(0);
    agents.length = 0;
    // Let the sockets' close callbacks run, then collect.
    for (let i = 0; i < 10 && seen.some((w) => w.deref() !== undefined); i++) {
      await new Promise((r) => setTimeout(r, 20));
      gc();
    }
    expect(seen.filter((w) => w.deref() !== undefined).length, 'closed server sessions still reachable').to.equal(0);
  });

  it('a session without a stream for sessionIdleTimeoutMs is closed; one with a stream open is not', async () => {
    const { l, url } = await start({ limits: { sessionIdleTimeoutMs: 200 } });
    const idle = connect(url);
    const busy = connect(url);
    expect(await post(idle)).to.equal(200);
    expect(await post(busy)).to.equal(200);
    // busy keeps a slow upload open past the idle timeout.
    const slow = busy.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-type': 'application/json' });
    slow.on('error', () => undefined);
    slow.write('{');
    const t0 = Date.now();
    await closed(idle);
    expect(Date.now() - t0).to.be.within(100, 1500);
    await new Promise((r) => setTimeout(r, 300));
    expect(busy.closed || busy.destroyed, 'the session with a stream open').to.equal(false);
    let status = 0;
    slow.on('response', (h) => (status = Number(h[':status'])));
    slow.resume();
    await new Promise<void>((r) => slow.end('}', () => slow.on('end', () => r())));
    expect(status).to.equal(200);
    await closed(busy);
    await until(() => l.stats().http2Sessions === 0);
  });
});
