/**
 * The README's national demo line, run as written (with a temp state dir and a short cycle appended):
 * a hub and two provinces come up, both provinces report to the hub, a province killed with the pid the
 * banner names turns stale on the hub with its last figures kept (never zero online), and Ctrl-C leaves no
 * process behind (every process carries a marker variable; /proc is searched for it afterwards).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { repoPath } from '../helpers/cli.js';

const MARK = 'CAMPUSLINK_TEST_NATIONAL_DEMO_MARK';

function marked(id: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
      if (env.includes(`${MARK}=${id}`) && !/\) Z /.test(readFileSync(`/proc/${name}/stat`, 'latin1'))) out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** The shell line of the README's "National hub" section that starts the demo. */
export function nationalDemoLine(readme: string): string {
  const section = readme.slice(readme.indexOf('## National hub'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const line = block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).find((l) => l.includes('--national'));
  if (!line) throw new Error('no demo line with --national in the README section "National hub"');
  return line;
}

describe('README "National hub": npm run demo -- --national, as written', function () {
  this.timeout(300_000);

  it('starts a hub and two provinces; a killed province turns stale with its figures kept; Ctrl-C leaves nothing', async () => {
    const line = nationalDemoLine(readFileSync(repoPath('README.md'), 'utf8'));
    expect(line).to.equal('npm run demo -- --national');
    const id = randomUUID();
    const stateDir = mkdtempSync(join(tmpdir(), 'cl-national-demo-'));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAMPUSLINK_') && !k.startsWith('npm_')));
    const child = spawn('bash', ['-c', `${line} --state-dir ${stateDir} --interval 2`], { cwd: repoPath(''), env: { ...env, [MARK]: id }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const waitFor = async (re: RegExp, ms: number): Promise<RegExpExecArray> => {
      const until = Date.now() + ms;
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (Date.now() > until || child.exitCode !== null) throw new Error(`no ${re} in the demo's output:\n${out}\n${err.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    try {
      const hub = (await waitFor(/national hub\s+(http:\/\/\S+?)\//, 180_000))[1] as string;
      const pid = Number((await waitFor(/try\s+kill (\d+)/, 5000))[1]);
      const both = await waitFor(/national: (\d+)\/(\d+) schools online {2}provinces reporting: 2\n/, 40_000);
      expect(Number(both[2])).to.equal(56);
      const feeds = (await (await fetch(`${hub}/api/v1/hub/feeds`)).json()) as { provinces: { province: string; stale: boolean }[] };
      expect(feeds.provinces.map((i) => [i.province, i.stale])).to.deep.equal([['63', false], ['64', false]]);
      process.kill(pid, 'SIGTERM');
      const stale = await waitFor(/national: (\d+)\/56 schools online {2}provinces reporting: 1 {2}stale: 青海省/, 40_000);
      const cov = (await (await fetch(`${hub}/api/v1/coverage?level=national`)).json()) as { registered: number; staleProvinces: { code: string }[]; children: { code: string; stale: boolean; registered: number }[] };
      expect(cov.staleProvinces.map((p) => p.code)).to.deep.equal(['630000']);
      // 青海's 22 schools are still counted, with their last figures.
      expect(cov.registered).to.equal(56);
      expect(cov.children.find((c) => c.code === '630000')).to.include({ stale: true, registered: 22 });
      expect(Number(stale[1])).to.be.at.least(0);
      expect((await fetch(`${hub}/`)).headers.get('content-type')).to.match(/^text\/html/);
    } finally {
      process.kill(-(child.pid as number), 'SIGINT');
      await closed;
      let left = marked(id);
      for (let i = 0; i < 40 && left.length; i++) {
        await new Promise((r) => setTimeout(r, 250));
        left = marked(id);
      }
      for (const p of left) process.kill(p, 'SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
      expect(left, `processes left behind:\n${out}`).to.deep.equal([]);
    }
    expect(out).to.include('demo stopped cleanly.');
  });
});
