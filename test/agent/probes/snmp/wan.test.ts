import { expect } from 'chai';
import { pino } from 'pino';
import { createNetSnmpClient, type NetSnmpClientOptions, type SnmpClient } from '../../../../agent/probes/snmp/client.js';
import { createIfaceProbe } from '../../../../agent/probes/snmp/iface.js';
import { createLimiter } from '../../../../agent/probes/snmp/limit.js';
import { inferWanInterface } from '../../../../agent/probes/snmp/wan.js';
import { startGateway, type GatewayOptions } from '../../../../sim/gateway.js';

const log = pino({ level: 'silent' });

async function withGateway<T>(options: GatewayOptions, fn: (c: SnmpClient, port: number) => Promise<T>): Promise<T> {
  const gw = await startGateway(options);
  const c = createNetSnmpClient({ host: gw.host, port: gw.port, timeoutMs: 300, retries: 0 });
  try {
    return await fn(c, gw.port);
  } finally {
    c.close();
    await gw.stop();
  }
}

describe('snmp WAN inference', () => {
  it('inferWanInterface() takes the default route’s ifIndex from inetCidrRouteTable', async () => {
    expect(await withGateway({}, (c) => inferWanInterface(c))).to.deep.equal({ ifIndex: 1, source: 'inetCidrRouteTable' });
  });

  it('inferWanInterface() falls back to ipCidrRouteTable when inetCidrRouteTable is missing', async () => {
    expect(await withGateway({ routes: { table: 'ipCidr', defaultIfIndex: 3 } }, (c) => inferWanInterface(c))).to.deep.equal({ ifIndex: 3, source: 'ipCidrRouteTable' });
  });

  it('inferWanInterface() resolves undefined for a device without route tables', async () => {
    expect(await withGateway({ routes: false }, (c) => inferWanInterface(c))).to.equal(undefined);
  });

  it('collect() tags the default-route interface role=wan when wanInterface is not configured', async () => {
    await withGateway({ routes: { defaultIfIndex: 2 } }, async (_c, port) => {
      const probe = createIfaceProbe({ device: 'gw', host: `127.0.0.1:${port}`, timeoutMs: 300 });
      const ms = await probe.collect({ now: Date.now, log });
      const wan = ms.filter((m) => m.name === 'iface' && m.tags.role === 'wan').map((m) => (m.name === 'iface' ? m.tags.ifname : ''));
      expect(wan).to.deep.equal(['ge-0/0/1']);
    });
  });

  it('collect() still succeeds, with no role=wan, on a device without route tables', async () => {
    await withGateway({ routes: false }, async (_c, port) => {
      const probe = createIfaceProbe({ device: 'gw', host: `127.0.0.1:${port}`, timeoutMs: 300 });
      const ms = await probe.collect({ now: Date.now, log });
      expect(ms.find((m) => m.name === 'sys')?.fields.result_code).to.equal(0);
      expect(ms.some((m) => m.name === 'iface' && m.tags.role === 'wan')).to.equal(false);
      expect(ms.filter((m) => m.name === 'iface').length).to.equal(4);
    });
  });

  it('collect() caches the inference and reads the route tables again only after wanRecheckMs', async () => {
    await withGateway({}, async (_c, port) => {
      const routeWalks: string[] = [];
      const createClient = (o: NetSnmpClientOptions): SnmpClient => {
        const real = createNetSnmpClient(o);
        return {
          ...real,
          target: real.target,
          get: (oids) => real.get(oids),
          subtree: (oid) => real.subtree(oid),
          table: (entry, cols) => {
            if (entry.startsWith('1.3.6.1.2.1.4.')) routeWalks.push(entry);
            return real.table(entry, cols);
          },
          close: () => real.close(),
        };
      };
      let t = 1_700_000_000_000;
      const probe = createIfaceProbe({ device: 'gw', host: `127.0.0.1:${port}`, timeoutMs: 300, wanRecheckMs: 60_000, createClient });
      await probe.collect({ now: () => t, log });
      t += 30_000;
      await probe.collect({ now: () => t, log });
      expect(routeWalks).to.have.length(1);
      t += 31_000;
      await probe.collect({ now: () => t, log });
      expect(routeWalks).to.have.length(2);
    });
  });

  it('a configured wanInterface wins and the route tables are never read', async () => {
    await withGateway({ routes: { defaultIfIndex: 2 } }, async (_c, port) => {
      const probe = createIfaceProbe({ device: 'gw', host: `127.0.0.1:${port}`, timeoutMs: 300, wanInterface: 'wlan0' });
      const ms = await probe.collect({ now: Date.now, log });
      expect(ms.filter((m) => m.name === 'iface' && m.tags.role === 'wan').map((m) => (m.name === 'iface' ? m.tags.ifname : ''))).to.deep.equal(['wlan0']);
    });
  });
});

describe('snmp limiter', () => {
  it('createLimiter(2) never runs more than two tasks at once and runs them all', async () => {
    const limiter = createLimiter(2);
    let active = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        limiter.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 5));
          active--;
          return i;
        }),
      ),
    );
    expect(results).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    expect(peak).to.equal(2);
  });
});
