import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { measurementSchema, type Measurement } from '../../../../protocol/report.js';
import { createIfaceProbe, ifaceRole, type IfaceProbeOptions } from '../../../../agent/probes/snmp/iface.js';
import { createNetSnmpClient, type SnmpClient } from '../../../../agent/probes/snmp/client.js';
import { stateFilePath } from '../../../../agent/probes/snmp/state.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../../../sim/gateway.js';
import type { ProbeContext } from '../../../../agent/probes/probe.js';

type Iface = Extract<Measurement, { name: 'iface' }>;
type Sys = Extract<Measurement, { name: 'sys' }>;

const T0 = 1_700_000_000_000;

/** A pino logger whose lines land in an array. */
function captureLog(): { log: ProbeContext['log']; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

function valid(ms: Measurement[]): Measurement[] {
  for (const m of ms) {
    const r = measurementSchema.safeParse(m);
    expect(r.success, `${JSON.stringify(m)}: ${r.success ? '' : JSON.stringify(r.error.issues)}`).to.equal(true);
  }
  return ms;
}

const sysOf = (ms: Measurement[]): Sys => ms.find((m): m is Sys => m.name === 'sys') as Sys;
const ifaces = (ms: Measurement[]): Iface[] => ms.filter((m): m is Iface => m.name === 'iface');
const iface = (ms: Measurement[], name: string): Iface => {
  const i = ifaces(ms).find((m) => m.tags.ifname === name);
  if (!i) throw new Error(`no iface ${name} in ${JSON.stringify(ms)}`);
  return i;
};

describe('snmp interface probe', () => {
  let t = T0;
  const now = (): number => t;
  let gw: Gateway | undefined;
  let stateDir: string;
  let logs: ReturnType<typeof captureLog>;
  let ctx: ProbeContext;

  async function gateway(options: GatewayOptions = {}): Promise<Gateway> {
    gw = await startGateway({
      now,
      name: 'gw-probe',
      interfaces: [
        { name: 'ge-0/0/0', descr: 'uplink ge-0/0/0', speedBps: 100e6, inBps: 80e6, outBps: 8e6 },
        { name: 'ge-0/0/1', speedBps: 1e9, inBps: 2e6, outBps: 40e6, inErrorsPerSec: 0.5 },
        { name: 'wlan0', type: 71, speedBps: 300e6, inBps: 1e6, outBps: 3e6 },
        { name: 'tun0', type: 131, speedBps: 0, operUp: false },
      ],
      ...options,
    });
    return gw;
  }

  function probe(extra: Partial<IfaceProbeOptions> = {}) {
    if (!gw) throw new Error('start the gateway first');
    return createIfaceProbe({ device: 'gateway', host: gw.host, port: gw.port, community: gw.community, wanInterface: 'ge-0/0/0', timeoutMs: 500, retries: 0, stateDir, ...extra });
  }

  beforeEach(async () => {
    t = T0;
    stateDir = await mkdtemp(join(tmpdir(), 'campuslink-snmp-'));
    logs = captureLog();
    ctx = { now, log: logs.log };
  });

  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
    await rm(stateDir, { recursive: true, force: true });
  });

  it('collect() emits one sys and one iface per interface (loopback skipped) with roles and speeds on the first poll', async () => {
    await gateway();
    t += 123_000;
    const ms = valid(await probe().collect(ctx));
    expect(sysOf(ms).fields).to.deep.include({ result_code: 0, uptime_s: 123, errors: 0 });
    expect(sysOf(ms).fields.descr).to.contain('gw-probe');
    expect(ifaces(ms).map((i) => [i.tags.ifname, i.tags.role])).to.deep.equal([
      ['ge-0/0/0', 'wan'],
      ['ge-0/0/1', 'lan'],
      ['wlan0', 'lan'],
      ['tun0', 'other'],
    ]);
    expect(iface(ms, 'ge-0/0/0').fields).to.deep.equal({ oper_up: 1, speed_bps: 100e6 });
    expect(iface(ms, 'tun0').fields).to.deep.equal({ oper_up: 0 });
  });

  it('collect() computes rates from the measured interval of the injected clock, not a nominal one', async () => {
    await gateway();
    const p = probe();
    await p.collect(ctx);
    t += 30_000;
    const a = valid(await p.collect(ctx));
    t += 47_500;
    const b = valid(await p.collect(ctx));
    for (const ms of [a, b]) {
      expect(iface(ms, 'ge-0/0/0').fields).to.deep.include({ in_bps: 80e6, out_bps: 8e6, in_util_pct: 80, out_util_pct: 8 });
      expect(iface(ms, 'ge-0/0/1').fields).to.deep.include({ in_bps: 2e6, out_bps: 40e6, in_util_pct: 0.2, out_util_pct: 4 });
      expect(iface(ms, 'ge-0/0/1').fields.counter_reset).to.equal(undefined);
    }
    expect(iface(a, 'ge-0/0/1').fields.in_errors).to.equal(15);
    expect(iface(b, 'ge-0/0/1').fields.in_errors).to.be.within(23, 24);
  });

  it('collect() prefers 64-bit counters: a counter past 2^32 needs no wrap handling', async () => {
    await gateway();
    gw?.setCounter(1, 'inOctets', 2n ** 32n - 100n);
    const p = probe();
    await p.collect(ctx);
    t += 10_000;
    const ms = await p.collect(ctx);
    expect(iface(ms, 'ge-0/0/0').fields.in_bps).to.equal(80e6);
    expect(p.stats.wraps).to.equal(0);
    const state = JSON.parse(await readFile(stateFilePath(stateDir, 'gateway'), 'utf8')) as { ifaces: Record<string, { bits: number; inOctets: string }> };
    expect(state.ifaces['1']).to.deep.include({ bits: 64, inOctets: String(2n ** 32n - 100n + 100_000_000n) });
  });

  it('collect() handles a 32-bit wrap on a device without ifXTable', async () => {
    await gateway({ ifXTable: false });
    gw?.setCounter(1, 'inOctets', 2n ** 32n - 1000n);
    const p = probe({ wanInterface: 1 });
    await p.collect(ctx);
    t += 10_000; // 100 MB at 80 Mbit/s: the 32-bit counter wraps
    const ms = valid(await p.collect(ctx));
    const wan = iface(ms, 'uplink ge-0/0/0'); // no ifName without ifXTable: ifDescr
    expect(wan.tags.role).to.equal('wan');
    expect(wan.fields).to.deep.include({ in_bps: 80e6, out_bps: 8e6, speed_bps: 100e6 });
    expect(wan.fields.counter_reset).to.equal(undefined);
    expect(p.stats.wraps).to.equal(1);
  });

  it('collect() marks counter_reset=1 and emits no rate after a reboot', async () => {
    await gateway();
    const p = probe();
    await p.collect(ctx);
    t += 30_000;
    await p.collect(ctx);
    t += 10_000;
    gw?.reboot();
    t += 50_000;
    const ms = valid(await p.collect(ctx));
    expect(sysOf(ms).fields.uptime_s).to.equal(50);
    for (const i of ifaces(ms)) {
      expect(i.fields, i.tags.ifname).to.not.have.any.keys('in_bps', 'out_bps', 'in_errors', 'in_util_pct');
      expect(i.fields.counter_reset, i.tags.ifname).to.equal(1);
    }
    expect(logs.lines.some((l) => /rebooted/.test(String(l.msg)))).to.equal(true);
    t += 30_000;
    const after = valid(await p.collect(ctx));
    expect(iface(after, 'ge-0/0/0').fields).to.deep.include({ in_bps: 80e6 });
    expect(iface(after, 'ge-0/0/0').fields.counter_reset).to.equal(undefined);
  });

  it('collect() discards an implausible counter jump, counts it and logs it', async () => {
    await gateway();
    const p = probe();
    await p.collect(ctx);
    t += 30_000;
    gw?.setCounter(1, 'inOctets', (gw?.readCounter(1, 'inOctets') ?? 0n) + 10n ** 12n);
    const ms = valid(await p.collect(ctx));
    const wan = iface(ms, 'ge-0/0/0');
    expect(wan.fields).to.not.have.any.keys('in_bps', 'in_util_pct');
    expect(wan.fields.out_bps).to.equal(8e6);
    expect(p.stats.implausible).to.equal(1);
    const warn = logs.lines.find((l) => /implausible/.test(String(l.msg)));
    expect(warn).to.deep.include({ level: 40, device: 'gateway', ifname: 'ge-0/0/0', counter: 'inOctets' });
    t += 30_000;
    expect(iface(await p.collect(ctx), 'ge-0/0/0').fields.in_bps).to.equal(80e6);
  });

  it('collect() continues from the state file after a restart (a new probe instance)', async () => {
    await gateway();
    await probe().collect(ctx);
    t += 60_000;
    // The agent config gives the address as host:port; the probe takes that form too.
    const restarted = createIfaceProbe({ device: 'gateway', host: `${gw?.host}:${gw?.port}`, wanInterface: 'ge-0/0/0', timeoutMs: 500, stateDir });
    const ms = valid(await restarted.collect(ctx));
    expect(iface(ms, 'ge-0/0/0').fields).to.deep.include({ in_bps: 80e6, out_bps: 8e6 });
  });

  it('collect() starts from a new baseline when the state file is corrupt, and logs it', async () => {
    await gateway();
    await writeFile(stateFilePath(stateDir, 'gateway'), '{"v":1,"dev');
    const ms = valid(await probe().collect(ctx));
    expect(sysOf(ms).fields.result_code).to.equal(0);
    expect(logs.lines.some((l) => /unreadable/.test(String(l.msg)))).to.equal(true);
  });

  it('collect() reports a dead port as sys result_code 2 quickly, without iface measurements', async () => {
    const g = await gateway();
    await g.stop();
    const p = probe({ timeoutMs: 100, retries: 0 });
    const start = Date.now();
    const ms = valid(await p.collect(ctx));
    expect(Date.now() - start).to.be.lessThan(1000);
    expect(ms).to.deep.equal([{ name: 'sys', tags: { device: 'gateway' }, fields: { result_code: 2, errors: 1 } }]);
    expect(p.stats).to.deep.include({ failures: 1, timeouts: 1 });
  });

  it('collect() keeps the uptime and reports result_code 2 when the device stops answering mid-poll', async () => {
    await gateway();
    let calls = 0;
    const p = probe({
      createClient: (o) => {
        const real = createNetSnmpClient(o);
        return {
          target: real.target,
          get: (oids) => real.get(oids),
          subtree: (oid) => real.subtree(oid),
          table: (oid, cols) => (++calls === 1 ? real.table(oid, cols) : (gw?.setMuted(true), real.table(oid, cols))),
          close: () => real.close(),
        } satisfies SnmpClient;
      },
      timeoutMs: 100,
    });
    const ms = valid(await p.collect(ctx));
    expect(ifaces(ms)).to.deep.equal([]);
    expect(sysOf(ms).fields).to.deep.include({ result_code: 2, errors: 1, uptime_s: 0 });
  });

  it('collect() never throws: a failing client becomes sys result_code 3', async () => {
    await gateway();
    const p = probe({
      createClient: () => ({
        target: 'x',
        get: () => Promise.reject(new TypeError('boom')),
        subtree: () => Promise.resolve([]),
        table: () => Promise.resolve(new Map()),
        close: () => undefined,
      }),
    });
    expect(valid(await p.collect(ctx))).to.deep.equal([{ name: 'sys', tags: { device: 'gateway' }, fields: { result_code: 3, errors: 1 } }]);
    const throwing = probe({
      createClient: () => {
        throw new Error('cannot create socket');
      },
    });
    expect(sysOf(await throwing.collect(ctx)).fields.result_code).to.equal(3);
  });

  it('collect() recovers after a failed poll, and rates resume', async () => {
    await gateway();
    const p = probe({ timeoutMs: 100 });
    await p.collect(ctx);
    gw?.setMuted(true);
    t += 30_000;
    expect(sysOf(await p.collect(ctx)).fields.result_code).to.equal(2);
    gw?.setMuted(false);
    t += 30_000;
    const ms = valid(await p.collect(ctx));
    expect(iface(ms, 'ge-0/0/0').fields.in_bps).to.equal(80e6);
    expect(logs.lines.filter((l) => l.msg === 'SNMP poll failed')).to.have.length(1);
  });

  it('rejects a device name that cannot be a tag value', () => {
    expect(() => createIfaceProbe({ device: 'a\tb', host: '127.0.0.1' })).to.throw(/device/);
  });

  it('ifaceRole() matches the WAN interface by name, description or ifIndex', () => {
    expect(ifaceRole({ ifIndex: 3, ifName: 'ge-0/0/3', ifType: 6 }, 'ge-0/0/3')).to.equal('wan');
    expect(ifaceRole({ ifIndex: 3, ifDescr: 'WAN port', ifType: 6 }, 'WAN port')).to.equal('wan');
    expect(ifaceRole({ ifIndex: 3, ifType: 6 }, 3)).to.equal('wan');
    expect(ifaceRole({ ifIndex: 3, ifType: 6 }, '3')).to.equal('wan');
    expect(ifaceRole({ ifIndex: 4, ifType: 71 }, 3)).to.equal('lan');
    expect(ifaceRole({ ifIndex: 5, ifType: 23 }, undefined)).to.equal('other');
  });
});
