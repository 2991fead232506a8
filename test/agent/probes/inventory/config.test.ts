import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';
import { inventorySectionSchema, resolveInventorySources } from '../../../../agent/probes/inventory/config.js';
import { snmpSectionSchema } from '../../../../agent/probes/snmp/config.js';

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
});
