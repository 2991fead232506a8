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
});
