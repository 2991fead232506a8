/**
 * The state database's group commit under the work of agents' first batches after a start, old code
 * against new in the same run (issue 11; the province soak's longest `flush` runs).
 *
 *   npx tsx bench/state-first-batch.bench.ts [--agents 20000] [--rate 1000] [--runs 3] [--old /tmp/h7-old]
 *
 * Seeds a state database as a week leaves it (`--seeded` agents with dedupe and gap rows; the roster
 * table empty, as after the migration from the legacy files), then, per run and in a fresh process,
 * `--agents` agents each send their first batch at `--rate` batches/s: the roster admits and inserts the
 * agent, the dedupe store records its sequences, its gap state is written (up to 200 agents per item,
 * as the gaps module does), each through `commit()`. Measured per run: main-thread busy time (event-loop
 * utilisation) per batch, the longest event-loop delay (≈ the longest task: nothing else runs), and the
 * time to settle all. `--old` is a copy of the old tree (`git archive main collector protocol | tar -x`),
 * run interleaved with this tree's code. A run that does not finish in 60 s is reported as such (with a
 * node report of the child in the temp directory), not waited for.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] as string) : dflt;
};
const HERE = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** A gap detector state of the size a week leaves (60 pairs). */
function gapState(i: number): string {
  const recent: number[] = [];
  for (let k = 0; k < 60; k++) recent.push(10_000 + k, 1_764_000_000_000 + k * 60_000 + i);
  return JSON.stringify({ streams: [{ epoch: 'e' + i, state: { recent, intervalMs: 60_000, deltas: Array(15).fill(60_000), checkedSeq: 10_059 }, firstMs: 1_764_000_000_000, lastMs: 1_764_003_540_000, seenMs: 1_764_003_540_000 }] });
}

const school = (i: number) => `sch-${String((i * 7919) % 1_000_003).padStart(7, '0')}`;
const agentOf = (i: number) => `agent-${i.toString(36)}`;

async function seed(root: string, dir: string, seeded: number): Promise<void> {
  const { openStateDb } = (await import(pathToFileURL(join(root, 'collector/state/db.ts')).href)) as typeof import('../collector/state/db.js');
  const { migrateDedupe } = (await import(pathToFileURL(join(root, 'collector/ingest/dedupe.ts')).href)) as typeof import('../collector/ingest/dedupe.js');
  const { migrateGaps } = (await import(pathToFileURL(join(root, 'collector/gaps/module.ts')).href)) as typeof import('../collector/gaps/module.js');
  const { migrateRoster } = (await import(pathToFileURL(join(root, 'collector/enroll/roster.ts')).href)) as typeof import('../collector/enroll/roster.js');
  const state = openStateDb({ stateDir: dir, checkpointIntervalMs: 0 });
  migrateRoster(state);
  migrateDedupe(state);
  migrateGaps(state);
  state.transaction((db) => {
    const d = db.prepare('INSERT INTO dedupe_agents (school, agent, epoch, hwm, ranges, first_ms, last_ms, seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const g = db.prepare('INSERT INTO gap_agents (school, agent, state) VALUES (?, ?, ?)');
    for (let i = 0; i < seeded; i++) {
      d.run(school(i), agentOf(i), 'e' + i, 10_059, '', 1_764_000_000_000, 1_764_003_540_000, 1_764_003_540_000);
      g.run(school(i), agentOf(i), gapState(i));
    }
  });
  state.db.pragma('wal_checkpoint(TRUNCATE)');
  await state.close();
}

/** One run in this process: the first batches of `agents` agents at `rate` a second. */
async function runOne(root: string, dir: string, agents: number, rate: number): Promise<void> {
  const { openStateDb } = (await import(pathToFileURL(join(root, 'collector/state/db.ts')).href)) as typeof import('../collector/state/db.js');
  const { DedupeStore } = (await import(pathToFileURL(join(root, 'collector/ingest/dedupe.ts')).href)) as typeof import('../collector/ingest/dedupe.js');
  const { putGapStates, parseGapStreams } = (await import(pathToFileURL(join(root, 'collector/gaps/module.ts')).href)) as typeof import('../collector/gaps/module.js');
  const { AgentRoster } = (await import(pathToFileURL(join(root, 'collector/enroll/roster.ts')).href)) as typeof import('../collector/enroll/roster.js');
  const state = openStateDb({ stateDir: dir });
  const roster = new AgentRoster({ state, maxAgentsPerSchool: 8 });
  const dedupe = new DedupeStore({ state });
  const readGap = state.db.prepare('SELECT state FROM gap_agents WHERE school = ? AND agent = ?').pluck();
  // The gaps module's writer: dirty agents, at most 200 per commit item, one item in flight.
  const dirty = new Map<string, { school: string; agent: string; state: NonNullable<ReturnType<typeof parseGapStreams>> }>();
  let gapItem: Promise<void> | undefined;
  const writeGaps = (): Promise<void> => {
    if (gapItem || !dirty.size) return gapItem ?? Promise.resolve();
    gapItem = state
      .commit((db) => {
        const rows = [...dirty.values()].slice(0, 200);
        for (const r of rows) dirty.delete(`${r.school}/${r.agent}`);
        putGapStates(db, rows);
      })
      .finally(() => {
        gapItem = undefined;
        if (dirty.size) void writeGaps();
      });
    return gapItem;
  };
  const h = monitorEventLoopDelay({ resolution: 1 });
  const done: Promise<unknown>[] = [];
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  h.enable();
  await new Promise<void>((finish) => {
    let sent = 0;
    const tick = setInterval(() => {
      const due = Math.min(agents, Math.floor(((performance.now() - t0) * rate) / 1000));
      for (; sent < due; sent++) {
        const s = school(sent);
        const a = agentOf(sent);
        const adm = roster.admit(s, a);
        const work: Promise<unknown>[] = [];
        if (adm.ok && adm.added) work.push(roster.persist(s, a, Date.now()));
        const seq = dedupe.heldThrough(s, a, 'e' + sent) + 1;
        work.push(dedupe.record(s, a, [seq], { epoch: 'e' + sent, fromMs: Date.now(), toMs: Date.now(), atMs: Date.now() }));
        const text = readGap.get(s, a) as string | undefined;
        const streams = (text && parseGapStreams(text)) || { streams: [] };
        dirty.set(`${s}/${a}`, { school: s, agent: a, state: streams });
        work.push(writeGaps());
        done.push(Promise.all(work));
      }
      if (sent >= agents) {
        clearInterval(tick);
        finish();
      }
    }, 5);
  });
  await Promise.all(done);
  await writeGaps();
  const wallMs = performance.now() - t0;
  h.disable();
  const elu = performance.eventLoopUtilization(elu0);
  const out = { busyUsPerBatch: (elu.active * 1000) / agents, maxLoopDelayMs: h.max / 1e6, p99LoopDelayMs: h.percentile(99) / 1e6, wallMs, commits: state.health().commits };
  await state.close();
  process.stdout.write(JSON.stringify(out) + '\n');
}

/** Runs one measured child; its last stdout line, or undefined after 60 s (then a node report is written). */
function child(args: string[]): Promise<string | undefined> {
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, ['--import', 'tsx', '--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${tmpdir()}`, fileURLToPath(import.meta.url), ...args], { cwd: HERE, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => {
      c.kill('SIGUSR2');
      setTimeout(() => c.kill('SIGKILL'), 3000);
    }, 60_000);
    c.on('error', fail);
    c.on('exit', (code) => {
      clearTimeout(t);
      done(code === 0 ? out.trim().split('\n').pop() : undefined);
    });
  });
}

