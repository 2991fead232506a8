/**
 * Contract tests of the InfluxDB v2 write sink against test/helpers/influx2-contract-server.ts, a local
 * server that follows the documented v2 write API (no InfluxDB 1.8+/2.x/3.x can be installed here).
 */
import { expect } from 'chai';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { createInflux2Sink, type Influx2Sink } from '../../../collector/sink/influx2.js';
import { SinkError, type Point } from '../../../collector/sink/sink.js';
import { startInflux2ContractServer, type Influx2ContractServer } from '../../helpers/influx2-contract-server.js';

const T0 = 1_700_000_000_000;
const TOKEN = 'contract-token-0123456789';

function points(n: number, measurement = 'ping', from = T0): Point[] {
  return Array.from({ length: n }, (_, i) => ({
    measurement,
    tags: { school: '1640104001', role: 'gateway' },
    fields: { loss_pct: i % 101, descr: `gw "${i}"` },
    timestampMs: from + i,
  }));
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

describe('influx2 sink (contract test against the documented v2 write API)', () => {
  let server: Influx2ContractServer;
  const sinks: Influx2Sink[] = [];
  const make = (o: Partial<Parameters<typeof createInflux2Sink>[0]> = {}) => {
    const s = createInflux2Sink({ url: server.url, org: 'edu-nx', bucket: 'campuslink', token: TOKEN, timeoutMs: 2000, ...o });
    sinks.push(s);
    return s;
  };

  beforeEach(async () => {
    server = await startInflux2ContractServer({ token: TOKEN, org: 'edu-nx', buckets: ['campuslink'], maxBodyBytes: 64 * 1024 });
  });
  afterEach(async () => {
    for (const s of sinks.splice(0)) await s.close();
    await server.close();
  });

  it('write() resolves after a 204 and sends Token auth, org, bucket and precision=ms', async () => {
    const sink = make();
    await sink.write(points(3));
    expect(server.requests).to.have.length(1);
    const r = server.requests[0]!;
    expect(r.status).to.equal(204);
    expect(r.authorization).to.equal(`Token ${TOKEN}`);
    expect([r.org, r.bucket, r.precision]).to.deep.equal(['edu-nx', 'campuslink', 'ms']);
    expect(server.stored.get('campuslink')).to.deep.equal([
      `ping,role=gateway,school=1640104001 loss_pct=0,descr="gw \\"0\\"" ${T0}`,
      `ping,role=gateway,school=1640104001 loss_pct=1,descr="gw \\"1\\"" ${T0 + 1}`,
      `ping,role=gateway,school=1640104001 loss_pct=2,descr="gw \\"2\\"" ${T0 + 2}`,
    ]);
    expect(sink.stats()).to.include({ httpWrites: 1, failedHttpWrites: 0, pointsWritten: 3 });
  });

  it('writeLines() sends the lines as they are, split by maxBatchPoints, and resolves once all are answered 204', async () => {
    const sink = make({ maxBatchPoints: 2 });
    const lines = [`ping,school=1640104001 loss_pct=0 ${T0}`, `ping,school=1640104001 loss_pct=1 ${T0 + 1}`, `ping,school=1640104001 loss_pct=2 ${T0 + 2}`];
    await sink.writeLines(lines);
    expect(server.requests.map((r) => r.lines.length)).to.deep.equal([2, 1]);
    expect(server.stored.get('campuslink')).to.deep.equal(lines);
    expect(sink.stats()).to.include({ pointsWritten: 3 });
  });

  it('write() gzips bodies above the threshold and sends small ones as they are', async () => {
    const sink = make({ gzipThresholdBytes: 1000 });
    await sink.write(points(1));
    await sink.write(points(200));
    expect(server.requests.map((r) => r.contentEncoding)).to.deep.equal([undefined, 'gzip']);
    expect(server.requests[1]!.lines).to.have.length(200);
    expect(server.stored.get('campuslink')).to.have.length(201);
  });

  it('write() splits a large write into maxBatchPoints-sized HTTP writes and resolves when all are confirmed', async () => {
    const sink = make({ maxBatchPoints: 100 });
    await sink.write(points(250));
    expect(server.requests.map((r) => r.lines.length)).to.deep.equal([100, 100, 50]);
  });

  it('write() rejects a malformed line answered 400 as not retryable, with the server message', async () => {
    const sink = make();
    server.refuseMeasurement('ping');
    const err = await rejection(sink.write(points(2)));
    expect(err.retryable).to.equal(false);
    expect(err.message).to.match(/rejected it \(400\): invalid: unable to parse 'ping,/);
    expect(server.stored.get('campuslink')).to.equal(undefined);
  });

  it('write() rejects a 401 as not retryable and says to check the token', async () => {
    const sink = make({ token: 'wrong' });
    const err = await rejection(sink.write(points(1)));
    expect(err.retryable).to.equal(false);
    expect(err.message).to.match(/\(401\): unauthorized: unauthorized access.*check the token/);
  });

  it('write() rejects an unknown bucket (404) as not retryable', async () => {
    const err = await rejection(make({ bucket: 'nope' }).write(points(1)));
    expect(err.retryable).to.equal(false);
    expect(err.message).to.match(/\(404\).*bucket "nope" not found.*check org and bucket/);
  });

  it('write() rejects a body over the server limit (413) as not retryable', async () => {
    const err = await rejection(make({ gzipThresholdBytes: -1, maxBatchPoints: 100_000 }).write(points(2000)));
    expect(err.retryable).to.equal(false);
    expect(err.message).to.match(/\(413\).*maxBatchPoints/);
  });

  it('write() rejects a 429 as retryable with Retry-After in ms', async () => {
    server.failNext({ status: 429, retryAfter: '7' });
    const err = await rejection(make().write(points(1)));
    expect(err.retryable).to.equal(true);
    expect(err.retryAfterMs).to.equal(7000);
  });

  it('write() rejects a 503 with an HTTP-date Retry-After as retryable', async () => {
    server.failNext({ status: 503, retryAfter: new Date(Date.now() + 30_000).toUTCString() });
    const err = await rejection(make().write(points(1)));
    expect(err.retryable).to.equal(true);
    expect(err.retryAfterMs).to.be.within(28_000, 30_000);
  });

  it('write() rejects a 503 without Retry-After as retryable after defaultRetryAfterMs', async () => {
    server.failNext({ status: 503 });
    const err = await rejection(make({ defaultRetryAfterMs: 1234 }).write(points(1)));
    expect([err.retryable, err.retryAfterMs]).to.deep.equal([true, 1234]);
  });

  it('a failed write is never retried by the library: the next write carries only its own points', async () => {
    const sink = make();
    server.failNext({ status: 503 }, { status: 429, retryAfter: '1' });
    await rejection(sink.write(points(2, 'a')));
    await rejection(sink.write(points(2, 'b')));
    await sink.write(points(1, 'c'));
    await new Promise((r) => setTimeout(r, 300));
    expect(server.requests.map((r) => r.status)).to.deep.equal([503, 429, 204]);
    expect(server.stored.get('campuslink')?.map((l) => l.split(',')[0])).to.deep.equal(['c']);
    await sink.close();
    expect(server.requests).to.have.length(3);
  });

  it('write() rejects as retryable when the server is down', async () => {
    const url = server.url;
    await server.close();
    const sink = createInflux2Sink({ url, org: 'o', bucket: 'b', token: TOKEN, timeoutMs: 1000 });
    const err = await rejection(sink.write(points(1)));
    expect(err.retryable).to.equal(true);
    expect(err.message).to.match(/unreachable: ECONNREFUSED/);
    server = await startInflux2ContractServer({ token: TOKEN, org: 'edu-nx', buckets: ['campuslink'] });
  });

  it('write() rejects as retryable when the server does not answer within timeoutMs', async () => {
    server.setDelayMs(1500);
    const err = await rejection(make({ timeoutMs: 300 }).write(points(1)));
    expect(err.retryable).to.equal(true);
    expect(err.message).to.match(/did not answer in time/);
    server.setDelayMs(0);
  });

  it('write() rejects a point that is not writable without sending anything', async () => {
    const err = await rejection(make().write([{ measurement: 'm', tags: {}, fields: { v: Number.NaN }, timestampMs: T0 }]));
    expect(err.retryable).to.equal(false);
    expect(server.requests).to.have.length(0);
  });

  it('the library writes nothing to the console; its messages go to the pino logger', async () => {
    const logged: string[] = [];
    const log = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => (logged.push(c.toString()), cb()) }));
    const orig = { error: console.error, warn: console.warn, log: console.log };
    const consoleCalls: unknown[][] = [];
    console.error = console.warn = console.log = (...a: unknown[]) => void consoleCalls.push(a);
    try {
      server.failNext({ status: 503 });
      await rejection(make({ log }).write(points(1)));
    } finally {
      Object.assign(console, orig);
    }
    expect(consoleCalls).to.deep.equal([]);
    expect(logged.join('')).to.match(/influxdb-client: Write to InfluxDB failed/);
    expect(logged.join('')).to.match(/"msg":"write failed"/);
  });

  it('close() waits for writes in flight and later writes reject as retryable', async () => {
    server.setDelayMs(200);
    const sink = make();
    const w = sink.write(points(5));
    await sink.close();
    await w;
    expect(server.stored.get('campuslink')).to.have.length(5);
    const err = await rejection(sink.write(points(1)));
    expect(err.retryable).to.equal(true);
  });

  it('ready() is true when /ping answers 204 and false when the server is gone', async () => {
    const sink = make();
    expect(await sink.ready()).to.equal(true);
    const down = createInflux2Sink({ url: 'http://127.0.0.1:1', org: 'o', bucket: 'b', timeoutMs: 500 });
    expect(await down.ready()).to.equal(false);
  });
});
