import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Report } from '../../../protocol/index.js';
import { ProxySpool } from '../../../agent/proxy/spool.js';
import { tmpFiles } from './fixtures.js';

const report = (school: string, seq: number): Report => ({
  v: 1,
  school,
  agent: 'proxy-test',
  seq,
  collectedAt: 1_796_206_605_238 + seq,
  sentAt: 1_796_206_605_300 + seq,
  // A non-ASCII tag: the frame's length must count UTF-8 bytes, not characters.
  measurements: [{ name: 'iface', tags: { device: 'gateway', ifname: `千兆口${seq}`, role: 'lan' }, fields: { oper_up: 1, in_bps: 1000 * seq } }],
  agentKind: 'proxy',
});

describe('agent/proxy/spool', () => {
  it('ProxySpool stores 300 reports appended at once in one segment, frame by frame, and reads every one back, also after a restart', async () => {
    const { dir } = tmpFiles({});
    const spool = new ProxySpool({ dir, maxSpoolBytes: 64 * 1024 * 1024, segmentBytes: 16 * 1024 * 1024 });
    const schools = Array.from({ length: 100 }, (_, k) => `16401${String(k).padStart(5, '0')}`);
    const all = schools.flatMap((s) => [1, 2, 3].map((seq) => report(s, seq)));
    await Promise.all(all.map((r) => spool.append(r)));
    expect(spool.waitingReports()).to.equal(300);
    const first = schools[0] as string;
    expect(await spool.view(first).read([1, 2, 3])).to.deep.equal([1, 2, 3].map((seq) => report(first, seq)));
    await spool.close();
    const segs = readdirSync(dir).filter((n) => n.endsWith('.seg'));
    expect(segs).to.have.length(1);
    const again = new ProxySpool({ dir, maxSpoolBytes: 64 * 1024 * 1024, segmentBytes: 16 * 1024 * 1024 });
    expect(again.waitingReports()).to.equal(300);
    for (const s of [first, schools[99] as string]) expect(await again.view(s).pending(10)).to.deep.equal([1, 2, 3].map((seq) => report(s, seq)));
    expect(statSync(join(dir, segs[0] as string)).size).to.equal(again.stats(first).bytes * 100);
    await again.close();
  });

  it("ProxySpool over maxSpoolBytesPerSchool drops that school's oldest reports, counted, keeps the other schools', and a restart does not bring them back", async () => {
    const { dir } = tmpFiles({});
    const frame = async () => {
      const probe = new ProxySpool({ dir: join(dir, 'probe'), maxSpoolBytes: 64 * 1024 * 1024, segmentBytes: 16 * 1024 * 1024 });
      await probe.append(report('1640100001', 1));
      const b = probe.stats('1640100001').bytes;
      await probe.close();
      return b;
    };
    const one = await frame();
    const dropped: [string, number[]][] = [];
    const opts = { dir, maxSpoolBytes: 64 * 1024 * 1024, maxSpoolBytesPerSchool: one * 3 + one / 2, segmentBytes: 16 * 1024 * 1024, onDropped: (s: string, q: number[]) => dropped.push([s, q]) };
    const spool = new ProxySpool(opts);
    const stuck = '1640100001';
    const fine = '1640100002';
    const results = [];
    for (let seq = 1; seq <= 6; seq++) {
      results.push(await spool.append(report(stuck, seq)));
      if (seq <= 2) await spool.append(report(fine, seq));
    }
    expect(spool.view(stuck).waiting()).to.deep.equal([4, 5, 6]);
    expect(spool.view(fine).waiting()).to.deep.equal([1, 2]);
    expect(results.flatMap((r) => r.dropped)).to.deep.equal([1, 2, 3]);
    expect(dropped).to.deep.equal([[stuck, [1]], [stuck, [2]], [stuck, [3]]]);
    await spool.close();
    const again = new ProxySpool(opts);
    expect(again.view(stuck).waiting()).to.deep.equal([4, 5, 6]);
    expect(again.view(fine).waiting()).to.deep.equal([1, 2]);
    expect(again.lastSeq(stuck)).to.equal(6);
    await again.close();
  });

  it('ProxySpool keeps spool.minFreeBytes free: it drops the oldest segments first, and a report it cannot store is counted as dropped, never sent after a restart', async () => {
    const { dir } = tmpFiles({});
    const spoolBytes = () => readdirSync(dir).filter((n) => n.endsWith('.seg')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    let diskBytes = 1_000_000;
    const dropped: [string, number[]][] = [];
    const opts = { dir, maxSpoolBytes: 64 * 1024 * 1024, segmentBytes: 1, minFreeBytes: 100_000, freeBytes: () => diskBytes - spoolBytes(), onDropped: (s: string, q: number[]) => dropped.push([s, q]) };
    const spool = new ProxySpool(opts);
    const school = '1640100001';
    for (let seq = 1; seq <= 3; seq++) await spool.append(report(school, seq));
    expect(spool.view(school).waiting()).to.deep.equal([1, 2, 3]);
    const frame = spool.stats(school).bytes / 3;
    // Free space half a report short of the reserve plus one report: deleting one segment is not enough, two are.
    diskBytes = 100_000 + spoolBytes() - frame / 2;
    expect((await spool.append(report(school, 4))).dropped).to.deep.equal([1, 2]);
    expect(spool.view(school).waiting()).to.deep.equal([3, 4]);
    diskBytes = 0;
    const r = await spool.append(report(school, 5));
    expect(r.dropped).to.include(5);
    expect(spool.view(school).waiting()).to.not.include(5);
    expect(dropped.flatMap(([, q]) => q)).to.include.members([1, 2, 5]);
    await spool.close();
    diskBytes = 1_000_000_000;
    const again = new ProxySpool(opts);
    expect(again.view(school).waiting()).to.not.include(5);
    expect(again.lastSeq(school)).to.equal(5);
    await again.close();
  });
});
