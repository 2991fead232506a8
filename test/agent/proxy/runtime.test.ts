/**
 * The proxy runtime with real fping to loopback targets and simulated SNMP gateways (sim/gateway.ts):
 * a dead school is data and never delays the others past its deadline, one report per school per cycle,
 * the concurrency bound, and the spool across a restart.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { loadProxyConfig } from '../../../agent/config.js';
import type { BatchPinger } from '../../../agent/proxy/fping.js';
import { ProxyRuntime } from '../../../agent/proxy/runtime.js';
import type { BatchSender } from '../../../agent/transport/pool.js';
import { UploadError } from '../../../agent/transport/uploader.js';
import type { Report } from '../../../protocol/index.js';
import { startGateway, type Gateway } from '../../../sim/gateway.js';
import { REGISTRY_HEADER, registryRow, tmpFiles } from './fixtures.js';

const log = pino({ level: process.env.PROXY_LOG ?? 'silent' });
const [A, B, C] = ['1640104001', '1640104002', '1640104003'] as const;

/** A sender that acknowledges everything and keeps the batches. */
function recordingSender(): BatchSender & { batches: Report[][] } {
  const batches: Report[][] = [];
  return {
    batches,
    async send(reports) {
      batches.push([...reports]);
      return { ack: { v: 1, accepted: reports.map((r) => r.seq), serverTime: Date.now() }, requestBytes: 100, sentAtMs: Date.now(), answeredAtMs: Date.now() };
    },
  };
}

function proxyConfig(dir: string, gateways: string, env: Record<string, string> = {}) {
  const ids = Array.from({ length: 12 }, (_, i) => `16401040${String(i + 1).padStart(2, '0')}`);
  const f = tmpFiles({ 'registry.csv': [REGISTRY_HEADER, ...ids.map((id) => registryRow(id))].join('\n') + '\n', 'gateways.csv': gateways });
  return loadProxyConfig(undefined, {
    CAMPUSLINK_MODE: 'proxy',
    CAMPUSLINK_STATE_DIR: join(dir, 'state'),
    CAMPUSLINK_SPOOL_DIR: join(dir, 'spool'),
    CAMPUSLINK_PROXY_REGISTRY: f.path('registry.csv'),
    CAMPUSLINK_PROXY_GATEWAYS_FILE: f.path('gateways.csv'),
    CAMPUSLINK_PROXY_SCHOOLS: JSON.stringify(gateways.trim().split('\n').slice(1).map((l) => l.split(',')[0])),
    CAMPUSLINK_PROXY_PING_COUNT: '2',
    CAMPUSLINK_PROXY_PING_INTERVAL_MS: '200',
    CAMPUSLINK_PROXY_PING_TIMEOUT_MS: '500',
    CAMPUSLINK_PROXY_SNMP_TIMEOUT_MS: '2000',
    CAMPUSLINK_PROXY_SNMP_RETRIES: '1',
    CAMPUSLINK_PROXY_SCHOOL_DEADLINE_MS: '2500',
    CAMPUSLINK_LOG_LEVEL: 'silent',
    ...env,
  });
}

const byName = (r: Report, name: string) => r.measurements.filter((m) => m.name === name);

