import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { computePingStats, jitterMs, parsePing, parsePingOutput, roundRtt, type PingStats } from '../../../../agent/probes/ping/parse.js';
import { FIXTURE_DIR, FIXTURES, fixture } from './fixtures.js';

/**
 * Expected numbers for every recorded fixture, worked out by hand from the reply lines of the
 * files (not from ping's summary). RTT lists are the counted replies in sequence order, duplicates
 * left out. If the fixtures are re-recorded, these numbers must be worked out again.
 */
interface Expected {
  code: 0 | 1 | 2 | 3;
  sent: number;
  received: number;
  loss: number;
  rtts?: number[];
  /** Mean |RTT(i) − RTT(i−1)| of `rtts`, by hand. */
  jitter?: number;
  duplicates?: number;
  /** Allowed difference of min/avg/max/jitter (RTTs from 10 ms up are rounded to 0.1 ms); default 5e-4. */
  tolerance?: number;
}

const EXPECTED: Record<string, Expected> = {
  // 0.023 0.042 0.041 0.033 0.038: |Δ| = .019 .001 .008 .005 → .033 / 4
  'iputils/success': { code: 0, sent: 5, received: 5, loss: 0, rtts: [0.023, 0.042, 0.041, 0.033, 0.038], jitter: 0.00825 },
  // 10 replies in 2 s; only icmp_seq 1-5 count: |Δ| = .013 .011 0 .008 → .032 / 4
  'iputils/success-deadline': { code: 0, sent: 5, received: 5, loss: 0, rtts: [0.016, 0.029, 0.04, 0.04, 0.048], jitter: 0.008 },
  // |Δ| = .023 .008 → .031 / 2
  'iputils/ipv6': { code: 0, sent: 3, received: 3, loss: 0, rtts: [0.018, 0.041, 0.033], jitter: 0.0155 },
  // icmp_seq 4-6 lost; consecutive replies 3 → 7 count as neighbours: |Δ| = .051 .005 0 .001 .003 .001 → .061 / 6
  'iputils/partial-loss': { code: 0, sent: 10, received: 7, loss: 30, rtts: [0.085, 0.034, 0.039, 0.039, 0.04, 0.043, 0.042], jitter: 0.061 / 6 },
  'iputils/total-loss': { code: 2, sent: 3, received: 0, loss: 100 },
  // 5 transmitted in the 1 s deadline, 3 of them counted
  'iputils/total-loss-deadline': { code: 2, sent: 3, received: 0, loss: 100 },
  'iputils/unresolvable': { code: 1, sent: 3, received: 0, loss: 100 },
  'iputils/unresolvable-dns-down': { code: 1, sent: 3, received: 0, loss: 100 },
  // (DUP!) replies left out: .050 .077 .075 → |Δ| = .027 .002 → .029 / 2
  'iputils/duplicates': { code: 0, sent: 3, received: 3, loss: 0, rtts: [0.05, 0.077, 0.075], jitter: 0.0145, duplicates: 2 },
  // broadcast: iputils prints no (DUP!) mark; the repeated icmp_seq gives them away. .044 .087 .081 → .043 .006
  'iputils/duplicates-broadcast': { code: 0, sent: 3, received: 3, loss: 0, rtts: [0.044, 0.087, 0.081], jitter: 0.0245, duplicates: 2 },
  'iputils/host-unreachable': { code: 2, sent: 3, received: 0, loss: 100 },
  'iputils/network-unreachable': { code: 3, sent: 3, received: 0, loss: 100 },
  'iputils/permission-denied': { code: 3, sent: 3, received: 0, loss: 100 },
  // .045 .047 .068 .083 .039: |Δ| = .002 .021 .015 .044 → .082 / 4
  'busybox/success': { code: 0, sent: 5, received: 5, loss: 0, rtts: [0.045, 0.047, 0.068, 0.083, 0.039], jitter: 0.0205 },
  // seq 0-4 of 10 count: |Δ| = .041 .007 .008 .006 → .062 / 4
  'busybox/success-deadline': { code: 0, sent: 5, received: 5, loss: 0, rtts: [0.044, 0.085, 0.078, 0.07, 0.064], jitter: 0.0155 },
  'busybox/ipv6': { code: 0, sent: 3, received: 3, loss: 0, rtts: [0.038, 0.066, 0.064], jitter: 0.015 },
  // seq 3-5 lost: |Δ| = .024 .003 .002 .040 .036 .010 → .115 / 6
  'busybox/partial-loss': { code: 0, sent: 10, received: 7, loss: 30, rtts: [0.033, 0.057, 0.054, 0.052, 0.092, 0.056, 0.066], jitter: 0.115 / 6 },
  'busybox/total-loss': { code: 2, sent: 3, received: 0, loss: 100 },
  'busybox/total-loss-deadline': { code: 2, sent: 3, received: 0, loss: 100 },
  'busybox/unresolvable': { code: 1, sent: 3, received: 0, loss: 100 },
  'busybox/unresolvable-dns-down': { code: 1, sent: 3, received: 0, loss: 100 },
  // .061 .118 .084 → .057 .034 → .091 / 2
  'busybox/duplicates': { code: 0, sent: 3, received: 3, loss: 0, rtts: [0.061, 0.118, 0.084], jitter: 0.0455, duplicates: 2 },
  // .250 .097 .095 → .153 .002 → .155 / 2
  'busybox/duplicates-broadcast': { code: 0, sent: 3, received: 3, loss: 0, rtts: [0.25, 0.097, 0.095], jitter: 0.0775, duplicates: 2 },
  'busybox/host-unreachable': { code: 2, sent: 3, received: 0, loss: 100 },
  'busybox/network-unreachable': { code: 3, sent: 3, received: 0, loss: 100 },
  'busybox/permission-denied': { code: 3, sent: 3, received: 0, loss: 100 },
  // timeoutMs 1000: icmp_seq 1-3 answered after ~1500 ms are late (lost), only 4 and 5 count although
  // ping's summary says 5 received, 0 % loss. 10.7 10.6 → |Δ| = .1
  'iputils/late-replies': { code: 0, sent: 5, received: 2, loss: 60, rtts: [10.7, 10.6], jitter: 0.1, tolerance: 0.05 },
  // seq 0-2 late; seq 3, 4 count: 10.836 12.519 → |Δ| = 1.683 (BusyBox also says 0 % loss)
  'busybox/late-replies': { code: 0, sent: 5, received: 2, loss: 60, rtts: [10.836, 12.519], jitter: 1.683, tolerance: 0.05 },
};

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function checkAgainst(stats: PingStats, e: Expected): void {
  expect(stats.resultCode, 'result code').to.equal(e.code);
  expect(stats.sent, 'sent').to.equal(e.sent);
  expect(stats.received, 'received').to.equal(e.received);
  expect(stats.lossPct, 'loss_pct').to.equal(e.loss);
  expect(stats.duplicates, 'duplicates').to.equal(e.duplicates ?? 0);
  if (e.rtts) {
    // Rounded to the microsecond: within 0.0005 ms of the exact value.
    const tol = e.tolerance ?? 5e-4;
    expect(stats.rttMinMs, 'min').to.be.closeTo(Math.min(...e.rtts), tol);
    expect(stats.rttMaxMs, 'max').to.be.closeTo(Math.max(...e.rtts), tol);
    expect(stats.rttAvgMs, 'avg').to.be.closeTo(sum(e.rtts) / e.rtts.length, tol);
    expect(stats.jitterMs, 'jitter').to.be.closeTo(e.jitter as number, tol + 1e-12);
  } else {
    expect(stats, 'no RTT without replies').to.not.have.any.keys('rttMinMs', 'rttAvgMs', 'rttMaxMs', 'jitterMs');
  }
}

