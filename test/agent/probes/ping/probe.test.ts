import { expect } from 'chai';
import { pino } from 'pino';
import { createPingProbe, createSystemPingRunner, pingMeasurementFromRun, resolvePingTarget, type PingMeasurement, type PingRequest, type PingRunner, type PingRunResult } from '../../../../agent/probes/ping/index.js';
import type { ProbeContext } from '../../../../agent/probes/probe.js';
import { ConfigError } from '../../../../protocol/config.js';
import { measurementSchema, toIssues, type Measurement } from '../../../../protocol/index.js';
import { FIXTURES, fixture, type FixtureEntry } from './fixtures.js';
import { ensureIpv6Loopback, hasBusybox } from './real-ping.js';

const ctx: ProbeContext = { now: () => Date.now(), log: pino({ level: 'silent' }) };

/** Every measurement must pass the wire schema; returns them typed as ping measurements. */
function valid(ms: Measurement[]): PingMeasurement[] {
  for (const m of ms) {
    const r = measurementSchema.safeParse(m);
    expect(r.success ? [] : toIssues(r.error), JSON.stringify(m)).to.deep.equal([]);
    expect(m.name).to.equal('ping');
  }
  return ms as PingMeasurement[];
}

/** A runner that answers each host with a recorded fixture (host = fixture file, e.g. `iputils/success.txt`). */
function fixtureRunner(requests: PingRequest[] = []): PingRunner {
  return {
    run(req) {
      requests.push(req);
      const f = FIXTURES.find((x) => x.file === req.host.replace(/^fx-/, '').replace(/--/g, '/').replace(/-txt$/, '.txt'));
      if (!f) return Promise.resolve({ output: '', exitCode: null, failed: true, error: `no fixture for ${req.host}` });
      return Promise.resolve({ output: f.output, exitCode: f.exitCode, failed: false });
    },
  };
}

/** A valid host name standing for a fixture: `iputils/success.txt` → `fx-iputils--success-txt`. */
const hostOf = (f: FixtureEntry) => `fx-${f.file.replace('/', '--').replace('.txt', '-txt')}`;

const fields = (m: PingMeasurement) => m.fields;

