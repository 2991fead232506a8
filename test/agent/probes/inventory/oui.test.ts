import { expect } from 'chai';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeviceMac, isLocallyAdministered, normalizeMac } from '../../../../agent/probes/inventory/mac.js';
import { buildOuiIndex, bufferBytes, OuiIndexReader, scanOuiEntries, scanOuiFile } from '../../../../agent/probes/inventory/oui-index.js';
import { createOuiLookup, defaultOuiPath, OUI_INDEX_FILE, sharedOuiLookup } from '../../../../agent/probes/inventory/oui.js';

describe('agent/probes/inventory/oui, oui-index and mac', () => {
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

  it('the index built from the shipped registry gives exactly the names JSON.parse gives, for every entry', () => {
    const path = defaultOuiPath();
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    const reader = new OuiIndexReader(bufferBytes(buildOuiIndex(path, { size: 0, mtimeMs: 0 })), 'test index');
    const expected = Object.entries(parsed)
      .map(([k, v]) => [k.toUpperCase(), v.split('\n', 1)[0]?.trim() ?? ''] as const)
      .filter(([, name]) => name !== '');
    expect(reader.count).to.equal(expected.length);
    for (const [k, name] of expected) if (reader.get(k) !== name) expect.fail(`${k}: ${reader.get(k)} != ${name}`);
    expect(reader.get('ABCDEF1')).to.equal(undefined);
  });

  it('scanOuiEntries() decodes JSON escapes in names and skips pairs that are not entries', () => {
    const text = '{\n "ACB92F": "Caf\\u00e9 \\"Quoted\\" Ltd\\nStreet 1\\nCN",\n "0050C2123": "Tiny Block Co",\n "bad": "x",\n "12345678": "eight digits"\n}\n';
    const t = new Map<string, string>();
    scanOuiEntries(Buffer.from(text), (k, v) => t.set(k, v));
    expect(t.get('ACB92F')).to.equal('Café "Quoted" Ltd');
    expect(t.get('0050C2123')).to.equal('Tiny Block Co');
    expect(t.size).to.equal(2);
  });

  it('scanOuiFile() reads a registry in chunks, with and without line breaks, as JSON.parse does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oui-'));
    try {
      const entries: Record<string, string> = {};
      for (let i = 0; i < 12_000; i++) entries[(0x100000 + i * 7).toString(16).toUpperCase()] = `Vendor ${i} \u00e9\"x\"\nStreet ${i}\nCountry`;
      for (const [name, text] of [['lines.json', JSON.stringify(entries, null, 1)], ['one-line.json', JSON.stringify(entries)]] as const) {
        const path = join(dir, name);
        writeFileSync(path, text);
        expect(text.length).to.be.greaterThan(2 * 256 * 1024);
        const got = new Map<string, string>();
        scanOuiFile(path, (k, v) => got.set(k, v));
        expect(got.size, name).to.equal(12_000);
        for (const [k, v] of Object.entries(entries)) if (got.get(k) !== v.split('\n', 1)[0]) expect.fail(`${name} ${k}: ${got.get(k)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lookup() builds the index into cacheDir once and rebuilds it when the registry changes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oui-'));
    try {
      const path = join(dir, 'oui.json');
      writeFileSync(path, JSON.stringify({ ACB92F: 'Old Name\nStreet' }));
      const cacheDir = join(dir, 'state');
      expect(createOuiLookup({ path, cacheDir }).vendor('ac:b9:2f:00:11:22')).to.equal('Old Name');
      const index = join(cacheDir, OUI_INDEX_FILE);
      const built = statSync(index).mtimeMs;
      // A file that is an index is used as it is: this one, from another registry, proves it was not rebuilt.
      const other = buildOuiIndex(path, { size: statSync(path).size, mtimeMs: statSync(path).mtimeMs });
      const forged = Buffer.from(other);
      forged.write('Odd Name', forged.length - 'Old Name'.length, 'utf8');
      writeFileSync(index, forged);
      expect(createOuiLookup({ path, cacheDir }).vendor('ac:b9:2f:00:11:22')).to.equal('Odd Name');
      writeFileSync(path, JSON.stringify({ ACB92F: 'New Name Ltd\nStreet' }));
      expect(createOuiLookup({ path, cacheDir }).vendor('ac:b9:2f:00:11:22')).to.equal('New Name Ltd');
      expect(statSync(index).mtimeMs).to.be.at.least(built);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lookup() reads a prebuilt index file and names a file that is not one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oui-'));
    try {
      const registry = join(dir, 'oui.json');
      writeFileSync(registry, JSON.stringify({ '70B3D5': 'IEEE Registration Authority\nPiscataway', '70B3D5123': 'Small Vendor\nSomewhere' }));
      const index = join(dir, 'oui-index.bin');
      writeFileSync(index, buildOuiIndex(registry, { size: 0, mtimeMs: 0 }));
      const oui = createOuiLookup({ index });
      expect(oui.vendor('70:b3:d5:12:34:56')).to.equal('Small Vendor');
      expect(oui.vendor('70:b3:d5:99:34:56')).to.equal('IEEE Registration Authority');
      expect(oui.vendor('00:11:22:33:44:55')).to.equal(undefined);
      expect(oui.size).to.equal(2);
      expect(() => createOuiLookup({ index: registry }).vendor('70:b3:d5:12:34:56')).to.throw(/oui\.json is not an OUI index/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lookup() answers the same once its cache of recent prefixes overflows', () => {
    const oui = createOuiLookup({ cacheEntries: 2 });
    const macs = ['ac:b9:2f:00:11:22', '38:54:39:00:11:22', '54:16:51:00:11:22', '70:b3:d5:12:34:56'];
    const first = macs.map((m) => oui.vendor(m));
    expect(first.slice(0, 3).every((v) => v !== undefined)).to.equal(true);
    for (let round = 0; round < 3; round++) expect(macs.map((m) => oui.vendor(m))).to.deep.equal(first);
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
