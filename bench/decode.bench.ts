/**
 * CPU of the collector's decode path per upload, on real soak bodies: `x-campuslink-cols1` batches
 * made by the load generator's own templates (bench/fleet/templates.ts) for the province fleet's mix of
 * link types (1, 2 or 4 reports a batch, satellite schools with their modem). Peer in the same run,
 * interleaved, the order alternating each round:
 *
 * - `inflate`: the reused context (protocol/raw-inflate.ts) against `inflateRawSync` with the
 *   dictionary, as wire.ts called it before (`DictionaryInflater` with `reuse: false` is exactly that call);
 * - `decode`: today's `decodeBatch` (inflate, JSON.parse, fromColumns) against the same steps with
 *   `inflateRawSync`, as decodeBatch did them before (fromColumns is today's in both);
 * - `verify`: `TokenStore.verify` of one token per body (a state database of `--tokens` tokens in a temp
 *   dir) reading `PRAGMA data_version` at most every TOKEN_CHANGES_CHECK_MS against every verify
 *   (`changesCheckMs: 0`, as before);
 * - `sha256`: `hashToken` (node's one-shot `crypto.hash`) against `createHash().update().digest()`;
 * - `columns` (with `--columns-before FILE`, e.g. `git show main:protocol/columns.ts > protocol/columns.before.ts`):
 *   today's `fromColumns` against that module's, on the bodies' parsed JSON.
 *
 *   npx tsx bench/decode.bench.ts [--bodies 3000] [--rounds 9] [--schools 60000] [--tokens 20000] [--columns-before FILE]
 *
 * Figures: CPU µs per body and per report (process.cpuUsage over a pass through every body, GC included),
 * median of the rounds with min–max, and the ratio ours / peer per round (median, min–max). Every body's
 * decoded batch is compared with the peer's first.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { makeFleet } from './fleet/fleet.js';
import { TemplateBank, VARIANTS } from './fleet/templates.js';
import { COLS_ENCODING, COLUMNS_DICTIONARY, MAX_REPORTS_PER_BATCH, decodeBatch, fromColumns } from '../protocol/index.js';
import { DictionaryInflater } from '../protocol/raw-inflate.js';
import { TokenStore, hashToken, issueTokens } from '../collector/auth/tokens.js';
import { openStateDb } from '../collector/state/db.js';
import type { BenchResult } from './snmp-poll.bench.js';

const MAX_BYTES = 4 << 20;
const T0 = 1_795_420_800_000;

/** One upload of each of `n` schools of the fleet, as the generator makes it. */
export function soakBodies(n: number, schools: number): { bodies: Buffer[]; reports: number } {
  const bank = new TemplateBank();
  const fleet = makeFleet(schools);
  const bodies: Buffer[] = [];
  let reports = 0;
  for (let i = 0; i < n; i++) {
    const school = fleet[Math.floor((i * fleet.length) / n)]!;
    const kind = { reports: school.reportsPerBatch, variant: i % VARIANTS, satellite: school.linkType.startsWith('sat-') };
    bodies.push(bank.bodySync(kind, { school: school.id, seq: 10_000 + i * 7, collectedAt: T0 + i * 1000, sentAt: T0 + i * 1000 + 60_000 }));
    reports += kind.reports;
  }
  return { bodies, reports };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

/** CPU ms of one pass of `f` over every body. */
function cpuMs(f: (b: Buffer) => unknown, bodies: Buffer[]): number {
  const t = process.cpuUsage();
  for (const b of bodies) f(b);
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

/** Interleaved rounds of ours and the peer; figures under `name`. */
function compare(name: string, ours: (b: Buffer) => unknown, peer: (b: Buffer) => unknown, bodies: Buffer[], reports: number, rounds: number): Record<string, number | string> {
  for (let w = 0; w < 2; w++) cpuMs(ours, bodies), cpuMs(peer, bodies);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2) b.push(cpuMs(peer, bodies)), a.push(cpuMs(ours, bodies));
    else a.push(cpuMs(ours, bodies)), b.push(cpuMs(peer, bodies));
  }
  const perBody = (ms: number) => Number(((1000 * ms) / bodies.length).toFixed(2));
  const perReport = (ms: number) => Number(((1000 * ms) / reports).toFixed(2));
  const ratios = a.map((x, i) => x / (b[i] as number));
  return {
    [`${name}_ours_us_per_body`]: perBody(median(a)),
    [`${name}_ours_us_per_body_spread`]: `${perBody(Math.min(...a))}-${perBody(Math.max(...a))}`,
    [`${name}_peer_us_per_body`]: perBody(median(b)),
    [`${name}_peer_us_per_body_spread`]: `${perBody(Math.min(...b))}-${perBody(Math.max(...b))}`,
    [`${name}_ours_us_per_report`]: perReport(median(a)),
    [`${name}_peer_us_per_report`]: perReport(median(b)),
    [`${name}_ratio_ours_over_peer`]: Number(median(ratios).toFixed(3)),
    [`${name}_ratio_spread`]: `${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}`,
  };
}

