/**
 * scripts/setup.sh installs per purpose: the demo only what the demo runs, the tests everything the
 * suite runs (a subset of what .ci/run installs), with apt's progress visible. Run with
 * CAMPUSLINK_SETUP_DRY_RUN=1 and a PATH without the tools, so it says what it would install and
 * installs nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { repoPath } from '../helpers/cli.js';

/** Runs setup.sh with a PATH holding only bash's basics and node, so every Debian tool looks missing. */
function dryRun(purpose: string) {
  const bin = mkdtempSync(join(tmpdir(), 'cl-setup-path-'));
  for (const tool of ['node', 'npm', 'bash', 'sort', 'id', 'printf', 'dirname']) {
    const which = spawnSync('bash', ['-c', `command -v ${tool}`]).stdout.toString().trim();
    if (which.startsWith('/')) symlinkSync(which, join(bin, tool));
  }
  try {
    const r = spawnSync(join(bin, 'bash'), [repoPath('scripts/setup.sh'), purpose], { env: { PATH: bin, CAMPUSLINK_SETUP_DRY_RUN: '1', HOME: process.env.HOME }, encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

const packagesOf = (out: string) => (/apt-get install -y (.*)$/m.exec(out)?.[1] ?? '').split(' ').filter(Boolean).sort();

describe('scripts/setup.sh', () => {
  const text = readFileSync(repoPath('scripts/setup.sh'), 'utf8');

  it('for the demo installs influxdb and ping only', () => {
    const r = dryRun('demo');
    expect(r.code, r.err).to.equal(0);
    expect(packagesOf(r.out)).to.deep.equal(['influxdb', 'iputils-ping']);
    expect(packagesOf(r.out)).not.to.include.members(['chromium', 'snmpd', 'systemd', 'busybox']);
  });

  it('for the tests installs everything the suite runs, sqlite3 and openssl included, all of it in .ci/run', () => {
    const r = dryRun('test');
    expect(r.code, r.err).to.equal(0);
    // /usr/sbin is searched besides PATH, so snmpd (installed there) is not reported missing here.
    const wanted = packagesOf(r.out);
    expect(wanted).to.include.members(['influxdb', 'iputils-ping', 'chromium', 'busybox', 'systemd', 'sqlite3', 'openssl', 'snmp']);
    const ci = readFileSync(repoPath('.ci/run'), 'utf8');
    const ciPackages = (/^apt-get install -y (.*)$/m.exec(ci)?.[1] ?? '').split(' ');
    const declared = [...text.matchAll(/\[[\w-]+\]=([\w-]+)/g)].map((m) => m[1] as string);
    expect(ciPackages).to.include.members([...new Set([...declared, 'fonts-wqy-microhei', 'snmpd'])]);
  });

  it("shows apt's progress: no -qq, no output thrown away", () => {
    for (const l of text.split('\n').filter((x) => /apt-get (update|install)/.test(x) && !x.includes('echo'))) {
      expect(l).not.to.match(/-qq|>\s*\/dev\/null/);
    }
  });

  it('refuses an unknown purpose with exit code 2', () => {
    expect(dryRun('everything').code).to.equal(2);
  });
});
