import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { agentConfigSchema } from '../../../../agent/config.js';
import { buildProbes } from '../../../../agent/probes/build.js';
import { snmpDevices, snmpSectionSchema } from '../../../../agent/probes/snmp/config.js';

const here = dirname(fileURLToPath(import.meta.url));
const SAMPLE = join(here, '../../../../agent/probes/snmp/sample.yaml');

function issues(input: unknown): string[] {
  const r = snmpSectionSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('snmp config section', () => {
  it('sample.yaml is a valid part of the whole agent config', () => {
    const sample = YAML.parse(readFileSync(SAMPLE, 'utf8')) as Record<string, unknown>;
    const r = agentConfigSchema.safeParse({ school: '1640104001', ...sample });
    expect(r.success, r.success ? '' : JSON.stringify(r.error.issues)).to.equal(true);
  });

  it('keeps the one-gateway form working: host alone gives one v2c device named gateway', () => {
    const s = snmpSectionSchema.parse({ host: '127.0.0.1:16100' });
    expect(snmpDevices(s)).to.deep.equal([{ device: 'gateway', host: '127.0.0.1:16100', community: 'public', version: '2c', timeoutMs: 2000, retries: 1, interfaces: true }]);
  });

  it('devices inherit unset credentials and timeouts from the section, and keep their own', () => {
    const s = snmpSectionSchema.parse({
      host: 'gw',
      version: '3',
      v3: { username: 'u', authKey: 'authauth', privKey: 'privpriv' },
      timeoutMs: 1500,
      devices: [
        { device: 'sw', host: 'sw', version: '2c', community: 'c2', timeoutMs: 3000 },
        { device: 'vsat', host: 'm', modemProfile: 'idirect', modemIndex: 7, interfaces: false },
      ],
    });
    const [gw, sw, vsat] = snmpDevices(s);
    expect(gw?.v3).to.deep.include({ username: 'u', level: 'authPriv', authProtocol: 'sha', privProtocol: 'aes' });
    expect(sw).to.deep.include({ version: '2c', community: 'c2', timeoutMs: 3000 });
    expect(vsat).to.deep.include({ version: '3', timeoutMs: 1500, interfaces: false, modemProfile: 'idirect', modemIndex: '7' });
  });

  it('refuses version 3 without v3 credentials, and authPriv without a privKey, with their paths', () => {
    expect(issues({ host: 'gw', version: '3' })).to.deep.equal(['v3: is required when version is 3']);
    expect(issues({ host: 'gw', version: '3', v3: { username: 'u', authKey: 'authauth' } })).to.deep.equal(['v3.privKey: is required for level authPriv']);
    expect(issues({ devices: [{ device: 'x', host: 'h', version: '3' }] })).to.deep.equal(['devices.0.v3: is required when version is 3 (here or in snmp.v3)']);
  });

  it('refuses duplicate device names, unknown modem profiles and a missing modemIndex', () => {
    expect(issues({ host: 'gw', devices: [{ device: 'gateway', host: 'h' }] })).to.deep.equal(['devices.0.device: "gateway" is used twice (also device)']);
    expect(issues({ devices: [{ device: 'm', host: 'h', modemProfile: 'nosuchvendor' }] })[0]).to.match(/^devices\.0\.modemProfile: unknown modem profile "nosuchvendor"/);
    expect(issues({ devices: [{ device: 'm', host: 'h', modemProfile: 'idirect' }] })).to.deep.equal(['devices.0.modemIndex: is required by modem profile idirect (its OIDs contain {index})']);
    expect(issues({ devices: [{ device: 'm', host: 'h', interfaces: false }] })[0]).to.match(/needs a modemProfile/);
  });

  it('buildProbes() makes the gateway inventory probe, one interface probe per device and a modem probe per modemProfile', () => {
    const config = agentConfigSchema.parse({
      school: '1640104001',
      snmp: { host: '127.0.0.1:1161', devices: [{ device: 'sw', host: '127.0.0.1:1162' }, { device: 'vsat', host: '127.0.0.1:1163', modemProfile: 'newtec', modemIndex: 1 }] },
    });
    expect(buildProbes({ config, stateDir: '/nonexistent' }).map((p) => p.name)).to.deep.equal(['inventory', 'snmp:gateway', 'snmp:sw', 'snmp:vsat', 'modem:vsat']);
  });
});
