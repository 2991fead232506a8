import { expect } from 'chai';
import { createSystemPingRunner, pingArgs, pingDeadlineSeconds, type PingRequest } from '../../../../agent/probes/ping/runner.js';
import { ensureIpv6Loopback, hasBusybox } from './real-ping.js';

const fast = (host: string, ipv6 = false): PingRequest => ({ host, ipv6, count: 3, intervalMs: 200, timeoutMs: 500 });

describe('agent/probes/ping/runner', () => {
  it('pingArgs() passes -n, the address family, the interval in seconds and a deadline, and no -c', () => {
    expect(pingArgs(fast('127.0.0.1'))).to.deep.equal(['-n', '-4', '-i', '0.2', '-w', '1', '127.0.0.1']);
    expect(pingArgs({ host: '::1', ipv6: true, count: 5, intervalMs: 1000, timeoutMs: 4000 })).to.deep.equal(['-n', '-6', '-i', '1', '-w', '8', '::1']);
  });

  it('pingDeadlineSeconds() leaves the last counted request its whole timeout, in whole seconds', () => {
    // 4 intervals of 1 s, then 4 s for the 5th request's reply.
    expect(pingDeadlineSeconds({ count: 5, intervalMs: 1000, timeoutMs: 4000 })).to.equal(8);
    // 2 × 0.2 s + 0.5 s = 0.9 s → 1 s (ping's -w takes whole seconds).
    expect(pingDeadlineSeconds({ count: 3, intervalMs: 200, timeoutMs: 500 })).to.equal(1);
    expect(pingDeadlineSeconds({ count: 1, intervalMs: 200, timeoutMs: 100 })).to.equal(1);
    for (let count = 1; count <= 50; count += 7) {
      for (const intervalMs of [200, 333, 1000]) {
        for (const timeoutMs of [100, 1500, 4000]) {
          const d = pingDeadlineSeconds({ count, intervalMs, timeoutMs }) * 1000;
          expect(d - (count - 1) * intervalMs).to.be.at.least(timeoutMs);
        }
      }
    }
  });

  it('run() pings 127.0.0.1 with the system ping and returns its output and exit code 0', async () => {
    const r = await createSystemPingRunner().run(fast('127.0.0.1'));
    expect(r).to.include({ failed: false, exitCode: 0 });
    expect(r.output).to.match(/bytes from 127\.0\.0\.1: icmp_seq=1 /);
  });

  it('run() pings ::1 with ping -6', async function () {
    if (!ensureIpv6Loopback()) throw new Error('IPv6 on lo is off and could not be switched on (needs root)');
    const r = await createSystemPingRunner().run(fast('::1', true));
    expect(r).to.include({ failed: false, exitCode: 0 });
    expect(r.output).to.match(/bytes from ::1: icmp_seq=1 /);
  });

  it('run() does not fail for an unresolvable name: ping ran and said so', async () => {
    const r = await createSystemPingRunner().run(fast('no-such-host.campuslink.invalid'));
    expect(r.failed).to.equal(false);
    expect(r.exitCode).to.not.equal(0);
    expect(r.output).to.match(/no-such-host\.campuslink\.invalid/);
  });

  it('run() drives busybox ping with the same arguments', async function () {
    if (!hasBusybox()) throw new Error('busybox ping is needed: apt-get install busybox');
    const r = await createSystemPingRunner({ command: 'busybox', prefixArgs: ['ping'] }).run(fast('127.0.0.1'));
    expect(r).to.include({ failed: false, exitCode: 0 });
    expect(r.output).to.match(/bytes from 127\.0\.0\.1: seq=0 /);
  });

  it('run() reports a command that cannot be started as failed, without throwing', async () => {
    const r = await createSystemPingRunner({ command: '/nonexistent/ping' }).run(fast('127.0.0.1'));
    expect(r).to.include({ failed: true, exitCode: null, output: '' });
    expect(r.error).to.match(/cannot run \/nonexistent\/ping: .*ENOENT/);
  });

  it('run() stops a ping that outlives its deadline, so a run can never hang', async () => {
    // A stand-in for a ping stuck in name resolution: sleeps far past the 1 s deadline.
    const runner = createSystemPingRunner({ command: 'sh', prefixArgs: ['-c', 'echo resolving; exec sleep 30', 'sh'], killGraceMs: 200 });
    const t0 = Date.now();
    const r = await runner.run(fast('127.0.0.1'));
    const took = Date.now() - t0;
    expect(r.failed).to.equal(true);
    expect(r.error).to.match(/past its deadline/);
    expect(r.output).to.equal('resolving\n');
    expect(took).to.be.within(1000, 3500);
  });

  it('run() refuses a host that looks like an option', async () => {
    const r = await createSystemPingRunner().run(fast('-f'));
    expect(r.failed).to.equal(true);
    expect(r.error).to.match(/looks like an option/);
  });
});
