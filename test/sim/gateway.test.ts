import { expect } from 'chai';
import { createNetSnmpClient, type SnmpClient, type SnmpVarbind } from '../../agent/probes/snmp/client.js';
import { startGateway, startGatewayFleet, type Gateway } from '../../sim/gateway.js';

const T0 = 1_700_000_000_000;
const SYS_UPTIME = '1.3.6.1.2.1.1.3.0';
const IF_IN_OCTETS = (i: number): string => `1.3.6.1.2.1.2.2.1.10.${i}`;
const IF_HC_IN_OCTETS = (i: number): string => `1.3.6.1.2.1.31.1.1.1.6.${i}`;

function value(vb: SnmpVarbind | undefined): unknown {
  return vb?.value;
}

describe('sim gateway', () => {
  let t = T0;
  const now = (): number => t;
  let gw: Gateway;
  let client: SnmpClient;

  beforeEach(async () => {
    t = T0;
    gw = await startGateway({
      now,
      name: 'gw-unit',
      interfaces: [
        { name: 'ge-0/0/0', speedBps: 100e6, inBps: 80e6, outBps: 8e6 },
        { name: 'ge-0/0/1', speedBps: 1e9, inBps: 1e6, outBps: 2e6 },
      ],
    });
    client = createNetSnmpClient({ host: gw.host, port: gw.port, community: gw.community, timeoutMs: 300, retries: 0 });
  });

  afterEach(async () => {
    client.close();
    await gw.stop();
  });

  it('listens on a loopback address and an ephemeral port', () => {
    expect(gw.host).to.equal('127.0.0.1');
    expect(gw.port).to.be.greaterThan(1023);
  });

  it('serves the system group, with sysUpTime following the injected clock', async () => {
    t += 12_340;
    const [descr, oid, up, name] = await client.get(['1.3.6.1.2.1.1.1.0', '1.3.6.1.2.1.1.2.0', SYS_UPTIME, '1.3.6.1.2.1.1.5.0']);
    expect(descr?.type).to.equal('OctetString');
    expect(String(value(descr))).to.contain('gw-unit');
    expect(oid).to.deep.include({ type: 'OID' });
    expect(up).to.deep.include({ type: 'TimeTicks', value: 1234 });
    expect(String(value(name))).to.equal('gw-unit');
  });

  it('serves ifTable and ifXTable rows for every interface plus a loopback', async () => {
    const ifRows = await client.table('1.3.6.1.2.1.2.2.1');
    const ifxRows = await client.table('1.3.6.1.2.1.31.1.1.1');
    expect([...ifRows.keys()]).to.deep.equal(['1', '2', '3']);
    expect(String(value(ifxRows.get('1')?.get(1)))).to.equal('ge-0/0/0');
    expect(value(ifRows.get('3')?.get(3))).to.equal(24);
    expect(ifxRows.get('1')?.get(15)).to.deep.include({ type: 'Gauge32', value: 100 });
    expect(ifxRows.get('2')?.get(6)?.type).to.equal('Counter64');
  });

  it('advances octet counters at the configured rate, 32-bit and 64-bit alike', async () => {
    t += 10_000;
    const [c32, c64] = await client.get([IF_IN_OCTETS(1), IF_HC_IN_OCTETS(1)]);
    expect(c32).to.deep.include({ type: 'Counter32', value: 100_000_000 });
    expect(c64).to.deep.include({ type: 'Counter64', value: 100_000_000n });
  });

  it('wraps the 32-bit column while the 64-bit column keeps counting after setCounter()', async () => {
    gw.setCounter(1, 'inOctets', 2n ** 32n - 1000n);
    t += 1_000; // +10 000 000 octets at 80 Mbit/s
    const [c32, c64] = await client.get([IF_IN_OCTETS(1), IF_HC_IN_OCTETS(1)]);
    expect(c32?.value).to.equal(10_000_000 - 1000);
    expect(c64?.value).to.equal(2n ** 32n - 1000n + 10_000_000n);
    expect(gw.readCounter(1, 'inOctets')).to.equal(2n ** 32n - 1000n + 10_000_000n);
  });

  it('restarts sysUpTime and every counter on reboot()', async () => {
    t += 60_000;
    gw.reboot();
    t += 5_000;
    const [up, c64] = await client.get([SYS_UPTIME, IF_HC_IN_OCTETS(1)]);
    expect(up?.value).to.equal(500);
    expect(c64?.value).to.equal(50_000_000n);
  });

  it('can withdraw and restore ifXTable (a 32-bit-only device)', async () => {
    gw.setIfXTable(false);
    expect((await client.table('1.3.6.1.2.1.31.1.1.1')).size).to.equal(0);
    expect((await client.table('1.3.6.1.2.1.2.2.1')).size).to.equal(3);
    gw.setIfXTable(true);
    expect((await client.table('1.3.6.1.2.1.31.1.1.1')).size).to.equal(3);
  });

  it('stops answering while muted, like a dead device', async () => {
    gw.setMuted(true);
    const err = await client.get([SYS_UPTIME]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.have.property('kind', 'timeout');
    gw.setMuted(false);
    expect((await client.get([SYS_UPTIME]))[0]?.type).to.equal('TimeTicks');
  });

  it('answers GetNext walks under SNMP v1 too', async () => {
    const v1 = createNetSnmpClient({ host: gw.host, port: gw.port, version: '1', timeoutMs: 300, retries: 0 });
    try {
      const system = await v1.subtree('1.3.6.1.2.1.1');
      expect(system.map((vb) => vb.oid)).to.include(SYS_UPTIME);
    } finally {
      v1.close();
    }
  });

  it('startGateway() rejects a port that is already taken, without crashing', async () => {
    const err = await startGateway({ port: gw.port }).then(
      (g) => g.stop(),
      (e: unknown) => e,
    );
    expect(String(err)).to.match(/EADDRINUSE/);
    expect((await client.get([SYS_UPTIME]))[0]?.type).to.equal('TimeTicks');
  });

  it('refuses to bind anything but loopback', async () => {
    const err = await startGateway({ host: '0.0.0.0' }).then(
      (g) => g.stop(),
      (e: unknown) => e,
    );
    expect(String(err)).to.match(/only loopback/);
  });
});

describe('sim gateway fleet', () => {
  it('starts 20 gateways on distinct loopback ports in one process, all answering', async () => {
    const fleet = await startGatewayFleet({ count: 20, host: '127.0.0.1' });
    try {
      expect(fleet.addresses).to.have.length(20);
      expect(new Set(fleet.addresses.map((a) => a.port)).size).to.equal(20);
      expect(fleet.addresses[0]?.name).to.equal('gw-01');
      const answers = await Promise.all(
        fleet.addresses.map(async (a) => {
          const c = createNetSnmpClient({ host: a.host, port: a.port, community: a.community, timeoutMs: 1000, retries: 1 });
          try {
            return await c.table('1.3.6.1.2.1.31.1.1.1', [1, 6, 10, 15]);
          } finally {
            c.close();
          }
        }),
      );
      for (const rows of answers) expect(rows.size).to.equal(5);
    } finally {
      await fleet.stop();
    }
  });
});
