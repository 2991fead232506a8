/**
 * The README's "Running it for real" block, run as written from a fresh copy of the repository in a
 * temp dir: the tracked files copied, node_modules linked to this checkout's (the only substitution
 * besides the enrollment code: `npm ci` is not run, it would need the registry and it empties a symlinked
 * node_modules through the link), then every command in order. Long-running commands (serve, sim,
 * run) start in the background and are waited for; `clke_…` is the enrollment code `enroll issue` printed.
 * A command in the block this test does not know fails it, so the README and the test move together.
 * Uses the ports the README's commands use (8470, 16100 on loopback) and a real embedded influxd.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';

const ROOT = join(import.meta.dirname, '..');

/** The shell lines of the first ```sh block after `## Running it for real`, comments dropped. */
export function runningForRealCommands(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## Running it for real'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

interface Done {
  code: number | null;
  out: string;
  err: string;
}

describe('README "Running it for real", as written, from a fresh copy', function () {
  this.timeout(240_000);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const commands = runningForRealCommands(readme);
  const dir = mkdtempSync(join(tmpdir(), 'cl-readme-'));
  const clone = join(dir, 'campuslink');
  const background: ChildProcess[] = [];
  // Only the machine's basics: no CAMPUSLINK_* of whoever runs the suite leaks in.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAMPUSLINK_') && !k.startsWith('npm_')));

  const line = (l: string, code: string) => l.replaceAll('clke_…', code);

  /** Runs a line to completion with bash in the copy. */
  const run = (l: string, timeoutMs = 120_000): Promise<Done> =>
    new Promise((resolve, reject) => {
      const c = spawn('bash', ['-c', l], { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
      c.on('error', reject);
      c.on('close', (code) => (clearTimeout(t), resolve({ code, out, err })));
    });

  /** Starts a line in its own process group and waits until `ready` matches its stdout or stderr. */
  const start = (l: string, ready: RegExp, timeoutMs = 90_000): Promise<{ child: ChildProcess; match: RegExpExecArray; all: () => string }> =>
    new Promise((resolve, reject) => {
      const c = spawn('bash', ['-c', l], { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      background.push(c);
      let all = '';
      const t = setTimeout(() => reject(new Error(`"${l}" not ready in ${timeoutMs} ms:\n${all}`)), timeoutMs);
      const on = (d: Buffer) => {
        all += d;
        const m = ready.exec(all);
        if (m) {
          clearTimeout(t);
          resolve({ child: c, match: m, all: () => all });
        }
      };
      c.stdout.on('data', on);
      c.stderr.on('data', on);
      c.on('exit', (code) => (clearTimeout(t), reject(new Error(`"${l}" exited ${code} before it was ready:\n${all}`))));
    });

  /** Processes in the process group `pgid` whose command line matches `re`. */
  const groupMembers = (pgid: number, re: RegExp): { pid: number; ppid: number }[] =>
    readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .flatMap((n) => {
        try {
          const stat = readFileSync(`/proc/${n}/stat`, 'latin1');
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          return Number(fields[2]) === pgid && re.test(readFileSync(`/proc/${n}/cmdline`, 'latin1').replace(/\0/g, ' ')) ? [{ pid: Number(n), ppid: Number(fields[1]) }] : [];
        } catch {
          return [];
        }
      });
  const inGroup = (pgid: number, re: RegExp): number[] => groupMembers(pgid, re).map((p) => p.pid);

  /** The program itself under npx/npm/sh/tsx wrappers: matching processes none of whose children match. */
  const programs = (pgid: number): number[] => {
    // node running the bin itself (not npm exec, sh -c or the tsx wrapper around it).
    const m = groupMembers(pgid, /^\S*node (\S*\/(campuslink-(agent|collector)|dist\/(agent|collector)\/cli\.js)|--require \S+ --import \S+ sim\/cli\.ts) /);
    return m.filter((p) => !m.some((q) => q.ppid === p.pid)).map((p) => p.pid);
  };

  /**
   * SIGTERM to the program itself (the node process running dist/… or sim/cli.ts, as Ctrl-C or systemd
   * would reach it), then the exit code npx/npm pass on; the rest of the group is killed if it lingers.
   */
  const stop = (c: ChildProcess): Promise<number | null> =>
    new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve(c.exitCode);
      const pgid = c.pid as number;
      const hard = setTimeout(() => process.kill(-pgid, 'SIGKILL'), 30_000);
      c.once('exit', (code) => (clearTimeout(hard), resolve(code)));
      const targets = programs(pgid);
      if (targets.length) for (const pid of targets) process.kill(pid, 'SIGTERM');
      else process.kill(-pgid, 'SIGTERM');
    });

  before(() => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT }).toString().split('\0').filter(Boolean);
    for (const f of files) {
      mkdirSync(dirname(join(clone, f)), { recursive: true });
      try {
        copyFileSync(join(ROOT, f), join(clone, f));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // deleted in the work tree, not yet committed
      }
    }
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(clone, 'node_modules'));
  });

  after(async () => {
    for (const c of background) await stop(c);
    for (const c of background) if (c.pid) inGroup(c.pid, /./).forEach((pid) => process.kill(pid, 'SIGKILL'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('every command works: enrollment code, collector with embedded influxd, simulated gateway, agent enroll, doctor, once, --print and run', async () => {
    expect(commands.length, 'the block is found').to.be.greaterThan(5);
    let code = '';
    let influxUrl = '';
    const left = [...commands];
    const next = (re: RegExp): string => {
      const l = left.shift() as string;
      expect(l, `README line ${commands.length - left.length}: this test does not know what to expect of it`).to.match(re);
      return l;
    };

    expect(next(/^npm ci && npm run build$/)).to.be.a('string');
    const built = await run('npm run build');
    expect(built.code, built.err).to.equal(0);
    for (const bin of ['dist/agent/cli.js', 'dist/collector/cli.js']) {
      expect(execFileSync('bash', ['-c', `test -x ${bin} && echo yes`], { cwd: clone }).toString().trim(), `${bin} is executable`).to.equal('yes');
    }

    const issued = await run(next(/^npx campuslink-collector enroll issue --school 1640104001 --config config\/collector\.example\.yaml$/));
    expect(issued.code, issued.err).to.equal(0);
    code = issued.out.trim().split('\n').pop() as string;
    expect(code).to.match(/^clke_/);

    const serve = await start(next(/^npx campuslink-collector serve --config config\/collector\.example\.yaml$/), /listening on (http:\/\/127\.0\.0\.1:8470)/);
    influxUrl = /writing to InfluxDB (http\S+)/.exec(serve.all())?.[1] as string;
    expect(influxUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(serve.all()).to.include('(embedded)');

    await start(next(/^npm run sim -- gateway --port 16100$/), /sim gateway listening on udp:\/\/127\.0\.0\.1:16100/);

    const enrolled = await run(line(next(/^npx campuslink-agent enroll --code clke_… --config config\/agent\.example\.yaml$/), code));
    expect(enrolled.code, enrolled.err).to.equal(0);
    expect(enrolled.out).to.match(/^enrolled as agent ag-[0-9a-f]{10} of school 1640104001; credential stored in \S+credential\.json\n$/);

    const doctor = await run(line(next(/ npx campuslink-agent doctor --config config\/agent\.example\.yaml$/), code));
    expect(doctor.code, doctor.out + doctor.err).to.equal(1);
    const fails = doctor.out.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(fails, doctor.out).to.have.length(1);
    expect(fails[0]).to.match(/^FAIL {2}internet target: /);
    expect(doctor.out).to.match(/^ok {4}token: accepted/m).and.match(/^ok {4}SNMP gateway 127\.0\.0\.1:16100: answers/m);

    const once = await run(line(next(/ npx campuslink-agent once --config config\/agent\.example\.yaml$/), code));
    expect(once.code, once.err).to.equal(0);
    expect(once.out).to.match(/^report 1 \(\d+ measurements\) delivered to http:\/\/127\.0\.0\.1:8470\n$/);

    const print = await run(line(next(/ npx campuslink-agent once --config config\/agent\.example\.yaml --print$/), code));
    expect(print.code, print.err).to.equal(0);
    const report = JSON.parse(print.out) as { seq: number; school: string; measurements: { name: string }[] };
    expect(report).to.include({ seq: 2, school: '1640104001' });
    expect(report.measurements.map((m) => m.name)).to.include.members(['ping', 'sys', 'iface']);

    const agent = await start(line(next(/ npx campuslink-agent run --config config\/agent\.example\.yaml$/), code), /"firstSeq":2[^\n]*"msg":"reports delivered"/, 150_000);
    expect(await stop(agent.child), 'agent run: exit code after SIGTERM').to.equal(0);
    expect(left, 'every line of the block was run').to.deep.equal([]);

    const q = await fetch(`${influxUrl}/query?db=campuslink&q=${encodeURIComponent('SELECT count("seq") FROM "report"')}`);
    const body = (await q.json()) as { results: { series?: { values: [string, number][] }[] }[] };
    expect(body.results[0]?.series?.[0]?.values[0]?.[1]).to.be.at.least(2);
    expect(await stop(serve.child), 'collector serve: exit code after SIGTERM').to.equal(0);
  });
});
