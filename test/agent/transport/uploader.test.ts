import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import { CollectorPool } from '../../../agent/transport/pool.js';
import { encodeBatch } from '../../../agent/transport/uploader.js';
import { WIRE_DICTIONARY } from '../../../protocol/index.js';
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
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, close: () => server.close() };
}

const ok = { status: 200, body: { v: 1, accepted: [1], serverTime: T0 } };
const pool = (urls: string[], dictionary = true) => new CollectorPool({ urls, token: 't', timeoutMs: 2000, gzip: true, dictionary, version: '0.1.0', now: Date.now });

describe('agent/transport', () => {
  it('encodeBatch() with the dictionary round-trips and is much smaller than gzip for a satellite batch of 4', () => {
    const reports = [1, 2, 3, 4].map((seq) => typicalReport({ seq }));
    const dict = encodeBatch(reports, { gzip: true, dictionary: true });
    const gz = encodeBatch(reports, { gzip: true });
    expect(dict.encoding).to.equal('x-campuslink-dict1');
    expect(JSON.parse(inflateRawSync(dict.body, { dictionary: WIRE_DICTIONARY }).toString()).reports).to.deep.equal(reports);
    expect(JSON.parse(gunzipSync(gz.body).toString()).reports).to.deep.equal(reports);
    expect(dict.body.length / gz.body.length).to.be.below(0.7);
  });

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

  it('CollectorPool falls back to gzip for good when a collector answers 415 to the dictionary encoding', async () => {
    const old = await fakeCollector((enc) => (enc === 'gzip' ? ok : { status: 415, body: { error: { code: 'COL_ERR_UNSUPPORTED_MEDIA_TYPE', message: 'x' } } }));
    const p = pool([old.url]);
    await p.send([typicalReport({ seq: 1 })]);
    await p.send([typicalReport({ seq: 1 })]);
    expect(old.got.map((g) => g.encoding)).to.deep.equal(['x-campuslink-dict1', 'gzip', 'gzip']);
    p.close();
    old.close();
  });
});
