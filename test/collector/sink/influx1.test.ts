import { rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import { createInflux1Sink, parseRetryAfter, toLineProtocol, type Influx1Sink } from '../../../collector/sink/influx1.js';
import { LineWriter } from '../../../collector/sink/line-protocol.js';
import { SinkError, type Point } from '../../../collector/sink/sink.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';

const T0 = 1_700_000_000_000;

function points(n: number, measurement: string, from = T0, tags: Record<string, string> = { school: 's1' }): Point[] {
  return Array.from({ length: n }, (_, i) => ({ measurement, tags, fields: { v: i }, timestampMs: from + i }));
}

async function rejection(p: Promise<unknown>): Promise<SinkError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(SinkError);
    return e as SinkError;
  }
  throw new Error('expected the write to reject with a SinkError');
}

/** A pass-through HTTP proxy that counts the POST /write requests it forwards. */
async function countingProxy(target: string): Promise<{ url: string; writes: () => number; close: () => Promise<void> }> {
  let writes = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/write')) writes++;
    const upstream = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    writes: () => writes,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A fake InfluxDB answering every request with `handler`. */
async function fakeServer(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('createInflux1Sink against a real influxd', function () {
  let db: TestInfluxd;
  const sinks: Influx1Sink[] = [];
  const sink = (o: Partial<Parameters<typeof createInflux1Sink>[0]> = {}) => {
    const s = createInflux1Sink({ url: db.url, ...o });
    sinks.push(s);
    return s;
  };

  before(async function () {
    db = await startTestInfluxd();
  });
  after(async function () {
    await Promise.all(sinks.map((s) => s.close()));
    await db?.cleanup();
  });

  it('writes points that come back from a query with their tags, float fields, string fields and millisecond timestamps', async function () {
    const s = sink();
    await s.write([
      {
        measurement: 'link quality',
        tags: { school: 'SCH 001', 'probe,kind': 'ping=icmp', empty: '' },
        fields: { rtt_ms: 12, loss: 0.25, status: 'ok "fine"\\ \n2nd line', 'odd key': -0.5 },
        timestampMs: T0 + 123,
      },
      { measurement: 'link quality', tags: { school: 'SCH 002' }, fields: { rtt_ms: 1e-7, loss: 1.5e300 }, timestampMs: T0 + 124 },
    ]);
    const rows = await db.query('SELECT * FROM "link quality" ORDER BY time');
    expect(rows).to.deep.equal([
      {
        measurement: 'link quality',
        time: T0 + 123,
        loss: 0.25,
        'odd key': -0.5,
        'probe,kind': 'ping=icmp',
        rtt_ms: 12,
        school: 'SCH 001',
        status: 'ok "fine"\\ \n2nd line',
      },
      { measurement: 'link quality', time: T0 + 124, loss: 1.5e300, 'odd key': null, 'probe,kind': null, rtt_ms: 1e-7, school: 'SCH 002', status: null },
    ]);
    const fieldTypes = await db.query('SHOW FIELD KEYS FROM "link quality"');
    expect(Object.fromEntries(fieldTypes.map((r) => [r.fieldKey, r.fieldType]))).to.deep.equal({
      loss: 'float',
      'odd key': 'float',
      rtt_ms: 'float', // 12 is written as a float, not an integer
      status: 'string',
    });
    const tagKeys = await db.query('SHOW TAG KEYS FROM "link quality"');
    expect(tagKeys.map((r) => r.tagKey)).to.deep.equal(['probe,kind', 'school']); // the empty tag was left out
  });

  it('writeLines() writes the lines of the ingest hot path, coalesced with write() calls, and resolves once influxd confirmed them', async function () {
    const s = sink({ database: 'lines_db', maxBatchPoints: 3 });
    const pts = points(4, 'hot', T0, { school: 'SCH 9' });
    await Promise.all([s.writeLines(pts.slice(0, 2).map(toLineProtocol)), s.write(pts.slice(2)), s.writeLines([])]);
    const rows = await db.query('SELECT * FROM hot ORDER BY time', 'lines_db');
    expect(rows.map((r) => [r.time, r.v, r.school])).to.deep.equal(pts.map((p, i) => [p.timestampMs, i, 'SCH 9']));
    expect(s.stats()).to.include({ pointsWritten: 4, httpWrites: 2 });
  });

  it('writeLineBlock() posts a LineWriter block as it is, split by maxBatchPoints inside a block and beside lines, non-ASCII and line breaks in strings kept', async function () {
    const s = sink({ database: 'block_db', maxBatchPoints: 3 });
    const pts: Point[] = Array.from({ length: 5 }, (_, i) => ({ measurement: 'blk', tags: { school: 'é 学校' }, fields: { v: i, note: `a "q"\nb ${i} ✓` }, timestampMs: T0 + i }));
    const w = new LineWriter({ initialBytes: 64 }); // grows on the way
    for (const p of pts.slice(0, 4)) {
      w.str(toLineProtocol(p));
      w.endLine();
    }
    await Promise.all([s.writeLineBlock(w.take()), s.writeLines([toLineProtocol(pts[4] as Point)])]);
    const rows = await db.query('SELECT * FROM blk ORDER BY time', 'block_db');
    expect(rows.map((r) => [r.time, r.v, r.note, r.school])).to.deep.equal(pts.map((p) => [p.timestampMs, p.fields.v, p.fields.note, 'é 学校']));
    expect(s.stats()).to.include({ pointsWritten: 5, httpWrites: 2 });
  });

  it('creates the database if it is missing, and again after it was dropped behind its back', async function () {
    const s = sink({ database: 'fresh_db' });
    const names = async () => (await db.query('SHOW DATABASES')).map((r) => r.name);
    expect(await names()).to.not.include('fresh_db');
    await s.write(points(3, 'm'));
    expect(await names()).to.include('fresh_db');

    await db.query('DROP DATABASE fresh_db');
    await s.write(points(2, 'm', T0 + 10));
    expect((await db.query('SELECT v FROM m', 'fresh_db')).map((r) => r.time)).to.deep.equal([T0 + 10, T0 + 11]);
  });

  it('leaves one point when the same point is written twice (same series and timestamp overwrite)', async function () {
    const s = sink();
    const p: Point = { measurement: 'dup', tags: { school: 's1' }, fields: { v: 1, note: 'a' }, timestampMs: T0 };
    await s.write([p]);
    await s.write([p]);
    await Promise.all([s.write([p]), s.write([p])]); // also within one batch
    expect(await db.query('SELECT * FROM dup')).to.deep.equal([{ measurement: 'dup', time: T0, note: 'a', school: 's1', v: 1 }]);
  });

  it('coalesces 50 concurrent writes of 10 points into far fewer HTTP writes, and every write resolves', async function () {
    const proxy = await countingProxy(db.url);
    try {
      const s = sink({ url: proxy.url });
      await s.ready(); // the CREATE DATABASE goes out before we count
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => s.write(points(10, 'coalesce', T0 + i * 10, { school: `s${i}` }))),
      );
      expect(results.filter((r) => r.status === 'rejected')).to.deep.equal([]);
      expect(proxy.writes(), 'HTTP writes').to.be.within(1, 5);
      expect(s.stats()).to.include({ httpWrites: proxy.writes(), pointsWritten: 500, queuedPoints: 0, inFlight: 0 });
      expect(await db.query('SELECT count(v) FROM coalesce')).to.have.nested.property('[0].count', 500);
    } finally {
      await proxy.close();
    }
  });

  it('splits a write of 12,000 points into several HTTP writes and writes them all', async function () {
    const proxy = await countingProxy(db.url);
    try {
      const s = sink({ url: proxy.url });
      await s.write(points(12_000, 'split'));
      expect(proxy.writes(), 'HTTP writes').to.equal(3); // 5000 + 5000 + 2000
      const [row] = await db.query('SELECT count(v) FROM split');
      expect(row?.count).to.equal(12_000);
    } finally {
      await proxy.close();
    }
  });

  it('resolves with a PartialWrite (dropped 1, type_conflict) when InfluxDB stores a write except the point that conflicts with another writer\'s field type', async function () {
    const s = sink();
    await s.write([{ measurement: 'conflict', tags: {}, fields: { f: 'text' }, timestampMs: T0 }]);
    const partial = await s.write([
      { measurement: 'conflict', tags: {}, fields: { f: 1.5 }, timestampMs: T0 + 1 },
      { measurement: 'conflict', tags: {}, fields: { g: 2 }, timestampMs: T0 + 2 },
    ]);
    expect(partial).to.include({ droppedPoints: 1, reason: 'type_conflict' });
    expect(partial?.message).to.include('field type conflict');
    expect(await db.query('SELECT g FROM conflict')).to.have.lengthOf(1);
    expect(s.stats().pointsDropped).to.equal(1);
  });

  it('rejects with a non-retryable SinkError carrying InfluxDB\'s text when InfluxDB cannot parse a line (what it lost is not in its dropped count)', async function () {
    const s = sink();
    const e = await rejection(s.writeLines([`whole f=1 ${T0}`, 'whole line protocol cannot parse']));
    expect(e.retryable).to.equal(false);
    expect(e.retryAfterMs).to.equal(undefined);
    expect(e.message).to.include('unable to parse');
    expect(e.message).to.include('400');
  });

  it('a batch of several writers with a field type conflict: every writer is confirmed, only the one at fault is told its point was dropped', async function () {
    const s = sink();
    const first = s.write([{ measurement: 'mixed', tags: { w: 'a' }, fields: { f: 'text' }, timestampMs: T0 }]);
    const second = s.write([{ measurement: 'mixed', tags: { w: 'b' }, fields: { f: 2 }, timestampMs: T0 + 1 }]);
    const innocent = s.write(points(5, 'mixed_other'));
    const [r1, r2, r3] = await Promise.all([first, second, innocent]);
    expect(r1).to.equal(undefined);
    expect(r3).to.equal(undefined);
    expect(r2).to.include({ droppedPoints: 1, reason: 'type_conflict' });
    expect(await db.query('SELECT count(v) FROM mixed_other')).to.have.nested.property('[0].count', 5);
  });

  it('a partial write of a coalesced batch (another writer\'s type conflict) confirms the other schools\' writers, and costs the writer at fault the conflicting value only', async function () {
    const s = sink();
    await s.write([{ measurement: 'coal', tags: { school: 'x' }, fields: { f: 'text' }, timestampMs: T0 }]);
    const writers = Array.from({ length: 6 }, (_, i) => s.write([{ measurement: 'coal', tags: { school: `s${i}` }, fields: { f: i === 3 ? 1 : 'ok', n: i }, timestampMs: T0 + 10 + i }]));
    const results = await Promise.all(writers);
    results.forEach((r, i) => (i === 3 ? expect(r).to.include({ droppedPoints: 0, droppedFields: 1, reason: 'type_conflict' }) : expect(r, `writer ${i}`).to.equal(undefined)));
    expect(await db.query('SELECT count(n) FROM coal')).to.have.nested.property('[0].count', 6);
    expect(await db.query(`SELECT f, n FROM coal WHERE school='s3'`)).to.deep.equal([{ measurement: 'coal', time: T0 + 13, f: null, n: 3 }]);
  });

  it('a type conflict in a batch of several writers costs one more write, not one per writer', async function () {
    const proxy = await countingProxy(db.url);
    try {
      const s = sink({ url: proxy.url });
      await s.writeLines([`fan in_bps=1i ${T0}`]);
      const before = proxy.writes();
      const writers = Array.from({ length: 8 }, (_, i) => s.write([{ measurement: 'fan', tags: { school: `s${i}` }, fields: i % 2 ? { in_bps: 1.5, out_bps: i } : { out_bps: i }, timestampMs: T0 + 1 + i }]));
      const results = await Promise.all(writers);
      results.forEach((r, i) => (i % 2 ? expect(r, `writer ${i}`).to.include({ droppedPoints: 0, droppedFields: 1, reason: 'type_conflict' }) : expect(r, `writer ${i}`).to.equal(undefined)));
      expect(proxy.writes() - before, 'HTTP writes').to.equal(2);
      expect(await db.query('SELECT count(out_bps) FROM fan')).to.have.nested.property('[0].count', 8);
    } finally {
      await proxy.close();
    }
  });

  it('a type conflict on two fields of many points: each is written again without the conflicting fields, every other value stored', async function () {
    const s = sink();
    await s.writeLines([`two a=1i,b=1i ${T0}`]);
    const partial = await s.write(Array.from({ length: 10 }, (_, i) => ({ measurement: 'two', tags: { k: `v${i}` }, fields: { a: 1.5, b: 2.5, c: i, d: 'x, y="z"' }, timestampMs: T0 + 1 + i })));
    expect(partial).to.include({ droppedPoints: 0, droppedFields: 20, reason: 'type_conflict' });
    const rows = await db.query('SELECT a, b, c, d FROM two WHERE time > ' + T0 + 'ms');
    expect(rows).to.have.lengthOf(10);
    for (const r of rows) expect([r.a, r.b, r.d]).to.deep.equal([null, null, 'x, y="z"']);
  });

  it('rejects a point it cannot write without sending anything, and without failing other writers', async function () {
    const s = sink();
    const before = s.stats().httpWrites;
    const bad = s.write([{ measurement: 'bad', tags: {}, fields: { v: NaN }, timestampMs: T0 }]);
    const good = s.write(points(1, 'bad'));
    const e = await rejection(bad);
    expect(e.retryable).to.equal(false);
    expect(e.message).to.include('NaN');
    await good;
    expect(s.stats().httpWrites - before).to.equal(1);
  });

  it('an idle sink sends at once what one event-loop turn queued, and a busy one gathers the writes made meanwhile into one HTTP write, without waiting for flushIntervalMs', async function () {
    const s = createInflux1Sink({ url: db.url, flushIntervalMs: 60_000 });
    try {
      await s.write(points(1, 'eager_warm'));
      const before = s.stats().httpWrites;
      const first = [s.write(points(3, 'eager_a')), s.write(points(2, 'eager_a', T0 + 10_000))];
      await new Promise((r) => setImmediate(r));
      expect(s.stats()).to.include({ inFlight: 1, queuedPoints: 0 });
      const meanwhile = [s.write(points(4, 'eager_b')), s.write(points(1, 'eager_b', T0 + 10_000))];
      expect(s.stats().queuedPoints).to.equal(5);
      await Promise.all([...first, ...meanwhile]);
      expect(s.stats().httpWrites - before).to.equal(2);
      expect(await db.query('SELECT count(v) FROM eager_b')).to.have.nested.property('[0].count', 5);
    } finally {
      await s.close();
    }
  });

  it('close() flushes pending writes', async function () {
    const s = createInflux1Sink({ url: db.url, flushIntervalMs: 60_000 });
    const pending = s.write(points(7, 'on_close'));
    await s.close();
    await pending;
    expect(await db.query('SELECT count(v) FROM on_close')).to.have.nested.property('[0].count', 7);
    const e = await rejection(s.write(points(1, 'on_close')));
    expect(e.message).to.include('closed');
  });
});

