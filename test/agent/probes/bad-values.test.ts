/**
 * One bad value from a device never costs the cycle: a 300-character LLDP sysName (a MikroTik router)
 * and a gateway interface whose ifName ends in `\` and holds a control character, polled over real
 * SNMP (sim/switch.ts, sim/gateway.ts: net-snmp agents on loopback) next to a real ping, through the
 * real collector into a real InfluxDB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createInventoryProbe } from '../../../agent/probes/inventory/index.js';
import { createPingProbe } from '../../../agent/probes/ping/index.js';
import { createIfaceProbe } from '../../../agent/probes/snmp/iface.js';
import { AgentRuntime } from '../../../agent/runtime.js';
import { batchSchema } from '../../../protocol/index.js';
import { startGateway, type Gateway } from '../../../sim/gateway.js';
import { generateDevices, startSwitch, type SimDevice, type SimSwitch } from '../../../sim/switch.js';
import { loadJson } from '../../fixtures/snmp/walk.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';
import { CollectorChild, SCHOOLS, agentConfig, countPoints } from '../../fault/harness.js';

describe('agent: device strings the protocol does not allow cost only themselves', function () {
  this.timeout(60_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;
  let sw: SimSwitch;
  let gw: Gateway;
  let dir: string;
  const long = loadJson<SimDevice>('lldp-long-sysname.json');

  before(async () => {
    influx = await startTestInfluxd();
    collector = new CollectorChild(influx);
    await collector.start();
    sw = await startSwitch({ devices: [...generateDevices(5, 2), long] });
    gw = await startGateway({
      name: 'gw-bad',
      interfaces: [
        { name: 'ge-0/0/0', speedBps: 100e6, inBps: 1e6, outBps: 1e6 },
        { name: 'lan\\', descr: 'lan port', speedBps: 1e9, inBps: 1e6, outBps: 1e6 },
        { name: 'wl\u0007an0', speedBps: 1e9 },
      ],
    });
    dir = mkdtempSync(join(tmpdir(), 'cl-bad-values-'));
  });
  after(async () => {
    await sw?.stop();
    await gw?.stop();
    await collector?.stop();
    await influx?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the report is built and delivered with the sysName cut to 256 characters and the ifName cleaned; ping, iface and inventory points are all stored', async () => {
    expect(long.lldp?.sysName).to.have.length(300);
    const school = SCHOOLS[0] as string;
    const config = agentConfig({ school, url: collector.url, token: collector.token(school), dir });
    const probes = [
      createPingProbe({ targets: [{ host: '127.0.0.1', role: 'gateway', count: 2, intervalMs: 200, timeoutMs: 500 }] }),
      createInventoryProbe({ sources: [{ host: `${sw.host}:${sw.port}`, community: sw.community }], timeoutMs: 2000, retries: 1, stateDir: dir }),
      createIfaceProbe({ device: 'gw-bad', host: `${gw.host}:${gw.port}`, community: gw.community, timeoutMs: 2000, retries: 1, stateDir: dir }),
    ];
    const agent = new AgentRuntime({ config, log: pino({ level: 'silent' }), probes });
    try {
      const { report, delivered } = await agent.once();
      expect(delivered, 'delivered').to.equal(true);
      expect(batchSchema.safeParse({ reports: [report] }).success).to.equal(true);
      const mikrotik = report.devices?.added.find((d) => d.mac === long.mac);
      expect(mikrotik?.name).to.equal(long.lldp?.sysName.slice(0, 256));
      expect(report.devices?.added).to.have.length(6);
      const ifnames = report.measurements.flatMap((m) => (m.name === 'iface' ? [m.tags.ifname] : []));
      expect(ifnames).to.include.members(['ge-0/0/0', 'lan', 'wl an0']);
      expect(await countPoints(influx, 'ping', school, 'gw-01')).to.equal(1);
      expect(await countPoints(influx, 'inventory', school, 'gw-01')).to.be.greaterThan(0);
      expect(await countPoints(influx, 'sys', school, 'gw-01')).to.equal(1);
    } finally {
      agent.close();
    }
  });
});