type Result = { busyUsPerBatch: number; maxLoopDelayMs: number; p99LoopDelayMs: number; wallMs: number; commits: number };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const agents = Number(arg('agents', '20000'));
  const rate = Number(arg('rate', '1000'));
  const seeded = Number(arg('seeded', '60000'));
  if (process.argv.includes('--child')) return runOne(arg('root', HERE), arg('dir', ''), agents, rate);
  if (process.argv.includes('--seed-to')) return seed(arg('root', HERE), arg('seed-to', ''), seeded);
  const runs = Number(arg('runs', '3'));
  const roots = { old: resolve(arg('old', '/tmp/h7-old')), new: HERE };
  const base = mkdtempSync(join(tmpdir(), 'state-first-batch-'));
  try {
    // Each tree seeds its own copy (its schema as its migrations leave it), outside the measured runs.
    for (const impl of ['old', 'new'] as const) await seed(roots[impl], join(base, `seed-${impl}`), seeded);
    const results: Record<'old' | 'new', Result[]> = { old: [], new: [] };
    for (let r = 0; r < runs; r++) {
      for (const impl of r % 2 ? (['new', 'old'] as const) : (['old', 'new'] as const)) {
        const dir = join(base, `${impl}-${r}`);
        cpSync(join(base, `seed-${impl}`), dir, { recursive: true });
        const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
        const line = await child(['--child', '--root', roots[impl], '--dir', dir, '--agents', String(agents), '--rate', String(rate)]);
        if (!line) {
          console.log(`${impl} run ${r}: load ${load}: did not finish in 60 s (node report in ${base})`);
          continue;
        }
        const res = JSON.parse(line) as Result;
        results[impl].push(res);
        console.log(`${impl} run ${r}: load ${load}: ${res.busyUsPerBatch.toFixed(1)} µs busy/batch, max loop delay ${res.maxLoopDelayMs.toFixed(1)} ms, p99 ${res.p99LoopDelayMs.toFixed(1)} ms, ${res.commits} commits, ${(res.wallMs / 1000).toFixed(1)} s`);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    for (const k of ['busyUsPerBatch', 'maxLoopDelayMs', 'p99LoopDelayMs'] as const) {
      const o = results.old.map((x) => x[k]);
      const n = results.new.map((x) => x[k]);
      console.log(`${k}: old median ${median(o).toFixed(1)} [${Math.min(...o).toFixed(1)}–${Math.max(...o).toFixed(1)}], new median ${median(n).toFixed(1)} [${Math.min(...n).toFixed(1)}–${Math.max(...n).toFixed(1)}], new/old ${(median(n) / median(o)).toFixed(2)}`);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
