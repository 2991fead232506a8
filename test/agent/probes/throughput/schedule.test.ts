import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect } from 'chai';
import { parse } from 'yaml';
import { agentConfigSchema } from '../../../../agent/config.js';
import { buildProbes } from '../../../../agent/probes/build.js';
import {
  chinaDay,
  classifyIperfError,
  createThroughputProbe,
  throughputStateFile,
  type IperfRunResult,
  dueSlot,
  parseIperfRun,
  rateCapBps,
  resolveThroughputConfig,
  slotStartMs,
  throughputDefaults,
  throughputMeasurement,
  throughputSectionSchema,
} from '../../../../agent/probes/throughput/index.js';
import { LINK_TYPES, THROUGHPUT_RESULT } from '../../../../protocol/index.js';

const DAY = 86_400_000;
const day = chinaDay(Date.parse('2026-12-01T12:00:00+08:00'));
const midnight = Date.parse('2026-12-01T00:00:00+08:00');

describe('agent/probes/throughput: schedule, budget and parsing', () => {
  it('slotStartMs() puts each slot\'s test inside its slot, the same for one school and day, different between schools', () => {
    for (let k = 0; k < 2; k++) {
      const t = slotStartMs('5300000001/gw', day, k, 2);
      expect(t).to.equal(slotStartMs('5300000001/gw', day, k, 2));
      expect(t).to.be.within(midnight + (k * DAY) / 2, midnight + ((k + 1) * DAY) / 2 - 5 * 60_000);
    }
    const starts = new Set(Array.from({ length: 50 }, (_, i) => slotStartMs(`53000000${String(i).padStart(2, '0')}/gw`, day, 0, 2)));
    expect(starts.size).to.equal(50);
  });

  it('dueSlot() says a slot is due from its start time to its end, and never once done', () => {
    const seed = 'a/b';
    const start = slotStartMs(seed, day, 1, 2);
    const fresh = { v: 1 as const, day, done: [], bytesUsed: 0 };
    if (start > midnight + DAY / 2) expect(dueSlot(fresh, seed, start - 1, 2), 'before its start').to.equal(undefined);
    expect(dueSlot(fresh, seed, start, 2)).to.equal(1);
    expect(dueSlot(fresh, seed, midnight + DAY - 1, 2)).to.equal(1);
    expect(dueSlot({ ...fresh, done: [1] }, seed, start + 1000, 2)).to.equal(undefined);
    // Yesterday's done list does not hold today back.
    expect(dueSlot({ ...fresh, day: day - 1, done: [1] }, seed, start + 1000, 2)).to.equal(1);
  });

  it('every link type\'s defaults cap a test at maxBytesPerTest and fit at least one test in the day\'s budget; GEO satellite stays under 20 Mbit/s and 150 MB a day', () => {
    for (const t of LINK_TYPES) {
      const d = throughputDefaults(t);
      expect(d.testsPerDay, t).to.equal(2);
      expect(d.maxBytesPerDay, t).to.be.at.least(d.maxBytesPerTest);
      expect((rateCapBps(d) / 8) * 2 * (d.durationS + d.omitS), t).to.be.at.most(d.maxBytesPerTest);
    }
    const geo = throughputDefaults('sat-geo');
    expect(rateCapBps(geo) / 1e6).to.be.below(20);
    expect(geo.maxBytesPerDay).to.be.at.most(150e6);
    expect(rateCapBps(throughputDefaults('fiber')) / 1e6).to.be.above(1000);
  });

  it('the section refuses enabled without a server and a test cap above the day cap, listing both', () => {
    const r = throughputSectionSchema.safeParse({ enabled: true, maxBytesPerTest: 5e6, maxBytesPerDay: 2e6 });
    expect(r.success).to.equal(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).to.have.members(['servers', 'maxBytesPerTest']);
    expect(resolveThroughputConfig(throughputSectionSchema.parse({}), 'fiber').servers).to.deep.equal([]);
  });

  it('sample.yaml is a valid part of the whole agent config', () => {
    const doc = parse(readFileSync(new URL('../../../../agent/probes/throughput/sample.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
    const r = agentConfigSchema.safeParse({ school: '5300000001', collector: { url: 'http://127.0.0.1:1', token: 'x'.repeat(32) }, ...doc });
    expect(r.success ? [] : r.error.issues).to.deep.equal([]);
    const cfg = resolveThroughputConfig(r.data!.throughput, r.data!.linkType);
    expect(cfg.servers.map((s) => s.tag)).to.deep.equal(['iperf.edu.example.cn:5201', 'backup-xining']);
  });

  it('buildProbes() adds the throughput probe only when throughput.enabled', () => {
    const base = { school: '5300000001', collector: { url: 'http://127.0.0.1:1', token: 'x'.repeat(32) }, targets: [{ host: '127.0.0.1', role: 'gateway' }] };
    const on = agentConfigSchema.parse({ ...base, throughput: { enabled: true, servers: [{ host: '10.0.0.1' }] } });
    expect(buildProbes({ config: on, stateDir: '/nonexistent' }).map((p) => p.name)).to.include('throughput');
    const off = agentConfigSchema.parse(base);
    expect(buildProbes({ config: off, stateDir: '/nonexistent' }).map((p) => p.name)).to.not.include('throughput');
  });

  it('a test in flight has its slot and its worst-case bytes saved first: an agent killed mid-test does not test again in that slot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clt-bw-'));
    try {
      const cfg = resolveThroughputConfig(throughputSectionSchema.parse({ enabled: true, servers: [{ host: '10.0.0.1' }], testsPerDay: 1, maxBytesPerTest: 2e6, maxBytesPerDay: 5e6 }), 'sat-geo');
      let release: (r: IperfRunResult) => void = () => undefined;
      let runs = 0;
      const runner = { run: () => (runs++, new Promise<IperfRunResult>((r) => (release = r))) };
      const now = slotStartMs('a/b', day, 0, 1) + 1000;
      const log = pino({ level: 'silent' });
      const probe = createThroughputProbe({ config: cfg, seed: 'a/b', stateDir: dir, runner });
      await probe.collect({ now: () => now, log });
      for (let i = 0; i < 250 && runs === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(runs).to.equal(1);
      expect(JSON.parse(readFileSync(throughputStateFile(dir), 'utf8'))).to.deep.include({ done: [0], bytesUsed: 2e6 });
      // "Killed": a new probe on the same state directory, same slot.
      const restarted = createThroughputProbe({ config: cfg, seed: 'a/b', stateDir: dir, runner });
      await restarted.collect({ now: () => now + 60_000, log });
      await restarted.idle();
      expect(runs).to.equal(1);
      // The first one's test ends: the reservation becomes the bytes used.
      const json = JSON.stringify({ intervals: [{ sum: { bytes: 500_000 } }], end: { sum_received: { bits_per_second: 8e6 } } });
      release({ stdout: json, stderr: '', exitCode: 0, wallMs: 1 });
      for (let i = 0; i < 250 && runs === 1; i++) await new Promise((r) => setTimeout(r, 20));
      release({ stdout: json, stderr: '', exitCode: 0, wallMs: 1 });
      await probe.idle();
      const [m] = await probe.collect({ now: () => now + 120_000, log });
      expect(m?.fields).to.include({ result_code: 0, bytes_used: 1e6, down_mbps: 8 });
      expect(JSON.parse(readFileSync(throughputStateFile(dir), 'utf8')).bytesUsed).to.equal(1e6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('classifyIperfError() tells a busy server (1) and no connection (2) from other errors (3)', () => {
    expect(classifyIperfError('the server is busy running a test. try again later')).to.equal(THROUGHPUT_RESULT.busy);
    expect(classifyIperfError('unable to connect to server: Connection refused')).to.equal(THROUGHPUT_RESULT.unreachable);
    expect(classifyIperfError('unable to connect to server: Name or service not known')).to.equal(THROUGHPUT_RESULT.unreachable);
    expect(classifyIperfError('control socket has closed unexpectedly')).to.equal(THROUGHPUT_RESULT.error);
  });

  it('parseIperfRun() counts the warm-up intervals in the bytes used and reads the received rate; output that is not JSON is an error', () => {
    const stdout = JSON.stringify({
      intervals: [{ sum: { bytes: 1000, omitted: true } }, { sum: { bytes: 3000, omitted: false } }],
      end: { sum_sent: { bytes: 3000, retransmits: 2 }, sum_received: { bytes: 2900, bits_per_second: 9.6e6 }, streams: [{ sender: { sender: true, mean_rtt: 12_500 } }] },
    });
    expect(parseIperfRun({ stdout, stderr: '', exitCode: 0, wallMs: 5 })).to.deep.equal({ resultCode: 0, bps: 9.6e6, bytes: 4000, rttMs: 12.5, retransmits: 2 });
    expect(parseIperfRun({ stdout: 'iperf3: error', stderr: '', exitCode: 1, wallMs: 5 }).resultCode).to.equal(THROUGHPUT_RESULT.error);
    const killed = parseIperfRun({ stdout: '', stderr: '', exitCode: null, wallMs: 5, error: 'iperf3 ran past its deadline' });
    expect(killed).to.deep.equal({ resultCode: 3, bytes: 0, reason: 'iperf3 ran past its deadline' });
  });

  it('throughputMeasurement() reports a failed upload after a good download with the download rate and the upload\'s result_code', () => {
    const m = throughputMeasurement('s', { resultCode: 0, bps: 8e6, bytes: 100 }, { resultCode: 2, bytes: 0, reason: 'x' }, 50e6, 7);
    expect(m.fields).to.deep.equal({ down_mbps: 8, bytes_used: 100, duration_ms: 7, capped: 0, result_code: 2 });
  });
});
