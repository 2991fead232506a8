/**
 * The property of issue 13: whatever valid-but-hostile reports one school sends (random tag values with
 * spaces, commas, `=`, backslashes, quotes, NUL and CJK; long names; many measurements; times within
 * the accepted window), another school's reports, sent at the same moment, are always acknowledged and
 * stored, and never lose a point. Real collector path, real influxd.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { PROTOCOL_VERSION, type Measurement, type Report } from '../../../protocol/index.js';
import { SCHOOLS, post, schoolReport, startHarness, type Harness } from '../../helpers/collector-harness.js';
import { measurement } from '../../helpers/report-arbitraries.js';

const [H, B] = SCHOOLS;

/** A tag value of 200-256 characters, awkward ones among them. */
const longValue = fc.string({ unit: fc.constantFrom('a', ' ', ',', '=', '\\', '学', '"'), minLength: 200, maxLength: 256 });

/** Any valid measurement, some with their tag values replaced by long awkward ones. */
const hostileMeasurement: fc.Arbitrary<Measurement> = fc.tuple(measurement, fc.option(longValue, { freq: 3 })).map(([m, long]) => {
  if (long === null) return m;
  const tags = Object.fromEntries(Object.entries(m.tags).map(([k, v]) => [k, k === 'role' ? v : long]));
  return { ...m, tags } as Measurement;
});

/** 1-3 reports of school H: 0-400 measurements each, collected within the last hour. */
const hostileBatch: fc.Arbitrary<Report[]> = fc.array(
  fc.record({
    measurements: fc.oneof(fc.array(hostileMeasurement, { maxLength: 40 }), fc.array(hostileMeasurement, { minLength: 100, maxLength: 400 })),
    agoMs: fc.integer({ min: 0, max: 3_500_000 }),
    seq: fc.integer({ min: 1, max: 2 ** 40 }),
  }),
  { minLength: 1, maxLength: 3 },
).map((rs) => {
  const now = Date.now();
  return rs.map((r) => ({ v: PROTOCOL_VERSION, school: H, agent: 'gw-01', seq: r.seq, collectedAt: now - r.agoMs, sentAt: now, measurements: r.measurements }) as Report);
});

describe('collector ingest: hostile reports of one school never cost another school anything (property, real influxd)', function () {
  this.timeout(300_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it("another school's report sent alongside random hostile ones is always acknowledged, stored whole and counted nothing", async () => {
    let seqB = 1;
    const hostileStatuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(hostileBatch, async (reports) => {
        const seq = seqB++;
        const mine = schoolReport(B, seq);
        const [hostile, other] = await Promise.all([post(h.url, H, reports), post(h.url, B, [mine])]);
        hostileStatuses.add(hostile.status);
        // Valid reports: acknowledged (whatever was dropped is counted), or refused whole for a rate (429); never 400 or 5xx.
        expect([200, 429], JSON.stringify(hostile.body).slice(0, 300)).to.include(hostile.status);
        expect(other.status, JSON.stringify(other.body)).to.equal(200);
        expect(other.body.accepted).to.deep.equal([seq]);
        expect(other.body).to.not.have.property('dropped_points');
        const rows = await h.db.query(`SELECT points FROM report WHERE school='${B}' AND seq=${seq}`);
        expect(rows, `school B seq ${seq} stored`).to.have.lengthOf(1);
        expect(rows[0]?.points).to.equal(mine.measurements.length);
        expect(await h.db.query(`SELECT loss_pct FROM ping WHERE school='${B}' AND time = ${mine.collectedAt}ms`)).to.have.lengthOf(5);
      }),
      { numRuns: 30 },
    );
    expect(h.budgets.counters(B)).to.equal(undefined);
    expect(hostileStatuses.has(200)).to.equal(true);
  });
});
