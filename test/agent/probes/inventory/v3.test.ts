import { expect } from 'chai';
import { pino } from 'pino';
import { createInventoryProbe } from '../../../../agent/probes/inventory/index.js';
import { measurementSchema, SNMP_RESULT } from '../../../../protocol/index.js';
import { startSnmpd, type Snmpd } from '../../../helpers/snmpd.js';

const log = pino({ level: 'silent' });

describe('inventory over SNMPv3 against a real snmpd', () => {
  let snmpd: Snmpd;
  before(async () => {
    snmpd = await startSnmpd({ sysDescr: 'campuslink v3 inventory' });
  });
  after(async () => {
    await snmpd?.stop();
  });

  it('collect() walks the neighbour tables as an authPriv user (SHA / AES-128): inventory_poll result_code 0, no errors', async () => {
    const probe = createInventoryProbe({ sources: [{ name: 'v3-gw', host: `${snmpd.host}:${snmpd.port}`, version: '3', v3: snmpd.v3.authPriv }], timeoutMs: 1000, retries: 0 });
    const ms = await probe.collect({ now: Date.now, log });
    for (const m of ms) expect(measurementSchema.safeParse(m).success, JSON.stringify(m)).to.equal(true);
    const poll = ms.find((m) => m.name === 'inventory_poll');
    expect(poll?.tags.device).to.equal('v3-gw');
    expect(poll?.fields).to.include({ result_code: SNMP_RESULT.ok, errors: 0 });
    expect(ms.filter((m) => m.name === 'inventory')).to.have.length.greaterThan(0);
  });

  it('collect() with a wrong privKey records the failure as data (result_code not 0), never throws', async () => {
    const probe = createInventoryProbe({ sources: [{ name: 'v3-bad', host: `${snmpd.host}:${snmpd.port}`, version: '3', v3: { ...snmpd.v3.authPriv, privKey: 'wrong-priv-key' } }], timeoutMs: 300, retries: 0 });
    const poll = (await probe.collect({ now: Date.now, log })).find((m) => m.name === 'inventory_poll');
    expect(poll?.fields.result_code).to.be.oneOf([SNMP_RESULT.timeout, SNMP_RESULT.error]);
  });
});
