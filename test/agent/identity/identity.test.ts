import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { agentConfigSchema } from '../../../agent/config.js';
import { CredentialStore } from '../../../agent/identity/credential.js';
import { AgentIdentity } from '../../../agent/identity/identity.js';

const A = '1640104001';
const B = '1632722001';

function setup(over: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cl-identity-'));
  const lines: { code?: string; msg: string }[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(JSON.parse(c.toString()) as { msg: string }), cb()) }));
  const config = agentConfigSchema.parse({ school: A, agentId: 'OpenWrt', stateDir: dir, spool: { dir: join(dir, 'spool') }, ...over });
  return { dir, lines, log, config };
}

describe('agent/identity', () => {
  it('a damaged credential file is moved aside and logged AGT_ERR_CREDENTIAL_IO; the agent goes on with the config identity', () => {
    const { dir, lines, log, config } = setup({ collector: { token: 'clk1_legacy' } });
    writeFileSync(join(dir, 'credential.json'), '{"v":1,"current":{"school":"16401');
    const id = new AgentIdentity(config, dir, log);
    expect(id.current()).to.include({ school: A, agent: 'OpenWrt', token: 'clk1_legacy' });
    expect(readdirSync(dir).some((f) => f.startsWith('credential.json.corrupt-'))).to.equal(true);
    expect(lines.some((l) => l.code === 'AGT_ERR_CREDENTIAL_IO')).to.equal(true);
  });

  it('rotate() stores the new token durably (0600) before using it, and a rotated legacy token stays with the config identity', () => {
    const { dir, log, config } = setup({ collector: { token: 'clk1_legacy' } });
    const id = new AgentIdentity(config, dir, log);
    expect(id.rotate({ token: 'clk1_next', id: 'abc' })).to.equal(true);
    expect(statSync(join(dir, 'credential.json')).mode & 0o777).to.equal(0o600);
    expect(new AgentIdentity(config, dir, log).current()).to.include({ school: A, agent: 'OpenWrt', token: 'clk1_next' });
    // The config now names another school with its own token: the agent moved; the old one's backlog keeps the rotated token.
    const moved = agentConfigSchema.parse({ ...config, school: B, collector: { ...config.collector, token: 'clk1_b' } });
    const m = new AgentIdentity(moved, dir, log);
    expect(m.current()).to.include({ school: B, token: 'clk1_b' });
    expect(m.route({ school: A, agent: 'OpenWrt' })).to.include({ kind: 'send', token: 'clk1_next', current: false });
    expect(m.route({ school: B, agent: 'OpenWrt' })).to.include({ kind: 'send', token: 'clk1_b', current: true });
  });

  it('persistConfigIdentity() keeps a rotated legacy token across restarts, and a config token the operator re-issued replaces it', () => {
    const { dir, log, config } = setup({ collector: { token: 'clk1_legacy' } });
    const id = new AgentIdentity(config, dir, log);
    id.persistConfigIdentity();
    id.rotate({ token: 'clk1_rotated', id: 'r1' });
    const again = new AgentIdentity(config, dir, log);
    again.persistConfigIdentity();
    expect(again.current().token).to.equal('clk1_rotated');
    const reissued = agentConfigSchema.parse({ ...config, collector: { ...config.collector, token: 'clk1_reissued' } });
    const r = new AgentIdentity(reissued, dir, log);
    r.persistConfigIdentity();
    expect(r.current().token).to.equal('clk1_reissued');
    expect(new AgentIdentity(reissued, dir, log).current().token).to.equal('clk1_reissued');
  });

  it('route(): reports collected before enrollment go as the enrolled agent; an identity without a token is quarantined', () => {
    const { dir, log, config } = setup();
    new CredentialStore(dir, log).adopt({ school: A, agent: 'ag-0123456789', token: 'clk1_enrolled', source: 'enroll', at: '' }, undefined);
    const id = new AgentIdentity(config, dir, log);
    expect(id.route({ school: A, agent: 'OpenWrt' })).to.deep.equal({ kind: 'send', token: 'clk1_enrolled', school: A, agent: 'ag-0123456789', current: true });
    expect(id.route({ school: B, agent: 'gw-9' }).kind).to.equal('quarantine');
  });
});
