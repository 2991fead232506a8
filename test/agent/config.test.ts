import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadAgentConfig } from '../../agent/config.js';
import { ConfigError } from '../../protocol/config.js';
import { repoPath, runCli } from '../helpers/cli.js';

function file(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'cl-agent-config-')), 'agent.yaml');
  writeFileSync(f, text);
  return f;
}

describe('agent/config', () => {
  it('loadAgentConfig() accepts config/agent.example.yaml as it is, with the school from the file', () => {
    const c = loadAgentConfig(repoPath('config/agent.example.yaml'), {});
    expect(c.school).to.equal('1640104001');
    expect(c.targets[0]).to.include({ host: '127.0.0.1', role: 'gateway' });
    expect(c.snmp.host).to.equal(undefined);
  });

  it('loadAgentConfig() takes the README variables: CAMPUSLINK_TOKEN, CAMPUSLINK_SNMP_HOST, CAMPUSLINK_SPOOL_DIR, CAMPUSLINK_STATE_DIR', () => {
    const c = loadAgentConfig(repoPath('config/agent.example.yaml'), {
      CAMPUSLINK_TOKEN: 'clk1_x',
      CAMPUSLINK_SNMP_HOST: '127.0.0.1:16100',
      CAMPUSLINK_SNMP_COMMUNITY: 'secret',
      CAMPUSLINK_SPOOL_DIR: '/tmp/s',
      CAMPUSLINK_STATE_DIR: '/tmp/t',
      CAMPUSLINK_SCHOOL: '1632722101',
      CAMPUSLINK_COLLECTOR_URL: 'http://127.0.0.1:9',
    });
    expect(c.collector).to.include({ token: 'clk1_x', url: 'http://127.0.0.1:9' });
    expect(c.snmp).to.include({ host: '127.0.0.1:16100', community: 'secret' });
    expect(c.spool.dir).to.equal('/tmp/s');
    expect(c.stateDir).to.equal('/tmp/t');
    expect(c.school).to.equal('1632722101');
  });

  it('loadAgentConfig() lists every problem of a malformed config with its path', () => {
    const f = file('school: "123"\nlinkType: carrier-pigeon\nschedule: "every minute"\ntargets:\n  - host: "bad host!"\n    role: gateway\ncolector:\n  url: x\n');
    try {
      loadAgentConfig(f, {});
      expect.fail('expected a ConfigError');
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      const paths = (e as ConfigError).issues.map((i) => i.path);
      expect(paths).to.include.members(['school', 'linkType', 'schedule', 'targets.0.host', '']);
    }
  });

  it('campuslink-agent exits 2 and prints every problem when the config is malformed', async () => {
    const f = file('school: "123"\nlinkType: carrier-pigeon\n');
    const r = await runCli('agent', ['once', '--print', '--config', f], { CAMPUSLINK_SCHOOL: '' });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/AGT_ERR_CONFIG_INVALID/).and.match(/school:/).and.match(/linkType:/);
  });
});
