import { expect } from 'chai';
import { pino } from 'pino';
import { DEFAULT_BUDGETS, SchoolBudgets, budgetsSchema, type BudgetSettings } from '../../../collector/ingest/budgets.js';
import { TokenShares, admitUpload } from '../../../collector/ingest/fairness.js';
import { hasBadBackslash } from '../../../collector/ingest/screen.js';
import { collectorMetrics } from '../../../collector/metrics/registry.js';
import { toLineProtocol } from '../../../collector/sink/line-protocol.js';
import type { Measurement, Report } from '../../../protocol/index.js';
import { T0, makeReport, pingMeasurement, typicalReport } from '../../helpers/reports.js';

const A = '1640104001';
const B = '1640104002';

function budgets(over: Partial<BudgetSettings> = {}, clock = { t: T0 }, logs: any[] = []) {
  const log = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  return new SchoolBudgets({ settings: budgetsSchema.parse(over), log, now: () => clock.t });
}

const pings = (n: number, from = 0): Measurement[] => Array.from({ length: n }, (_, i) => pingMeasurement({ target: `t${from + i}.example.net` }));

describe('collector/ingest/budgets', () => {
  it('points dropped over a budget are counted in /metrics by budget, never by school', async () => {
    const counter = collectorMetrics().budgetRefusals;
    const before = (await counter.get()).values.find((v) => v.labels.limit === 'budget_series')?.value ?? 0;
    const b = budgets({ seriesPerDay: 100 });
    expect(b.admit(A, [makeReport({ seq: 1, measurements: pings(115) })], 1000).dropped_points).to.deep.equal({ budget_series: 15 });
    const after = (await counter.get()).values.filter((v) => v.labels.limit === 'budget_series');
    expect(after.map((v) => v.value)).to.deep.equal([before + 15]);
    expect(Object.keys(after[0]?.labels ?? {})).to.deep.equal(['limit']);
  });

  it('defaults never bite a normal school: a day of typical reports (1,440) keeps every point and is never refused', () => {
    const clock = { t: T0 };
    const b = budgets({}, clock);
    for (let seq = 1; seq <= 1440; seq++) {
      expect(b.gate(A)).to.equal(undefined);
      const r = typicalReport({ seq });
      const out = b.admit(A, [r], 3000);
      expect(out.dropped_points).to.deep.equal({});
      expect(out.reports[0]).to.equal(r);
      clock.t += 60_000;
    }
    expect(b.counters(A)).to.equal(undefined);
  });

  it('defaults never bite a county server: 150 switches × 28 interfaces, sys and inventory_poll per device (4,500 series), an hour of reports', () => {
    const clock = { t: T0 };
    const b = budgets({}, clock);
    const ms: Measurement[] = [];
    for (let d = 0; d < 150; d++) {
      ms.push({ name: 'sys', tags: { device: `sw-${d}` }, fields: { result_code: 0 } });
      ms.push({ name: 'inventory_poll', tags: { device: `sw-${d}` }, fields: { result_code: 0, errors: 0, neighbours: 40, poll_ms: 300 } });
      for (let p = 1; p <= 28; p++) ms.push({ name: 'iface', tags: { device: `sw-${d}`, ifname: `GigabitEthernet0/0/${p}`, role: 'lan' }, fields: { oper_up: 1 } });
    }
    for (let seq = 1; seq <= 60; seq++) {
      expect(b.gate(A), `minute ${seq}`).to.equal(undefined);
      expect(b.admit(A, [makeReport({ seq, measurements: ms })], 400_000).dropped_points).to.deep.equal({});
      clock.t += 60_000;
    }
    expect(b.seriesToday(A)).to.equal(ms.length);
    expect(b.counters(A)).to.equal(undefined);
  });

  it('defaults never bite a backlog: a day offline (1,440 typical reports) delivered at once in batches of 200 is never refused', () => {
    const b = budgets();
    for (let from = 1; from <= 1440; from += 200) {
      expect(b.gate(A), `batch from ${from}`).to.equal(undefined);
      const batch = Array.from({ length: Math.min(200, 1441 - from) }, (_, i) => typicalReport({ seq: from + i }));
      expect(b.admit(A, batch, 60_000).dropped_points).to.deep.equal({});
    }
    expect(b.counters(A)).to.equal(undefined);
  });

  it('default fairness never bites a school whose 4 agents (one token) upload at the same moment', () => {
    const shares = new TokenShares(DEFAULT_BUDGETS);
    const held = Array.from({ length: 4 }, () => shares.admit('a', A, 40_000));
    for (const h of held) expect(h).to.have.property('release');
    expect(shares.refused).to.equal(0);
  });

  it('a new series over seriesPerDay is dropped and counted; points of series already known today are kept; another school is untouched', () => {
    const b = budgets({ seriesPerDay: 100 });
    const first = b.admit(A, [makeReport({ seq: 1, measurements: pings(80) })], 1000);
    expect(first.dropped_points).to.deep.equal({});
    const second = b.admit(A, [makeReport({ seq: 2, measurements: [...pings(80), ...pings(50, 1000)] })], 1000);
    expect(second.dropped_points).to.deep.equal({ budget_series: 30 });
    const kept = second.reports[0]?.measurements.map((m) => (m.tags as { target: string }).target) ?? [];
    expect(kept).to.have.lengthOf(100);
    expect(kept.slice(0, 80)).to.deep.equal(pings(80).map((m) => (m.tags as { target: string }).target));
    expect(b.counters(A)?.today.dropped_points).to.deep.equal({ budget_series: 30 });
    expect(b.admit(B, [makeReport({ school: B, seq: 1, measurements: pings(100, 5000) })], 1000).dropped_points).to.deep.equal({});
    expect(b.counters(B)).to.equal(undefined);
  });

  it('a tag key with more new values than tagValuesPerKeyPerDay: the excess points are dropped (budget_tag_values), known values go on', () => {
    const b = budgets({ tagValuesPerKeyPerDay: 10 });
    const out = b.admit(A, [makeReport({ seq: 1, measurements: pings(25) })], 1000);
    expect(out.dropped_points).to.deep.equal({ budget_tag_values: 15 });
    // A known target with another role is a new series with known values: kept.
    const again = { ...pingMeasurement({ target: 't3.example.net' }), tags: { target: 't3.example.net', role: 'isp' } } as Measurement;
    expect(b.admit(A, [makeReport({ seq: 2, measurements: [again, ...pings(10)] })], 1000).dropped_points).to.deep.equal({});
  });

  it('budgets start again each China day', () => {
    const clock = { t: Date.UTC(2026, 10, 23, 15, 30) }; // 23:30 in China
    const b = budgets({ seriesPerDay: 100 }, clock);
    expect(b.admit(A, [makeReport({ seq: 1, measurements: pings(150) })], 1000).dropped_points).to.deep.equal({ budget_series: 50 });
    clock.t += 60 * 60_000; // 00:30 next day
    expect(b.admit(A, [makeReport({ seq: 2, measurements: pings(100, 200) })], 1000).dropped_points).to.deep.equal({});
    expect(b.counters(A)?.today.dropped_points).to.deep.equal({});
    expect(b.counters(A)?.total.dropped_points).to.deep.equal({ budget_series: 50 });
  });

  it('measurements over measurementsPerReport are dropped (budget_measurements), the agent\'s own health is kept', () => {
    const b = budgets({ measurementsPerReport: 10 });
    const r = typicalReport({ seq: 1 }); // 21 measurements, `agent` last
    const out = b.admit(A, [r], 1000);
    expect(out.dropped_points).to.deep.equal({ budget_measurements: r.measurements.length - 11 });
    expect(out.reports[0]?.measurements.map((m) => m.name).at(-1)).to.equal('agent');
  });

  it('a tag value line protocol cannot hold (an ifName ending in \\) costs its point only (unencodable_tag); a modem without fields (no_fields) too', () => {
    const b = budgets();
    const bad: Measurement = { name: 'iface', tags: { device: 'gw', ifname: 'ge-0/0/1\\', role: 'wan' }, fields: { oper_up: 1 } };
    const empty: Measurement = { name: 'modem', tags: { device: 'vsat', profile: 'idirect' }, fields: {} };
    const out = b.admit(A, [makeReport({ seq: 1, measurements: [bad, empty, ...pings(3)] })], 1000);
    expect(out.dropped_points).to.deep.equal({ unencodable_tag: 1, no_fields: 1 });
    expect(out.reports[0]?.measurements).to.have.lengthOf(3);
  });

  it('hasBadBackslash() agrees with toLineProtocol() on every short string of backslashes, spaces, commas, = and letters', () => {
    const alphabet = ['\\', ' ', ',', '=', 'a'];
    const walk = (s: string, depth: number) => {
      if (s.length) {
        let throws = false;
        try {
          toLineProtocol({ measurement: 'm', tags: { t: s }, fields: { v: 1 }, timestampMs: T0 });
        } catch {
          throws = true;
        }
        expect(hasBadBackslash(s), JSON.stringify(s)).to.equal(throws);
      }
      if (depth) for (const c of alphabet) walk(s + c, depth - 1);
    };
    walk('', 5);
  });

  it('over reportsPerMinute the next request is refused with 429 COL_ERR_BUDGET_EXCEEDED naming the budget, its value, the key to change and Retry-After; the bucket refills', () => {
    const clock = { t: T0 };
    const b = budgets({ reportsPerMinute: 60 }, clock);
    expect(b.gate(A)).to.equal(undefined);
    b.admit(A, Array.from({ length: 90 }, (_, i) => makeReport({ seq: i + 1 })), 1000); // one big batch always passes: the bucket goes into debt
    const refusal = b.gate(A) as any;
    expect(refusal.status).to.equal(429);
    expect(refusal.headers['retry-after']).to.equal('30');
    expect(refusal.body.error.code).to.equal('COL_ERR_BUDGET_EXCEEDED');
    expect(refusal.body.budget).to.deep.include({ name: 'reportsPerMinute', limit: 60 });
    expect(refusal.body.budget.change).to.include('CAMPUSLINK_BUDGETS_REPORTS_PER_MINUTE');
    expect(refusal.body.error.message).to.match(/keep it and retry after 30 s/);
    expect(b.gate(B)).to.equal(undefined);
    clock.t += 30_000;
    expect(b.gate(A)).to.equal(undefined);
    expect(b.counters(A)?.today.budget_refusals).to.deep.equal({ reportsPerMinute: 1 });
  });

  it('refund() gives back what a batch the sink did not store was charged: retries through an outage cost nothing', () => {
    const b = budgets({ reportsPerMinute: 60 });
    const out = b.admit(A, Array.from({ length: 90 }, (_, i) => makeReport({ seq: i + 1 })), 1000);
    expect(b.gate(A)).to.have.property('status', 429);
    b.refund(A, out);
    expect(b.gate(A)).to.equal(undefined);
  });

  it('bytesPerMinute and measurementsPerMinute refuse the same way', () => {
    const b = budgets({ bytesPerMinute: 1024 * 1024, measurementsPerMinute: 1000 });
    b.admit(A, [makeReport({ seq: 1 })], 3 * 1024 * 1024);
    expect((b.gate(A) as any).body.budget.name).to.equal('bytesPerMinute');
    b.admit(B, [makeReport({ school: B, seq: 1, measurements: pings(2000) })], 100);
    expect((b.gate(B) as any).body.budget.name).to.equal('measurementsPerMinute');
  });

  it('logs a loss once per school, reason and day, naming the counters API', () => {
    const logs: any[] = [];
    const b = budgets({ seriesPerDay: 100 }, { t: T0 }, logs);
    for (let seq = 1; seq <= 3; seq++) b.admit(A, [makeReport({ seq, measurements: pings(150, seq * 1000) })], 10);
    const lines = logs.filter((l) => l.school === A);
    expect(lines).to.have.lengthOf(1);
    expect(lines[0].msg).to.include('/api/v1/ingest/budgets/1640104001');
  });

  it('holds bounded state: a school at its budgets holds at most seriesPerDay + 6 × tagValuesPerKeyPerDay entries, whatever it sends', () => {
    const b = budgets({ seriesPerDay: 1000, tagValuesPerKeyPerDay: 100 });
    for (let seq = 1; seq <= 20; seq++) b.admit(A, [makeReport({ seq, measurements: pings(4000, seq * 10_000) })], 10);
    expect(b.seriesToday(A)).to.equal(100);
    const state = (b as any).schools.get(A);
    expect(state.known.size).to.be.at.most(1000 + 6 * 100);
  });

  it('the default budgets are those of the schema', () => {
    expect(DEFAULT_BUDGETS).to.deep.equal(budgetsSchema.parse({}));
  });
});

