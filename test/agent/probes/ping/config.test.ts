import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import YAML from 'yaml';
import {
  LINK_TYPES,
  PING_LIMITS,
  pingDefaults,
  pingSectionSchema,
  pingTargetSchema,
  pingTargetsSchema,
  resolvePingTarget,
  type PingTarget,
} from '../../../../agent/probes/ping/config.js';
import { toIssues } from '../../../../protocol/index.js';

const SAMPLE = join(dirname(fileURLToPath(import.meta.url)), '../../../../agent/probes/ping/sample.yaml');

function issues(schema: { safeParse(v: unknown): { success: boolean; error?: unknown } }, value: unknown): string[] {
  const r = schema.safeParse(value);
  if (r.success) return [];
  return toIssues(r.error as Parameters<typeof toIssues>[0]).map((i) => `${i.path}: ${i.message}`);
}

describe('agent/probes/ping/config', () => {
  it('sample.yaml validates against the ping section schema', () => {
    const sample: unknown = YAML.parse(readFileSync(SAMPLE, 'utf8'));
    expect(issues(pingSectionSchema, sample)).to.deep.equal([]);
    const parsed = pingSectionSchema.parse(sample);
    expect(parsed.targets.map((t) => t.role)).to.include.members(['gateway', 'isp', 'platform', 'peer', 'internet']);
  });

  it('sample.yaml is also a valid part of the whole agent config', async () => {
    // Loaded here, not at the top, so that a problem in agent/config.ts fails this test only.
    const { agentConfigSchema } = await import('../../../../agent/config.js');
    const sample = YAML.parse(readFileSync(SAMPLE, 'utf8')) as Record<string, unknown>;
    const r = agentConfigSchema.safeParse({ school: '1640104001', ...sample });
    expect(r.success ? [] : toIssues(r.error)).to.deep.equal([]);
  });

  it('pingTargetSchema accepts host names, IPv4 and IPv6 addresses (with a zone)', () => {
    for (const host of ['192.168.1.1', 'gw.school.example', 'localhost', 'platform.example.edu.cn.', '2001:db8::1', '::1', 'fe80::1%eth0', 'xn--fiq228c.xn--fiqs8s', '_gateway']) {
      expect(issues(pingTargetSchema, { host, role: 'gateway' }), host).to.deep.equal([]);
    }
  });

  it('pingTargetSchema refuses hosts that could be taken for ping options or are not hosts', () => {
    for (const host of ['-f', '--help', '', ' ', 'a b', '10.0.0.300', '1.2.3', 'host/path', 'x;reboot', '-6.example', `${'a'.repeat(64)}.example`, 'bad..dots']) {
      expect(issues(pingTargetSchema, { host, role: 'gateway' }), JSON.stringify(host)).to.not.deep.equal([]);
    }
  });

  it('pingTargetSchema refuses unknown keys, unknown roles and out-of-range timing', () => {
    expect(issues(pingTargetSchema, { host: '10.0.0.1', role: 'gateway', counts: 3 })).to.have.length(1);
    expect(issues(pingTargetSchema, { host: '10.0.0.1', role: 'router' })[0]).to.match(/^role: /);
    expect(issues(pingTargetSchema, { host: '10.0.0.1', role: 'isp', intervalMs: 100 })).to.deep.equal([`intervalMs: must be at least ${PING_LIMITS.intervalMs.min} ms`]);
    expect(issues(pingTargetSchema, { host: '10.0.0.1', role: 'isp', count: 0 })).to.deep.equal(['count: must be at least 1']);
    expect(issues(pingTargetSchema, { host: '10.0.0.1', role: 'isp', timeoutMs: 1.5 })).to.deep.equal(['timeoutMs: must be an integer']);
  });

  it('pingTargetSchema refuses an ipv6 flag that contradicts the address', () => {
    expect(issues(pingTargetSchema, { host: '::1', role: 'gateway', ipv6: false })).to.deep.equal(['ipv6: cannot be false for an IPv6 address']);
    expect(issues(pingTargetSchema, { host: '127.0.0.1', role: 'gateway', ipv6: true })).to.deep.equal(['ipv6: cannot be true for an IPv4 address']);
  });

  it('pingTargetsSchema refuses two targets with one target tag, and accepts them once one has a name', () => {
    const twice = [
      { host: 'platform.example', role: 'platform' },
      { host: 'platform.example', role: 'platform', ipv6: true },
    ];
    expect(issues(pingTargetsSchema, twice)).to.deep.equal(['1.name: target tag "platform.example" is already used by targets.0; give this target a distinct name']);
    expect(issues(pingTargetsSchema, [twice[0], { ...twice[1], name: 'platform.example/v6' }])).to.deep.equal([]);
  });

  it('pingDefaults() gives every link type 5 requests a second, and a GEO satellite link at least 3 s per reply', () => {
    for (const lt of LINK_TYPES) {
      const d = pingDefaults(lt);
      expect(d.count, lt).to.equal(5);
      expect(d.intervalMs, lt).to.equal(1000);
      expect(d.timeoutMs, lt).to.be.at.least(2000);
    }
    expect(pingDefaults('sat-geo').timeoutMs).to.be.at.least(3000);
    // A congested GEO reply (~2 s) must still count.
    expect(pingDefaults('sat-geo').timeoutMs).to.be.above(2000);
  });

  it('pingDefaults() returns a copy that callers cannot use to change the defaults', () => {
    pingDefaults('fiber').count = 99;
    expect(pingDefaults('fiber').count).to.equal(5);
  });

  it('resolvePingTarget() fills the link type defaults, keeps explicit values, and picks IPv6 for IPv6 addresses', () => {
    const t = (v: unknown) => pingTargetSchema.parse(v) as PingTarget;
    expect(resolvePingTarget(t({ host: '10.0.0.1', role: 'gateway' }), 'sat-geo')).to.deep.equal({
      host: '10.0.0.1',
      role: 'gateway',
      tag: '10.0.0.1',
      count: 5,
      intervalMs: 1000,
      timeoutMs: pingDefaults('sat-geo').timeoutMs,
      ipv6: false,
    });
    expect(resolvePingTarget(t({ host: '::1', role: 'peer', count: 3, intervalMs: 200, timeoutMs: 500 }), 'fiber')).to.include({ ipv6: true, count: 3, intervalMs: 200, timeoutMs: 500 });
    expect(resolvePingTarget(t({ host: 'p.example', role: 'platform', ipv6: true, name: 'p6' }), 'fiber')).to.include({ ipv6: true, tag: 'p6', host: 'p.example' });
  });
});
