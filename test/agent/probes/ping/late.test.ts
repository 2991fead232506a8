import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createPingProbe, createSystemPingRunner, type PingMeasurement } from '../../../../agent/probes/ping/index.js';
import { FIXTURE_DIR } from './fixtures.js';
import { hasBusybox } from './real-ping.js';

const ctx = { now: () => Date.now(), log: pino({ level: 'silent' }) };
const NS = `clt-late-${process.pid}`;
const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });

/**
 * A real delayed path: 127.0.0.1 in a network namespace whose kernel ignores echo requests, answered by
 * test/fixtures/ping/late-responder.py (this kernel has no netem): 1500 ms late for requests in the first
 * 2.5 s, 10 ms late after. count 5, intervalMs 1000, timeoutMs 1000: requests 0-2 late, 3-4 in time.
 */
describe('agent/probes/ping: replies later than timeoutMs against a real delayed path', function () {
  this.timeout(30_000);
  let responder: ChildProcess | undefined;

  before(function () {
    if (process.getuid?.() !== 0 || spawnSync('python3', ['--version']).status !== 0) throw new Error('needs root (a network namespace) and python3 (the late responder)');
    ip('netns', 'del', NS);
    expect(ip('netns', 'add', NS).status, 'ip netns add').to.equal(0);
    ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
    ip('netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1');
  });
  afterEach(() => {
    responder?.kill('SIGKILL');
    responder = undefined;
  });
  after(() => {
    ip('netns', 'del', NS);
  });

  async function startResponder(): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', NS, 'python3', join(FIXTURE_DIR, 'late-responder.py'), '1500', '10', '2.5', '9'], { stdio: ['ignore', 'pipe', 'inherit'] });
    responder = child;
    await once(child.stdout as NodeJS.ReadableStream, 'data');
  }

  const cases: { flavour: string; prefix: string[]; available: () => boolean }[] = [
    { flavour: 'iputils', prefix: ['netns', 'exec', NS, 'ping'], available: () => true },
    { flavour: 'BusyBox', prefix: ['netns', 'exec', NS, 'busybox', 'ping'], available: hasBusybox },
  ];
  for (const c of cases) {
    it(`collect() counts the 3 replies slower than timeoutMs as lost with ${c.flavour} ping: loss_pct=60, RTTs from the 2 in time`, async function () {
      if (!c.available()) throw new Error(`${c.flavour} ping is not installed (.ci/run installs iputils-ping and busybox)`);
      await startResponder();
      const probe = createPingProbe({
        targets: [{ host: '127.0.0.1', role: 'isp', count: 5, intervalMs: 1000, timeoutMs: 1000 }],
        runner: createSystemPingRunner({ command: 'ip', prefixArgs: c.prefix }),
      });
      const [m] = (await probe.collect(ctx)) as PingMeasurement[];
      expect(m?.fields).to.include({ sent: 5, received: 2, loss_pct: 60, result_code: 0 });
      expect(m?.fields.rtt_max_ms).to.be.below(1000);
    });
  }
});