describe('collector/ingest/fairness', () => {
  it('a token over maxInflightRequestsPerToken gets 429 with Retry-After; another token is admitted; a released share comes back', () => {
    const shares = new TokenShares({ maxInflightRequestsPerToken: 2, maxInflightBodyBytesPerToken: 1 << 20, busyRetryAfterS: 5 });
    const a1 = shares.admit('a', A, 100) as any;
    const a2 = shares.admit('a', A, 100) as any;
    const a3 = shares.admit('a', A, 100) as any;
    expect(a3.status).to.equal(429);
    expect(a3.headers['retry-after']).to.equal('5');
    expect(a3.body.budget.name).to.equal('maxInflightRequestsPerToken');
    expect('release' in (shares.admit('b', B, 100) as object)).to.equal(true);
    a1.release();
    a1.release();
    expect('release' in (shares.admit('a', A, 100) as object)).to.equal(true);
    a2.release();
    expect(shares.refused).to.equal(1);
  });

  it("a county proxy's token (school proxy) has maxInflightRequestsPerProxyToken uploads at once, a school's token still maxInflightRequestsPerToken", () => {
    const shares = new TokenShares({ maxInflightRequestsPerToken: 4, maxInflightRequestsPerProxyToken: 16, maxInflightBodyBytesPerToken: 1 << 20, busyRetryAfterS: 5 });
    const held = Array.from({ length: 16 }, () => shares.admit('p', 'proxy', 1000) as any);
    expect(held.every((h) => 'release' in h)).to.equal(true);
    const over = shares.admit('p', 'proxy', 1000) as any;
    expect(over.status).to.equal(429);
    expect(over.body.budget).to.include({ name: 'maxInflightRequestsPerProxyToken', limit: 16 });
    expect(over.body.budget.change).to.equal('budgets.maxInflightRequestsPerProxyToken (CAMPUSLINK_BUDGETS_MAX_INFLIGHT_REQUESTS_PER_PROXY_TOKEN)');
    for (let i = 0; i < 4; i++) expect(shares.admit('s', A, 1000)).to.have.property('release');
    expect((shares.admit('s', A, 1000) as any).body.budget.name).to.equal('maxInflightRequestsPerToken');
    expect(budgetsSchema.parse({}).maxInflightRequestsPerProxyToken).to.equal(16);
  });

  it("a county proxy's bytes share grows with its uploads share (16 of 4: four times a school's)", () => {
    const shares = new TokenShares({ maxInflightRequestsPerToken: 4, maxInflightRequestsPerProxyToken: 16, maxInflightBodyBytesPerToken: 1000, busyRetryAfterS: 5 });
    for (let i = 0; i < 4; i++) expect(shares.admit('p', 'proxy', 900)).to.have.property('release');
    const over = shares.admit('p', 'proxy', 900) as any;
    expect(over.body.budget).to.include({ name: 'maxInflightBodyBytesPerToken', limit: 4000 });
    expect(shares.admit('s', A, 900)).to.have.property('release');
    expect((shares.admit('s', A, 900) as any).body.budget).to.include({ name: 'maxInflightBodyBytesPerToken', limit: 1000 });
  });

  it('body bytes: the first upload of a token is always admitted, a second one over the byte share is refused; tokens without uploads hold no state', () => {
    const shares = new TokenShares({ maxInflightRequestsPerToken: 4, maxInflightBodyBytesPerToken: 1000, busyRetryAfterS: 5 });
    const one = shares.admit('a', A, 5000) as any;
    expect(one).to.have.property('release');
    expect((shares.admit('a', A, 10) as any).body.budget.name).to.equal('maxInflightBodyBytesPerToken');
    one.release();
    const two = shares.admit('a', A, 600) as any;
    const three = shares.admit('a', A, 400) as any;
    expect((shares.admit('a', A, 1) as any).status).to.equal(429);
    two.release();
    three.release();
    expect(shares.size).to.equal(0);
  });

  it('admitUpload() counts an upload without Content-Length as a whole body (ingest.maxBodyBytes), and its answer gives the share back', () => {
    const shares = new TokenShares({ maxInflightRequestsPerToken: 4, maxInflightBodyBytesPerToken: 1500, busyRetryAfterS: 5 });
    const req = { on: () => req };
    const sent: number[] = [];
    const res = { writeHead: (s: number) => sent.push(s), end: () => undefined, headersSent: false };
    const token = { id: 'a', school: A };
    const first = (admitUpload({ shares, token, headers: {}, maxBodyBytes: 1000, req, res }) as any).res;
    expect(first).to.have.property('end');
    expect((admitUpload({ shares, token, headers: { 'content-length': '600' }, maxBodyBytes: 1000, req, res }) as any).refused.status).to.equal(429);
    first.writeHead(200, {});
    first.end('{}');
    expect(sent).to.deep.equal([200]);
    expect(shares.size).to.equal(0);
    expect(admitUpload({ shares, token, headers: { 'content-length': '600' }, maxBodyBytes: 1000, req, res })).to.have.property('res');
  });
});
