import { expect } from 'chai';
import { TIERS, bandwidthOf, measuredUntilMs, tierOf } from '../../../collector/views/coverage/tiers.js';

const NOW = Date.parse('2026-11-23T16:00:00+08:00');
const DAY = 86_400_000;
const FRESH = 7 * DAY;

describe('collector/views/coverage/tiers: bandwidthOf()', () => {
  it('a fresh throughput test decides, with its date; a 10 Mbit/s GEO school is below the 100 tier whatever its port', () => {
    const bw = bandwidthOf({ throughputMbps: 10, throughputAtMs: NOW - DAY, contractedMbps: 1000 }, NOW, FRESH);
    expect(bw).to.deep.equal({ source: 'measured', mbps: 10, atMs: NOW - DAY });
    expect(TIERS[tierOf(bw.mbps!)]?.json).to.equal('2');
  });

  it('an old or missing test gives the contracted bandwidth, saying why, never "measured"', () => {
    const old = bandwidthOf({ throughputMbps: 500, throughputAtMs: NOW - FRESH - 1, contractedMbps: 20 }, NOW, FRESH);
    expect(old).to.include({ source: 'contracted', mbps: 20 });
    expect(old.reason).to.include('older than 7 days').and.include('contracted bandwidth from the registry');
    const none = bandwidthOf({ contractedMbps: 20 }, NOW, FRESH);
    expect(none).to.include({ source: 'contracted', mbps: 20 });
    expect(none.reason).to.include('no throughput test yet');
  });

  it('without a test and without a contract the bandwidth is unknown with the reason', () => {
    expect(bandwidthOf({ throughputMbps: null, throughputAtMs: null, contractedMbps: Number.NaN }, NOW, FRESH)).to.deep.include({ source: 'unknown', mbps: null });
    expect(bandwidthOf({ contractedMbps: 0 }, NOW, FRESH).reason).to.include('no contracted bandwidth');
  });

  it('measuredUntilMs() is the test time plus the freshness window, -Infinity without a test', () => {
    expect(measuredUntilMs({ throughputMbps: 5, throughputAtMs: NOW, contractedMbps: 1 }, FRESH)).to.equal(NOW + FRESH);
    expect(measuredUntilMs({ contractedMbps: 1 }, FRESH)).to.equal(-Infinity);
  });
});
