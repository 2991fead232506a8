/**
 * The demo (scripts/demo.ts, scripts/demo.sh): arguments are checked before anything starts, and a
 * SIGINT or SIGTERM at any moment leaves no process behind. Every process the demo starts inherits a
 * marker variable; after the demo exited, /proc is searched for it.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseDemoArgs, parseDuration } from '../../scripts/demo-args.js';
import { repoPath } from '../helpers/cli.js';

const MARK = 'CAMPUSLINK_TEST_DEMO_MARK';

/** Pids of live processes whose environment holds `MARK=id`. */
function marked(id: string): number[] {
  return markedCommands(id).map((p) => p.pid);
}

/** Live processes whose environment holds `MARK=id`, with their command lines. */
function markedCommands(id: string): { pid: number; cmd: string }[] {
  const needle = `${MARK}=${id}`;
  const out: { pid: number; cmd: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (env.includes(needle) && !/\) Z /.test(stat)) out.push({ pid: Number(name), cmd: readFileSync(`/proc/${name}/cmdline`, 'latin1').replace(/\0/g, ' ') });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

interface DemoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  /** Processes carrying the marker once the demo had exited. */
  left: number[];
}

/** Runs the demo; `killWhen` decides, from its output so far, when to send `signal`. */
function runDemo(opts: {
  args: string[];
  signal?: NodeJS.Signals;
  killWhen?: (out: string) => boolean;
  /** Polled every 50 ms with the demo's processes (command lines) and its output so far. */
  killWhenRunning?: (cmds: string[], out: string) => boolean;
  killAfterMs?: number;
  command?: string[];
}): Promise<DemoRun & { killedWith?: string[] }> {
  const id = randomUUID();
  const stateDir = mkdtempSync(join(tmpdir(), 'cl-demo-'));
  const argv = opts.command ?? [process.execPath, '--import', 'tsx', repoPath('scripts/demo.ts')];
  const child = spawn(argv[0] as string, [...argv.slice(1), '--state-dir', stateDir, ...opts.args], { cwd: repoPath(''), env: { ...process.env, [MARK]: id }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let sent = false;
  const send = () => {
    if (sent || !opts.signal) return;
    sent = true;
    child.kill(opts.signal);
  };
  child.stdout.on('data', (d) => {
    out += d;
    if (opts.killWhen?.(out)) send();
  });
  child.stderr.on('data', (d) => (err += d));
  const timer = opts.killAfterMs !== undefined ? setTimeout(send, opts.killAfterMs) : undefined;
  let killedWith: string[] | undefined;
  const poll = opts.killWhenRunning
    ? setInterval(() => {
        const cmds = markedCommands(id).map((p) => p.cmd);
        if (!sent && opts.killWhenRunning?.(cmds, out)) {
          killedWith = cmds;
          send();
        }
      }, 50)
    : undefined;
  const hard = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) => {
    child.on('close', async (code, signal) => {
      clearTimeout(timer);
      clearTimeout(hard);
      clearInterval(poll);
      // Children stop on their own after the demo told them to; give a straggler a moment before judging.
      let left = marked(id);
      for (let i = 0; i < 20 && left.length; i++) {
        await new Promise((r) => setTimeout(r, 250));
        left = marked(id);
      }
      for (const pid of left) process.kill(pid, 'SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
      resolve({ code, signal, out, err, left, ...(killedWith && { killedWith }) });
    });
  });
}

describe('scripts/demo-args', () => {
  it('parseDemoArgs() lists every bad argument at once', () => {
    expect(() => parseDemoArgs(['--duration', 'abc', '--schools', '99', '--interval', '0'], { maxSchools: 56 }))
      .to.throw(/--duration: expected e\.g\. 90s.*\n--schools: expected a whole number from 1 to 56, got "99"\n--interval: expected a whole number from 1 to 59, got "0"/s);
    expect(() => parseDemoArgs(['--schools', '2.5'], { maxSchools: 56 })).to.throw(/--schools/);
    expect(() => parseDemoArgs(['--state-dir', '/'], { maxSchools: 56 })).to.throw(/cannot be wiped/);
  });

  it('parseDemoArgs() accepts the README forms and keeps the defaults', () => {
    expect(parseDemoArgs([], { maxSchools: 56 })).to.deep.equal({ schools: 20, intervalS: 10, stateDir: '.state/demo' });
    expect(parseDemoArgs(['--duration', '60s'], { maxSchools: 56 })).to.include({ durationMs: 60_000, duration: '60s' });
    expect(parseDuration('5m')).to.equal(300_000);
    expect(() => parseDuration('0s')).to.throw(/--duration/);
  });
});

describe('scripts/demo', function () {
  this.timeout(180_000);

  it('bash scripts/demo.sh --duration abc exits 2 before installing, building or starting anything', async () => {
    const r = await runDemo({ args: ['--duration', 'abc'], command: ['bash', repoPath('scripts/demo.sh')] });
    expect(r.code).to.equal(2);
    expect(r.err).to.include('--duration: expected e.g. 90s, 5m or 1h, got "abc"');
    expect(r.err).to.include('nothing was started');
    expect(r.out).to.equal('');
    expect(r.left).to.deep.equal([]);
  });

  const banner = (out: string) => out.includes('campuslink demo:');
  for (const [what, signal, when] of [
    ['right after start', 'SIGINT', { killAfterMs: 300 }],
    ['while influxd starts under the collector', 'SIGINT', { killWhenRunning: (cmds: string[]) => cmds.some((c) => /influxd run/.test(c)) && !cmds.some((c) => /token issue/.test(c)) }],
    ['while tokens are issued', 'SIGINT', { killWhenRunning: (cmds: string[]) => cmds.some((c) => /token issue/.test(c)) }],
    ['while the agents start', 'SIGTERM', { killWhenRunning: (cmds: string[], out: string) => cmds.some((c) => /agent\/cli\.js run/.test(c)) && !banner(out) }],
    ['once everything runs', 'SIGINT', { killWhen: (out: string) => /schools writing: /.test(out) }],
  ] as const) {
    it(`a ${signal} ${what} leaves no process behind`, async () => {
      const r = await runDemo({ args: ['--schools', '3', '--interval', '2'], signal, ...when });
      if ('killWhenRunning' in when) expect(r.killedWith, `the moment never came:\n${r.out}\n${r.err}`).to.be.an('array');
      expect(r.left, `${r.out}\n${r.err}`).to.deep.equal([]);
      expect(r.code === 0 || r.signal === signal || r.code === 1, `exit ${r.code} ${r.signal}\n${r.err}`).to.equal(true);
    });
  }

  it('counts schools, not series: the counter never exceeds the number of schools', async () => {
    const r = await runDemo({ args: ['--schools', '2', '--interval', '1', '--duration', '12s'] });
    expect(r.code, r.err).to.equal(0);
    const counts = [...r.out.matchAll(/schools writing: (\d+)\/(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(counts.length).to.be.greaterThan(0);
    for (const [n, of] of counts) expect(n).to.be.at.most(of as number);
    expect(counts.at(-1)).to.deep.equal([2, 2]);
    expect(r.out).to.include('demo stopped cleanly.');
    expect(r.left).to.deep.equal([]);
  });
});
