/** The usual interval of collector/gaps/detector.ts: a median that follows the schedule both ways, so no false gap. */
import { expect } from 'chai';
import { MAX_DELTAS, emptyAgentGapState, observeBatch, type AgentGapState, type Gap } from '../../../collector/gaps/detector.js';
import type { Report } from '../../../protocol/index.js';
import { T0, makeReport } from '../../helpers/reports.js';

const MIN = 60_000;

/** Feeds reports at these collection times one by one, each received on time; returns every gap. */
function run(state: AgentGapState, times: number[], firstSeq = 1): Gap[] {
  const gaps: Gap[] = [];
  times.forEach((t, i) => {
    const r: Report = makeReport({ seq: firstSeq + i, collectedAt: t });
    gaps.push(...observeBatch({ state, reports: [r], receivedAtMs: t + 500, held: () => true, lateAfterMs: 5 * MIN, downWithin: () => 0 }));
  });
  return gaps;
}

const every = (from: number, n: number, stepMs: number) => Array.from({ length: n }, (_, i) => from + i * stepMs);

describe('collector/gaps/detector: the usual interval', () => {
  it('a few `once` runs seconds apart, then a healthy 1-minute schedule: no agent gap, and the usual interval becomes 1 minute', () => {
    const st = emptyAgentGapState();
    const once = every(T0, 5, 5_000);
    const minute = every(T0 + 10 * MIN, 120, MIN);
    expect(run(st, [...once, ...minute])).to.deep.equal([]);
    expect(st.intervalMs).to.equal(MIN);
  });

  it('a schedule change from 1 to 5 minutes and back to 1 gives no gap', () => {
    const st = emptyAgentGapState();
    const a = every(T0, 30, MIN);
    const b = every((a.at(-1) as number) + 5 * MIN, 30, 5 * MIN);
    const c = every((b.at(-1) as number) + MIN, 30, MIN);
    expect(run(st, [...a, ...b, ...c])).to.deep.equal([]);
    expect(st.intervalMs).to.equal(MIN);
  });

  it('a long outage (3 hours) in a 1-minute schedule is one agent gap with the missing reports, and the interval stays 1 minute', () => {
    const st = emptyAgentGapState();
    const a = every(T0, 30, MIN);
    const b = every((a.at(-1) as number) + 180 * MIN, 30, MIN);
    expect(run(st, [...a, ...b])).to.deep.equal([{ cause: 'agent', startMs: (a.at(-1) as number) + MIN, durationS: 179 * 60, missingReports: 179 }]);
    expect(st.intervalMs).to.equal(MIN);
  });

  it('agent restarts (a cycle a few seconds late) and a collector restart (state reloaded from JSON) after `once` runs give no gap', () => {
    let st = emptyAgentGapState();
    const a = [...every(T0 - 30 * MIN, 4, 3_000), ...every(T0, 20, MIN)];
    const restarted = [(a.at(-1) as number) + MIN + 7_000, ...every((a.at(-1) as number) + 2 * MIN, 20, MIN)];
    expect(run(st, [...a, ...restarted])).to.deep.equal([]);
    st = JSON.parse(JSON.stringify(st)) as AgentGapState;
    expect(run(st, every((restarted.at(-1) as number) + MIN, 20, MIN), 46)).to.deep.equal([]);
  });

  it('keeps at most MAX_DELTAS intervals however long the agent runs', () => {
    const st = emptyAgentGapState();
    run(st, every(T0, 500, MIN));
    expect(st.deltas?.length).to.equal(MAX_DELTAS);
  });
});