describe('agent/probes/ping/parse', () => {
  it('roundRtt() keeps the resolution iputils prints: µs below 1 ms, 10 µs below 10 ms, 0.1 ms above', () => {
    expect([0.0456, 0.4564, 9.8765, 28.913, 612.345, 1999.96].map(roundRtt)).to.deep.equal([0.046, 0.456, 9.88, 28.9, 612.3, 2000]);
  });

  it('computePingStats() reports BusyBox µs RTTs at iputils resolution, computed from the unrounded replies', () => {
    const out = ['PING h (10.0.0.1): 56 data bytes', '64 bytes from 10.0.0.1: seq=0 ttl=64 time=28.913 ms', '64 bytes from 10.0.0.1: seq=1 ttl=64 time=30.027 ms', '', '--- h ping statistics ---', '2 packets transmitted, 2 packets received, 0% packet loss', 'round-trip min/avg/max = 28.913/29.470/30.027 ms'].join('\n');
    const s = computePingStats(parsePingOutput(out), { count: 2 });
    expect(s).to.include({ rttMinMs: 28.9, rttAvgMs: 29.5, rttMaxMs: 30, jitterMs: 1.11 });
  });

  it('every fixture on disk is in the manifest, and every manifest entry has expected numbers', () => {
    const onDisk = ['iputils', 'busybox'].flatMap((d) => readdirSync(join(FIXTURE_DIR, d)).map((f) => `${d}/${f}`));
    expect(onDisk.sort()).to.deep.equal(FIXTURES.map((f) => f.file).sort());
    expect(Object.keys(EXPECTED).sort()).to.deep.equal(FIXTURES.map((f) => `${f.flavour}/${f.name}`).sort());
  });

  for (const f of FIXTURES) {
    const e = EXPECTED[`${f.flavour}/${f.name}`] as Expected;
    it(`parsePing() reads ${f.file} as result_code ${e.code}, ${e.received}/${e.sent} received, loss ${e.loss}%`, () => {
      checkAgainst(parsePing(f.output, { count: f.count, ...(f.timeoutMs !== undefined && { timeoutMs: f.timeoutMs }) }), e);
    });
  }

  for (const f of FIXTURES) {
    it(`parsePingOutput() leaves no line of ${f.file} unrecognised`, () => {
      expect(parsePingOutput(f.output).unrecognized).to.deep.equal([]);
    });
  }

  it('computePingStats() counts a reply later than timeoutMs as lost, with iputils and BusyBox alike; ping’s summary says 0 % loss', () => {
    for (const flavour of ['iputils', 'busybox'] as const) {
      const p = parsePingOutput(fixture(flavour, 'late-replies').output);
      expect(p.summary?.lossPct, `${flavour} summary`).to.equal(0);
      const s = computePingStats(p, { count: 5, timeoutMs: 1000 });
      expect(s, flavour).to.include({ sent: 5, received: 2, lossPct: 60 });
      expect(s.rttMaxMs, `${flavour}: RTTs of the counted replies only`).to.be.below(20);
      // A reply exactly at the limit still counts; one beyond it does not.
      expect(computePingStats(p, { count: 5, timeoutMs: 1501 }).received).to.equal(3);
      expect(computePingStats(p, { count: 5, timeoutMs: 2000 }).received).to.equal(5);
    }
  });

  it('parsePingOutput() takes per-reply RTTs from the reply lines, 0-based for both flavours', () => {
    const ip = parsePingOutput(fixture('iputils', 'success').output);
    expect(ip.flavour).to.equal('iputils');
    expect(ip.replies.map((r) => r.seq)).to.deep.equal([0, 1, 2, 3, 4]);
    expect(ip.replies.map((r) => r.rttMs)).to.deep.equal([0.023, 0.042, 0.041, 0.033, 0.038]);
    expect(ip.replies[0]).to.deep.include({ from: '127.0.0.1', ttl: 64, duplicate: false });
    expect(ip.host).to.equal('127.0.0.1');
    const bb = parsePingOutput(fixture('busybox', 'success').output);
    expect(bb.flavour).to.equal('busybox');
    expect(bb.replies.map((r) => r.seq)).to.deep.equal([0, 1, 2, 3, 4]);
    expect(bb.replies.map((r) => r.rttMs)).to.deep.equal([0.045, 0.047, 0.068, 0.083, 0.039]);
  });

  it('parsePingOutput() reads IPv6 replies of both flavours', () => {
    for (const flavour of ['iputils', 'busybox'] as const) {
      const p = parsePingOutput(fixture(flavour, 'ipv6').output);
      expect(p.flavour).to.equal(flavour);
      expect(p.address).to.equal('::1');
      expect(p.replies.map((r) => r.from)).to.deep.equal(['::1', '::1', '::1']);
    }
  });

  it('parsePingOutput() reads the summary of both flavours, duplicates and ICMP errors included', () => {
    expect(parsePingOutput(fixture('iputils', 'duplicates').output).summary).to.deep.equal({
      transmitted: 3,
      received: 3,
      duplicates: 2,
      errors: 0,
      lossPct: 0,
      rtt: { minMs: 0.05, avgMs: 0.066, maxMs: 0.078, mdevMs: 0.012 },
    });
    expect(parsePingOutput(fixture('busybox', 'duplicates').output).summary).to.deep.include({ transmitted: 3, received: 3, duplicates: 2 });
    expect(parsePingOutput(fixture('iputils', 'host-unreachable').output).summary).to.deep.include({ transmitted: 3, received: 0, errors: 3, lossPct: 100 });
  });

  it('parsePingOutput() counts a (DUP!) reply once, as a duplicate, not as an extra reply', () => {
    for (const flavour of ['iputils', 'busybox'] as const) {
      const p = parsePingOutput(fixture(flavour, 'duplicates').output);
      expect(p.replies.map((r) => r.duplicate)).to.deep.equal([false, true, false, true, false]);
      expect(computePingStats(p, { count: 3 }).received).to.equal(3);
    }
  });

  it('parsePingOutput() treats a repeated sequence number as a duplicate even without the (DUP!) mark', () => {
    const p = parsePingOutput(fixture('iputils', 'duplicates-broadcast').output);
    expect(p.replies.map((r) => r.duplicate)).to.deep.equal([false, true, false, true, false]);
  });

  it('computePingStats() leaves duplicates out of the RTTs, unlike BusyBox whose summary includes them', () => {
    const p = parsePingOutput(fixture('busybox', 'duplicates').output);
    const s = computePingStats(p, { count: 3 });
    expect(s.rttMaxMs).to.equal(0.118); // the (DUP!) replies took 0.073 and 0.140 ms
    expect(p.summary?.rtt?.maxMs).to.equal(0.14);
  });

  it('parsePingOutput() reads iputils ICMP errors ("From … Destination Host Unreachable")', () => {
    const p = parsePingOutput(fixture('iputils', 'host-unreachable').output);
    expect(p.icmpErrors).to.deep.equal([
      { from: '10.99.0.2', seq: 0, message: 'Destination Host Unreachable' },
      { from: '10.99.0.2', seq: 1, message: 'Destination Host Unreachable' },
      { from: '10.99.0.2', seq: 2, message: 'Destination Host Unreachable' },
    ]);
    expect(computePingStats(p, { count: 3 }).reason).to.equal('Destination Host Unreachable');
  });

  it('parsePingOutput() recognises the unresolvable-name messages of glibc and BusyBox', () => {
    expect(parsePingOutput(fixture('iputils', 'unresolvable').output).unresolved).to.equal('no-such-host.campuslink.invalid: Name or service not known');
    expect(parsePingOutput(fixture('iputils', 'unresolvable-dns-down').output).unresolved).to.equal('no-such-host.campuslink.invalid: Temporary failure in name resolution');
    expect(parsePingOutput(fixture('busybox', 'unresolvable').output).unresolved).to.equal("bad address 'no-such-host.campuslink.invalid'");
    for (const line of ['ping: unknown host foo.invalid', 'ping: foo.invalid: No address associated with hostname', 'ping: foo.invalid: Name does not resolve']) {
      expect(parsePingOutput(line).unresolved, line).to.be.a('string');
    }
  });

  it('parsePingOutput() keeps error lines, and computePingStats() gives them as the reason of result_code 3', () => {
    const p = parsePingOutput(fixture('iputils', 'permission-denied').output);
    expect(p.errors).to.deep.equal(['socktype: SOCK_RAW', 'socket: Operation not permitted', '=> missing cap_net_raw+p capability or setuid?']);
    expect(computePingStats(p, { count: 3 }).reason).to.include('missing cap_net_raw');
    expect(parsePing(fixture('busybox', 'network-unreachable').output, { count: 3 }).reason).to.equal('sendto: Network is unreachable');
  });

  it('computePingStats() counts only the first `count` requests of a run with extra requests', () => {
    const p = parsePingOutput(fixture('iputils', 'success-deadline').output);
    expect(p.replies).to.have.length(10);
    expect(p.summary?.transmitted).to.equal(10);
    const s = computePingStats(p, { count: 5 });
    expect([s.sent, s.received]).to.deep.equal([5, 5]);
    expect(computePingStats(p, { count: 10 })).to.include({ sent: 10, received: 10 });
  });

  it('computePingStats() reports fewer requests sent when ping stopped before `count`', () => {
    const s = parsePing(fixture('iputils', 'host-unreachable').output, { count: 5 });
    expect(s).to.include({ resultCode: 2, sent: 3, received: 0, lossPct: 100 });
  });

  it('computePingStats() gives result_code 3 for empty or unreadable output, never a false "no reply"', () => {
    expect(parsePing('', { count: 4 })).to.include({ resultCode: 3, sent: 4, received: 0, lossPct: 100, reason: 'ping printed nothing' });
    const garbled = parsePing('PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\nsomething else entirely\n', { count: 2 });
    expect(garbled).to.include({ resultCode: 3, reason: 'unrecognised ping output: something else entirely' });
  });

  it('parsePingOutput() rejects reply lines whose numbers are not valid, instead of inventing values', () => {
    const text = [
      'PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.',
      '64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.5 ms',
      '64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=1e309 ms',
      '64 bytes from 127.0.0.1: icmp_seq=3 ttl=999 time=0.5 ms',
      '64 bytes from 127.0.0.1: icmp_seq=x ttl=64 time=0.5 ms',
      '64 bytes from 127.0.0.1: icmp_seq=0 ttl=64 time=0.5 ms',
      '64 bytes from 127.0.0.1: icmp_seq=4 ttl=64 time=-3 ms',
      '64 bytes from 127.0.0.1: icmp_seq=5 ttl=64 time=9999999 ms',
    ].join('\n');
    const p = parsePingOutput(text);
    expect(p.replies.map((r) => r.seq)).to.deep.equal([0]);
    expect(p.unrecognized).to.have.length(6);
  });

  it('parsePingOutput() accepts CRLF line ends, whole-millisecond times and a reply without time', () => {
    const p = parsePingOutput('PING h (10.0.0.1) 56(84) bytes of data.\r\n64 bytes from 10.0.0.1: icmp_seq=1 ttl=50 time=612 ms\r\n8 bytes from 10.0.0.1: icmp_seq=2 ttl=50\r\n');
    expect(p.replies).to.deep.equal([
      { seq: 0, rttMs: 612, ttl: 50, from: '10.0.0.1', duplicate: false },
      { seq: 1, ttl: 50, from: '10.0.0.1', duplicate: false },
    ]);
    expect(computePingStats(p, { count: 2 })).to.include({ received: 2, rttMinMs: 612, rttMaxMs: 612 });
  });

  it('computePingStats() counts a late reply that arrives after later ones (out of order) under its own request', () => {
    const text = [
      'PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.',
      '64 bytes from 10.0.0.1: icmp_seq=1 ttl=50 time=600 ms',
      '64 bytes from 10.0.0.1: icmp_seq=3 ttl=50 time=610 ms',
      '64 bytes from 10.0.0.1: icmp_seq=2 ttl=50 time=1900 ms',
      '',
      '--- 10.0.0.1 ping statistics ---',
      '3 packets transmitted, 3 received, 0% packet loss, time 2002ms',
    ].join('\n');
    // In sending order: 600, 1900, 610 → |Δ| = 1300, 1290.
    expect(parsePing(text, { count: 3 })).to.include({ resultCode: 0, received: 3, lossPct: 0, jitterMs: 1295 });
  });

  it('jitterMs() is the mean absolute difference of consecutive values, undefined below 2 values', () => {
    expect(jitterMs([])).to.equal(undefined);
    expect(jitterMs([5])).to.equal(undefined);
    expect(jitterMs([10, 20])).to.equal(10);
    expect(jitterMs([10, 20, 10, 10])).to.be.closeTo(20 / 3, 1e-12);
    expect(jitterMs([600, 620, 2000, 640])).to.be.closeTo((20 + 1380 + 1360) / 3, 1e-9);
  });

  it('computePingStats() rounds loss_pct of a third to 3 decimals', () => {
    const text = 'PING h (10.0.0.1) 56(84) bytes of data.\n64 bytes from 10.0.0.1: icmp_seq=1 ttl=50 time=1.5 ms\n64 bytes from 10.0.0.1: icmp_seq=3 ttl=50 time=2.5 ms\n3 packets transmitted, 2 received, 33.3333% packet loss, time 2002ms\n';
    expect(parsePing(text, { count: 3 })).to.include({ sent: 3, received: 2, lossPct: 33.333, jitterMs: 1 });
  });
});
