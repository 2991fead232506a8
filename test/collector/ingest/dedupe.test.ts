import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { DedupeStore } from '../../../collector/ingest/dedupe.js';

const S = '1640104001';

describe('collector/ingest/dedupe', () => {
  it('record() then has(): held sequences survive a restart, heldThrough() is the contiguous high-water mark', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cl-dedupe-')), 'dedupe.log');
    const d = new DedupeStore({ path });
    d.record(S, 'gw-01', [1, 2, 3, 7]);
    d.record(S, 'gw-02', [1]);
    expect(d.heldThrough(S, 'gw-01')).to.equal(3);
    d.close();
    appendFileSync(path, '{"s":"1640104001","a":"gw-01","q":[9'); // a line torn by a crash
    const again = new DedupeStore({ path });
    expect([1, 2, 3, 4, 7, 9].map((q) => again.has(S, 'gw-01', q))).to.deep.equal([true, true, true, false, true, false]);
    expect(again.has(S, 'gw-02', 1)).to.equal(true);
    again.record(S, 'gw-01', [4, 5, 6]);
    expect(again.heldThrough(S, 'gw-01')).to.equal(7);
  });

  it('keeps at most maxRecentPerAgent sequences above the mark, forgetting the lowest', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cl-dedupe-')), 'dedupe.log');
    const d = new DedupeStore({ path, maxRecentPerAgent: 3 });
    d.record(S, 'a', [10, 11, 12, 13]);
    expect([10, 11, 12, 13].map((q) => d.has(S, 'a', q))).to.deep.equal([false, true, true, true]);
  });
});
