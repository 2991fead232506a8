import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { collectReport } from '../../../agent/cycle.js';
import { AnchoredClock, ClockStore } from '../../../agent/state/clock.js';
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

describe('agent/state/clock: steps and jumps', () => {
  it('ClockStore trusts an offset that jumps by more than 2 minutes only after 3 agreeing answers, and ignores a slow exchange', () => {
    const c = new ClockStore(dir());
    c.observe({ serverTimeMs: T0, sentAtMs: T0, answeredAtMs: T0 });
    const jumped = { serverTimeMs: T0 + 3_600_000, sentAtMs: T0, answeredAtMs: T0 };
    expect(c.observe(jumped)?.offsetMs).to.equal(0);
    expect(c.observe(jumped)?.offsetMs).to.equal(0);
    expect(c.observe(jumped)?.offsetMs).to.equal(3_600_000);
    expect(c.observe({ serverTimeMs: T0 + 99_000_000, sentAtMs: T0, answeredAtMs: T0 + 60_000 })?.offsetMs).to.equal(3_600_000);
  });

  it('ClockStore sets an unreadable clock.json aside and measures again', () => {
    const d = dir();
    writeFileSync(join(d, 'clock.json'), 'garbage');
    const lines: string[] = [];
    const c = new ClockStore(d, { log: pino({ level: 'info' }, { write: (s: string) => void lines.push(s) }) });
    expect(c.get()).to.equal(undefined);
    expect(lines.join('')).to.contain('AGT_ERR_STATE_CORRUPT');
    expect(readdirSync(d).some((f) => f.startsWith('clock.json.corrupt-'))).to.equal(true);
  });

  it('recordStep() corrects the reports collected before a step (per epoch), moves the offset with it, and survives a restart', () => {
    const d = dir();
    const c = new ClockStore(d);
    c.observe({ serverTimeMs: T0 + 86_400_000, sentAtMs: T0, answeredAtMs: T0 });
    c.recordStep({ epoch: 'aaaaaaaaaaaaaaaa', uptoSeq: 3, deltaMs: 86_400_000 });
    expect(c.get()?.offsetMs).to.equal(0);
    const again = new ClockStore(d);
    expect([1, 3, 4].map((q) => again.correctionFor('aaaaaaaaaaaaaaaa', q))).to.deep.equal([86_400_000, 86_400_000, 0]);
    expect(again.correctionFor('bbbbbbbbbbbbbbbb', 1)).to.equal(0);
  });

  it('AnchoredClock keeps time from the monotonic clock across a wall-clock step and check() reports the step once', () => {
    let wall = T0;
    let mono = 0;
    const c = new AnchoredClock({ wallNow: () => wall, monoNow: () => mono });
    wall += 1000;
    mono += 1000;
    expect([c.now(), c.check()]).to.deep.equal([T0 + 1000, 0]);
    wall += 86_400_000 + 500;
    mono += 500;
    expect(c.now()).to.equal(T0 + 1500);
    expect(c.check()).to.equal(86_400_000);
    expect([c.now(), c.check()]).to.deep.equal([T0 + 86_401_500, 0]);
  });

  it('AnchoredClock.check() takes a suspension (the monotonic clock stopped, time since boot did not) for no step', () => {
    let wall = T0;
    let mono = 0;
    let boot = 10_000;
    const c = new AnchoredClock({ wallNow: () => wall, monoNow: () => mono, bootNow: () => boot });
    wall += 3_600_000;
    boot += 3_600_000;
    mono += 50;
    expect(c.check()).to.equal(0);
    expect(c.now()).to.equal(T0 + 3_600_000);
    wall += 86_400_000;
    expect(c.check()).to.equal(86_400_000);
  });
});
