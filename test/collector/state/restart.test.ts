/**
 * A restart reads the state incrementally: tokens row by row into a map at start, per-agent state
 * (dedupe, gap detector) only when the agent first reports. The request path then answers from memory.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { TokenStore, issueTokens } from '../../../collector/auth/tokens.js';
import { createGapsModule, putGapStates } from '../../../collector/gaps/module.js';
import { DedupeStore, putHeld } from '../../../collector/ingest/dedupe.js';
import { openStateDb } from '../../../collector/state/db.js';
import { MemorySink } from '../../helpers/memory-sink.js';

const agentsOf = (n: number) => Array.from({ length: n }, (_, i) => String(1100000000 + i));

describe('collector/state: restart', () => {
  it("start reads no per-agent row: an agent's dedupe state is read on first use, and every agent is found", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-restart-'));
    let state = openStateDb({ stateDir: dir });
    const schools = agentsOf(5000);
    // The stores create their tables.
    new DedupeStore({ state });
    createGapsModule({ state, sink: new MemorySink(), tagsFor: () => undefined, held: () => true, log: pino({ level: 'silent' }), now: () => 0 });
    state.transaction((db) => {
      putHeld(db, schools.map((school, i) => ({ school, agent: 'gw-01', held: { hwm: 100 + i, ranges: [200 + i, 210 + i] } })));
      putGapStates(db, schools.map((school) => ({ school, agent: 'gw-01', state: { recent: [1, 0], checkedSeq: 1 } })));
    });
    await state.close();

    state = openStateDb({ stateDir: dir });
    const dedupe = new DedupeStore({ state });
    const gaps = createGapsModule({ state, sink: new MemorySink(), tagsFor: () => undefined, held: () => true, log: pino({ level: 'silent' }), now: () => 0, heartbeatMs: 60_000 });
    await gaps.start?.();
    expect([dedupe.size, gaps.agents]).to.deep.equal([0, 0]);
    expect([dedupe.heldThrough(schools[7] as string, 'gw-01'), dedupe.has(schools[7] as string, 'gw-01', 212), dedupe.has(schools[7] as string, 'gw-01', 150)]).to.deep.equal([107, true, false]);
    expect(dedupe.size).to.equal(1);
    expect(schools.every((s, i) => dedupe.heldThrough(s, 'gw-01') === 100 + i && dedupe.has(s, 'gw-01', 205 + i) && !dedupe.has(s, 'gw-01', 150 + i))).to.equal(true);
    expect(dedupe.heldThrough('1999999999', 'gw-01')).to.equal(0);
    await gaps.stop?.();
    await state.close();
  });

  for (const background of [false, true]) {
    it(`TokenStore fills its map by iterating rows${background ? ' in chunks that yield, after the constructor returned' : ' at start'}: verify() of every stored token then works with the database closed`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cl-restart-'));
      let state = openStateDb({ stateDir: dir });
      const issued: [string, string][] = [];
      issueTokens({ state, schools: agentsOf(20_000), onIssued: (t, r) => issued.push([t, r.school]) });
      await state.close();
      state = openStateDb({ stateDir: dir });
      const tokens = new TokenStore({ state, background, chunkRows: 3000 });
      let yielded = false;
      setImmediate(() => (yielded = true));
      await tokens.loaded;
      expect(yielded).to.equal(background);
      await state.close();
      expect(issued.every(([t, school]) => tokens.verify(t)?.school === school)).to.equal(true);
    });
  }
});
