import { expect } from 'chai';
import { configMode, loadProxyConfig } from '../../../agent/config.js';
import { ConfigError } from '../../../protocol/config.js';
import { runCli } from '../../helpers/cli.js';
import { REGISTRY_HEADER, registryRow, tmpFiles } from './fixtures.js';

const REGISTRY = [REGISTRY_HEADER, registryRow('1640104001', { gateway: '10.1.0.1' }), registryRow('1640104002', { link: 'sat-geo' }), registryRow('1640105001', { county: '640105', gateway: '10.2.0.1' })].join('\n') + '\n';

function issues(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('agent/proxy/config', () => {
  it('reads the schools of one county from the registry, gateways from the file over the column, with hops and devices', () => {
    const f = tmpFiles({
      'registry.csv': REGISTRY,
      'gateways.csv': 'school_id,gateway,snmp,community,targets,devices\n1640104002,10.1.0.2,127.0.0.1:16100,s3cret,isp:10.9.9.9=bras,core=10.1.0.3:161\n',
      'proxy.yaml': `mode: proxy\nproxy:\n  registry: REG\n  region: "640104"\n  gatewaysFile: GW\n  gatewayColumn: x_gateway\n  hops: [{ host: 10.0.0.1, role: isp, name: county-router }]\n`,
    });
    const yaml = f.path('proxy.yaml');
    tmpFilesRewrite(yaml, { REG: f.path('registry.csv'), GW: f.path('gateways.csv') });
    expect(configMode(yaml)).to.equal('proxy');
    const c = loadProxyConfig(yaml, {});
    expect(c.schools.map((s) => s.id)).to.deep.equal(['1640104001', '1640104002']);
    expect(c.schools[0]).to.deep.include({ gateway: '10.1.0.1', linkType: 'fiber', devices: [{ device: 'gateway', host: '10.1.0.1' }] });
    expect(c.schools[1]).to.deep.include({ gateway: '10.1.0.2', linkType: 'sat-geo', extraTargets: [{ role: 'isp', host: '10.9.9.9', name: 'bras' }] });
    expect(c.schools[1]?.devices).to.deep.equal([
      { device: 'gateway', host: '127.0.0.1:16100', community: 's3cret' },
      { device: 'core', host: '10.1.0.3:161', community: 's3cret' },
    ]);
    expect(c.proxy).to.include({ concurrency: 500, schoolDeadlineMs: 40000 });
    expect(Object.isFrozen(c.schools)).to.equal(true);
  });

  it('lists every problem of the files with file and line: a school without gateway, bad rows, an unknown school', () => {
    const f = tmpFiles({
      'registry.csv': REGISTRY,
      'gateways.csv': 'school_id,gateway,snmp,targets\n164010400X,10.1.0.9,,\n1640104001,not a host!,nohost:99999,bogus:1.2.3.4\n',
    });
    const got = issues(() =>
      loadProxyConfig(undefined, {
        CAMPUSLINK_MODE: 'proxy',
        CAMPUSLINK_PROXY_REGISTRY: f.path('registry.csv'),
        CAMPUSLINK_PROXY_GATEWAYS_FILE: f.path('gateways.csv'),
        CAMPUSLINK_PROXY_SCHOOLS: '["1640104001","1640104002","1640104009"]',
      }),
    );
    const text = got.join('\n');
    expect(text).to.match(/gateways\.csv line 2: school_id must be a 10-digit/);
    expect(text).to.match(/gateways\.csv line 3: gateway must be a host name/);
    expect(text).to.match(/gateways\.csv line 3: snmp must be host\[:port\]/);
    expect(text).to.match(/gateways\.csv line 3: targets entry "bogus:1\.2\.3\.4"/);
    expect(text).to.match(/school 1640104002 \(.*registry\.csv line 3\) has no gateway address/);
    expect(text).to.match(/proxy\.schools: .*school 1640104009 is not in/);
  });

  it('refuses a config without region or schools, without gateways, and with a deadline shorter than a ping run', () => {
    const f = tmpFiles({ 'registry.csv': REGISTRY });
    const got = issues(() => loadProxyConfig(undefined, { CAMPUSLINK_MODE: 'proxy', CAMPUSLINK_PROXY_REGISTRY: f.path('registry.csv'), CAMPUSLINK_PROXY_SCHOOL_DEADLINE_MS: '3000', CAMPUSLINK_PROXY_CONCURRENCY: '0' }));
    expect(got.join('\n')).to.include('proxy.region: set region').and.include('proxy.gatewaysFile: set gatewaysFile or gatewayColumn').and.match(/proxy.schoolDeadlineMs: .*must be longer than a ping run/).and.include('proxy.concurrency');
  });

  it('campuslink-agent once with a bad proxy config exits 2 listing the problems', async () => {
    const f = tmpFiles({ 'proxy.yaml': 'mode: proxy\nproxy:\n  registry: /nonexistent/registry.csv\n  region: "640104"\n  gatewayColumn: x_gateway\n  bogus: 1\n' });
    const r = await runCli('agent', ['once', '-c', f.path('proxy.yaml')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('AGT_ERR_CONFIG_INVALID').and.include('bogus');
  });

  it('campuslink-agent once --print with a proxy config is refused (exit 2) and spools nothing', async () => {
    const f = tmpFiles({ 'registry.csv': REGISTRY, 'proxy.yaml': 'mode: proxy\nstateDir: SD/state\nspool: { dir: SD/spool }\nproxy:\n  registry: REG\n  region: "640104"\n  gatewayColumn: x_gateway\n' });
    const dir = f.path('.');
    tmpFilesRewrite(f.path('proxy.yaml'), { REG: f.path('registry.csv'), SD: dir });
    const r = await runCli('agent', ['once', '--print', '-c', f.path('proxy.yaml')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('--print is not available in proxy mode');
    expect(existsSync(f.path('spool'))).to.equal(false);
  });
});

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
function tmpFilesRewrite(file: string, vars: Record<string, string>): void {
  let t = readFileSync(file, 'utf8');
  for (const [k, v] of Object.entries(vars)) t = t.replaceAll(k, v);
  writeFileSync(file, t);
}
