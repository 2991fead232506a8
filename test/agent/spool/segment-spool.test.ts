import { appendFileSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { SegmentSpool } from '../../../agent/spool/segment-spool.js';
import { T0, makeReport, typicalReport } from '../../helpers/reports.js';

const dirOf = () => mkdtempSync(join(tmpdir(), 'cl-spool-'));
const open = (dir: string, over: Partial<ConstructorParameters<typeof SegmentSpool>[0]> = {}) =>
  new SegmentSpool({ dir, maxSpoolBytes: 1 << 20, segmentBytes: 8 * 1024, ...over });
const segs = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();

describe('agent/spool/segment-spool', () => {
  it('append() then read() returns the reports, oldest first, across several segments', async () => {
    const dir = dirOf();
    const s = open(dir);
    for (let i = 1; i <= 20; i++) await s.append(typicalReport({ seq: i, collectedAt: T0 + i * 60_000 }));
    expect(segs(dir).length).to.be.greaterThan(2);
    expect(s.waiting()).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await s.pending(3)).map((r) => r.seq)).to.deep.equal([1, 2, 3]);
    expect((await s.read([7]))[0]).to.deep.equal(typicalReport({ seq: 7, collectedAt: T0 + 7 * 60_000 }));
  });

  it('nothing acknowledged is offered again after a restart, and fully acknowledged segments are deleted', async () => {
    const dir = dirOf();
    const s = open(dir);
    for (let i = 1; i <= 20; i++) await s.append(typicalReport({ seq: i }));
    await s.remove([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20]);
    s.close();
    const again = open(dir);
    expect(again.waiting()).to.deep.equal([11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(again.lastSeq()).to.equal(20);
    expect(Number(segs(dir)[0]?.slice(0, 16))).to.be.greaterThan(1);
  });

  it('a torn tail (a write cut short) is cut off and every complete record is kept', async () => {
    const dir = dirOf();
    const s = open(dir, { segmentBytes: 1 << 20 });
    for (let i = 1; i <= 5; i++) await s.append(makeReport({ seq: i }));
    s.close();
    const seg = join(dir, segs(dir)[0] as string);
    const size = statSync(seg).size;
    appendFileSync(seg, Buffer.from([0, 0, 1, 0, 9, 9, 9])); // half a header of a 6th record
    const again = open(dir, { committedSeq: 5 });
    expect(again.waiting()).to.deep.equal([1, 2, 3, 4, 5]);
    expect(again.recovery).to.include({ tornBytes: 7 });
    expect(again.recovery.lost).to.deep.equal([]);
    expect(statSync(seg).size).to.equal(size);
    await again.append(makeReport({ seq: 6 }));
    expect((await open(dir).read([6]))[0]?.seq).to.equal(6);
  });

  it('random bytes inside a segment: the segment is moved to corrupt/, intact records are kept, the damaged ones are reported lost', async () => {
    const dir = dirOf();
    const s = open(dir, { segmentBytes: 1 << 20 });
    for (let i = 1; i <= 10; i++) await s.append(makeReport({ seq: i }));
    s.close();
    const seg = join(dir, segs(dir)[0] as string);
    const recordBytes = statSync(seg).size / 10;
    const fd = openSync(seg, 'r+');
    writeSync(fd, Buffer.from('garbage!garbage!'), 0, 16, Math.floor(recordBytes * 3.5)); // inside record 4
    closeSync(fd);
    const again = open(dir, { committedSeq: 10 });
    expect(again.recovery.corruptSegments).to.have.length(1);
    expect(again.recovery.lost).to.deep.equal([4]);
    expect(again.waiting()).to.deep.equal([1, 2, 3, 5, 6, 7, 8, 9, 10]);
    expect(readdirSync(join(dir, 'corrupt'))).to.have.length(1);
    again.close();
    // A second start neither finds damage nor counts the loss again.
    const third = open(dir, { committedSeq: 10 });
    expect(third.recovery).to.deep.include({ corruptSegments: [], lost: [] });
  });

  it('a record lost at the tail of the newest segment is counted when the sequence file says it was collected', async () => {
    const dir = dirOf();
    const s = open(dir, { segmentBytes: 1 << 20 });
    for (let i = 1; i <= 3; i++) await s.append(makeReport({ seq: i }));
    s.close();
    const seg = join(dir, segs(dir)[0] as string);
    const buf = readFileSync(seg);
    buf.fill(0x5a, buf.length - 20);
    writeFileSync(seg, buf);
    const again = open(dir, { committedSeq: 3 });
    expect(again.waiting()).to.deep.equal([1, 2]);
    expect(again.recovery.lost).to.deep.equal([3]);
    expect(again.lastSeq()).to.equal(3);
  });

  it('when maxSpoolBytes is reached the oldest segment goes first and every unacknowledged report in it is returned as dropped', async () => {
    const dir = dirOf();
    const s = open(dir, { maxSpoolBytes: 64 * 1024, segmentBytes: 8 * 1024 });
    const dropped: number[] = [];
    for (let i = 1; i <= 600; i++) dropped.push(...(await s.append(makeReport({ seq: i }))).dropped);
    const kept = s.waiting();
    expect(dropped.length).to.be.greaterThan(0);
    expect([...dropped, ...kept]).to.deep.equal(Array.from({ length: 600 }, (_, i) => i + 1));
    expect((await s.stats()).bytes).to.be.at.most(64 * 1024);
  });

  it('quarantine() keeps the report for inspection and never offers it again', async () => {
    const dir = dirOf();
    const s = open(dir);
    await s.append(makeReport({ seq: 1 }));
    await s.quarantine([1], 'COL_ERR_INVALID_PAYLOAD');
    expect(s.waiting()).to.deep.equal([]);
    expect(readdirSync(join(dir, 'quarantine'))).to.include.members(['0000000000000001.json', '0000000000000001.json.reason']);
    expect(open(dir).waiting()).to.deep.equal([]);
  });

  it('imports reports left by the old one-file-per-report spool', async () => {
    const dir = dirOf();
    writeFileSync(join(dir, '0000000000000007.json'), JSON.stringify(makeReport({ seq: 7 })));
    const s = open(dir);
    expect(s.recovery.imported).to.equal(1);
    expect(s.waiting()).to.deep.equal([7]);
    expect(readdirSync(dir).filter((n) => n.endsWith('.json'))).to.deep.equal([]);
  });

  it('a typical school report takes about 3 KB framed on disk, so the default limit holds more than 7 days at a 1-minute cycle', async () => {
    const dir = dirOf();
    const s = open(dir);
    await s.append(typicalReport({ seq: 1 }));
    const perReport = (await s.stats()).bytes;
    const { DEFAULT_MAX_SPOOL_BYTES } = await import('../../../agent/spool/config.js');
    expect(perReport).to.be.within(1000, 5000);
    expect(DEFAULT_MAX_SPOOL_BYTES / perReport).to.be.greaterThan(7 * 1440);
  });
});
