import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { pino } from 'pino';
import { RollupDelivery } from '../../../collector/rollup/delivery.js';
import { RollupSpool } from '../../../collector/rollup/spool.js';
import type { Rollup } from '../../../protocol/rollup.js';
import { makeRollup } from './fixtures.js';

const log = pino({ level: 'silent' });
const cred = { v: 1 as const, hub: '', province: '32', collector: 'p32-0000aaaa', token: 'clkp_x', tokenId: 'x', enrolledAtMs: 0 };

describe('collector/rollup: delivery of the roll-up spool', () => {
  let dir: string;
  let server: Server;
  let url: string;
  /** What the fake hub answers for a batch (by its sequences), and every batch it got. */
  let answer: (seqs: number[], rollups: Rollup[]) => { status: number; body: unknown; headers?: Record<string, string> };
  let got: number[][];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rollup-delivery-'));
    got = [];
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { rollups } = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()) as { rollups: Rollup[] };
        const seqs = rollups.map((r) => r.seq);
        got.push(seqs);
        const a = answer(seqs, rollups);
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(JSON.stringify(a.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const spooled = async (n: number): Promise<RollupSpool> => {
    const spool = new RollupSpool({ dir: join(dir, 'spool'), maxSpoolBytes: 64 * 1024 * 1024 });
    for (let seq = 1; seq <= n; seq++) await spool.append(makeRollup('32', { seq, collector: 'unenrolled' }));
    return spool;
  };
  const delivery = (spool: RollupSpool) => new RollupDelivery({ spool, post: { url }, timeoutMs: 2000, backoff: { baseMs: 100, maxMs: 1000, random: () => 1 }, log, version: 'test' });
  const ack = (seqs: number[], duplicates: number[] = []) => ({ status: 200, body: { v: 1, accepted: seqs, ...(duplicates.length && { duplicates }), heldThrough: Math.max(...seqs), epoch: 'epoch0001', serverTime: Date.now() } });

  it('sends oldest first under the enrolled collector id; removes what is acknowledged; after a 503 waits (Retry-After) and sends the rest again', async () => {
    const spool = await spooled(3);
    let fail = true;
    let collectors: string[] = [];
    answer = (seqs, rollups) => {
      collectors = rollups.map((r) => r.collector);
      if (fail) return { status: 503, body: { error: { code: 'COL_ERR_SINK_UNAVAILABLE', message: 'down' } }, headers: { 'retry-after': '3' } };
      return ack(seqs, seqs.filter((s) => s === 1));
    };
    const d = delivery(spool);
    const first = await d.round(cred);
    expect(first).to.deep.equal({ done: false, waitMs: 3000 });
    expect(spool.waiting()).to.deep.equal([1, 2, 3]);
    expect(d.stats.lastError).to.match(/answered 503: COL_ERR_SINK_UNAVAILABLE: down/);
    fail = false;
    expect(await d.round(cred)).to.deep.equal({ done: true });
    expect(got).to.deep.equal([[1, 2, 3], [1, 2, 3]]);
    expect(collectors).to.deep.equal(['p32-0000aaaa', 'p32-0000aaaa', 'p32-0000aaaa']);
    expect(spool.waiting()).to.deep.equal([]);
    expect(d.stats).to.include({ acked: 3, duplicates: 1, lastAckedSeq: 3, consecutiveFailures: 0 });
  });

  it('a batch refused as invalid is sent one by one: only the roll-up refused alone is quarantined', async () => {
    const spool = await spooled(3);
    answer = (seqs) => (seqs.includes(2) ? { status: 400, body: { error: { code: 'COL_ERR_INVALID_PAYLOAD', message: 'bad' } } } : ack(seqs));
    const d = delivery(spool);
    expect(await d.round(cred)).to.deep.equal({ done: true });
    expect(got).to.deep.equal([[1, 2, 3], [1], [2], [3]]);
    expect(spool.waiting()).to.deep.equal([]);
    expect(d.stats).to.include({ acked: 2, quarantined: 1 });
    expect(readdirSync(join(dir, 'spool', 'quarantine')).sort()).to.deep.equal(['0000000000000002.json', '0000000000000002.json.reason']);
  });

  it('an unreachable hub keeps everything and backs off', async () => {
    const spool = await spooled(2);
    await new Promise((r) => server.close(r));
    server.listen(0);
    const d = new RollupDelivery({ spool, post: { url: 'http://127.0.0.1:1' }, timeoutMs: 500, backoff: { baseMs: 100, maxMs: 1000, random: () => 1 }, log, version: 'test' });
    const r = await d.round(cred);
    expect(r.done).to.equal(false);
    expect(d.stats.lastError).to.match(/unreachable: ECONNREFUSED/);
    expect(spool.waiting()).to.deep.equal([1, 2]);
  });
});