describe('createInflux1Sink while influxd is down', function () {
  let db: TestInfluxd;

  before(async function () {
    db = await startTestInfluxd();
  });
  after(async function () {
    await db?.cleanup();
  });

  it('rejects quickly with a retryable SinkError, nothing hangs, and after restart() the same write succeeds', async function () {
    const s = createInflux1Sink({ url: db.url, timeoutMs: 5000 });
    try {
      await s.write(points(1, 'down')); // database created, keep-alive socket open
      expect(await s.ready()).to.equal(true);
      await db.influxd.stop();

      const batch = points(20, 'down', T0 + 100);
      const t0 = Date.now();
      const results = await Promise.allSettled([s.write(batch), ...Array.from({ length: 20 }, (_, i) => s.write(points(1, 'down', T0 + 1000 + i)))]);
      const elapsed = Date.now() - t0;
      expect(elapsed, 'ms until rejected').to.be.below(2000);
      for (const r of results) {
        expect(r.status).to.equal('rejected');
        const e = (r as PromiseRejectedResult).reason as SinkError;
        expect(e).to.be.instanceOf(SinkError);
        expect(e.retryable).to.equal(true);
        expect(e.retryAfterMs).to.equal(1000);
        expect(e.message).to.match(/unreachable.*ECONNREFUSED/);
      }
      expect(await s.ready()).to.equal(false);
      expect(s.stats()).to.include({ queuedPoints: 0, inFlight: 0 });

      await db.influxd.restart();
      await s.write(batch);
      expect(await db.query('SELECT count(v) FROM down')).to.have.nested.property('[0].count', 21);
      expect(await s.ready()).to.equal(true);
    } finally {
      await s.close();
    }
  });

  it('creates the database again when influxd comes back with empty data', async function () {
    const s = createInflux1Sink({ url: db.url });
    try {
      await s.write(points(1, 'wiped'));
      await db.influxd.stop();
      for (const sub of ['meta', 'data', 'wal']) rmSync(join(db.influxd.dataDir, sub), { recursive: true, force: true });
      await db.influxd.restart();
      await s.write(points(2, 'wiped', T0 + 5)); // 404 database not found → CREATE DATABASE → write again
      expect((await db.query('SELECT v FROM wiped')).map((r) => r.time)).to.deep.equal([T0 + 5, T0 + 6]);
    } finally {
      await s.close();
    }
  });

  it('ready() is false and never throws when nothing listens at the URL', async function () {
    const s = createInflux1Sink({ url: 'http://127.0.0.1:1' });
    expect(await s.ready()).to.equal(false);
    await s.close();
  });
});

