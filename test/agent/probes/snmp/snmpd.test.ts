import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { measurementSchema, type Measurement } from '../../../../protocol/report.js';
import { createNetSnmpClient, varbindNumber, varbindString, type SnmpClient } from '../../../../agent/probes/snmp/client.js';
import { createIfaceProbe } from '../../../../agent/probes/snmp/iface.js';
import { stateFilePath } from '../../../../agent/probes/snmp/state.js';
import { startSnmpd, type Snmpd } from '../../../helpers/snmpd.js';

const log = pino({ level: 'silent' });

function expectValid(ms: Measurement[]): void {
  for (const m of ms) {
    const r = measurementSchema.safeParse(m);
    expect(r.success, `${JSON.stringify(m)}: ${r.success ? '' : JSON.stringify(r.error.issues)}`).to.equal(true);
  }
}

describe('snmp probe against a real snmpd', () => {
  let snmpd: Snmpd;
  let client: SnmpClient;
  let stateDir: string;

  before(async () => {
    snmpd = await startSnmpd({ sysDescr: 'campuslink real snmpd test', sysLocation: 'rack 7' });
    client = createNetSnmpClient({ host: snmpd.host, port: snmpd.port, community: snmpd.community, timeoutMs: 1000, retries: 1 });
    stateDir = await mkdtemp(join(tmpdir(), 'campuslink-snmpd-state-'));
  });

  after(async () => {
    client?.close();
    await snmpd?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('startSnmpd() fails with a message naming the Debian package when snmpd is missing', async () => {
    const err = await startSnmpd({ path: '/nonexistent/sbin/snmpd' }).then(
      (d) => d.stop(),
      (e: unknown) => e,
    );
    expect(String(err)).to.match(/Debian package "snmpd"/);
  });

  it('the client reads the system group', async () => {
    const system = await client.subtree('1.3.6.1.2.1.1');
    const byOid = new Map(system.map((vb) => [vb.oid, vb]));
    expect(varbindString(byOid.get('1.3.6.1.2.1.1.1.0'))).to.equal('campuslink real snmpd test');
    expect(varbindString(byOid.get('1.3.6.1.2.1.1.6.0'))).to.equal('rack 7');
    expect(byOid.get('1.3.6.1.2.1.1.3.0')?.type).to.equal('TimeTicks');
    for (const vb of system) expect(vb.oid.startsWith('1.3.6.1.2.1.1.')).to.equal(true);
  });

  it('the client reads ifTable, with lo as a softwareLoopback, and 64-bit counters from ifXTable', async () => {
    const rows = await client.table('1.3.6.1.2.1.2.2.1', [2, 3, 10]);
    const lo = [...rows.values()].find((r) => varbindString(r.get(2)) === 'lo');
    expect(lo, 'a row with ifDescr lo').to.not.equal(undefined);
    expect(varbindNumber(lo?.get(3))).to.equal(24);
    expect(lo?.get(10)?.type).to.equal('Counter32');
    const hc = await client.table('1.3.6.1.2.1.31.1.1.1', [1, 6]);
    const loX = [...hc.values()].find((r) => varbindString(r.get(1)) === 'lo');
    expect(loX?.get(6)?.type).to.equal('Counter64');
    expect(typeof loX?.get(6)?.value).to.equal('bigint');
  });

  it('the probe emits a valid sys measurement, and iface measurements for the non-loopback interfaces', async () => {
    const probe = createIfaceProbe({ device: 'host', host: snmpd.host, port: snmpd.port, community: snmpd.community, timeoutMs: 1000, stateDir });
    let t = Date.now();
    const first = await probe.collect({ now: () => t, log });
    expectValid(first);
    const sys = first.find((m) => m.name === 'sys');
    expect(sys?.fields).to.deep.include({ result_code: 0, descr: 'campuslink real snmpd test' });
    expect(sys?.fields.uptime_s).to.be.a('number');
    // One iface per interface snmpd lists, except the loopback.
    const ifTypes = await client.table('1.3.6.1.2.1.2.2.1', [3]);
    const names = await client.table('1.3.6.1.2.1.31.1.1.1', [1]);
    const expected = [...ifTypes.entries()].filter(([, r]) => varbindNumber(r.get(3)) !== 24).map(([index]) => varbindString(names.get(index)?.get(1)));
    expect(first.filter((m) => m.name === 'iface').map((m) => m.tags.ifname)).to.have.members(expected);
    await new Promise((r) => setTimeout(r, 1100));
    t = Date.now();
    const second = await probe.collect({ now: () => t, log });
    expectValid(second);
    expect(second.find((m) => m.name === 'sys')?.fields.result_code).to.equal(0);
    for (const m of second) if (m.name === 'iface') expect(m.fields.in_bps, m.tags.ifname).to.be.a('number');
    const state = JSON.parse(await readFile(stateFilePath(stateDir, 'host'), 'utf8')) as { ifaces: Record<string, { bits: number }> };
    for (const e of Object.values(state.ifaces)) expect(e.bits).to.equal(64);
  });

  it('under SNMP v1 the probe falls back to 32-bit counters (Counter64 does not exist in v1)', async () => {
    const probe = createIfaceProbe({ device: 'host-v1', host: snmpd.host, port: snmpd.port, community: snmpd.community, version: '1', timeoutMs: 1000, stateDir });
    const ms = await probe.collect({ now: Date.now, log });
    expectValid(ms);
    expect(ms.find((m) => m.name === 'sys')?.fields.result_code).to.equal(0);
    const state = JSON.parse(await readFile(stateFilePath(stateDir, 'host-v1'), 'utf8')) as { ifaces: Record<string, { bits: number }> };
    for (const e of Object.values(state.ifaces)) expect(e.bits).to.equal(32);
  });

  it('a wrong community gets no answer: sys result_code 2', async () => {
    const probe = createIfaceProbe({ device: 'host', host: snmpd.host, port: snmpd.port, community: 'wrong-community', timeoutMs: 150, retries: 0 });
    const ms = await probe.collect({ now: Date.now, log });
    expectValid(ms);
    expect(ms).to.deep.equal([{ name: 'sys', tags: { device: 'host' }, fields: { result_code: 2, errors: 1 } }]);
  });
});
