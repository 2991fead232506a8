import { expect } from 'chai';
import { reportToPoints } from '../../../collector/ingest/points.js';
import { T0, makeReport } from '../../helpers/reports.js';

const tags = { school: '1640104001', province: '640000', city: '640100', county: '640104', link: 'sat-geo' };

describe('collector/ingest/points', () => {
  it('reportToPoints() stamps every point with collectedAt, so a replay writes identical series and timestamps', () => {
    const r = makeReport({ seq: 3 });
    const a = reportToPoints({ report: r, tags, receivedAtMs: T0 + 2000 });
    const b = reportToPoints({ report: { ...r, sentAt: T0 + 90_000 }, tags, receivedAtMs: T0 + 91_000 });
    expect(a.map((p) => [p.measurement, p.tags, p.timestampMs])).to.deep.equal(b.map((p) => [p.measurement, p.tags, p.timestampMs]));
  });

  it('a report from a badly wrong clock is shifted by the receive/sent difference and flagged, not dropped', () => {
    const r = makeReport({ collectedAt: T0 - 3_600_000, sentAt: T0 - 3_600_000 + 1000 });
    const points = reportToPoints({ report: r, tags, receivedAtMs: T0 + 1000 });
    expect(points.every((p) => p.timestampMs === T0)).to.equal(true);
    expect(points.find((p) => p.measurement === 'report')?.fields).to.include({ clock_corrected: 1, clock_offset_ms: 3_600_000 });
  });

  it('a report the agent already corrected keeps its times and carries the agent offset', () => {
    const r = makeReport({ clockCorrected: true, clockOffsetMs: -7_200_000 });
    const rep = reportToPoints({ report: r, tags, receivedAtMs: T0 + 5000 }).find((p) => p.measurement === 'report');
    expect(rep?.timestampMs).to.equal(T0);
    expect(rep?.fields).to.include({ clock_corrected: 1, clock_offset_ms: -7_200_000 });
  });
});
