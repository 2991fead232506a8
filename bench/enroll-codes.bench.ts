/**
 * Bulk enrollment codes for a whole registry, against the bulk token issue as the peer (the same
 * pattern: registry load, chunked transactions, CSV into a new 0600 file), interleaved and repeated;
 * then the enrollment exchange itself, in process: codes redeemed one after another through the
 * group commit, as `POST /api/v1/enroll` does.
 *
 *   npx tsx bench/enroll-codes.bench.ts [--schools 250000] [--repeat 3] [--enrollments 2000]
 *
 * Ratio: median `enroll issue --all` time / 5 minutes (the goal: a province's codes "in minutes").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { issueCodes } from '../collector/enroll/codes.js';
import { AgentRoster } from '../collector/enroll/roster.js';
import { createEnrollment } from '../collector/enroll/service.js';
import { openStateDb } from '../collector/state/db.js';
import type { BenchResult } from './snmp-poll.bench.js';
import { registryCsv } from './state-start.bench.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SCHOOLS = arg('schools', 250_000);
const REPEAT = arg('repeat', 3);
const ENROLLMENTS = arg('enrollments', 2000);
const DIST_CLI = join(ROOT, 'dist', 'collector', 'cli.js');
const cliArgs = (...args: string[]) => (existsSync(DIST_CLI) ? [DIST_CLI, ...args] : ['--import', 'tsx', join(ROOT, 'collector', 'cli.ts'), ...args]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const spread = (xs: number[]) => `${(Math.min(...xs) / 1000).toFixed(1)}–${(Math.max(...xs) / 1000).toFixed(1)} s`;

/** Runs one bulk CLI command into a new file; its wall time in ms and the CSV's data lines. */
function bulk(work: string, env: Record<string, string>, args: string[], i: number): { ms: number; lines: number } {
  const out = join(work, `${args[0]}-${i}.csv`);
  const t = performance.now();
  const r = spawnSync(process.execPath, cliArgs(...args, '--all', '--out', out), { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(' ')} --all failed: ${r.stderr}`);
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n').length - 1;
  rmSync(out);
  return { ms, lines };
}

/** Redeems `n` codes one after another through the enrollment service; ms per enrollment (median of 100-blocks). */
async function redeem(stateDir: string, n: number): Promise<{ perMs: number; worstMs: number }> {
  const state = openStateDb({ stateDir });
  const log = pino({ level: 'silent' });
  const codes: { school: string; code: string }[] = [];
  issueCodes({ state, schools: Array.from({ length: n }, (_, i) => String(4000000000 + i)), uses: 1, expiresAtMs: Date.now() + 86_400_000, onIssued: (code, r) => codes.push({ school: r.school, code }) });
  const roster = new AgentRoster({ state, maxAgentsPerSchool: 8 });
  const e = createEnrollment({ state, roster, schools: { tagsFor: () => ({}) as never }, retryAfterS: 1, now: Date.now, log });
  const times: number[] = [];
  for (const [i, c] of codes.entries()) {
    const t = performance.now();
    const a = await e.enroll({ v: 1, code: c.code, nonce: `bench-nonce-${String(i).padStart(8, '0')}` });
    times.push(performance.now() - t);
    if (a.status !== 200) throw new Error(`enrollment ${i} answered ${a.status}: ${JSON.stringify(a.body)}`);
  }
  await state.close();
  return { perMs: median(times), worstMs: Math.max(...times) };
}

/** Runs the benchmark (also when this file is run directly). */
export async function run(): Promise<BenchResult> {
  const work = mkdtempSync(join(tmpdir(), 'campuslink-bench-enroll-'));
  try {
    const registry = join(work, 'schools.csv');
    writeFileSync(registry, registryCsv(SCHOOLS));
    const codes: number[] = [];
    const tokens: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      // Each run on a fresh state database, so neither side pays for the other's rows.
      const env = (side: string) => ({ CAMPUSLINK_STATE_DIR: join(work, `state-${side}-${i}`), CAMPUSLINK_REGISTRY: registry, CAMPUSLINK_LOG_LEVEL: 'warn' });
      const c = bulk(work, env('codes'), ['enroll', 'issue'], i);
      const t = bulk(work, env('tokens'), ['token', 'issue'], i);
      if (c.lines !== SCHOOLS || t.lines !== SCHOOLS) throw new Error(`expected ${SCHOOLS} CSV lines, got ${c.lines} codes and ${t.lines} tokens`);
      codes.push(c.ms);
      tokens.push(t.ms);
      rmSync(join(work, `state-codes-${i}`), { recursive: true, force: true });
      rmSync(join(work, `state-tokens-${i}`), { recursive: true, force: true });
    }
    const r = await redeem(join(work, 'state-redeem'), ENROLLMENTS);
    const ratio = median(codes) / 300_000;
    return {
      name: `enroll-codes (${SCHOOLS} schools)`,
      figures: {
        'enroll issue --all --out (CLI, registry load included; median, spread)': `${(median(codes) / 1000).toFixed(1)} s (${spread(codes)})`,
        'peer: token issue --all --out (median, spread)': `${(median(tokens) / 1000).toFixed(1)} s (${spread(tokens)})`,
        'codes / tokens': (median(codes) / median(tokens)).toFixed(3),
        [`enrollment exchange, ${ENROLLMENTS} one after another (group commit, fsync each): median per enrollment`]: `${r.perMs.toFixed(2)} ms`,
        'enrollment exchange: slowest': `${r.worstMs.toFixed(1)} ms`,
        repetitions: REPEAT,
        cli: existsSync(DIST_CLI) ? 'dist/collector/cli.js' : 'collector/cli.ts through tsx',
      },
      ratio,
      goal: `enroll issue --all for ${SCHOOLS} schools < 5 min (ratio = median / 5 min < 1)`,
      pass: ratio < 1,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
}
