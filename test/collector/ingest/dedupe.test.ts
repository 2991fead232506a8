import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { DEDUPE_MIGRATIONS, DedupeStore, addHeld, formatRanges, freshReports, holds, parseRanges, streamSeq, type HeldSequences } from '../../../collector/ingest/dedupe.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';

const S = '1640104001';
const tempState = (): { dir: string; state: StateDb } => {
  const dir = mkdtempSync(join(tmpdir(), 'cl-dedupe-'));
  return { dir, state: openStateDb({ stateDir: dir }) };
};

describe('collector/ingest/dedupe', () => {
  it('record() then has(): held sequences survive a restart, heldThrough() is the contiguous high-water mark', async () => {
    const { dir, state } = tempState();
    const d = new DedupeStore({ state });
    await d.record(S, 'gw-01', [1, 2, 3, 7]);
    await d.record(S, 'gw-02', [1]);
    expect(d.heldThrough(S, 'gw-01')).to.equal(3);
    await state.close();
    const state2 = openStateDb({ stateDir: dir });
    const again = new DedupeStore({ state: state2 });
    expect([1, 2, 3, 4, 7, 9].map((q) => again.has(S, 'gw-01', q))).to.deep.equal([true, true, true, false, true, false]);
    expect(again.has(S, 'gw-02', 1)).to.equal(true);
    await again.record(S, 'gw-01', [4, 5, 6]);
    expect(again.heldThrough(S, 'gw-01')).to.equal(7);
    await state2.close();
  });

  it('record()s of one tick share one commit, and two batches of one agent in it build on each other', async () => {
    const { state } = tempState();
    const d = new DedupeStore({ state });
    const before = state.health().commits;
    await Promise.all([d.record(S, 'a', [1, 2]), d.record(S, 'a', [3]), d.record(S, 'b', [1]), d.record(S, 'a', [5])]);
    expect(state.health().commits - before).to.equal(1);
    expect([d.heldThrough(S, 'a'), d.has(S, 'a', 5), d.has(S, 'a', 4), d.heldThrough(S, 'b')]).to.deep.equal([3, true, false, 1]);
    expect(state.db.prepare("SELECT hwm, ranges FROM dedupe_agents WHERE agent = 'a'").get()).to.deep.equal({ hwm: 3, ranges: '5' });
    await state.close();
  });

  it('record() rejects with the state database error and then holds nothing of it', async () => {
    const { state } = tempState();
    const d = new DedupeStore({ state });
    await d.record(S, 'a', [1]);
    await state.close();
    const err = await d.record(S, 'a', [2]).then(() => undefined, (e: unknown) => e);
    expect(err).to.have.property('name', 'StateDbError');
    expect(err).to.have.property('retryable', true);
    expect([d.has(S, 'a', 1), d.has(S, 'a', 2)]).to.deep.equal([true, false]);
  });

  it('a dropped sequence keeps memory to one range however many reports follow it, and at most maxRangesPerAgent ranges, forgetting the lowest', async () => {
    const { state } = tempState();
    const d = new DedupeStore({ state, maxRangesPerAgent: 3 });
    await d.record(S, 'a', [1, 2]);
    await d.record(S, 'a', Array.from({ length: 5000 }, (_, i) => 4 + i));
    expect(state.db.prepare("SELECT hwm, ranges FROM dedupe_agents WHERE agent = 'a'").get()).to.deep.equal({ hwm: 2, ranges: '4-5003' });
    await d.record(S, 'a', [6000, 6002, 6004]);
    expect([d.has(S, 'a', 4), d.has(S, 'a', 5003), d.has(S, 'a', 6000), d.has(S, 'a', 6004), d.heldThrough(S, 'a')]).to.deep.equal([false, false, true, true, 2]);
    await state.close();
  });

  it('addHeld()/holds() agree with a plain set of sequences (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 20 }), { maxLength: 20 }), (batches) => {
        const s: HeldSequences = { hwm: 0, ranges: [] };
        const plain = new Set<number>();
        for (const b of batches) {
          addHeld(s, b, { maxRanges: 1000 });
          for (const q of b) plain.add(q);
          let hwm = 0;
          while (plain.has(hwm + 1)) hwm++;
          expect(s.hwm).to.equal(hwm);
          for (let q = 1; q <= 201; q++) expect(holds(s, q), `seq ${q}`).to.equal(plain.has(q));
          expect(parseRanges(formatRanges(s.ranges))).to.deep.equal(s.ranges);
        }
      }),
    );
  });

  it('epochs are separate sequence spaces: a new epoch of an agent holds nothing of the old one, and both survive a restart', async () => {
    const { dir, state } = tempState();
    const d = new DedupeStore({ state });
    await d.record(S, 'gw-01', [1, 2, 3], { epoch: 'aaaaaaaaaaaaaaaa', fromMs: 10, toMs: 30, atMs: 31 });
    expect([d.has(S, 'gw-01', 1, 'aaaaaaaaaaaaaaaa'), d.has(S, 'gw-01', 1, 'bbbbbbbbbbbbbbbb'), d.has(S, 'gw-01', 1)]).to.deep.equal([true, false, false]);
    await d.record(S, 'gw-01', [1], { epoch: 'bbbbbbbbbbbbbbbb', fromMs: 40, toMs: 40, atMs: 41 });
    await state.close();
    const state2 = openStateDb({ stateDir: dir });
    const again = new DedupeStore({ state: state2 });
    expect([again.heldThrough(S, 'gw-01', 'aaaaaaaaaaaaaaaa'), again.heldThrough(S, 'gw-01', 'bbbbbbbbbbbbbbbb'), again.heldThrough(S, 'gw-01')]).to.deep.equal([3, 1, 0]);
    expect(again.epochs(S, 'gw-01').map((e) => [e.epoch, e.firstMs, e.lastMs])).to.deep.equal([
      ['aaaaaaaaaaaaaaaa', 10, 30],
      ['bbbbbbbbbbbbbbbb', 40, 40],
    ]);
    await state2.close();
  });

  it('keeps at most maxEpochsPerAgent epochs per agent, forgetting the one seen least recently, in memory and in the table', async () => {
    const { state } = tempState();
    const d = new DedupeStore({ state, maxEpochsPerAgent: 3 });
    for (let i = 0; i < 10; i++) await d.record(S, 'gw-01', [1], { epoch: `epoch${String(i).padStart(4, '0')}`, atMs: i });
    expect(d.epochs(S, 'gw-01').map((e) => e.epoch)).to.deep.equal(['epoch0007', 'epoch0008', 'epoch0009']);
    expect(state.db.prepare("SELECT count(*) FROM dedupe_agents WHERE agent = 'gw-01'").pluck().get()).to.equal(3);
    await state.close();
  });

  it('a state database of the collector before epochs is migrated: its agents are held in the legacy epoch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-dedupe-'));
    const state = openStateDb({ stateDir: dir });
    state.migrate('ingest.dedupe', DEDUPE_MIGRATIONS.slice(0, 1));
    state.transaction((db) => db.prepare("INSERT INTO dedupe_agents (school, agent, hwm, ranges) VALUES (?, 'gw-01', 41, '45-46')").run(S));
    const d = new DedupeStore({ state });
    expect([d.heldThrough(S, 'gw-01'), d.has(S, 'gw-01', 46), d.has(S, 'gw-01', 46, 'aaaaaaaaaaaaaaaa')]).to.deep.equal([41, true, false]);
    await state.close();
  });

  it('freshReports() keeps, in order, the first of each epoch and seq the ledger does not hold, in small and large batches alike', () => {
    const report = fc.record({ seq: fc.integer({ min: 1, max: 6 }), epoch: fc.constantFrom(undefined, '', 'aaaaaaaaaaaaaaaa') });
    fc.assert(
      fc.property(fc.array(report, { maxLength: 14 }), fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { maxLength: 3 }), (reports, held) => {
        const ledger = { has: (_s: string, _a: string, seq: number, epoch?: string) => held.includes(seq) && (epoch ?? '') === '', record: () => undefined };
        const expected = reports.filter((r, i) => !(held.includes(r.seq) && (r.epoch ?? '') === '') && reports.findIndex((o) => streamSeq(o) === streamSeq(r)) === i);
        const got = freshReports(ledger, S, 'gw-01', reports);
        expect(got).to.have.length(expected.length);
        got.forEach((r, i) => expect(r).to.equal(expected[i]));
      }),
      { numRuns: 500 },
    );
  });
});
