/** The gap rules of docs/schema.md, on constructed evidence (collector/gaps/detector.ts). */
import { expect } from 'chai';
import { emptyAgentGapState, observeBatch, type AgentGapState } from '../../collector/gaps/detector.js';
import type { Report } from '../../protocol/index.js';
import { T0, makeReport } from '../helpers/reports.js';

const MIN = 60_000;

function rep(seq: number, collectedAt: number, spoolReports = 1): Report {
  return makeReport({
    seq,
    collectedAt,
    measurements: [{ name: 'agent', tags: { version: '0.1.0' }, fields: { spool_reports: spoolReports, spool_bytes: 0, dropped_reports: 0, sent_bytes: 0, cycle_ms: 1, rss_bytes: 1, uptime_s: 1 } }],
  });
}

function feed(state: AgentGapState, held: Set<number>, reports: Report[], receivedAtMs: number, down: [number, number][] = []) {
  for (const r of reports) held.add(r.seq);
  return observeBatch({
    state,
    reports,
    receivedAtMs,
    held: (s) => held.has(s),
    lateAfterMs: 5 * MIN,
    downWithin: (a, b) => down.reduce((n, [f, t]) => n + Math.max(0, Math.min(b, t) - Math.max(a, f)), 0),
  });
}

describe('collector/gaps: classifying holes', () => {
  it('agent: consecutive sequences whose collection times jump give an agent gap with the expected missing reports, once the next interval is the usual one again', () => {
    const st = emptyAgentGapState();
    const held = new Set<number>();
    expect(feed(st, held, [rep(1, T0), rep(2, T0 + MIN)], T0 + MIN)).to.deep.equal([]);
    expect(feed(st, held, [rep(3, T0 + 11 * MIN)], T0 + 11 * MIN)).to.deep.equal([]);
    const gaps = feed(st, held, [rep(4, T0 + 12 * MIN)], T0 + 12 * MIN);
    expect(gaps).to.deep.equal([{ cause: 'agent', startMs: T0 + 2 * MIN, durationS: 540, missingReports: 9 }]);
  });

  it('agent: a first pair that spans a stop does not hide the next agent gap (the usual interval starts over from the shorter one)', () => {
    const st = emptyAgentGapState();
    const held = new Set<number>();
    // Started, stopped for an hour after its first report, then cycling every minute.
    feed(st, held, [rep(1, T0)], T0);
    expect(feed(st, held, [rep(2, T0 + 60 * MIN)], T0 + 60 * MIN)).to.deep.equal([]);
    feed(st, held, [rep(3, T0 + 61 * MIN), rep(4, T0 + 62 * MIN)], T0 + 62 * MIN);
    expect(st.intervalMs).to.equal(MIN);
    const gaps = feed(st, held, [rep(5, T0 + 72 * MIN), rep(6, T0 + 73 * MIN)], T0 + 73 * MIN);
    expect(gaps).to.deep.equal([{ cause: 'agent', startMs: T0 + 63 * MIN, durationS: 540, missingReports: 9 }]);
  });

  it('link: reports collected every minute but delivered an hour late give one link gap that grows as the backlog drains, with nothing missing', () => {
    const st = emptyAgentGapState();
    const held = new Set<number>();
    feed(st, held, [rep(1, T0), rep(2, T0 + MIN)], T0 + MIN);
    const later = T0 + 61 * MIN;
    feed(st, held, [rep(62, later, 59)], later); // live first
    const a = feed(st, held, Array.from({ length: 30 }, (_, i) => rep(3 + i, T0 + (2 + i) * MIN)), later + 1000);
    const b = feed(st, held, Array.from({ length: 29 }, (_, i) => rep(33 + i, T0 + (32 + i) * MIN)), later + 2000);
    expect(a).to.deep.equal([{ cause: 'link', startMs: T0 + 2 * MIN, durationS: 30 * 60, missingReports: 0 }]);
    // Reports delivered within lateAfterMs (5 min) of collection were on time: the hole ends before them.
    expect(b).to.deep.equal([{ cause: 'link', startMs: T0 + 2 * MIN, durationS: 55 * 60, missingReports: 0 }]);
  });

  it('collector: the same late delivery while the collector itself was down is a collector gap', () => {
    const st = emptyAgentGapState();
    const held = new Set<number>();
    feed(st, held, [rep(1, T0), rep(2, T0 + MIN)], T0 + MIN);
    const gaps = feed(st, held, Array.from({ length: 10 }, (_, i) => rep(3 + i, T0 + (2 + i) * MIN)), T0 + 20 * MIN, [[T0 + MIN + 5000, T0 + 19 * MIN]]);
    expect(gaps).to.deep.equal([{ cause: 'collector', startMs: T0 + 2 * MIN, durationS: 600, missingReports: 0 }]);
  });

  it('unknown: sequences missing although the agent says its spool was empty are an unknown gap counting them', () => {
    const st = emptyAgentGapState();
    const held = new Set<number>();
    feed(st, held, [rep(1, T0, 0), rep(2, T0 + MIN, 0)], T0 + MIN);
    const gaps = feed(st, held, [rep(6, T0 + 5 * MIN, 0)], T0 + 5 * MIN);
    expect(gaps).to.deep.equal([{ cause: 'unknown', startMs: T0 + 2 * MIN, durationS: 180, missingReports: 3 }]);
    expect(feed(st, held, [rep(7, T0 + 6 * MIN, 0)], T0 + 6 * MIN)).to.deep.equal([]);
  });
});
