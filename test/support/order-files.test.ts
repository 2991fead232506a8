/** test/support/order-files.cjs: the list scripts/test.sh hands to mocha --parallel. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { repoPath } from '../helpers/cli.js';

const ordered = () => execFileSync(process.execPath, [repoPath('test/support/order-files.cjs')], { cwd: repoPath('') }).toString().trim().split('\n');

describe('test/support/order-files.cjs', () => {
  it('lists every test file under test/ exactly once, the same set mocha\'s "test/**/*.test.ts" finds', () => {
    const all = (readdirSync(repoPath('test'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => `test/${f}`)
      .sort();
    const listed = ordered();
    expect(new Set(listed).size, 'no file twice').to.equal(listed.length);
    expect([...listed].sort()).to.deep.equal(all);
    expect(listed).to.include('test/support/order-files.test.ts');
  });

  it('puts the files with the largest measured weight first and the unmeasured ones after the heavy ones', () => {
    const weights = JSON.parse(readFileSync(repoPath('test/support/file-weights.json'), 'utf8')) as Record<string, number>;
    const listed = ordered();
    const heaviest = Object.entries(weights).sort((a, b) => b[1] - a[1])[0]?.[0];
    expect(listed[0]).to.equal(heaviest);
    const w = listed.map((f) => weights[f] ?? 5);
    for (let i = 1; i < w.length; i++) expect(w[i], `${listed[i]} after ${listed[i - 1]}`).to.be.at.most(w[i - 1] as number);
  });
});
