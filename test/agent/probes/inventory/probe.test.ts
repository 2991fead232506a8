import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createInventoryProbe, type InventoryProbeOptions } from '../../../../agent/probes/inventory/index.js';
import { DEVICE_CLASSES, reportSchema, type Measurement } from '../../../../protocol/index.js';
import { generateDevices, startSwitch, type SimSwitch } from '../../../../sim/switch.js';
import { startGateway, type Gateway } from '../../../../sim/gateway.js';
import { makeReport } from '../../../helpers/reports.js';

const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
const MIN = 60_000;
const log = pino({ level: 'silent' });

function counts(ms: Measurement[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of ms) if (m.name === 'inventory') out[m.tags.class] = m.fields.count as number;
  return out;
}

describe('agent/probes/inventory (against sim/switch.ts)', function () {
  this.timeout(20_000);
  let sw: SimSwitch;
  let dir: string;
  let t = T0;
  const ctx = { now: () => t, log };
  const probeOpts = (over: Partial<InventoryProbeOptions> = {}): InventoryProbeOptions => ({
    sources: [{ host: `${sw.host}:${sw.port}`, community: sw.community }],
    timeoutMs: 300,
    retries: 0,
    stateDir: dir,
    ...over,
  });

  beforeEach(async () => {
    t = T0;
    dir = mkdtempSync(join(tmpdir(), 'inventory-probe-'));
    sw = await startSwitch({ devices: generateDevices(60, 3) });
  });
  afterEach(async () => {
    await sw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('collect() reports a count for every class, zeros included, that adds up to the devices served', async () => {
    const probe = createInventoryProbe(probeOpts());
    const c = counts(await probe.collect(ctx));
    expect(Object.keys(c).sort()).to.deep.equal([...DEVICE_CLASSES].sort());
    expect(Object.values(c).reduce((a, b) => a + b, 0)).to.equal(60);
    expect(c.router).to.equal(0);
    // The generator's intended kinds are what the default rules find.
    const kinds: Record<string, number> = Object.fromEntries(DEVICE_CLASSES.map((k) => [k, 0]));
    for (const d of sw.devices()) kinds[d.kind as string] = (kinds[d.kind as string] ?? 0) + 1;
    expect(c).to.deep.equal(kinds);
  });

  it('the first cycle sends the full list, which a report accepts, and an unchanged LAN sends nothing', async () => {
    const probe = createInventoryProbe(probeOpts());
    await probe.collect(ctx);
    const first = probe.deviceEvents();
    expect(first?.full).to.equal(true);
    expect(first?.added).to.have.length(60);
    expect(() => reportSchema.parse(makeReport({ devices: first }))).not.to.throw();
    const ap = first?.added.find((d) => d.class === 'ap');
    expect(ap?.name).to.match(/^AP-/);
    expect(ap?.vendor).to.match(/Ruijie/);
    expect(first?.added.some((d) => d.locallyAdministered && d.vendor === undefined)).to.equal(true);
    t += MIN;
    await probe.collect(ctx);
    expect(probe.deviceEvents()).to.equal(undefined);
  });

  it('a new device is sent once as added; a removed one is sent as removed only after goneAfterMs', async () => {
    const probe = createInventoryProbe(probeOpts({ goneAfterMs: 60 * MIN }));
    await probe.collect(ctx);
    sw.addDevices([{ mac: 'ac:b9:2f:00:00:01', ip: '10.20.9.1', port: 5 }]);
    t += MIN;
    await probe.collect(ctx);
    expect(probe.deviceEvents()).to.deep.include({ full: false, removed: [] });
    expect(probe.deviceEvents()?.added.map((d) => [d.mac, d.class, d.firstSeen])).to.deep.equal([['ac:b9:2f:00:00:01', 'camera', t]]);
    sw.removeDevices(['ac:b9:2f:00:00:01']);
    t += 30 * MIN;
    await probe.collect(ctx);
    expect(probe.deviceEvents()).to.equal(undefined);
    t += 31 * MIN;
    const c = counts(await probe.collect(ctx));
    expect(probe.deviceEvents()).to.deep.equal({ full: false, added: [], removed: ['ac:b9:2f:00:00:01'] });
    expect(Object.values(c).reduce((a, b) => a + b, 0)).to.equal(60);
  });

  it('the full list is re-sent after fullResendIntervalMs, and again after an agent restart', async () => {
    const probe = createInventoryProbe(probeOpts({ fullResendIntervalMs: 10 * MIN }));
    await probe.collect(ctx);
    t += 5 * MIN;
    await probe.collect(ctx);
    expect(probe.deviceEvents()).to.equal(undefined);
    t += 5 * MIN;
    await probe.collect(ctx);
    expect(probe.deviceEvents()?.full).to.equal(true);
    const firstSeen = probe.deviceEvents()?.added[0]?.firstSeen;
    t += MIN;
    const restarted = createInventoryProbe(probeOpts({ fullResendIntervalMs: 10 * MIN }));
    await restarted.collect(ctx);
    expect(restarted.deviceEvents()?.full).to.equal(true);
    expect(restarted.deviceEvents()?.added[0]?.firstSeen).to.equal(firstSeen);
    expect(firstSeen).to.equal(T0);
  });

  it('falls back to ipNetToMediaTable when ipNetToPhysicalTable is missing', async () => {
    sw.setTable('ipNetToPhysical', false);
    const probe = createInventoryProbe(probeOpts());
    await probe.collect(ctx);
    expect(probe.deviceEvents()?.added.filter((d) => d.ip)).to.have.length(60);
    expect(probe.stats.errors).to.equal(0);
  });

  it('collect() never throws on a dead device: counts stay, nothing ages out, and inventory_poll records result_code=2', async () => {
    const probe = createInventoryProbe(probeOpts({ goneAfterMs: MIN }));
    await probe.collect(ctx);
    sw.setMuted(true);
    t += 10 * MIN;
    const started = Date.now();
    const measurements = await probe.collect(ctx);
    const c = counts(measurements);
    expect(Date.now() - started).to.be.lessThan(3000);
    expect(Object.values(c).reduce((a, b) => a + b, 0)).to.equal(60);
    expect(probe.deviceEvents()).to.equal(undefined);
    expect(probe.stats).to.deep.include({ failedPolls: 1, lastErrors: 1 });
    const poll = measurements.find((m) => m.name === 'inventory_poll');
    expect(poll?.fields).to.include({ result_code: 2, neighbours: 0 });
    expect((poll?.fields as { errors: number }).errors).to.be.greaterThan(0);
    sw.setMuted(false);
    t += MIN;
    const again = await probe.collect(ctx);
    expect(probe.stats.lastErrors).to.equal(0);
    expect(again.find((m) => m.name === 'inventory_poll')?.fields).to.include({ result_code: 0, errors: 0, neighbours: 60 });
  });

  it('a corrupt state file is moved aside and the probe starts afresh', async () => {
    writeFileSync(join(dir, 'inventory.json'), '{"v":1,"devices":[{"nonsense":true}]}');
    const probe = createInventoryProbe(probeOpts());
    await probe.collect(ctx);
    expect(probe.deviceEvents()?.added).to.have.length(60);
    expect(readFileSync(join(dir, `inventory.json.corrupt-${T0}`), 'utf8')).to.contain('nonsense');
  });

  it('discovery on a loopback range names devices by the sysDescr they answer with', async () => {
    // Two SNMP agents on their own loopback addresses; the switch's ARP table maps them to MACs.
    const gws: Gateway[] = [];
    try {
      gws.push(await startGateway({ host: '127.0.0.2', name: 'room-301-panel', descr: 'Interactive flat panel, classroom 301' }));
      gws.push(await startGateway({ host: '127.0.0.3', port: gws[0]?.port, name: 'lab-printer', descr: 'Canon imageRUNNER 2625 printer' }));
      sw.addDevices([
        { mac: '00:0c:29:00:00:02', ip: '127.0.0.2' },
        { mac: '00:0c:29:00:00:03', ip: '127.0.0.3' },
      ]);
      const probe = createInventoryProbe(
        probeOpts({ discovery: { cidr: '127.0.0.0/29', port: gws[0]?.port as number, community: 'public', intervalMs: 60 * MIN, timeoutMs: 300, concurrency: 4 } }),
      );
      await probe.collect(ctx);
      const byMac = new Map(probe.deviceEvents()?.added.map((d) => [d.mac, d]));
      expect(byMac.get('00:0c:29:00:00:02')).to.deep.include({ class: 'display', name: 'room-301-panel' });
      expect(byMac.get('00:0c:29:00:00:03')).to.deep.include({ class: 'printer', name: 'lab-printer' });
      expect(probe.stats).to.deep.include({ sweeps: 1, discovered: 2 });
      t += MIN;
      await probe.collect(ctx);
      expect(probe.stats.sweeps).to.equal(1);
    } finally {
      await Promise.all(gws.map((g) => g.stop()));
    }
  });
});
