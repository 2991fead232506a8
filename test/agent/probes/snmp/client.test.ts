import { expect } from 'chai';
import {
  bufferToBigInt,
  compareOids,
  createNetSnmpClient,
  SnmpError,
  splitHostPort,
  toVarbind,
  varbindNumber,
  varbindString,
  type SnmpClient,
} from '../../../../agent/probes/snmp/client.js';
import { startGateway, type Gateway } from '../../../../sim/gateway.js';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('snmp client', () => {
  describe('value conversion', () => {
    it('reads Counter64 Buffers of any length (1–9 bytes) as unsigned bigints', () => {
      expect(bufferToBigInt(Buffer.from([0x05]))).to.equal(5n);
      expect(bufferToBigInt(Buffer.from([0x01, 0x00]))).to.equal(256n);
      expect(bufferToBigInt(Buffer.from('0000000100000000', 'hex'))).to.equal(2n ** 32n);
      expect(bufferToBigInt(Buffer.from('ffffffffffffffff', 'hex'))).to.equal(2n ** 64n - 1n);
      expect(bufferToBigInt(Buffer.from('00ffffffffffffffff', 'hex'))).to.equal(2n ** 64n - 1n);
      expect(bufferToBigInt(Buffer.alloc(0))).to.equal(0n);
    });

    it('types raw net-snmp varbinds', () => {
      expect(toVarbind({ oid: '1.2', type: 70, value: Buffer.from([0x12, 0x34, 0x56, 0x78, 0x9a]) })).to.deep.equal({ oid: '1.2', type: 'Counter64', value: 0x123456789an });
      expect(toVarbind({ oid: '1.2', type: 65, value: 4294967295 })).to.deep.equal({ oid: '1.2', type: 'Counter32', value: 4294967295 });
      expect(toVarbind({ oid: '1.2', type: 128, value: null })).to.deep.equal({ oid: '1.2', type: 'NoSuchObject', value: null });
      expect(varbindString(toVarbind({ oid: '1.2', type: 4, value: Buffer.from('eth0\0') }))).to.equal('eth0');
      expect(varbindNumber(toVarbind({ oid: '1.2', type: 67, value: 1234 }))).to.equal(1234);
    });

    it('splits host, host:port and [v6]:port', () => {
      expect(splitHostPort('192.0.2.1')).to.deep.equal({ host: '192.0.2.1' });
      expect(splitHostPort('127.0.0.1:16100')).to.deep.equal({ host: '127.0.0.1', port: 16100 });
      expect(splitHostPort('gw.school.example:161')).to.deep.equal({ host: 'gw.school.example', port: 161 });
      expect(splitHostPort('[::1]:1161')).to.deep.equal({ host: '::1', port: 1161 });
      expect(splitHostPort('[::1]')).to.deep.equal({ host: '::1' });
      expect(splitHostPort('fe80::1')).to.deep.equal({ host: 'fe80::1' });
    });

    it('orders OIDs by sub-identifier, not by text', () => {
      expect(compareOids('1.3.6.1.2.1.2.2.1.10.2', '1.3.6.1.2.1.2.2.1.2.2')).to.be.greaterThan(0);
      expect(compareOids('1.3.6.1', '1.3.6.1.0')).to.be.lessThan(0);
      expect(compareOids('1.3.6', '1.3.6')).to.equal(0);
      expect(compareOids('1.3.6.1.0', '1.3.6.1')).to.be.greaterThan(0);
      expect(compareOids('1.3.6.1.4294967295', '1.3.6.1.4294967294.7')).to.be.greaterThan(0);
      expect(compareOids('1.3.6.1.9.9', '1.3.6.1.10')).to.be.lessThan(0);
    });
  });

  describe('against the sim gateway', () => {
    let t = 1_700_000_000_000;
    let gw: Gateway;
    let client: SnmpClient;

    before(async () => {
      gw = await startGateway({ now: () => t, name: 'gw-client' });
      client = createNetSnmpClient({ host: gw.host, port: gw.port, community: gw.community, timeoutMs: 500, retries: 0 });
    });
    after(async () => {
      client.close();
      await gw.stop();
    });

    it('get() returns typed varbinds in request order, with NoSuchObject for an unknown OID', async () => {
      t += 4200;
      const vbs = await client.get(['1.3.6.1.2.1.1.3.0', '1.3.6.1.2.1.1.5.0', '1.3.6.1.2.1.1.99.0']);
      expect(vbs.map((v) => v.type)).to.deep.equal(['TimeTicks', 'OctetString', 'NoSuchObject']);
      expect(vbs[0]?.value).to.equal(420);
      expect(varbindString(vbs[1])).to.equal('gw-client');
    });

    it('subtree() stops at the end of the requested subtree', async () => {
      const vbs = await client.subtree('1.3.6.1.2.1.1');
      expect(vbs.length).to.be.greaterThan(4);
      for (const vb of vbs) expect(vb.oid.startsWith('1.3.6.1.2.1.1.')).to.equal(true);
    });

    it('subtree() ends a walk past the agent\'s last object instead of looping', async () => {
      const start = Date.now();
      expect(await client.subtree('1.3.6.1.6.3.10.2.1.2')).to.have.length(1);
      expect(await client.subtree('1.3.6.1.99')).to.deep.equal([]);
      expect(Date.now() - start).to.be.lessThan(1000);
    });

    it('table() groups the requested columns by row index', async () => {
      const rows = await client.table('1.3.6.1.2.1.31.1.1.1', [1, 6]);
      expect([...rows.keys()]).to.deep.equal(['1', '2', '3', '4', '5']);
      expect([...(rows.get('1')?.keys() ?? [])]).to.deep.equal([1, 6]);
      expect(rows.get('1')?.get(6)?.type).to.equal('Counter64');
    });

    it('reads a Counter64 above 2^63 exactly', async () => {
      gw.setCounter(1, 'outOctets', 2n ** 63n + 12345n);
      const [vb] = await client.get(['1.3.6.1.2.1.31.1.1.1.10.1']);
      expect(vb).to.deep.equal({ oid: '1.3.6.1.2.1.31.1.1.1.10.1', type: 'Counter64', value: 2n ** 63n + 12345n });
    });

    it('works over SNMP v1', async () => {
      const v1 = createNetSnmpClient({ host: gw.host, port: gw.port, version: '1', timeoutMs: 500, retries: 0 });
      try {
        const [up] = await v1.get(['1.3.6.1.2.1.1.3.0']);
        expect(up?.type).to.equal('TimeTicks');
        expect((await v1.table('1.3.6.1.2.1.2.2.1', [2])).size).to.equal(5);
      } finally {
        v1.close();
      }
    });

    it('rejects with SnmpError after close()', async () => {
      const c = createNetSnmpClient({ host: gw.host, port: gw.port });
      c.close();
      c.close();
      const err = await rejection(c.get(['1.3.6.1.2.1.1.3.0']));
      expect(err).to.be.instanceOf(SnmpError);
      expect(err).to.have.property('kind', 'error');
    });
  });

  it('rejects with a timeout SnmpError when nothing answers, within timeout × attempts', async () => {
    const gw = await startGateway({});
    const { port } = gw;
    await gw.stop();
    const c = createNetSnmpClient({ host: '127.0.0.1', port, timeoutMs: 100, retries: 1 });
    const start = Date.now();
    try {
      const err = await rejection(c.subtree('1.3.6.1.2.1.2.2.1'));
      expect(err).to.be.instanceOf(SnmpError);
      expect(err).to.have.property('kind', 'timeout');
      expect(Date.now() - start).to.be.within(150, 1000);
    } finally {
      c.close();
    }
  });

  it('bounds a whole call by operationTimeoutMs', async () => {
    const gw = await startGateway({});
    gw.setMuted(true);
    const c = createNetSnmpClient({ host: gw.host, port: gw.port, timeoutMs: 5000, retries: 3, operationTimeoutMs: 150 });
    const start = Date.now();
    try {
      const err = await rejection(c.get(['1.3.6.1.2.1.1.3.0']));
      expect(err).to.have.property('kind', 'timeout');
      expect(Date.now() - start).to.be.lessThan(1000);
    } finally {
      c.close();
      await gw.stop();
    }
  });
});
