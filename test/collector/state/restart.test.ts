/** A restart loads the state row by row into memory; the request path then answers from memory alone. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { TokenStore, issueTokens } from '../../../collector/auth/tokens.js';
import { DedupeStore, putHeld } from '../../../collector/ingest/dedupe.js';
import { openStateDb } from '../../../collector/state/db.js';

describe('collector/state: restart', () => {
  it('TokenStore.verify() and DedupeStore.has()/heldThrough() answer from what start loaded: they keep working with the database closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-restart-'));
    let state = openStateDb({ stateDir: dir });
    const schools = Array.from({ length: 20_000 }, (_, i) => String(1100000000 + i));
    const issued: [string, string][] = [];
    issueTokens({ state, schools, onIssued: (t, r) => issued.push([t, r.school]) });
    new DedupeStore({ state });
    state.transaction((db) => putHeld(db, schools.slice(0, 5000).map((school, i) => ({ school, agent: 'gw-01', held: { hwm: 100 + i, ranges: [200 + i, 210 + i] } }))));
    await state.close();

    state = openStateDb({ stateDir: dir });
    const tokens = new TokenStore({ state });
    const dedupe = new DedupeStore({ state });
    await state.close();
    expect(issued.every(([t, school]) => tokens.verify(t)?.school === school)).to.equal(true);
    expect(dedupe.size).to.equal(5000);
    expect(schools.slice(0, 5000).every((s, i) => dedupe.heldThrough(s, 'gw-01') === 100 + i && dedupe.has(s, 'gw-01', 205 + i) && !dedupe.has(s, 'gw-01', 150 + i))).to.equal(true);
  });
});
