import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { expect } from 'chai';
import { H2Connection, H2UnsupportedError } from '../../../agent/transport/h2.js';

/** A bare HTTP/2 server: answers every stream with what it got; counts connections. */
async function h2Server(answer: (stream: http2.ServerHttp2Stream, body: string) => void = (s, b) => {
    s.respond({ ':status': 200 });
    s.end(`got ${b.length}`);
  },
) {
  const server = http2.createServer();
  const stats = { sessions: 0, streams: 0 };
  server.on('session', () => stats.sessions++);
  server.on('stream', (stream) => {
    stats.streams++;
    let body = '';
    stream.on('data', (c: Buffer) => (body += c.toString()));
    stream.on('end', () => answer(stream, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, stats, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const req = (body = 'x'.repeat(700)) => ({ headers: { 'content-type': 'application/json', authorization: 'Bearer t', 'content-length': body.length }, body: Buffer.from(body) });

describe('agent/transport/h2', () => {
  it('H2Connection sends every exchange over one connection', async () => {
    const { server, stats, url } = await h2Server();
    const c = new H2Connection({ url });
    for (let i = 0; i < 5; i++) expect(await c.exchange(req(), 2000)).to.include({ status: 200, text: 'got 700' });
    expect(stats).to.deep.equal({ sessions: 1, streams: 5 });
    c.close();
    server.close();
  });

  it('H2Connection opens a new connection when the collector closed the old one', async () => {
    const { server, stats, url } = await h2Server();
    const sessions: http2.ServerHttp2Session[] = [];
    server.on('session', (s) => sessions.push(s));
    const c = new H2Connection({ url });
    await c.exchange(req(), 2000);
    sessions[0]?.close(); // GOAWAY, as a collector that restarts or sheds idle connections sends
    await new Promise((r) => setTimeout(r, 50));
    expect((await c.exchange(req(), 2000)).status).to.equal(200);
    sessions[1]?.destroy(); // no GOAWAY: the connection just breaks
    await new Promise((r) => setTimeout(r, 50));
    expect((await c.exchange(req(), 2000)).status).to.equal(200);
    expect(stats.sessions).to.equal(3);
    c.close();
    server.close();
  });

  it('H2Connection rejects with H2UnsupportedError when the collector answers in HTTP/1.1', async () => {
    const h1 = http.createServer((_q, r) => r.end('h1'));
    await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
    const c = new H2Connection({ url: `http://127.0.0.1:${(h1.address() as AddressInfo).port}` });
    const e = await c.exchange(req(), 2000).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(H2UnsupportedError);
    c.close();
    h1.close();
  });

  it('H2Connection takes a connection closed before any answer (a link going down) for a link error, not for HTTP/1.1', async () => {
    const dropping = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => dropping.listen(0, '127.0.0.1', r));
    const c = new H2Connection({ url: `http://127.0.0.1:${(dropping.address() as AddressInfo).port}` });
    const e = (await c.exchange(req(), 2000).catch((x: unknown) => x)) as Error & { code?: string };
    expect(e).not.to.be.instanceOf(H2UnsupportedError);
    expect(e.code).to.equal('ECONNRESET');
    c.close();
    dropping.close();
  });

  it('H2Connection never resolves a stream cut short by the connection as an answer', async () => {
    const { server, url } = await h2Server((s) => s.session?.destroy());
    const c = new H2Connection({ url });
    const e = (await c.exchange(req(), 2000).catch((x: unknown) => x)) as Error & { code?: string };
    expect(e).to.be.instanceOf(Error);
    expect(e.code).to.equal('ECONNRESET');
    c.close();
    server.close();
  });

  it('H2Connection rejects with the connection error, not H2UnsupportedError, when nothing listens', async () => {
    const { server, url } = await h2Server();
    server.close();
    await new Promise((r) => setTimeout(r, 20));
    const c = new H2Connection({ url });
    const e = (await c.exchange(req(), 2000).catch((x: unknown) => x)) as Error & { code?: string };
    expect(e).not.to.be.instanceOf(H2UnsupportedError);
    expect(e.code).to.equal('ECONNREFUSED');
  });

  it('H2Connection gives up after timeoutMs when no answer comes, and the next exchange uses a new connection', async () => {
    let answer = false;
    const { server, stats, url } = await h2Server((s, b) => {
      if (answer) {
        s.respond({ ':status': 200 });
        s.end(`got ${b.length}`);
      }
    });
    const c = new H2Connection({ url });
    const t0 = Date.now();
    const e = (await c.exchange(req(), 300).catch((x: unknown) => x)) as Error & { code?: string };
    expect(e.code).to.equal('ETIMEDOUT');
    expect(Date.now() - t0).to.be.within(250, 1500);
    answer = true;
    expect((await c.exchange(req(), 2000)).status).to.equal(200);
    expect(stats.sessions).to.equal(2);
    c.close();
    server.close();
  });

  it('H2Connection carries 32 uploads at once on one session without a MaxListeners warning and leaves no listener behind', async () => {
    const held: (() => void)[] = [];
    let hold = false;
    const { server, stats, url } = await h2Server((s, b) => {
      const answer = () => {
        s.respond({ ':status': 200 });
        s.end(`got ${b.length}`);
      };
      if (hold) held.push(answer);
      else answer();
    });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const c = new H2Connection({ url });
    try {
      expect((await c.exchange(req(), 2000)).status).to.equal(200);
      const session = (c as unknown as { live: { session: http2.ClientHttp2Session } }).live.session;
      const before = { error: session.listenerCount('error'), close: session.listenerCount('close') };
      hold = true;
      for (let round = 0; round < 3; round++) {
        const all = Promise.all(Array.from({ length: 32 }, () => c.exchange(req(), 5000)));
        while (held.length < 32) await new Promise((r) => setTimeout(r, 5));
        expect({ error: session.listenerCount('error'), close: session.listenerCount('close') }).to.deep.equal(before);
        held.splice(0).forEach((f) => f());
        expect((await all).map((a) => a.status)).to.deep.equal(Array(32).fill(200));
      }
      expect({ error: session.listenerCount('error'), close: session.listenerCount('close') }).to.deep.equal(before);
      expect(stats.sessions).to.equal(1);
      await new Promise((r) => setImmediate(r));
      expect(warnings.map((w) => w.name)).not.to.include('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      c.close();
      server.close();
    }
  });

  it('H2Connection fails every upload in flight when the shared session breaks', async () => {
    const { server, url } = await h2Server(() => undefined);
    const sessions: http2.ServerHttp2Session[] = [];
    server.on('session', (s) => sessions.push(s));
    const c = new H2Connection({ url });
    const all = Array.from({ length: 20 }, () => c.exchange(req(), 5000).then(() => 'answered', (e: Error & { code?: string }) => e.code ?? e.message));
    while (!sessions[0]) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    sessions[0].destroy();
    const outcomes = await Promise.all(all);
    expect(Date.now() - t0).to.be.below(2000);
    expect(outcomes.filter((o) => o === 'answered')).to.have.length(0);
    c.close();
    server.close();
  });
});