describe('agent/proxy/runtime', function () {
  this.timeout(60_000);
  let live: Gateway;
  let dead: Gateway;

  before(async () => {
    live = await startGateway({ interfaces: 4 });
    dead = await startGateway({ interfaces: 4 });
    dead.setMuted(true);
  });
  after(async () => {
    await live?.stop();
    await dead?.stop();
  });

  it('a school whose gateway is dead gets loss_pct=100 and a timed-out SNMP poll, and does not delay the others past the deadline', async () => {
    const dir = tmpFiles({}).dir;
    const config = proxyConfig(dir, `school_id,gateway,snmp\n${A},127.0.3.1,127.0.0.1:${live.port}\n${B},10.255.255.1,127.0.0.1:${dead.port}\n${C},127.0.3.3,-\n`);
    const sender = recordingSender();
    const rt = new ProxyRuntime({ config, log, sender });
    const t0 = Date.now();
    const s = await rt.cycle();
    const took = Date.now() - t0;
    expect(s).to.include({ schools: 3, failed: 0, late: 1 });
    expect(took, 'cycle time').to.be.below(2500 + 1500);
    await rt.flush();
    // One batch per school, each holding that school's one report.
    expect(sender.batches.map((b) => b.map((r) => `${r.school}/${r.seq}`).join()).sort()).to.deep.equal([`${A}/1`, `${B}/1`, `${C}/1`]);
    const reports = new Map(sender.batches.map((b) => [b[0]?.school, b[0] as Report]));
    const a = reports.get(A) as Report;
    const b = reports.get(B) as Report;
    for (const r of [a, b]) expect(r).to.include({ agentKind: 'proxy', agent: config.agentId, epoch: rt.epoch });
    expect(byName(a, 'ping')[0]).to.deep.include({ tags: { target: '127.0.3.1', role: 'gateway' } });
    expect(byName(a, 'ping')[0]?.fields).to.include({ loss_pct: 0, sent: 2, received: 2, result_code: 0 });
    expect(byName(a, 'sys')[0]?.fields).to.include({ result_code: 0 });
    expect(byName(a, 'iface')).to.have.length(4);
    expect(byName(b, 'ping')[0]?.fields).to.include({ loss_pct: 100, received: 0 });
    expect(byName(b, 'sys')[0]?.fields).to.include({ result_code: 2, errors: 1 });
    expect(byName(reports.get(C) as Report, 'sys')).to.have.length(0);
    // A's report was not held back by B: its cycle (agent.cycle_ms) ended well before B's deadline cut B off.
    const cycleMs = (r: Report) => Number((byName(r, 'agent')[0]?.fields as Record<string, number> | undefined)?.cycle_ms);
    expect(cycleMs(a), 'A took').to.be.below(2000);
    expect(cycleMs(b), 'B took').to.be.within(2400, 3500);
    // The next cycle: seq 2 for every school, and rates from the live gateway's counters.
    await rt.cycle();
    await rt.flush();
    const second = sender.batches.slice(3).flat();
    expect(second.map((r) => r.seq)).to.deep.equal([2, 2, 2]);
    const a2 = second.find((r) => r.school === A) as Report;
    expect(byName(a2, 'iface').some((m) => 'in_bps' in m.fields)).to.equal(true);
    await rt.close();
  });

  it('never probes more schools at once than proxy.concurrency', async () => {
    const dir = tmpFiles({}).dir;
    const ids = Array.from({ length: 12 }, (_, i) => `16401040${String(i + 1).padStart(2, '0')}`);
    const config = proxyConfig(dir, `school_id,gateway,snmp\n${ids.map((id, i) => `${id},127.0.4.${i + 1},-`).join('\n')}\n`, { CAMPUSLINK_PROXY_CONCURRENCY: '4' });
    let inFlight = 0;
    let most = 0;
    const pinger: BatchPinger = {
      runs: 0,
      async ping(t) {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 50));
        inFlight--;
        return { stats: { resultCode: 0, sent: t.count, received: t.count, lossPct: 0, duplicates: 0, rttAvgMs: 1 } };
      },
    };
    const rt = new ProxyRuntime({ config, log, sender: recordingSender(), pinger });
    const s = await rt.cycle();
    expect(s.schools).to.equal(12);
    expect(most).to.equal(4);
    await rt.close();
  });

  it('says at start how many hours of all its schools the spool holds, and warns when that is under 6 hours', async () => {
    const lines: { level: number; msg: string; spoolHours?: number }[] = [];
    const capture = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const gw = `school_id,gateway,snmp\n${A},127.0.5.1,-\n${B},127.0.5.2,-\n`;
    // 2 schools × 14 KiB × 60 an hour: 3,440,640 bytes is 2 hours.
    const rt = new ProxyRuntime({ config: proxyConfig(tmpFiles({}).dir, gw, { CAMPUSLINK_SPOOL_MAX_SPOOL_BYTES: '3440640' }), log: capture, sender: recordingSender() });
    await rt.close();
    const started = lines.find((l) => l.msg.startsWith('proxy started'));
    expect(started).to.include({ spoolHours: 2, msg: "proxy started; its spool holds 2.0 hours of all 2 schools' reports" });
    expect(lines.find((l) => l.level === 40)?.msg).to.match(/^the spool holds only 2\.0 hours/);
  });

  it('stop() during a 429 Retry-After wait ends the upload round at once instead of sleeping it out', async () => {
    const dir = tmpFiles({}).dir;
    const gw = `school_id,gateway,snmp\n${A},127.0.5.1,-\n`;
    let sends = 0;
    let refused: () => void = () => undefined;
    const refusedOnce = new Promise<void>((r) => (refused = r));
    const sender: BatchSender = {
      send() {
        sends++;
        refused();
        return Promise.reject(new UploadError('collector http://x answered 429: COL_ERR_BUDGET_EXCEEDED: over budget maxInflightRequestsPerProxyToken = 16', 429, 'keep-and-back-off', true, 9_500));
      },
    };
    const rt = new ProxyRuntime({ config: proxyConfig(dir, gw), log, sender, cycleEveryMs: 3_600_000 });
    await rt.cycle();
    const handle = rt.run();
    await refusedOnce;
    const t0 = Date.now();
    await handle.stop();
    // The Retry-After is 9.5 s and the round would try twice more; a stop that waited would take ≥ 9.5 s.
    expect(Date.now() - t0).to.be.below(5_000);
    expect(sends).to.equal(1);
    expect((await rt.spool.view(A).stats()).reports, 'the report stays in the spool').to.equal(1);
    await rt.close();
  });

  it('a 429 over budget pauses only that school\'s upload for its Retry-After, the round going on; a long one waits for a later round', async () => {
    const dir = tmpFiles({}).dir;
    const gw = `school_id,gateway,snmp\n${A},127.0.5.1,-\n${B},127.0.5.2,-\n${C},127.0.5.3,-\n`;
    const ok = recordingSender();
    const calls: Record<string, number> = {};
    const overShare = (retryAfterMs: number) => new UploadError('collector http://x answered 429: COL_ERR_BUDGET_EXCEEDED: token of a county proxy already has 16 uploads in flight: over budget maxInflightRequestsPerProxyToken = 16', 429, 'keep-and-back-off', true, retryAfterMs);
    const sender: BatchSender = {
      send(reports, o) {
        const school = reports[0]?.school as string;
        calls[school] = (calls[school] ?? 0) + 1;
        if (school === B && calls[school] <= 2) return Promise.reject(overShare(200));
        if (school === C) return Promise.reject(overShare(60_000));
        return ok.send(reports, o);
      },
    };
    const rt = new ProxyRuntime({ config: proxyConfig(dir, gw), log, sender });
    await rt.cycle();
    const t0 = Date.now();
    const f = await rt.flush();
    expect(f.stoppedBy, 'no round ended by a 429').to.equal(undefined);
    expect(f).to.include({ acked: 2, deferred: 1 });
    expect(calls).to.deep.equal({ [A]: 1, [B]: 3, [C]: 1 });
    expect(Date.now() - t0).to.be.at.least(400);
    expect(ok.batches.flat().map((r) => r.school).sort()).to.deep.equal([A, B]);
    // C waits out its minute: the next round leaves it alone.
    await rt.cycle();
    const g = await rt.flush();
    expect(g).to.include({ acked: 2, deferred: 1 });
    expect(calls[C]).to.equal(1);
    expect((await rt.spool.view(C).stats()).reports).to.equal(2);
    await rt.close();
  });

  it('keeps undelivered reports across a restart and sends each exactly once, seq going on', async () => {
    const dir = tmpFiles({}).dir;
    const gw = `school_id,gateway,snmp\n${A},127.0.5.1,-\n${C},127.0.5.3,-\n`;
    const down: BatchSender = { send: () => Promise.reject(new Error('ECONNREFUSED')) };
    const first = new ProxyRuntime({ config: proxyConfig(dir, gw), log, sender: down });
    await first.cycle();
    await first.cycle();
    const f = await first.flush();
    expect(f.acked).to.equal(0);
    await first.close();
    const sender = recordingSender();
    const again = new ProxyRuntime({ config: proxyConfig(dir, gw), log, sender });
    expect(again.spool.waitingReports()).to.equal(4);
    await again.cycle();
    await again.flush();
    const got = sender.batches.flat().map((r) => `${r.school}/${r.seq}`).sort();
    expect(got).to.deep.equal([`${A}/1`, `${A}/2`, `${A}/3`, `${C}/1`, `${C}/2`, `${C}/3`]);
    expect(again.spool.waitingReports()).to.equal(0);
    await again.close();
    // After the restart the spool is empty and sequences go on from 3.
    const third = new ProxyRuntime({ config: proxyConfig(dir, gw), log, sender });
    expect(third.spool.waitingReports()).to.equal(0);
    expect(third.spool.lastSeq(A)).to.equal(3);
    await third.close();
  });
});
