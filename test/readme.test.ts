import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { agentEnvKeys } from '../agent/config.js';
import { collectorEnvKeys } from '../collector/config.js';

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('documents every environment variable of the collector and the agent with its config key', () => {
    for (const [side, keys] of [['collector', collectorEnvKeys()], ['agent', agentEnvKeys()]] as const) {
      for (const k of keys) {
        const row = readme.split('\n').find((l) => l.startsWith(`| ${side} |`) && l.includes(`\`${k.name}\``));
        expect(row, `${side} ${k.name} missing from the README table`).to.be.a('string');
        expect(row).to.include(`\`${k.path.join('.')}\``);
      }
    }
  });

  it('has a Quick start whose test command is the one .ci/run runs', () => {
    expect(readme).to.match(/^## Quick start/m);
    const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');
    expect(readme).to.include('bash scripts/test.sh');
    expect(ci.trim().split('\n').pop()).to.equal('bash scripts/test.sh');
  });
});
