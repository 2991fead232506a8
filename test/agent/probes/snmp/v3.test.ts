import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { measurementSchema } from '../../../../protocol/report.js';
import { createNetSnmpClient, varbindString } from '../../../../agent/probes/snmp/client.js';
import { createIfaceProbe } from '../../../../agent/probes/snmp/iface.js';
import { inferWanInterface } from '../../../../agent/probes/snmp/wan.js';
import { desCbc } from '../../../../agent/probes/snmp/net-snmp.js';
import { startSnmpd, type Snmpd } from '../../../helpers/snmpd.js';

const log = pino({ level: 'silent' });
const SYS_DESCR = '1.3.6.1.2.1.1.1.0';

/** The interface of the host's IPv4 default route, from /proc/net/route (what snmpd reports). */
function defaultRouteIface(): string | undefined {
  const lines = readFileSync('/proc/net/route', 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => l.trim().split(/\s+/)).find((f) => f[1] === '00000000' && f[7] === '00000000')?.[0];
}

describe('SNMPv3 and WAN inference against a real snmpd', () => {
  let snmpd: Snmpd;
  before(async () => {
    snmpd = await startSnmpd({ sysDescr: 'campuslink v3 snmpd' });
  });
  after(async () => {
    await snmpd?.stop();
  });

  it('the client reads sysDescr as an authPriv user (SHA / AES-128)', async () => {
    const c = createNetSnmpClient({ host: snmpd.host, port: snmpd.port, version: '3', v3: snmpd.v3.authPriv, timeoutMs: 1000, retries: 0 });
    try {
      expect(varbindString((await c.get([SYS_DESCR]))[0])).to.equal('campuslink v3 snmpd');
      const hc = await c.table('1.3.6.1.2.1.31.1.1.1', [1, 6]);
      expect([...hc.values()].some((r) => r.get(6)?.type === 'Counter64')).to.equal(true);
    } finally {
      c.close();
    }
  });

  it('the client reads sysDescr and walks a table as an authPriv user with MD5 / DES (no legacy OpenSSL provider)', async () => {
    const c = createNetSnmpClient({ host: snmpd.host, port: snmpd.port, version: '3', v3: snmpd.v3.md5Des, timeoutMs: 1000, retries: 0 });
    try {
      expect(varbindString((await c.get([SYS_DESCR]))[0])).to.equal('campuslink v3 snmpd');
      const ifs = await c.table('1.3.6.1.2.1.2.2.1', [2, 10]);
      expect(ifs.size).to.be.greaterThan(0);
    } finally {
      c.close();
    }
  });

  it('a wrong DES privKey fails the request (never a false success)', async () => {
    const c = createNetSnmpClient({ host: snmpd.host, port: snmpd.port, version: '3', v3: { ...snmpd.v3.md5Des, privKey: 'not-the-priv-key' }, timeoutMs: 300, retries: 0 });
    try {
      const err = await c.get([SYS_DESCR]).then(() => undefined, (e: unknown) => e);
      expect(err, 'a rejection').to.be.instanceOf(Error);
    } finally {
      c.close();
    }
  });

  it('desCbc is single DES: the FIPS 81 / textbook vector 133457799BBCDFF1 encrypts 0123456789ABCDEF to 85E813540F0AB405', () => {
    const out = desCbc('encrypt', Buffer.from('133457799BBCDFF1', 'hex'), Buffer.alloc(8), Buffer.from('0123456789ABCDEF', 'hex'));
    expect(out.toString('hex')).to.equal('85e813540f0ab405');
    expect(desCbc('decrypt', Buffer.from('133457799BBCDFF1', 'hex'), Buffer.alloc(8), out).toString('hex')).to.equal('0123456789abcdef');
  });

  it('the client reads sysDescr as an authNoPriv user (SHA)', async () => {
    const c = createNetSnmpClient({ host: snmpd.host, port: snmpd.port, version: '3', v3: snmpd.v3.authNoPriv, timeoutMs: 1000, retries: 0 });
    try {
      expect(varbindString((await c.get([SYS_DESCR]))[0])).to.equal('campuslink v3 snmpd');
    } finally {
      c.close();
    }
  });

  it('a wrong auth key fails with kind "error" naming the wrong digest, not a timeout', async () => {
    const c = createNetSnmpClient({ host: snmpd.host, port: snmpd.port, version: '3', v3: { ...snmpd.v3.authPriv, authKey: 'not-the-key-at-all' }, timeoutMs: 500, retries: 0 });
    try {
      const err = await c.get([SYS_DESCR]).then(() => undefined, (e: unknown) => e as { kind?: string; message?: string });
      expect(err?.kind).to.equal('error');
      expect(err?.message).to.match(/digest/i);
    } finally {
      c.close();
    }
  });

  it('a user asking below its required level (authNoPriv user as noAuthNoPriv) is refused', async () => {
    const c = createNetSnmpClient({ host: snmpd.host, port: snmpd.port, version: '3', v3: { username: snmpd.v3.authNoPriv.username, level: 'noAuthNoPriv' }, timeoutMs: 500, retries: 0 });
    try {
      const err = await c.get([SYS_DESCR]).then(() => undefined, (e: unknown) => e);
      expect(err, 'a rejection').to.be.instanceOf(Error);
    } finally {
      c.close();
    }
  });

  it('the interface probe polls over v3 authPriv and reports sys result_code 0; a wrong privKey gives result_code 2 or 3, never a throw', async () => {
    const ok = createIfaceProbe({ device: 'v3-host', host: `${snmpd.host}:${snmpd.port}`, version: '3', v3: snmpd.v3.authPriv, timeoutMs: 1000 });
    const ms = await ok.collect({ now: Date.now, log });
    for (const m of ms) expect(measurementSchema.safeParse(m).success, JSON.stringify(m)).to.equal(true);
    expect(ms.find((m) => m.name === 'sys')?.fields.result_code).to.equal(0);
    expect(ms.filter((m) => m.name === 'iface').length).to.be.greaterThan(0);
    const bad = createIfaceProbe({ device: 'v3-bad', host: `${snmpd.host}:${snmpd.port}`, version: '3', v3: { ...snmpd.v3.authPriv, privKey: 'wrong-priv-key' }, timeoutMs: 300, retries: 0 });
    const sys = (await bad.collect({ now: Date.now, log })).find((m) => m.name === 'sys');
    expect([2, 3]).to.include(sys?.fields.result_code);
  });

  it('infers the WAN interface from snmpd’s route table: the interface of the host’s default route', async () => {
    const c = createNetSnmpClient({ host: snmpd.host, port: snmpd.port, community: snmpd.community, timeoutMs: 1000, retries: 0 });
    try {
      const inferred = await inferWanInterface(c);
      const expected = defaultRouteIface();
      if (expected === undefined) {
        expect(inferred).to.equal(undefined);
        return;
      }
      expect(inferred?.source).to.equal('inetCidrRouteTable');
      const descr = await c.get([`1.3.6.1.2.1.2.2.1.2.${inferred?.ifIndex}`]);
      expect(varbindString(descr[0])).to.equal(expected);
    } finally {
      c.close();
    }
  });
});
