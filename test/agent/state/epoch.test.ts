import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { EpochStore } from '../../../agent/state/epoch.js';
import { SequenceStore } from '../../../agent/state/sequence.js';
import { AgentStats } from '../../../agent/state/stats.js';

const dir = () => mkdtempSync(join(tmpdir(), 'cl-epoch-'));
const logged = () => {
  const lines: Record<string, unknown>[] = [];
  return { log: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }), lines };
};

describe('agent/state/epoch', () => {
  it('EpochStore makes a random epoch for a new state and keeps it across restarts', () => {
    const d = dir();
    const a = new EpochStore(d, { legacyState: false });
    expect(a.started).to.equal(true);
    expect(a.epoch).to.match(/^[0-9a-f]{16}$/);
    const b = new EpochStore(d, { legacyState: false });
    expect([b.started, b.epoch]).to.deep.equal([false, a.epoch]);
    expect(new EpochStore(dir(), { legacyState: false }).epoch).to.not.equal(a.epoch);
  });

  it('EpochStore keeps an upgraded agent (a seq file, no epoch file) in the legacy epoch', () => {
    const d = dir();
    writeFileSync(join(d, 'seq'), '41\n');
    const seq = new SequenceStore(d);
    const e = new EpochStore(d, { legacyState: seq.existed && !seq.damaged });
    expect([seq.current(), e.epoch, e.started]).to.deep.equal([41, undefined, false]);
  });

  it('SequenceStore sets a garbage seq file aside with AGT_ERR_STATE_CORRUPT, starts from 0 and says damaged; EpochStore then starts a new epoch', () => {
    const d = dir();
    const first = new EpochStore(d, { legacyState: false }).epoch;
    writeFileSync(join(d, 'seq'), 'NaN\u0000');
    const { log, lines } = logged();
    const seq = new SequenceStore(d, { log, now: () => 1234 });
    expect([seq.current(), seq.damaged]).to.deep.equal([0, true]);
    expect(readdirSync(d)).to.include('seq.corrupt-1234');
    expect(lines.map((l) => l.code)).to.deep.equal(['AGT_ERR_STATE_CORRUPT']);
    const e = new EpochStore(d, { legacyState: false, renew: seq.damaged, log });
    expect(e.started).to.equal(true);
    expect(e.epoch).to.not.equal(first);
    seq.commit(7);
    expect(new SequenceStore(d).current()).to.equal(7);
  });

  it('EpochStore sets a damaged epoch file aside and starts a new epoch', () => {
    const d = dir();
    writeFileSync(join(d, 'epoch'), '\u00ff\u00fe not an epoch');
    const { log, lines } = logged();
    const e = new EpochStore(d, { legacyState: true, log });
    expect(e.epoch).to.match(/^[0-9a-f]{16}$/);
    expect(lines.map((l) => l.code)).to.include('AGT_ERR_STATE_CORRUPT');
    expect(readdirSync(d).some((f) => f.startsWith('epoch.corrupt-'))).to.equal(true);
  });

  it('renew() starts a new epoch and sends the old one\'s reports under it, also after a restart; at most 4 aliases', () => {
    const d = dir();
    const e = new EpochStore(d, { legacyState: false });
    const old = e.epoch as string;
    const next = e.renew();
    expect([e.sendAs(old), e.sendAs(next), e.sendAs('ffffffffffffffff')]).to.deep.equal([next, next, 'ffffffffffffffff']);
    const again = new EpochStore(d, { legacyState: false });
    expect([again.epoch, again.sendAs(old)]).to.deep.equal([next, next]);
    for (let i = 0; i < 10; i++) again.renew();
    expect(readFileSync(join(d, 'epoch'), 'utf8').trim().split('\n')).to.have.length(5);
  });

  it('AgentStats sets an unreadable stats.json aside and counts from zero', () => {
    const d = dir();
    writeFileSync(join(d, 'stats.json'), '{"droppedReports": 3');
    const { log, lines } = logged();
    expect(new AgentStats(d, { log }).get()).to.deep.equal({ droppedReports: 0, sentBytes: 0 });
    expect(lines.map((l) => l.code)).to.deep.equal(['AGT_ERR_STATE_CORRUPT']);
  });
});
