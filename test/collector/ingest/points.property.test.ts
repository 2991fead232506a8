import { expect } from 'chai';
import fc from 'fast-check';
import { LineCache, reportToLines, reportToPoints, reportsToBlock, type RegistryTags } from '../../../collector/ingest/points.js';
import { LineWriter, blockLines, toLineProtocol } from '../../../collector/sink/line-protocol.js';
import { reportSchema, type Report } from '../../../protocol/index.js';
import { registryTags, reorderKeys, report } from '../../helpers/report-arbitraries.js';

/** Lines, or the error message when the report cannot be written. */
function attempt(f: () => string[]): { lines: string[] } | { error: string } {
  try {
    return { lines: f() };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

describe('collector/ingest/points reportToLines (property)', () => {
  it('reportToLines() of a report as sent gives byte for byte the lines of toLineProtocol over reportToPoints() of the schema output, or the same error', () => {
    // One cache for every run, as in the collector: what one report leaves in it must not change another's lines.
    const cache = new LineCache();
    fc.assert(
      fc.property(
        report(),
        registryTags,
        fc.integer({ min: -3 * 3600_000, max: 3 * 3600_000 }),
        fc.constantFrom(undefined, 0, 600_000, Infinity),
        fc.nat(),
        (r, tags: RegistryTags, receivedOffsetMs, maxClockSkewMs, seed) => {
          const sent = reorderKeys(JSON.parse(JSON.stringify(r)) as Report, seed);
          const receivedAtMs = r.sentAt + receivedOffsetMs;
          const parsed = reportSchema.parse(sent);
          const today = attempt(() => reportToPoints({ report: parsed, tags, receivedAtMs, maxClockSkewMs }).map(toLineProtocol));
          const fast = attempt(() => reportToLines({ report: sent, tags, receivedAtMs, maxClockSkewMs, cache }));
          expect(fast).to.deep.equal(today);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('reportToLines() writes the registry tags, the agent, the collection time and a report point (not ping.received: InfluxDB derives it)', () => {
    const r: Report = {
      v: 1, school: '1640104001', agent: 'gw 1', seq: 7, collectedAt: 1_795_420_800_000, sentAt: 1_795_420_801_000,
      measurements: [{ name: 'ping', tags: { target: 'a,b=c', role: 'isp' }, fields: { loss_pct: 0, sent: 5, received: 5, result_code: 0, rtt_avg_ms: 1.5 } }],
    };
    const tags = { school: '1640104001', province: '640000', city: '640100', county: '', link: 'sat-geo' };
    expect(reportToLines({ report: r, tags, receivedAtMs: 1_795_420_802_000, cache: new LineCache() })).to.deep.equal([
      'ping,agent=gw\\ 1,city=640100,link=sat-geo,province=640000,role=isp,school=1640104001,target=a\\,b\\=c rtt_avg_ms=1.5,loss_pct=0,sent=5,result_code=0 1795420800000',
      'report,agent=gw\\ 1,city=640100,link=sat-geo,province=640000,school=1640104001 lag_s=2,points=1,seq=7 1795420800000',
    ]);
  });

  it('reportsToBlock() of a batch is the lines of its reports in order, a report on the general path (a backslash in a tag value) between fast ones included', () => {
    const base = { v: 1 as const, school: '1640104001', agent: 'gw', collectedAt: 1_795_420_800_000, sentAt: 1_795_420_800_000 };
    const inv = (seq: number, cls: string): Report => ({ ...base, seq, collectedAt: base.collectedAt + seq * 60_000, measurements: [{ name: 'inventory', tags: { class: cls }, fields: { count: seq } }] });
    const reports = [inv(1, 'pc'), inv(2, 'a\\b'), inv(3, 'ap')];
    const tags = { school: '1640104001', province: '640000', city: '640100', county: '640104', link: 'fiber' };
    const receivedAtMs = base.sentAt + 300_000;
    const each = reports.flatMap((report) => reportToPoints({ report, tags, receivedAtMs }).map(toLineProtocol));
    const writer = new LineWriter({ initialBytes: 64 });
    const block = reportsToBlock({ reports, tags, receivedAtMs, cache: new LineCache(), writer });
    expect(blockLines(block)).to.deep.equal(each);
    expect(each[2]).to.include('class=a\\b');
    // The writer is ready for the next upload.
    expect(blockLines(reportsToBlock({ reports: reports.slice(2), tags, receivedAtMs, cache: new LineCache(), writer }))).to.deep.equal(each.slice(4));
  });

  it('reportToLines() refuses a tag value InfluxDB 1.x cannot store with the message toLineProtocol gives', () => {
    const r: Report = {
      v: 1, school: '1640104001', agent: 'gw', seq: 1, collectedAt: 1_795_420_800_000, sentAt: 1_795_420_800_000,
      measurements: [{ name: 'inventory', tags: { class: 'pc\\' }, fields: { count: 3 } }],
    };
    const tags = { school: '1640104001', province: '640000', city: '640100', county: '640104', link: 'fiber' };
    expect(() => reportToLines({ report: r, tags, receivedAtMs: 1_795_420_800_000, cache: new LineCache() })).to.throw('value of tag class of inventory "pc\\\\" has a backslash');
  });

  it('LineCache holds a bounded number of layouts and field keys whatever a client sends', () => {
    const cache = new LineCache();
    for (let i = 0; i < 20_000; i++) {
      cache.template(cache.baseKeys([`school`]), `m${i}`, { [`t${i}`]: `v` });
      cache.fieldKey(`f${i}`);
    }
    expect(cache.templates).to.be.at.most(1024);
    expect(cache.fieldKeys.size).to.be.at.most(4096);
  });
});
