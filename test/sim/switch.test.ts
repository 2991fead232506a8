import { expect } from 'chai';
import { createNetSnmpClient, type SnmpClient } from '../../agent/probes/snmp/client.js';
import { generateDevices, startSwitch, type SimSwitch } from '../../sim/switch.js';
import { sharedOuiLookup } from '../../agent/probes/inventory/oui.js';

describe('sim switch', () => {
  let sw: SimSwitch;
  let client: SnmpClient;
  beforeEach(async () => {
    sw = await startSwitch({ devices: 20 });
    client = createNetSnmpClient({ host: sw.host, port: sw.port, community: sw.community, timeoutMs: 300, retries: 0 });
  });
  afterEach(async () => {
    client.close();
    await sw.stop();
  });

  it('generateDevices() is deterministic and uses real OUIs of the vendor it means', () => {
    const a = generateDevices(300, 5);
    expect(generateDevices(300, 5)).to.deep.equal(a);
    expect(new Set(a.map((d) => d.mac)).size).to.equal(300);
    const oui = sharedOuiLookup();
    expect(a.filter((d) => d.kind === 'camera').every((d) => /Hikvision|Dahua/.test(oui.vendor(d.mac) ?? ''))).to.equal(true);
    expect(a.filter((d) => d.kind === 'unknown').every((d) => oui.vendor(d.mac) === undefined)).to.equal(true);
  });

  it('serves one ARP, one bridge row per device, and LLDP rows for the LLDP speakers', async () => {
    const arp = await client.table('1.3.6.1.2.1.4.22.1', [2]);
    const fdb = await client.table('1.3.6.1.2.1.17.4.3.1', [2]);
    const lldp = await client.table('1.0.8802.1.1.2.1.4.1.1', [9]);
    expect(arp.size).to.equal(20);
    expect(fdb.size).to.equal(20);
    expect(lldp.size).to.equal(sw.devices().filter((d) => d.lldp).length);
  });

  it('addDevices(), removeDevices() and setTable() change what is served', async () => {
    sw.addDevices([{ mac: '00:15:65:00:00:01', ip: '10.99.0.1' }]);
    expect((await client.table('1.3.6.1.2.1.4.35.1', [4])).size).to.equal(21);
    sw.removeDevices([sw.devices()[0]?.mac as string, '00:15:65:00:00:01']);
    expect((await client.table('1.3.6.1.2.1.4.35.1', [4])).size).to.equal(19);
    sw.setTable('ipNetToPhysical', false);
    expect((await client.table('1.3.6.1.2.1.4.35.1', [4])).size).to.equal(0);
  });

  it('refuses a non-loopback address', async () => {
    let err: unknown;
    try {
      await startSwitch({ host: '192.0.2.10' });
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/only loopback/);
  });
});