describe('createInflux1Sink error mapping', function () {
  it('maps a 503 to a retryable SinkError with retryAfterMs from Retry-After', async function () {
    const fake = await fakeServer((req, res) => {
      if (req.url?.startsWith('/query')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0}]}');
      res.writeHead(503, { 'retry-after': '7', 'content-type': 'application/json' }).end('{"error":"overloaded"}');
    });
    const s = createInflux1Sink({ url: fake.url });
    try {
      const e = await rejection(s.write(points(1, 'x')));
      expect(e.retryable).to.equal(true);
      expect(e.retryAfterMs).to.equal(7000);
      expect(e.message).to.include('503').and.include('overloaded');
    } finally {
      await s.close();
      await fake.close();
    }
  });

  it('maps a 500 without Retry-After to a retryable SinkError with a default retryAfterMs', async function () {
    const fake = await fakeServer((_req, res) => void res.writeHead(500).end('{"error":"engine: boom"}'));
    const s = createInflux1Sink({ url: fake.url });
    try {
      const e = await rejection(s.write(points(1, 'x')));
      expect(e.retryable).to.equal(true);
      expect(e.retryAfterMs).to.equal(1000);
      expect(e.message).to.include('engine: boom');
      expect(await s.ready()).to.equal(false);
    } finally {
      await s.close();
      await fake.close();
    }
  });

  it('maps a 401 to a non-retryable SinkError and sends credentials as basic auth', async function () {
    let auth: string | undefined;
    const fake = await fakeServer((req, res) => {
      auth = req.headers.authorization;
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"authorization failed"}');
    });
    const s = createInflux1Sink({ url: fake.url, username: 'u', password: 'p w' });
    try {
      const e = await rejection(s.write(points(1, 'x')));
      expect(e.retryable).to.equal(false);
      expect(e.message).to.include('401').and.include('authorization failed');
      expect(auth).to.equal(`Basic ${Buffer.from('u:p w').toString('base64')}`);
    } finally {
      await s.close();
      await fake.close();
    }
  });

  it('times out a write that gets no answer with a retryable SinkError', async function () {
    const fake = await fakeServer(() => {
      /* never answers */
    });
    const s = createInflux1Sink({ url: fake.url, timeoutMs: 200 });
    try {
      const t0 = Date.now();
      const e = await rejection(s.write(points(1, 'x')));
      expect(Date.now() - t0).to.be.below(1500);
      expect(e.retryable).to.equal(true);
      expect(e.message).to.include('200 ms');
    } finally {
      await s.close();
      await fake.close();
    }
  });
});

