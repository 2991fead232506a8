import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { pino } from 'pino';
import type { TokenRecord } from '../../../collector/auth/tokens.js';
import { createApp } from '../../../collector/http/app.js';
import type { SequenceLedger } from '../../../collector/http/ingest.js';
import { LagMonitor, createLagGuard, type LagGuard } from '../../../collector/http/lag-guard.js';
import { toLineProtocol } from '../../../collector/sink/line-protocol.js';
import type { Point, Sink } from '../../../collector/sink/sink.js';
import { StateDbError } from '../../../collector/state/db.js';
import { jsonOf } from '../../helpers/http.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { T0, makeReport, pingMeasurement, typicalReport } from '../../helpers/reports.js';

const SCHOOL = '1640104001';
const tokens: Record<string, TokenRecord> = { good: { id: 'aaa', school: SCHOOL, sha256: 'x', issuedAt: '' } };

/** A sink that takes line protocol, as the InfluxDB sinks do, and keeps what it was given. */
class LinesSink implements Sink {
  lines: string[] = [];
  points: Point[] = [];
  async write(points: readonly Point[]): Promise<void> {
    this.points.push(...points);
  }
  async writeLines(lines: readonly string[]): Promise<void> {
    this.lines.push(...lines);
  }
  async ready(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}

/** A ledger that holds nothing and whose record() does what the test says. */
const ledger = (record: SequenceLedger['record']): SequenceLedger => ({ has: () => false, heldThrough: () => 0, record });

async function serve(opts: { sink: Sink; dedupe?: SequenceLedger; logs?: string[]; lagGuard?: LagGuard }): Promise<{ url: string; close: () => void }> {
  const log = pino({ level: 'info' }, { write: (s: string) => void opts.logs?.push(s) });
  const app = createApp({
    sink: opts.sink,
    tokens: { verify: (t) => tokens[t] },
    schools: { tagsFor: (id) => (id === SCHOOL ? { school: id, province: '640000', city: '640100', county: '640104', link: 'sat-geo' } : undefined) },
    log,
    now: () => T0 + 5000,
    maxBodyBytes: 1 << 20,
    retryAfterS: 7,
    ...(opts.dedupe && { dedupe: opts.dedupe }),
    ...(opts.lagGuard && { lagGuard: opts.lagGuard, maxEventLoopLagMs: 100 }),
  });
  const server: Server = await new Promise((res) => {
    const s = app.listen(0, '127.0.0.1', () => res(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/reports`, close: () => server.close() };
}

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer good' }, body: JSON.stringify(body) });

describe('collector/http/ingest', () => {
  it('a ledger whose record() rejects with a retryable StateDbError answers 503 COL_ERR_STATE_UNAVAILABLE with Retry-After, logs it and acknowledges nothing', async () => {
    const logs: string[] = [];
    const s = await serve({ sink: new MemorySink(), logs, dedupe: ledger(() => Promise.reject(new StateDbError('state database: database or disk is full', true, 'SQLITE_FULL'))) });
    try {
      const res = await post(s.url, { reports: [makeReport({ seq: 3 })] });
      expect(res.status).to.equal(503);
      expect(res.headers.get('retry-after')).to.equal('7');
      const body = await jsonOf(res);
      expect(body.error.code).to.equal('COL_ERR_STATE_UNAVAILABLE');
      expect(body).to.not.have.property('accepted');
      const line = logs.map((l) => JSON.parse(l) as { level: number; msg: string; err?: string }).find((l) => l.level >= 50);
      expect(line?.msg).to.match(/nothing acknowledged/);
      expect(line?.err).to.contain('disk is full');
    } finally {
      s.close();
    }
  });

  it('a ledger whose record() rejects with a non-retryable StateDbError (a bug, not the disk) answers 500 COL_ERR_INTERNAL and acknowledges nothing', async () => {
    const s = await serve({ sink: new MemorySink(), dedupe: ledger(() => Promise.reject(new StateDbError('state database: CHECK constraint failed', false, 'SQLITE_CONSTRAINT_CHECK'))) });
    try {
      const res = await post(s.url, { reports: [makeReport({ seq: 3 })] });
      expect(res.status).to.equal(500);
      const body = await jsonOf(res);
      expect(body.error.code).to.equal('COL_ERR_INTERNAL');
      expect(body).to.not.have.property('accepted');
    } finally {
      s.close();
    }
  });

  it('an acknowledgement waits for an asynchronous record() (a group commit) to resolve', async () => {
    const order: string[] = [];
    const s = await serve({
      sink: new MemorySink(),
      dedupe: ledger(async () => {
        await new Promise((r) => setTimeout(r, 30));
        order.push('recorded');
      }),
    });
    try {
      const res = await post(s.url, { reports: [makeReport({ seq: 3 })] });
      order.push('answered');
      expect(res.status).to.equal(200);
      expect((await jsonOf(res)).accepted).to.deep.equal([3]);
      expect(order).to.deep.equal(['recorded', 'answered']);
    } finally {
      s.close();
    }
  });

  it('a record() that throws something else than a StateDbError (a full disk under the file ledger) also answers 503 COL_ERR_STATE_UNAVAILABLE', async () => {
    const s = await serve({ sink: new MemorySink(), dedupe: ledger(() => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }); }) });
    try {
      const res = await post(s.url, { reports: [makeReport({ seq: 3 })] });
      expect(res.status).to.equal(503);
      expect((await jsonOf(res)).error.code).to.equal('COL_ERR_STATE_UNAVAILABLE');
    } finally {
      s.close();
    }
  });

  it('a sink that takes line protocol gets exactly the lines toLineProtocol gives for the points a Point sink gets', async () => {
    const lines = new LinesSink();
    const points = new MemorySink();
    const a = await serve({ sink: lines });
    const b = await serve({ sink: points });
    try {
      const batch = { reports: [typicalReport({ seq: 1 }), typicalReport({ seq: 2, clockCorrected: true, clockOffsetMs: -42 }), makeReport({ seq: 3, collectedAt: T0 - 3600_000, sentAt: T0 - 3590_000 })] };
      expect((await post(a.url, batch)).status).to.equal(200);
      expect((await post(b.url, batch)).status).to.equal(200);
      expect(lines.points).to.deep.equal([]);
      expect(lines.lines).to.have.length(points.points.length);
      expect(lines.lines).to.deep.equal(points.points.map(toLineProtocol));
    } finally {
      a.close();
      b.close();
    }
  });

  it('a point InfluxDB 1.x cannot store answers 400 with the same message whether the sink takes lines or points', async () => {
    const a = await serve({ sink: new LinesSink() });
    const b = await serve({ sink: { write: async (ps) => void ps.map(toLineProtocol), ready: async () => true, close: async () => undefined } });
    try {
      const batch = { reports: [makeReport({ seq: 1, measurements: [pingMeasurement({ target: 'trailing\\' })] })] };
      const ra = await post(a.url, batch);
      const rb = await post(b.url, batch);
      expect(ra.status).to.equal(400);
      const ea = (await jsonOf(ra)).error;
      expect(ea.code).to.equal('COL_ERR_INVALID_PAYLOAD');
      expect(ea.message).to.contain('the database refused the points: point not writable: value of tag target of ping');
      expect(rb.status).to.equal(400);
      expect((await jsonOf(rb)).error).to.deep.equal(ea);
    } finally {
      a.close();
      b.close();
    }
  });

  it('an invalid report answers 400 with the schema messages', async () => {
    const s = await serve({ sink: new LinesSink() });
    try {
      const bad = makeReport({ seq: 1 });
      const res = await post(s.url, { reports: [{ ...bad, measurements: [{ ...pingMeasurement(), fields: { ...pingMeasurement().fields, loss_pct: 101 } }] }] });
      expect(res.status).to.equal(400);
      const e = (await jsonOf(res)).error;
      expect(e.code).to.equal('COL_ERR_INVALID_PAYLOAD');
      expect(e.message).to.equal('invalid batch: reports.0.measurements.0.fields.loss_pct: must be between 0 and 100');
    } finally {
      s.close();
    }
  });

  it('while the event loop lags past maxEventLoopLagMs an upload is answered 503 COL_ERR_OVERLOADED with Retry-After and nothing is written; an unknown token still gets 401', async () => {
    let lag: number | undefined = 340;
    const sink = new LinesSink();
    const s = await serve({ sink, lagGuard: { over: () => lag } });
    try {
      const res = await post(s.url, { reports: [makeReport({ seq: 3 })] });
      expect([res.status, res.headers.get('retry-after')]).to.deep.equal([503, '7']);
      const body = await jsonOf(res);
      expect(body.error.code).to.equal('COL_ERR_OVERLOADED');
      expect(body.error.message).to.equal("the collector's event loop lags 340 ms (more than ingest.maxEventLoopLagMs, 100 ms); retry later");
      const stranger = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nobody' }, body: '{}' });
      expect(stranger.status).to.equal(401);
      expect(sink.lines).to.deep.equal([]);
      lag = undefined;
      expect((await post(s.url, { reports: [makeReport({ seq: 3 })] })).status).to.equal(200);
      expect(sink.lines.length).to.be.greaterThan(0);
    } finally {
      s.close();
    }
  });
});

describe('collector/http/lag-guard', () => {
  it('LagMonitor reports a held loop while its tick is overdue and for the next second, then forgets it', () => {
    let t = 10_000;
    const m = new LagMonitor(() => t);
    m.observe(t);
    expect(m.recentMaxMs()).to.equal(0);
    t += 1500; // the loop was held: the tick due at +50 ms has not run
    expect(m.recentMaxMs()).to.equal(1450);
    m.observe(t);
    for (let end = t + 900; t < end; t += 50) m.observe(t);
    expect(m.recentMaxMs(), 'the second after the held one still counts').to.equal(1450);
    for (let end = t + 1000; t < end; t += 50) m.observe(t);
    expect(m.recentMaxMs()).to.equal(0);
  });

  it('createLagGuard() says nothing with maxLagMs 0, and the lag when it is over the bound', () => {
    let t = 0;
    const monitor = new LagMonitor(() => t);
    monitor.observe(0);
    const guard = createLagGuard({ maxLagMs: 200, monitor });
    expect(guard.over()).to.equal(undefined);
    t = 300;
    expect(guard.over()).to.equal(250);
    expect(createLagGuard({ maxLagMs: 0, monitor }).over()).to.equal(undefined);
  });
});
