import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import {
  createSystemIperfRunner,
  createThroughputProbe,
  resolveThroughputConfig,
  slotStartMs,
  chinaDay,
  throughputStateFile,
  type ThroughputMeasurement,
  type ThroughputSection,
} from '../../../../agent/probes/throughput/index.js';
import { measurementSchema, toIssues, type Measurement } from '../../../../protocol/index.js';

const NS = `clt-bw-${process.pid}`;
const HOST_IF = `cbw${process.pid % 100000}a`;
const NS_IF = `cbw${process.pid % 100000}b`;
const NET = `10.214.${process.pid % 250}`;
const SERVER = `${NET}.2`;
const PORT = 5201 + (process.pid % 500);
const LIMIT_MBIT = 10;
const log = pino({ level: 'silent' });
const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });
const SEED = '5300000001/gw';

function valid(ms: Measurement[]): ThroughputMeasurement[] {
  for (const m of ms) {
    const r = measurementSchema.safeParse(m);
    expect(r.success ? [] : toIssues(r.error), JSON.stringify(m)).to.deep.equal([]);
    expect(m.name).to.equal('throughput');
  }
  return ms as ThroughputMeasurement[];
}

/** A time at which the only slot of a 1-test day is due. */
const dueAt = (): number => slotStartMs(SEED, chinaDay(Date.now()), 0, 1) + 1000;

/**
 * A real rate-limited link: a veth pair into a network namespace running `iperf3 -s`, each end shaped
 * to 10 Mbit/s by a token bucket (tc tbf), so both download and upload cross the limit.
 */
