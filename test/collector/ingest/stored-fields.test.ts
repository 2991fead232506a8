import { expect } from 'chai';
import fc from 'fast-check';
import { DERIVED_FIELDS, storedFields } from '../../../collector/ingest/stored-fields.js';
import { LineCache, reportToLines, reportToPoints } from '../../../collector/ingest/points.js';
import { ifaceDeltas } from '../../../agent/probes/snmp/counters.js';
import { computePingStats, type ParsedPing } from '../../../agent/probes/ping/parse.js';
import type { Report } from '../../../protocol/report.js';

const tags = { school: '1640104001', province: '640000', city: '640100', county: '640104', link: 'fiber' };
const entry = (m: string, f: string) => DERIVED_FIELDS.find((d) => d.measurement === m && d.field === f)!;
/** The table's InfluxQL evaluated in JS on one point's fields (what the derivation gives back). */
const utilOf = (bps: number, speed: number) => (bps / speed) * 100;
const receivedOf = (sent: number, loss: number) => Math.round((sent * (100 - loss)) / 100);

describe('collector/ingest/stored-fields', () => {
  it('the full agent\'s utilisation (ifaceDeltas) is always derivable from the rate and speed it sends, within its rounding', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 40n }), fc.integer({ min: 1, max: 1e5 }), fc.integer({ min: 1, max: 600_000 }), (delta, speedKbps, wallMs) => {
        const speed = speedKbps * 1000;
        const prev = { bits: 64 as const, inOctets: 0n, outOctets: 0n };
        const cur = { bits: 64 as const, inOctets: delta, outOctets: delta / 3n };
        const wallSec = wallMs / 1000;
        const f = ifaceDeltas(prev, cur, { kind: 'ok', wallSec, deviceSec: wallSec }, speed).fields;
        for (const dir of ['in', 'out'] as const) {
          const pct = f[`${dir}_util_pct`];
          if (pct === undefined) continue;
          const fields = { ...f, speed_bps: speed };
          expect(entry('iface', `${dir}_util_pct`).derivable(fields), JSON.stringify(fields)).to.equal(true);
          expect(Math.abs(utilOf(f[`${dir}_bps`] as number, speed) - pct)).to.be.at.most(0.005 + 50 / speed + 1e-9);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the agents\' received is given back exactly by round(sent × (100 − loss_pct) / 100) for every sent up to 1,000', () => {
    const wrong: string[] = [];
    const d = entry('ping', 'received');
    for (let sent = 1; sent <= 1000; sent++) {
      for (let received = 0; received <= sent; received++) {
        // agent/tiny/lib/ping.awk: sprintf("%.3f", 100 * (sent - n) / sent) + 0
        const losses = [Number(((100 * (sent - received)) / sent).toFixed(3))];
        if (sent <= 40) {
          const replies = Array.from({ length: received }, (_, seq) => ({ seq, rttMs: 1, from: 'h', duplicate: false }));
          const p: ParsedPing = { replies, icmpErrors: [], errors: [], unrecognized: [], summary: { transmitted: sent, received, duplicates: 0, errors: 0 } };
          losses.push(computePingStats(p, { count: sent }).lossPct);
        }
        for (const loss of losses) if (receivedOf(sent, loss) !== received || !d.derivable({ sent, received, loss_pct: loss })) wrong.push(`${received}/${sent} at ${loss} %`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('a value that is not what the derivation gives back is stored as sent; one that is, is left out', () => {
    expect(storedFields('iface', { in_bps: 5e7, speed_bps: 1e8, in_util_pct: 50, out_bps: 1e6, out_util_pct: 7 })).to.deep.equal({ in_bps: 5e7, speed_bps: 1e8, out_bps: 1e6, out_util_pct: 7 });
    // No speed, no rate: nothing to derive from.
    expect(storedFields('iface', { in_util_pct: 50 })).to.deep.equal({ in_util_pct: 50 });
    expect(storedFields('iface', { in_bps: 5e7, speed_bps: 0, in_util_pct: 50 })).to.deep.equal({ in_bps: 5e7, speed_bps: 0, in_util_pct: 50 });
    expect(storedFields('ping', { loss_pct: 40, sent: 5, received: 3, result_code: 0 })).to.deep.equal({ loss_pct: 40, sent: 5, result_code: 0 });
    expect(storedFields('ping', { loss_pct: 0, sent: 5, received: 3, result_code: 0 })).to.deep.equal({ loss_pct: 0, sent: 5, received: 3, result_code: 0 });
    expect(storedFields('ping', { loss_pct: 100, sent: 0, received: 0, result_code: 3 })).to.deep.equal({ loss_pct: 100, sent: 0, received: 0, result_code: 3 });
    // Other measurements (and a modem field that happens to be called `received`) are untouched.
    const modem = { received: 3, snr_db: 9 };
    expect(storedFields('modem', modem)).to.equal(modem);
  });

  it('the hot path and the general path leave out the same fields', () => {
    const r: Report = {
      v: 1, school: '1640104001', agent: 'gw', seq: 1, collectedAt: 1_795_420_800_000, sentAt: 1_795_420_800_000,
      measurements: [
        { name: 'ping', tags: { target: 't', role: 'internet' }, fields: { loss_pct: 40, sent: 5, received: 3, result_code: 0 } },
        { name: 'ping', tags: { target: 'u', role: 'internet' }, fields: { loss_pct: 40, sent: 5, received: 2, result_code: 0 } },
        { name: 'iface', tags: { device: 'gw', ifname: 'wan0', role: 'wan' }, fields: { in_bps: 12345678, out_bps: 1, speed_bps: 1e8, in_util_pct: 12.35, out_util_pct: 0, oper_up: 1 } },
      ],
    };
    const lines = reportToLines({ report: r, tags, receivedAtMs: r.sentAt, cache: new LineCache() });
    expect(lines.slice(0, 3).map((l) => l.split(' ')[1])).to.deep.equal(['loss_pct=40,sent=5,result_code=0', 'loss_pct=40,sent=5,received=2,result_code=0', 'in_bps=12345678,out_bps=1,speed_bps=100000000,oper_up=1']);
    expect(reportToPoints({ report: r, tags, receivedAtMs: r.sentAt }).slice(0, 3).map((p) => Object.keys(p.fields).sort())).to.deep.equal([
      ['loss_pct', 'result_code', 'sent'],
      ['loss_pct', 'received', 'result_code', 'sent'],
      ['in_bps', 'oper_up', 'out_bps', 'speed_bps'],
    ]);
  });
});
