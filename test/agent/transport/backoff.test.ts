import { expect } from 'chai';
import { Backoff } from '../../../agent/transport/backoff.js';
import { CONTRACTED_MBPS, deliveryPolicy } from '../../../agent/transport/policy.js';
import { collectorSectionSchema } from '../../../agent/transport/config.js';

describe('agent/transport/backoff', () => {
  it('next() doubles the ceiling per failure up to maxMs, with full jitter', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 10_000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6].map(() => b.next())).to.deep.equal([1000, 2000, 4000, 8000, 10000, 10000]);
    const low = new Backoff({ baseMs: 1000, maxMs: 10_000, random: () => 0 });
    expect(low.next()).to.equal(0);
  });

  it('next() never waits less than the Retry-After the collector asked for, and reset() starts over', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 10_000, random: () => 0.5 });
    expect(b.next(30_000)).to.equal(30_000);
    b.next();
    b.reset();
    expect(b.next()).to.equal(500);
  });
});

describe('agent/transport/policy', () => {
  it('deliveryPolicy() batches satellite uploads (≤ 5 min) and caps a GEO backlog at a tenth of 2 Mbps', () => {
    const collector = collectorSectionSchema.parse({});
    expect(deliveryPolicy({ collector, linkType: 'sat-geo' })).to.deep.equal({ uploadIntervalMs: 240_000, backlogBytesPerSec: 25_000 });
    expect(deliveryPolicy({ collector, linkType: 'fiber' }).uploadIntervalMs).to.equal(0);
    expect(CONTRACTED_MBPS['sat-geo']).to.equal(2);
    expect(deliveryPolicy({ collector: collectorSectionSchema.parse({ backlogBytesPerSec: 1234, uploadIntervalMs: 1000 }), linkType: 'sat-geo' })).to.deep.equal({ uploadIntervalMs: 1000, backlogBytesPerSec: 1234 });
  });
});
