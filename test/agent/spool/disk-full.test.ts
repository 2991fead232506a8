import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { SegmentSpool } from '../../../agent/spool/segment-spool.js';
import { typicalReport } from '../../helpers/reports.js';
import { canMount, mountTmpfs, type Tmpfs } from './tmpfs.js';

const segs = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();
const segBytes = (dir: string) => segs(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

describe('agent/spool on a full filesystem (a real tmpfs)', function () {
  this.timeout(30_000);
  let fs: Tmpfs | undefined;
  before(function () {
    if (!canMount()) throw new Error('needs root to mount a tmpfs (CI runs as root)');
  });
  afterEach(() => {
    fs?.unmount();
    fs = undefined;
  });

  const open = (dir: string, over: Partial<ConstructorParameters<typeof SegmentSpool>[0]> = {}) =>
    new SegmentSpool({ dir, maxSpoolBytes: 64 << 20, segmentBytes: 8 * 1024, minFreeBytes: 0, ...over });

  it('append() detects a write the full disk cut short: the report is returned as dropped, no torn record is left, and a restart counts nothing again', async () => {
    fs = mountTmpfs(256 * 1024);
    const dir = join(fs.dir, 'spool');
    const s = open(dir, { segmentBytes: 1 << 20 });
    for (let i = 1; i <= 3; i++) expect((await s.append(typicalReport({ seq: i }))).dropped).to.deep.equal([]);
    const good = segBytes(dir);
    fs.fill('filler');
    const r = await s.append(typicalReport({ seq: 4 }));
    expect(r.dropped).to.deep.equal([4]);
    expect(segBytes(dir), 'the segment is cut back to its last complete record').to.equal(good);
    expect(s.waiting()).to.deep.equal([1, 2, 3]);
    expect(s.lastSeq(), 'a dropped sequence is never reused').to.equal(4);
    // Space comes back before the restart: the "done" record of the dropped report is written then.
    rmSync(join(fs.dir, 'filler'));
    s.close();
    const again = open(dir, { committedSeq: 4 });
    expect(again.recovery).to.deep.include({ tornBytes: 0, corruptSegments: [] });
    expect(again.recovery.lost, 'the dropped report was counted once, at the time').to.deep.equal([]);
    expect(again.waiting()).to.deep.equal([1, 2, 3]);
    expect((await again.append(typicalReport({ seq: 5 }))).dropped).to.deep.equal([]);
    again.close();
  });

  it('append() keeps minFreeBytes free: once the reserve is reached the oldest segments are dropped for new reports, and the filesystem never fills', async () => {
    fs = mountTmpfs(256 * 1024);
    const dir = join(fs.dir, 'spool');
    const s = open(dir, { minFreeBytes: 96 * 1024 });
    const dropped: number[] = [];
    for (let i = 1; i <= 60; i++) {
      dropped.push(...(await s.append(typicalReport({ seq: i }))).dropped);
      expect(fs.free(), `free after report ${i}`).to.be.at.least(96 * 1024 - 8 * 1024);
    }
    expect(dropped.length).to.be.greaterThan(0);
    expect(dropped, 'oldest first').to.deep.equal([...dropped].sort((a, b) => a - b));
    expect([...dropped, ...s.waiting()].sort((a, b) => a - b), 'every report is either held or counted').to.deep.equal(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(s.waiting().at(-1)).to.equal(60);
    s.close();
  });

  it('remove() on a full disk keeps the acknowledgements in memory, deletes the acknowledged segments, and writes the acknowledgements in the space that frees', async () => {
    fs = mountTmpfs(256 * 1024);
    const dir = join(fs.dir, 'spool');
    const s = open(dir);
    for (let i = 1; i <= 12; i++) await s.append(typicalReport({ seq: i }));
    const before = segs(dir).length;
    expect(before).to.be.greaterThan(2);
    fs.fill('filler');
    await s.remove([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(s.waiting(), 'never offered again while the agent runs').to.deep.equal([9, 10, 11, 12]);
    expect(segs(dir).length).to.be.lessThan(before);
    await s.remove([9, 10, 11, 12]);
    expect(s.waiting()).to.deep.equal([]);
    s.close();
    const again = open(dir, { committedSeq: 12 });
    expect(again.waiting(), 'after a restart nothing acknowledged comes back').to.deep.equal([]);
    expect(again.recovery.lost).to.deep.equal([]);
    again.close();
  });
});
