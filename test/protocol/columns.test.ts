import { expect } from 'chai';
import fc from 'fast-check';
import { ColumnsError, fromColumns, toColumns } from '../../protocol/index.js';
import { typicalReport } from '../helpers/reports.js';

const LIMITS = { maxReports: 500, maxBytes: 8 << 20 };
/** What the wire carries: the JSON text of the columnar form; decoded with and without giving up the body, the same. */
const overTheWire = (reports: unknown[]) => {
  const text = JSON.stringify(toColumns(reports));
  const kept = fromColumns(JSON.parse(text), LIMITS).reports;
  const consumed = fromColumns(JSON.parse(text), { ...LIMITS, consume: true }).reports;
  expect(consumed).to.deep.equal(kept);
  return consumed;
};

describe('protocol/columns', () => {
  it('fromColumns(toColumns()) gives back any batch of JSON values exactly, number for number', () => {
    // A report-like record: the same structure with arbitrary numbers, or a different structure altogether.
    const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0.1, 0.2, 0.30000000000000004, 1e-7, 123456.789, -42.5, 1e21));
    const record = fc.oneof(
      fc.record({ seq: fc.nat(), collectedAt: fc.integer({ min: 1e12, max: 2e12 }), fields: fc.record({ a: number, b: number, c: fc.array(number, { maxLength: 3 }) }), tag: fc.constantFrom('x', 'y') }),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 12 }), (batch) => {
        // JSON itself has no -0; what a JSON body can carry is the reference.
        const sent = JSON.parse(JSON.stringify(batch)) as unknown[];
        expect(overTheWire(sent)).to.deep.equal(sent);
      }),
      { numRuns: 500 },
    );
  });

  it('toColumns() sends a shape once per structure, equal values once, decimals as scaled integers and steady integers as differences', () => {
    const reports = [1, 2, 3, 4].map((seq) => typicalReport({ seq }));
    const c = toColumns(reports);
    expect(c.g).to.have.length(1);
    expect(c.g[0]?.r).to.deep.equal([0, 1, 2, 3]);
    const cols = c.g[0]?.v ?? [];
    expect(cols[0]).to.equal(1); // v
    expect(cols[1]).to.deep.equal([1, 2, 3, 4]); // seq: differences are no shorter here
    expect(cols[2]).to.deep.equal({ d: [reports[0]?.collectedAt, 60000, 60000, 60000] });
    expect(cols.filter((x) => typeof x === 'object' && !Array.isArray(x) && 'e' in x).length).to.be.greaterThan(20);
    expect(overTheWire(reports)).to.deep.equal(reports);
  });

  it('toColumns() keeps the order of a batch whose reports have different structures', () => {
    const a = typicalReport({ seq: 1 });
    const b = { ...typicalReport({ seq: 2 }), measurements: typicalReport({ seq: 2 }).measurements.slice(0, 3) };
    const c = typicalReport({ seq: 3 });
    const cols = toColumns([a, b, c]);
    expect(cols.g.map((g) => g.r)).to.deep.equal([[0, 2], [1]]);
    expect(overTheWire([a, b, c])).to.deep.equal([a, b, c]);
  });

  it('fromColumns() with consume makes the last report of each group of its shape, and leaves the body alone without', () => {
    const text = JSON.stringify(toColumns([1, 2, 3].map((seq) => typicalReport({ seq }))));
    const body = JSON.parse(text) as { g: { s: unknown }[] };
    const kept = fromColumns(body, LIMITS).reports;
    expect(body).to.deep.equal(JSON.parse(text));
    const consumed = fromColumns(body, { ...LIMITS, consume: true }).reports;
    expect(consumed[2]).to.equal(body.g[0]?.s);
    expect(consumed[0]).to.not.equal(body.g[0]?.s);
    expect(consumed).to.deep.equal(kept);
  });

  it('fromColumns() gives a key named __proto__ back as data, as JSON.parse does, never as a prototype', () => {
    const sent = JSON.parse('[{"__proto__": {"polluted": 1}, "n": 2.5}]') as unknown[];
    const got = overTheWire(sent) as Record<string, unknown>[];
    expect(got).to.deep.equal(sent);
    expect(Object.getPrototypeOf(got[0])).to.equal(Object.prototype);
  });

  it('fromColumns() refuses a body that does not add up, saying where', () => {
    const good = JSON.parse(JSON.stringify(toColumns([1, 2].map((seq) => typicalReport({ seq }))))) as { c: number; g: { s: unknown; r: number[]; v: unknown[] }[] };
    const bad = (mutate: (b: typeof good) => void) => {
      const b = structuredClone(good);
      mutate(b);
      return () => fromColumns(b, LIMITS);
    };
    expect(() => fromColumns({ c: 2, g: [] }, LIMITS)).to.throw(ColumnsError, '"c" must be 1');
    expect(bad((b) => b.g[0]?.v.pop())).to.throw(ColumnsError, /g\.0\.v: the shape has \d+ numbers but \d+ columns were sent/);
    expect(bad((b) => (b.g[0] as { r: number[] }).r.splice(1, 1, 0))).to.throw(ColumnsError, 'g.0.r.1: must be a position in the batch');
    expect(bad((b) => ((b.g[0] as { v: unknown[] }).v[1] = [1, 2, 3]))).to.throw(ColumnsError, 'g.0.v.1: must hold 2 numbers');
    expect(bad((b) => ((b.g[0] as { v: unknown[] }).v[1] = { e: 40, v: [1, 2] }))).to.throw(ColumnsError, 'g.0.v.1.e: must be an integer from 0 to 9');
    expect(bad((b) => ((b.g[0] as { v: unknown[] }).v[1] = { d: [1, 0.5] }))).to.throw(ColumnsError, 'g.0.v.1.d: must hold 2 integers');
    expect(() => fromColumns(good, { maxReports: 1, maxBytes: LIMITS.maxBytes })).to.throw(ColumnsError, 'holds 2 reports; at most 1 are allowed');
    expect(() => fromColumns(good, { maxReports: 500, maxBytes: 1000 })).to.throw(ColumnsError, 'expands beyond 1000 bytes');
  });

  it('fromColumns() bounds the expansion by exactly the JSON length of each shape times its reports, escapes and non-ASCII included', () => {
    const shapes: unknown[] = [
      { a: 'plain', 'k"ey': 'quo"te\\', 'tab\tkey\ud800': 0, n: [0, -0, 1.5e-7, 12, { deep: null, t: true, f: false }], u: 'école 学校 \u2028', ctl: '\u0001\n', lone: '\ud800x', e: [], o: {} },
      JSON.parse('{"__proto__": {"x": 0}, "y": [0]}'),
    ];
    // Twice: the second pass meets every key again (key lengths are remembered between bodies).
    for (const s of [...shapes, ...shapes]) {
      const numbers: number[] = [];
      JSON.stringify(s, (_k, v: unknown) => (typeof v === 'number' ? (numbers.push(v), v) : v));
      const body = { c: 1, g: [{ s, r: [0, 1, 2], v: numbers.map(() => 7) }] };
      const exact = JSON.stringify(s).length * 3;
      expect(() => fromColumns(body, { maxReports: 10, maxBytes: exact })).not.to.throw();
      expect(() => fromColumns(body, { maxReports: 10, maxBytes: exact - 1 })).to.throw(ColumnsError, `expands beyond ${exact - 1} bytes`);
    }
  });
});
