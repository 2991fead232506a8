import { expect } from 'chai';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeviceMac, isLocallyAdministered, normalizeMac } from '../../../../agent/probes/inventory/mac.js';
import { createOuiLookup, defaultOuiPath, parseOuiRegistry, sharedOuiLookup } from '../../../../agent/probes/inventory/oui.js';

describe('agent/probes/inventory/oui and mac', () => {
  it('vendor() names the IEEE assignee of Hikvision, Seewo and Ruijie MACs from oui-data', () => {
    const oui = sharedOuiLookup();
    expect(oui.vendor('ac:b9:2f:00:11:22')).to.match(/Hikvision/);
    expect(oui.vendor('38:54:39:00:11:22')).to.match(/Shiyuan/);
    expect(oui.vendor('54:16:51:00:11:22')).to.match(/Ruijie/);
    expect(oui.size).to.be.greaterThan(40000);
  });

  it('vendor() prefers the MA-S assignment inside an IEEE registration-authority block', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oui-'));
    try {
      const path = join(dir, 'oui.json');
      writeFileSync(path, JSON.stringify({ '70B3D5': 'IEEE Registration Authority\nPiscataway', '70B3D5123': 'Small Vendor\nSomewhere', '70B3D51': 'Medium Vendor\nElsewhere' }));
      const oui = createOuiLookup({ path });
      expect(oui.vendor('70:b3:d5:12:34:56')).to.equal('Small Vendor');
      expect(oui.vendor('70:b3:d5:19:34:56')).to.equal('Medium Vendor');
      expect(oui.vendor('70:b3:d5:22:34:56')).to.equal('IEEE Registration Authority');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('vendor() gives no vendor for a locally administered (randomised) MAC', () => {
    expect(isLocallyAdministered('da:a1:19:00:11:22')).to.equal(true);
    expect(isLocallyAdministered('ac:b9:2f:00:11:22')).to.equal(false);
    expect(sharedOuiLookup().vendor('da:a1:19:00:11:22')).to.equal(undefined);
  });

  it('parseOuiRegistry() reads exactly the names JSON.parse gives, for every entry of the shipped registry', () => {
    const path = defaultOuiPath();
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    const scanned = parseOuiRegistry(readFileSync(path));
    const expected = Object.entries(parsed)
      .map(([k, v]) => [k.toUpperCase(), v.split('\n', 1)[0]?.trim() ?? ''] as const)
      .filter(([, name]) => name !== '');
    expect(scanned.size).to.equal(expected.length);
    for (const [k, name] of expected) if (scanned.get(k) !== name) expect.fail(`${k}: ${scanned.get(k)} != ${name}`);
  });

  it('parseOuiRegistry() decodes JSON escapes in names and skips lines that are not entries', () => {
    const text = '{\n "ACB92F": "Caf\\u00e9 \\"Quoted\\" Ltd\\nStreet 1\\nCN",\n "0050C2123": "Tiny Block Co",\n "bad": "x"\n}\n';
    const t = parseOuiRegistry(Buffer.from(text));
    expect(t.get('ACB92F')).to.equal('Café "Quoted" Ltd');
    expect(t.get('0050C2123')).to.equal('Tiny Block Co');
    expect(t.size).to.equal(2);
  });

  it('a missing registry file fails on the first lookup naming the file and the package', () => {
    const oui = createOuiLookup({ path: '/nonexistent/oui.json' });
    expect(() => oui.vendor('ac:b9:2f:00:11:22')).to.throw(/nonexistent\/oui\.json.*npm install oui-data/);
  });

  it('normalizeMac() accepts the usual spellings and isDeviceMac() refuses group and zero addresses', () => {
    for (const s of ['AC-B9-2F-00-11-22', 'acb9.2f00.1122', 'ACB92F001122', 'ac:b9:2f:0:11:22']) expect(normalizeMac(s)).to.equal('ac:b9:2f:00:11:22');
    expect(normalizeMac('not a mac')).to.equal(undefined);
    expect(isDeviceMac('01:00:5e:00:00:fb')).to.equal(false);
    expect(isDeviceMac('ff:ff:ff:ff:ff:ff')).to.equal(false);
    expect(isDeviceMac('00:00:00:00:00:00')).to.equal(false);
  });
});
