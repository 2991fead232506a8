import { expect } from 'chai';
import { applyTimeWindow } from '../../../collector/ingest/time-window.js';
import { makeReport } from '../../helpers/reports.js';

const NOW = Date.UTC(2026, 11, 2, 4, 0, 0);
const DAY = 86_400_000;

describe('collector/ingest/time-window', () => {
  it('leaves reports inside [now - maxBacklogMs, now + futureGraceMs] as they are, a 20-day backlog included', () => {
    const reports = [makeReport({ seq: 1, collectedAt: NOW - 20 * DAY, sentAt: NOW }), makeReport({ seq: 2, collectedAt: NOW + 60_000, sentAt: NOW + 61_000 })];
    const r = applyTimeWindow(reports, NOW);
    expect(r.ok && r.reports).to.equal(reports);
  });

  it('refuses a collection time far in the future or past that the clock offset does not explain, naming reports.<i>.collectedAt', () => {
    const r = applyTimeWindow([makeReport({ seq: 1, collectedAt: NOW - 60_000, sentAt: NOW }), makeReport({ seq: 2, collectedAt: Date.UTC(2286, 0, 1), sentAt: NOW }), makeReport({ seq: 3, collectedAt: NOW - 40 * DAY, sentAt: NOW })], NOW);
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      expect(r.issues.map((i) => i.path)).to.deep.equal(['reports.1.collectedAt', 'reports.2.collectedAt']);
      expect(r.message).to.contain('ingest.maxBacklogMs');
    }
  });

  it('refuses seconds sent as milliseconds (a 1970 time) when sentAt is in ms', () => {
    const r = applyTimeWindow([makeReport({ seq: 1, collectedAt: Math.round(NOW / 1000), sentAt: NOW })], NOW);
    expect(r.ok).to.equal(false);
  });

  it('corrects and flags a report whose clock offset explains it (an agent that trusted a wrong serverTime); a 1970 report that points.ts shifts by its skew passes as it is', () => {
    const boot = makeReport({ seq: 1, collectedAt: 5_000, sentAt: 65_000 });
    const wrong = makeReport({ seq: 2, collectedAt: NOW + 365 * DAY - 60_000, sentAt: NOW + 1000, clockCorrected: true, clockOffsetMs: 365 * DAY });
    const r = applyTimeWindow([boot, wrong], NOW);
    expect(r.ok).to.equal(true);
    if (r.ok) {
      expect(r.corrected).to.equal(1);
      expect(r.reports[0]).to.equal(boot);
      expect(r.reports[1]).to.include({ collectedAt: NOW - 61_000, clockCorrected: true, clockOffsetMs: -1000 });
    }
  });

  it('honours configured bounds', () => {
    expect(applyTimeWindow([makeReport({ seq: 1, collectedAt: NOW - 2 * DAY, sentAt: NOW })], NOW, { maxBacklogMs: DAY }).ok).to.equal(false);
    expect(applyTimeWindow([makeReport({ seq: 1, collectedAt: NOW + 200_000, sentAt: NOW + 200_000 - 1 })], NOW, { futureGraceMs: 0, maxClockSkewMs: 600_000 }).ok).to.equal(false);
  });
});
