import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';
import { inventorySectionSchema, resolveInventorySources } from '../../../../agent/probes/inventory/config.js';
import { snmpSectionSchema } from '../../../../agent/probes/snmp/config.js';
import { agentConfigSchema } from '../../../../agent/config.js';

describe('agent/probes/inventory/config', () => {
  it("the README's sample.yaml validates against inventorySectionSchema", () => {
    const doc = parse(readFileSync(new URL('../../../../agent/probes/inventory/sample.yaml', import.meta.url), 'utf8')) as { inventory: unknown };
    const s = inventorySectionSchema.parse(doc.inventory);
    expect(s.sources[0]?.host).to.equal('192.168.10.2:161');
    expect(s.discovery?.cidr).to.equal('192.168.10.0/24');
  });

  it('defaults read the gateway of the snmp section, with the documented timings', () => {
    const s = inventorySectionSchema.parse(undefined);
    expect(s).to.deep.include({ enabled: true, goneAfterMin: 60, fullResendHours: 24, defaultRules: true });
    const snmp = snmpSectionSchema.parse({ host: '127.0.0.1:16100', community: 'c' });
    expect(resolveInventorySources({ inventory: s, snmp })).to.deep.equal([{ name: 'gateway', host: '127.0.0.1:16100', community: 'c', version: '2c' }]);
    expect(resolveInventorySources({ inventory: s, snmp: snmpSectionSchema.parse({}) })).to.deep.equal([]);
  });

  it('refuses a bad regex, an empty rule, an unknown class and a range wider than /16, naming each path', () => {
    const r = inventorySectionSchema.safeParse({
      rules: [{ class: 'ap', vendor: '(' }, { class: 'pc' }, { class: 'toaster', vendor: 'x' }],
      discovery: { cidr: '10.0.0.0/8' },
    });
    expect(r.success).to.equal(false);
    const paths = r.error?.issues.map((i) => i.path.join('.'));
    expect(paths).to.include.members(['rules.0.vendor', 'rules.1', 'rules.2.class', 'discovery.cidr']);
  });

  it('an SNMPv3 gateway is an inventory source with its user; a v3 source without a user of its own takes snmp.v3', () => {
    const user = { username: 'inv', authKey: 'auth-key-1', privKey: 'priv-key-1' };
    const snmp = snmpSectionSchema.parse({ host: '10.0.0.1', version: '3', v3: user });
    const gw = resolveInventorySources({ inventory: inventorySectionSchema.parse(undefined), snmp });
    expect(gw).to.have.length(1);
    expect(gw[0]).to.deep.include({ host: '10.0.0.1', version: '3' });
    expect(gw[0]?.v3).to.deep.include({ username: 'inv', level: 'authPriv', authProtocol: 'sha', privProtocol: 'aes' });
    const inv = inventorySectionSchema.parse({ sources: [{ host: '10.0.0.2', version: '3' }, { host: '10.0.0.3', version: '3', v3: { username: 'own', authKey: 'auth-key-2', privKey: 'priv-key-2' } }] });
    expect(resolveInventorySources({ inventory: inv, snmp }).map((s) => s.v3?.username)).to.deep.equal(['inv', 'own']);
  });

  it('the agent config refuses a version-3 inventory source when neither it nor snmp.v3 has a user, naming the path', () => {
    const r = agentConfigSchema.safeParse({ inventory: { sources: [{ host: '10.0.0.2', version: '3' }] } });
    expect(r.success).to.equal(false);
    expect(r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).to.include('inventory.sources.0.v3: is required when version is 3 (here or in snmp.v3)');
    // Listed beside the other problems of the file (here: no school), not after they are fixed.
    expect(r.error?.issues.map((i) => i.path.join('.'))).to.include('school');
    const withUser = agentConfigSchema.safeParse({ snmp: { v3: { username: 'u', authKey: 'auth-key-1', privKey: 'priv-key-1' } }, inventory: { sources: [{ host: '10.0.0.2', version: '3' }] } });
    expect(withUser.error?.issues.map((i) => i.path.join('.'))).to.deep.equal(['school']);
  });
});