describe('agent/probes/ping (probe)', () => {
  describe('with a fake runner fed the recorded fixtures', () => {
    it('collect() emits one valid ping measurement per target, in the targets’ order, for every fixture of both flavours', async () => {
      const targets = FIXTURES.map((f) => ({ host: hostOf(f), role: 'internet' as const, count: f.count, intervalMs: 200, timeoutMs: 500 }));
      const ms = valid(await createPingProbe({ targets, runner: fixtureRunner(), concurrency: 4 }).collect(ctx));
      expect(ms.map((m) => m.tags.target)).to.deep.equal(targets.map((t) => t.host));
      for (const [i, m] of ms.entries()) {
        const f = FIXTURES[i] as FixtureEntry;
        expect(m.fields.sent, f.file).to.be.at.least(m.fields.received);
        if (m.fields.result_code === 0) expect(m.fields, f.file).to.include.keys('rtt_min_ms', 'rtt_avg_ms', 'rtt_max_ms');
        else expect(m.fields, f.file).to.not.have.any.keys('rtt_min_ms', 'rtt_avg_ms', 'rtt_max_ms', 'jitter_ms');
      }
    });

    it('collect() reports RTTs and jitter from the reply lines of a successful run', async () => {
      const f = fixture('iputils', 'success');
      const [m] = valid(await createPingProbe({ targets: [{ host: hostOf(f), role: 'gateway', count: 5 }], runner: fixtureRunner() }).collect(ctx));
      // 0.023 0.042 0.041 0.033 0.038 → jitter (.019 + .001 + .008 + .005) / 4 = 0.00825
      expect(fields(m as PingMeasurement)).to.deep.equal({ rtt_min_ms: 0.023, rtt_avg_ms: 0.035, rtt_max_ms: 0.042, jitter_ms: 0.008, loss_pct: 0, sent: 5, received: 5, result_code: 0 });
    });

    it('collect() reports loss_pct=30 and result_code 0 for a run with partial loss (BusyBox)', async () => {
      const f = fixture('busybox', 'partial-loss');
      const [m] = valid(await createPingProbe({ targets: [{ host: hostOf(f), role: 'isp', count: 10 }], runner: fixtureRunner() }).collect(ctx));
      expect(fields(m as PingMeasurement)).to.include({ loss_pct: 30, sent: 10, received: 7, result_code: 0, rtt_min_ms: 0.033, rtt_max_ms: 0.092 });
    });

    it('collect() reports loss_pct=100 and result_code 2 when the host is unreachable', async () => {
      for (const name of ['total-loss', 'total-loss-deadline', 'host-unreachable']) {
        for (const flavour of ['iputils', 'busybox'] as const) {
          const f = fixture(flavour, name);
          const [m] = valid(await createPingProbe({ targets: [{ host: hostOf(f), role: 'platform', count: 3 }], runner: fixtureRunner() }).collect(ctx));
          expect(fields(m as PingMeasurement), f.file).to.deep.equal({ loss_pct: 100, sent: 3, received: 0, result_code: 2 });
        }
      }
    });

    it('collect() reports result_code 1, loss_pct=100, sent=count and no RTTs when the name does not resolve', async () => {
      for (const f of FIXTURES.filter((x) => x.name.startsWith('unresolvable'))) {
        const [m] = valid(await createPingProbe({ targets: [{ host: hostOf(f), role: 'internet', count: 4 }], runner: fixtureRunner() }).collect(ctx));
        expect(fields(m as PingMeasurement), f.file).to.deep.equal({ loss_pct: 100, sent: 4, received: 0, result_code: 1 });
      }
    });

    it('collect() reports result_code 3 when ping cannot send (no route, no permission)', async () => {
      for (const f of FIXTURES.filter((x) => x.name === 'network-unreachable' || x.name === 'permission-denied')) {
        const [m] = valid(await createPingProbe({ targets: [{ host: hostOf(f), role: 'gateway', count: 3 }], runner: fixtureRunner() }).collect(ctx));
        expect(fields(m as PingMeasurement), f.file).to.deep.equal({ loss_pct: 100, sent: 3, received: 0, result_code: 3 });
      }
    });

    it('collect() counts duplicate replies once', async () => {
      for (const f of FIXTURES.filter((x) => x.name.startsWith('duplicates'))) {
        const [m] = valid(await createPingProbe({ targets: [{ host: hostOf(f), role: 'peer', count: 3 }], runner: fixtureRunner() }).collect(ctx));
        expect(fields(m as PingMeasurement), f.file).to.include({ sent: 3, received: 3, loss_pct: 0, result_code: 0 });
      }
    });
  });

  describe('when ping itself fails', () => {
    const target = [{ host: '10.0.0.1', role: 'gateway' as const, count: 4 }];

    it('collect() reports result_code 3, loss_pct=100, sent=count when the ping command fails', async () => {
      const runner: PingRunner = { run: async () => ({ output: '', exitCode: null, failed: true, error: 'spawn ping ENOENT' }) };
      const [m] = valid(await createPingProbe({ targets: target, runner }).collect(ctx));
      expect(fields(m as PingMeasurement)).to.deep.equal({ loss_pct: 100, sent: 4, received: 0, result_code: 3 });
    });

    it('collect() does not throw when a runner rejects, and reports result_code 3', async () => {
      const runner: PingRunner = { run: () => Promise.reject(new Error('boom')) };
      const [m] = valid(await createPingProbe({ targets: target, runner }).collect(ctx));
      expect(fields(m as PingMeasurement)).to.deep.equal({ loss_pct: 100, sent: 4, received: 0, result_code: 3 });
    });

    it('collect() does not throw when a runner throws synchronously', async () => {
      const runner: PingRunner = {
        run: () => {
          throw new Error('sync boom');
        },
      };
      const ms = valid(await createPingProbe({ targets: target, runner }).collect(ctx));
      expect(ms).to.have.length(1);
    });

    it('collect() reports result_code 3, not a false outage, when ping exits 0 but its output cannot be read', async () => {
      const runner: PingRunner = { run: async () => ({ output: 'Bonjour, 5 paquets transmis\n', exitCode: 0, failed: false }) };
      const [m] = valid(await createPingProbe({ targets: target, runner }).collect(ctx));
      expect(fields(m as PingMeasurement)).to.include({ result_code: 3, loss_pct: 100 });
    });

    it('collect() reports result_code 2 when only requests after the first `count` were answered, though ping exits 0', async () => {
      const output = [
        'PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.',
        '64 bytes from 10.0.0.1: icmp_seq=5 ttl=64 time=20.5 ms',
        '64 bytes from 10.0.0.1: icmp_seq=6 ttl=64 time=21.0 ms',
        '',
        '--- 10.0.0.1 ping statistics ---',
        '6 packets transmitted, 2 received, 66.6667% packet loss, time 5006ms',
      ].join('\n');
      const runner: PingRunner = { run: async () => ({ output, exitCode: 0, failed: false }) };
      const [m] = valid(await createPingProbe({ targets: target, runner }).collect(ctx));
      expect(fields(m as PingMeasurement)).to.deep.equal({ loss_pct: 100, sent: 4, received: 0, result_code: 2 });
    });

    it('pingMeasurementFromRun() explains why in its note', () => {
      const t = resolvePingTarget({ host: '10.0.0.1', role: 'gateway' }, 'fiber');
      const run: PingRunResult = { output: fixture('iputils', 'permission-denied').output, exitCode: 2, failed: false };
      expect(pingMeasurementFromRun(t, run).note.reason).to.match(/Operation not permitted/);
    });
  });

  describe('scheduling and configuration', () => {
    it('collect() runs at most `concurrency` pings at once, and all of them', async () => {
      let inFlight = 0;
      let peak = 0;
      const seen: string[] = [];
      const runner: PingRunner = {
        async run(req) {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((r) => setTimeout(r, 10));
          inFlight--;
          seen.push(req.host);
          return { output: fixture('iputils', 'success').output, exitCode: 0, failed: false };
        },
      };
      const targets = Array.from({ length: 10 }, (_, i) => ({ host: `10.0.0.${i + 1}`, role: 'peer' as const }));
      const ms = valid(await createPingProbe({ targets, runner, concurrency: 3 }).collect(ctx));
      expect(peak).to.equal(3);
      expect(seen).to.have.members(targets.map((t) => t.host));
      expect(ms.map((m) => m.tags.target)).to.deep.equal(targets.map((t) => t.host));
    });

    it('collect() asks for ping -6 for IPv6 addresses and for names marked ipv6, -4 otherwise', async () => {
      const requests: PingRequest[] = [];
      const targets = [
        { host: 'fx-iputils--ipv6-txt', role: 'peer' as const },
        { host: '2001:db8::1', role: 'peer' as const },
        { host: 'fx-iputils--ipv6-txt', name: 'six', role: 'platform' as const, ipv6: true },
      ];
      await createPingProbe({ targets, runner: fixtureRunner(requests) }).collect(ctx);
      expect(requests.map((r) => [r.host, r.ipv6])).to.deep.equal([
        ['fx-iputils--ipv6-txt', false],
        ['2001:db8::1', true],
        ['fx-iputils--ipv6-txt', true],
      ]);
    });

    it('collect() asks for the link type’s defaults unless the target sets its own', async () => {
      const requests: PingRequest[] = [];
      const targets = [
        { host: '10.0.0.1', role: 'gateway' as const },
        { host: '10.0.0.2', role: 'isp' as const, count: 3, intervalMs: 200, timeoutMs: 700 },
      ];
      await createPingProbe({ targets, linkType: 'sat-geo', runner: fixtureRunner(requests) }).collect(ctx);
      expect(requests[0]).to.deep.equal({ host: '10.0.0.1', ipv6: false, count: 5, intervalMs: 1000, timeoutMs: 4000 });
      expect(requests[1]).to.deep.equal({ host: '10.0.0.2', ipv6: false, count: 3, intervalMs: 200, timeoutMs: 700 });
    });

    it('createPingProbe() throws a ConfigError naming each bad target', () => {
      try {
        createPingProbe({ targets: [{ host: '-f', role: 'gateway' }, { host: '10.0.0.1', role: 'nope' as 'gateway' }] });
        expect.fail('expected a ConfigError');
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        expect((e as ConfigError).code).to.equal('AGT_ERR_CONFIG_INVALID');
        expect((e as ConfigError).issues.map((i) => i.path)).to.deep.equal(['targets.0.host', 'targets.1.role']);
      }
    });

    it('collect() with no targets returns no measurements', async () => {
      expect(await createPingProbe({ targets: [] }).collect(ctx)).to.deep.equal([]);
    });
  });

  describe('with the real system ping', () => {
    const quick = { count: 3, intervalMs: 200, timeoutMs: 500 };

    it('collect() measures 127.0.0.1, and reports result_code 1, loss_pct=100 for an unresolvable .invalid name', async () => {
      const targets = [
        { host: '127.0.0.1', role: 'gateway' as const, ...quick },
        { host: 'no-such-host.campuslink.invalid', role: 'internet' as const, ...quick },
      ];
      const [local, invalid] = valid(await createPingProbe({ targets, concurrency: 2 }).collect(ctx));
      expect(local?.fields).to.include({ result_code: 0, sent: 3, received: 3, loss_pct: 0 });
      expect(local?.fields).to.include.keys('rtt_min_ms', 'rtt_avg_ms', 'rtt_max_ms', 'jitter_ms');
      expect(invalid?.fields).to.deep.equal({ result_code: 1, sent: 3, received: 0, loss_pct: 100 });
    });

    it('collect() measures ::1 over IPv6 (ping -6)', async function () {
      // Enables IPv6 on lo for the test run if it is off (as root); skips if that is impossible.
      if (!ensureIpv6Loopback()) throw new Error('IPv6 on lo is off and could not be switched on (needs root)');
      const [m] = valid(await createPingProbe({ targets: [{ host: '::1', role: 'gateway', ...quick }] }).collect(ctx));
      expect(m?.fields).to.include({ result_code: 0, sent: 3, received: 3, loss_pct: 0 });
      expect(m?.fields).to.include.keys('rtt_min_ms', 'rtt_avg_ms', 'rtt_max_ms', 'jitter_ms');
    });

    it('collect() measures 127.0.0.1 and ::1 with busybox ping too', async function () {
      if (!hasBusybox()) throw new Error('busybox ping is needed: apt-get install busybox');
      const v6 = ensureIpv6Loopback();
      const targets = [{ host: '127.0.0.1', role: 'gateway' as const, ...quick }, ...(v6 ? [{ host: '::1', role: 'isp' as const, ...quick }] : [])];
      const runner = createSystemPingRunner({ command: 'busybox', prefixArgs: ['ping'] });
      const ms = valid(await createPingProbe({ targets, runner, concurrency: 2 }).collect(ctx));
      for (const m of ms) expect(m.fields, m.tags.target).to.include({ result_code: 0, sent: 3, received: 3, loss_pct: 0 });
    });
  });
});