/** The token part: verify with data_version per call or per TOKEN_CHANGES_CHECK_MS, and the two hashes. */
async function tokenFigures(bodies: Buffer[], reports: number, rounds: number, count: number): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'cl-decode-bench-'));
  const state = openStateDb({ stateDir: dir });
  try {
    const tokens: string[] = [];
    issueTokens({ state, schools: Array.from({ length: count }, (_, i) => String(1_640_000_000 + i)), onIssued: (t) => tokens.push(t) });
    const now = new TokenStore({ state });
    const before = new TokenStore({ state, changesCheckMs: 0 });
    // One token per body, as the upload of that body presents it.
    const byBody = new Map(bodies.map((b, i) => [b, tokens[i % tokens.length] as string]));
    const verify = (store: TokenStore) => (b: Buffer) => {
      if (!store.verify(byBody.get(b) as string)) throw new Error('a stored token did not verify');
    };
    return {
      tokens: count,
      ...compare('verify', verify(now), verify(before), bodies, reports, rounds),
      ...compare('sha256', (b) => hashToken(byBody.get(b) as string), (b) => createHash('sha256').update(byBody.get(b) as string, 'utf8').digest('hex'), bodies, reports, rounds),
    };
  } finally {
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the benchmark; the goal is the whole decode at ≤ 0.9× the peer's CPU. */
export async function run(o: { bodies?: number; rounds?: number; schools?: number; tokens?: number; columnsBefore?: string } = {}): Promise<BenchResult> {
  const { bodies, reports } = soakBodies(o.bodies ?? 3000, o.schools ?? 60_000);
  const rounds = o.rounds ?? 9;
  const reused = new DictionaryInflater(COLUMNS_DICTIONARY);
  const fresh = new DictionaryInflater(COLUMNS_DICTIONARY, { reuse: false });
  if (!reused.reusing) throw new Error('the reused inflate context is not available on this node: nothing to compare');
  const ours = (b: Buffer) => decodeBatch(b, COLS_ENCODING, { maxBytes: MAX_BYTES });
  const peer = (b: Buffer) => fromColumns(JSON.parse(fresh.inflateText(b, MAX_BYTES)), { maxReports: MAX_REPORTS_PER_BATCH, maxBytes: MAX_BYTES });
  for (const b of bodies) if (!isDeepStrictEqual(ours(b), peer(b))) throw new Error('decodeBatch and the peer decode a body differently');
  const figures: Record<string, number | string> = { bodies: bodies.length, reports_per_body: Number((reports / bodies.length).toFixed(2)), rounds, body_bytes_mean: Math.round(bodies.reduce((n, b) => n + b.length, 0) / bodies.length) };
  Object.assign(figures, compare('inflate', (b) => reused.inflateText(b, MAX_BYTES), (b) => fresh.inflateText(b, MAX_BYTES), bodies, reports, rounds));
  Object.assign(figures, compare('decode', ours, peer, bodies, reports, rounds));
  if (o.columnsBefore) {
    const before = ((await import(resolve(o.columnsBefore))) as { fromColumns: typeof fromColumns }).fromColumns;
    const parsed = new Map(bodies.map((b) => [b, JSON.parse(reused.inflateText(b, MAX_BYTES)) as unknown]));
    const limits = { maxReports: MAX_REPORTS_PER_BATCH, maxBytes: MAX_BYTES };
    for (const [b, p] of parsed) if (!isDeepStrictEqual(fromColumns(p, limits), before(p, limits))) throw new Error('the two fromColumns decode a body differently');
    Object.assign(figures, { columns_before: o.columnsBefore }, compare('columns', (b) => fromColumns(parsed.get(b), limits), (b) => before(parsed.get(b), limits), bodies, reports, rounds));
  }
  Object.assign(figures, await tokenFigures(bodies, reports, rounds, o.tokens ?? 20_000));
  const ratio = Number(figures.decode_ratio_ours_over_peer);
  return { name: 'decode of x-campuslink-cols1: reused inflate context vs inflateRawSync', figures, ratio, goal: 'whole decode ≤ 0.9× the peer CPU', pass: ratio <= 0.9 };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const argv = process.argv.slice(2);
  const arg = (k: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const columnsBefore = argv.includes('--columns-before') ? argv[argv.indexOf('--columns-before') + 1] : undefined;
  const result = await run({ ...(arg('bodies') && { bodies: arg('bodies') }), ...(arg('rounds') && { rounds: arg('rounds') }), ...(arg('schools') && { schools: arg('schools') }), ...(arg('tokens') && { tokens: arg('tokens') }), ...(columnsBefore && { columnsBefore }) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
