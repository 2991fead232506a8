import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { CollectorPool, H2_RETRY_AFTER_MS } from '../../../agent/transport/pool.js';
import { T0, typicalReport } from '../../helpers/reports.js';

/** A collector stand-in: answers from `answer(encoding)`; records what it got. */
async function fakeCollector(answer: (encoding: string | undefined) => { status: number; body: unknown; headers?: Record<string, string> }) {
  const got: { encoding?: string; bytes: number }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ encoding: req.headers['content-encoding'], bytes: Buffer.concat(chunks).length });
      const a = answer(req.headers['content-encoding']);
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, server, close: () => server.close() };
}

const ok = { status: 200, body: { v: 1, accepted: [1], serverTime: T0 } };
const pool = (urls: string[], opts: { http2?: boolean; now?: () => number } = {}) =>
  new CollectorPool({ urls, token: 't', timeoutMs: 2000, gzip: true, dictionary: true, version: '0.1.0', now: Date.now, ...opts });

describe('agent/transport', () => {
  it('CollectorPool fails over to the next URL when the first cannot be reached or answers 503, and stays there', async () => {
    const down = await fakeCollector(() => ({ status: 503, body: { error: { code: 'COL_ERR_SINK_UNAVAILABLE', message: 'x' } }, headers: { 'retry-after': '3' } }));
    const up = await fakeCollector(() => ok);
    const p = pool(['http://127.0.0.1:1', down.url, up.url]);
    expect((await p.send([typicalReport({ seq: 1 })])).ack.accepted).to.deep.equal([1]);
    expect(p.url).to.equal(up.url);
    await p.send([typicalReport({ seq: 1 })]);
    expect(down.got).to.have.length(1);
    expect(up.got).to.have.length(2);
    p.close();
    down.close();
    up.close();
  });

  it('CollectorPool throws the 503 with its Retry-After when no collector acknowledges', async () => {
    const down = await fakeCollector(() => ({ status: 503, body: {}, headers: { 'retry-after': '3' } }));
    const p = pool([down.url]);
    const e = await p.send([typicalReport({ seq: 1 })]).catch((x: unknown) => x as { status: number; retryAfterMs: number; action: string });
    expect(e).to.include({ status: 503, retryAfterMs: 3000, action: 'keep-and-back-off' });
    p.close();
    down.close();
  });

  it('CollectorPool falls back to gzip for good when a collector answers 415 to the columnar encoding', async () => {
    const old = await fakeCollector((enc) => (enc === 'gzip' ? ok : { status: 415, body: { error: { code: 'COL_ERR_UNSUPPORTED_MEDIA_TYPE', message: 'x' } } }));
    const p = pool([old.url]);
    await p.send([typicalReport({ seq: 1 })]);
    await p.send([typicalReport({ seq: 1 })]);
    expect(old.got.map((g) => g.encoding)).to.deep.equal(['x-campuslink-cols1', 'gzip', 'gzip']);
    p.close();
    old.close();
  });

  it('CollectorPool sends HTTP/1.1 to a collector that does not speak HTTP/2, and tries HTTP/2 again after an hour', async () => {
    let t = T0;
    const old = await fakeCollector(() => ok);
    let prefaces = 0;
    old.server.on('connection', (sock: import('node:net').Socket) => sock.once('data', (d: Buffer) => void (d.subarray(0, 4).toString() === 'PRI ' && prefaces++)));
    const p = pool([old.url], { http2: true, now: () => t });
    await p.send([typicalReport({ seq: 1 })]);
    await p.send([typicalReport({ seq: 2 })]);
    expect({ prefaces, acknowledged: old.got.length }).to.deep.equal({ prefaces: 1, acknowledged: 2 });
    t += H2_RETRY_AFTER_MS + 1;
    await p.send([typicalReport({ seq: 3 })]);
    expect({ prefaces, acknowledged: old.got.length }).to.deep.equal({ prefaces: 2, acknowledged: 3 });
    p.close();
    old.close();
  });
});