describe('toLineProtocol', function () {
  it('writes numbers as floats, escapes names and strings, sorts tags and uses millisecond timestamps', function () {
    expect(
      toLineProtocol({ measurement: 'a b,c', tags: { z: '1', 'k =': 'v,w' }, fields: { n: 3, s: 'q"\\' }, timestampMs: 1_700_000_000_123.4 }),
    ).to.equal('a\\ b\\,c,k\\ \\==v\\,w,z=1 n=3,s="q\\"\\\\" 1700000000123');
  });

  it('refuses points InfluxDB 1.x cannot store', function () {
    const base: Point = { measurement: 'm', tags: {}, fields: { v: 1 }, timestampMs: 0 };
    for (const bad of [
      { ...base, fields: {} },
      { ...base, fields: { v: Infinity } },
      { ...base, measurement: '' },
      { ...base, tags: { t: 'ends with\\' } },
      { ...base, tags: { t: 'two\nlines' } },
      { ...base, timestampMs: NaN },
    ]) {
      expect(() => toLineProtocol(bad), JSON.stringify(bad)).to.throw(SinkError);
    }
  });

  it('parses Retry-After in seconds and as an HTTP date', function () {
    expect(parseRetryAfter('3')).to.equal(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).to.equal(6000);
    expect(parseRetryAfter(undefined)).to.equal(undefined);
    expect(parseRetryAfter('soon')).to.equal(undefined);
  });
});
