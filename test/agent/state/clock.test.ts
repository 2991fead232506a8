import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { collectReport } from '../../../agent/cycle.js';
import { ClockStore } from '../../../agent/state/clock.js';
import { SequenceStore } from '../../../agent/state/sequence.js';
import { T0 } from '../../helpers/reports.js';

const dir = () => mkdtempSync(join(tmpdir(), 'cl-state-'));

describe('agent/state', () => {
  it('ClockStore.observe() measures the offset against the middle of the exchange and keeps it across restarts', () => {
    const d = dir();
    const c = new ClockStore(d);
    expect(c.observe({ serverTimeMs: T0 + 3_600_000, sentAtMs: T0, answeredAtMs: T0 + 600 })).to.deep.equal({ offsetMs: 3_599_700, measuredAtMs: T0 + 600 });
    expect(new ClockStore(d).get()?.offsetMs).to.equal(3_599_700);
  });

  it('collectReport() corrects and flags a report when the clock is off by more than 2 minutes, and only records a small offset', async () => {
    const base = { probes: [], school: '1640104001', agent: 'gw-01', seq: 1, now: () => T0, log: pino({ level: 'silent' }), spool: { reports: 0, bytes: 0 }, counters: { droppedReports: 0, sentBytes: 0 }, startedAtMs: T0 };
    const wrong = await collectReport({ ...base, clockOffsetMs: -86_400_000 });
    expect(wrong).to.include({ collectedAt: T0 - 86_400_000, clockCorrected: true, clockOffsetMs: -86_400_000 });
    const fine = await collectReport({ ...base, clockOffsetMs: 1500 });
    expect(fine.collectedAt).to.equal(T0);
    expect(fine).not.to.have.property('clockCorrected');
    expect(fine.measurements.find((m) => m.name === 'agent')?.fields).to.include({ clock_offset_ms: 1500 });
  });

  it('SequenceStore.commit() only moves forward and survives a restart', () => {
    const d = dir();
    const s = new SequenceStore(d);
    expect(s.current()).to.equal(0);
    s.commit(5);
    s.commit(3);
    expect(new SequenceStore(d).current()).to.equal(5);
  });
});
