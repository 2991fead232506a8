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

  it('lists every command of both CLIs in its command table', async () => {
    const { execFileSync } = await import('node:child_process');
    for (const [bin, cmds] of [['collector', ['serve', 'token issue', 'viewer add', 'viewer remove']], ['agent', ['once', 'run', 'doctor']]] as const) {
      const help = execFileSync(process.execPath, ['--import', 'tsx', new URL(`../${bin}/cli.ts`, import.meta.url).pathname, '--help']).toString();
      for (const c of cmds) {
        expect(help, `${bin} --help`).to.match(new RegExp(`^  ${c.split(' ')[0]}\\b`, 'm'));
        expect(readme, `campuslink-${bin} ${c}`).to.include(`| \`campuslink-${bin} ${c}`);
      }
    }
  });
});

describe('docs on the read side', () => {
  for (const doc of ['views.md', 'console.md']) {
    it(`docs/${doc} does not say the read side is without authentication, and names the viewer accounts`, () => {
      const text = readFileSync(new URL(`../docs/${doc}`, import.meta.url), 'utf8');
      expect(text).not.to.match(/authentication: none|without authentication|no authentication/i);
      expect(text).to.include('COL_ERR_VIEWER_UNAUTHENTICATED');
    });
  }
});