describe('agent/probes/throughput: iperf3 through a 10 Mbit/s link the test makes', function () {
  this.timeout(90_000);
  let server: ChildProcess | undefined;
  let dir: string;

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error('needs root (a network namespace and tc)');
    if (spawnSync('iperf3', ['--version']).status !== 0) throw new Error('needs iperf3 (apt-get install -y iperf3; .ci/run installs it)');
    ip('netns', 'del', NS);
    ip('link', 'del', HOST_IF);
    const steps: string[][] = [
      ['ip', 'netns', 'add', NS],
      ['ip', 'link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF],
      ['ip', 'link', 'set', NS_IF, 'netns', NS],
      ['ip', 'addr', 'add', `${NET}.1/30`, 'dev', HOST_IF],
      ['ip', 'link', 'set', HOST_IF, 'up'],
      ['ip', 'netns', 'exec', NS, 'ip', 'addr', 'add', `${SERVER}/30`, 'dev', NS_IF],
      ['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', NS_IF, 'up'],
      ['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up'],
      ['tc', 'qdisc', 'add', 'dev', HOST_IF, 'root', 'tbf', 'rate', `${LIMIT_MBIT}mbit`, 'burst', '32kbit', 'latency', '50ms'],
      ['ip', 'netns', 'exec', NS, 'tc', 'qdisc', 'add', 'dev', NS_IF, 'root', 'tbf', 'rate', `${LIMIT_MBIT}mbit`, 'burst', '32kbit', 'latency', '50ms'],
    ];
    for (const [cmd, ...args] of steps) {
      const r = spawnSync(cmd as string, args, { encoding: 'utf8' });
      expect(r.status, `${cmd} ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    }
    server = spawn('ip', ['netns', 'exec', NS, 'iperf3', '-s', '-p', String(PORT)], { stdio: 'ignore' });
    // Wait until it listens (a loaded machine can take seconds to start it).
    for (let i = 0; ; i++) {
      const ok = await new Promise<boolean>((res) => {
        const sock = connect({ host: SERVER, port: PORT }, () => (sock.destroy(), res(true)));
        sock.on('error', () => res(false));
      });
      if (ok) break;
      if (i > 100) throw new Error(`iperf3 -s did not listen on ${SERVER}:${PORT} within 10 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The probe connection above counts as a test start for iperf3; give it a moment to reset.
    await new Promise((r) => setTimeout(r, 300));
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'clt-bw-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  after(() => {
    server?.kill('SIGKILL');
    // `ip netns exec` may leave iperf3 running inside the namespace (which keeps it and the veth alive).
    for (const pid of ip('netns', 'pids', NS).stdout.split('\n').filter(Boolean)) spawnSync('kill', ['-9', pid]);
    ip('link', 'del', HOST_IF);
    ip('netns', 'del', NS);
  });

  const section = (over: Partial<ThroughputSection> = {}): ThroughputSection => ({
    enabled: true,
    servers: [{ host: SERVER, port: PORT }],
    testsPerDay: 1,
    durationS: 4,
    omitS: 1,
    maxBytesPerTest: 100_000_000,
    maxBytesPerDay: 1_000_000_000,
    connectTimeoutMs: 3000,
    command: 'iperf3',
    ...over,
  });

  async function runOnce(probe: ReturnType<typeof createThroughputProbe>, now: number): Promise<ThroughputMeasurement[]> {
    const ctx = { now: () => now, log };
    expect(await probe.collect(ctx), 'the cycle that starts a test does not wait for it').to.deep.equal([]);
    await probe.idle();
    return valid(await probe.collect(ctx));
  }

  it('collect() measures down_mbps and up_mbps within 30 % of the 10 Mbit/s limit, with bytes_used and result_code 0', async () => {
    const probe = createThroughputProbe({ config: resolveThroughputConfig(section(), 'fiber'), seed: SEED, stateDir: dir });
    const [m] = await runOnce(probe, dueAt());
    expect(m?.fields.result_code, JSON.stringify(m)).to.equal(0);
    expect(m?.tags.server).to.equal(`${SERVER}:${PORT}`);
    expect(m?.fields.down_mbps).to.be.within(LIMIT_MBIT * 0.7, LIMIT_MBIT * 1.3);
    expect(m?.fields.up_mbps).to.be.within(LIMIT_MBIT * 0.7, LIMIT_MBIT * 1.3);
    expect(m?.fields.capped).to.equal(0);
    // 2 × 5 s at ~10 Mbit/s: about 12.5 MB.
    expect(m?.fields.bytes_used).to.be.within(6e6, 16e6);
    expect(m?.fields.duration_ms).to.be.at.least(0);
    expect(m?.fields.rtt_ms).to.be.above(0);
  });

  it('a byte cap below the link holds the test to it: ~3.2 Mbit/s, capped=1, bytes_used within maxBytesPerTest', async () => {
    // 4 MB per test: 2 MB per direction over 5 s = 3.2 Mbit/s.
    const cfg = resolveThroughputConfig(section({ maxBytesPerTest: 4_000_000 }), 'sat-geo');
    const probe = createThroughputProbe({ config: cfg, seed: SEED, stateDir: dir });
    const [m] = await runOnce(probe, dueAt());
    expect(m?.fields.result_code).to.equal(0);
    expect(m?.fields.down_mbps).to.be.within(3.2 * 0.8, 3.2 * 1.1);
    expect(m?.fields.capped).to.equal(1);
    expect(m?.fields.bytes_used).to.be.at.most(4_000_000 * 1.05);
  });

  it('a test done today is not run again after a restart, and the day\'s second test, which could exceed the day\'s budget is skipped with result_code 4', async () => {
    const cfg = resolveThroughputConfig(section({ maxBytesPerTest: 10_000_000, maxBytesPerDay: 12_000_000, testsPerDay: 2 }), 'cellular');
    const day = chinaDay(Date.now());
    const slot0 = slotStartMs(SEED, day, 0, 2) + 1000;
    const slot1 = slotStartMs(SEED, day, 1, 2) + 1000;
    const first = await runOnce(createThroughputProbe({ config: cfg, seed: SEED, stateDir: dir }), slot0);
    expect(first[0]?.fields.result_code).to.equal(0);
    const saved = JSON.parse(readFileSync(throughputStateFile(dir), 'utf8'));
    expect(saved).to.deep.include({ day, done: [0] });
    expect(saved.bytesUsed).to.equal(first[0]?.fields.bytes_used);
    // A restart in the same slot: nothing runs.
    const again = createThroughputProbe({ config: cfg, seed: SEED, stateDir: dir });
    expect(await again.collect({ now: () => slot0 + 60_000, log })).to.deep.equal([]);
    await again.idle();
    expect(await again.collect({ now: () => slot0 + 120_000, log })).to.deep.equal([]);
    // The second slot: used + 10 MB > 12 MB, so it is skipped, as data.
    const [skipped] = await runOnce(again, slot1);
    expect(skipped?.fields).to.deep.equal({ bytes_used: 0, duration_ms: 0, capped: 0, result_code: 4 });
  });

  it('a damaged state file counts the day as spent: result_code 4, nothing sent over a metered link on a guess', async () => {
    writeFileSync(throughputStateFile(dir), '{"v":1,"day":');
    const probe = createThroughputProbe({ config: resolveThroughputConfig(section(), 'sat-geo'), seed: SEED, stateDir: dir });
    const [m] = await runOnce(probe, dueAt());
    expect(m?.fields.result_code).to.equal(4);
  });

  it('an unreachable first server is passed over for the next one; with no server answering, result_code 2', async () => {
    const closed = { host: SERVER, port: PORT + 1 };
    const two = createThroughputProbe({ config: resolveThroughputConfig(section({ servers: [closed, { host: SERVER, port: PORT, name: 'hub' }] }), 'fiber'), seed: SEED, stateDir: dir });
    const [ok] = await runOnce(two, dueAt());
    expect(ok?.tags.server).to.equal('hub');
    expect(ok?.fields.result_code).to.equal(0);
    rmSync(throughputStateFile(dir));
    const none = createThroughputProbe({ config: resolveThroughputConfig(section({ servers: [closed] }), 'fiber'), seed: SEED, stateDir: dir });
    const [m] = await runOnce(none, dueAt());
    expect(m?.fields).to.include({ result_code: 2, capped: 0 });
    expect(m?.fields.down_mbps).to.equal(undefined);
  });

  it('a busy server (another test running) gives result_code 1', async () => {
    const hog = spawn('iperf3', ['-c', SERVER, '-p', String(PORT), '-t', '8'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const probe = createThroughputProbe({ config: resolveThroughputConfig(section(), 'fiber'), seed: SEED, stateDir: dir });
      const [m] = await runOnce(probe, dueAt());
      expect(m?.fields.result_code).to.equal(1);
    } finally {
      hog.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  it('a missing iperf3 program gives result_code 3', async () => {
    const probe = createThroughputProbe({
      config: resolveThroughputConfig(section(), 'fiber'),
      seed: SEED,
      stateDir: dir,
      runner: createSystemIperfRunner({ command: 'iperf3-not-installed' }),
    });
    const [m] = await runOnce(probe, dueAt());
    expect(m?.fields).to.include({ result_code: 3, bytes_used: 0 });
  });
});
