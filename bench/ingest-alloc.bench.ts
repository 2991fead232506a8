/**
 * Bytes allocated and CPU per report on the collector's ingest path, on the soak's own bodies
 * (`x-campuslink-cols1` batches from bench/fleet/templates.ts through decode.bench.ts's soakBodies): decode
 * (inflate, JSON.parse, fromColumns) → validate (parseBatch) → time window → points → the bytes of the HTTP
 * write to InfluxDB. Ours (this tree: reportsToBlock into a reused LineWriter, the block's bytes as the body)
 * against the tree `--before DIR` (default: `git archive main` unpacked into a temp dir, with this tree's
 * node_modules linked in): its reportToLines per report and `Buffer.from(lines.join('\n'))`, as the
 * InfluxDB 1.x sink did. Interleaved, the order alternating each round.
 *
 *   node --expose-gc --import tsx bench/ingest-alloc.bench.ts [--bodies 2000] [--rounds 7] [--chunk 25] [--before DIR]
 *
 * (run with plain `npx tsx`, it starts itself again with --expose-gc.)
 *
 * Figures per report: JS heap bytes allocated (`process.memoryUsage().heapUsed` across a chunk of bodies after
 * `gc()`, no GC in between: chunks during which one ran are not counted), and CPU µs (process.cpuUsage over
 * a pass through every body without forced GCs, the scavenges it causes included); median of the rounds with
 * min–max, and the ratio ours / before per round. Every body's write bytes are compared with before's first.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { soakBodies } from './decode.bench.js';
import { parseBatch } from '../protocol/batch-check.js';
import { COLS_ENCODING, decodeBatch, type Report } from '../protocol/index.js';
import { applyTimeWindow } from '../collector/ingest/time-window.js';
import { LineCache, reportsToBlock, type RegistryTags } from '../collector/ingest/points.js';
import { LineWriter } from '../collector/sink/line-protocol.js';
import type { BenchResult } from './snmp-poll.bench.js';

const MAX_BYTES = 4 << 20;
const ROOT = resolve(new URL('..', import.meta.url).pathname);

type Path = (body: Buffer) => Buffer;

/** The registry tags of a body's school (as the registry holds them: one object per school). */
function tagsOf(school: string): RegistryTags {
  return { school, province: '64', city: `64${school.slice(2, 4)}`, county: `64${school.slice(2, 6)}`, link: 'fiber-100m' };
}

/** The reports of a body as ingest has them after validation and the time window. */
function reportsOf(m: { decodeBatch: typeof decodeBatch; parseBatch: typeof parseBatch; applyTimeWindow: typeof applyTimeWindow }, body: Buffer, receivedAtMs: number): readonly Report[] {
  const parsed = m.parseBatch(m.decodeBatch(body, COLS_ENCODING, { maxBytes: MAX_BYTES }));
  if (!parsed.success) throw new Error('a soak body did not validate');
  const w = m.applyTimeWindow(parsed.data.reports, receivedAtMs, {});
  if (!w.ok) throw new Error(`a soak body is out of the time window: ${w.message}`);
  return w.reports;
}

/** The old tree, unpacked from main, unless given. */
function beforeDir(given: string | undefined): string {
  if (given) return resolve(given);
  const dir = mkdtempSync(join(tmpdir(), 'cl-ingest-alloc-before-'));
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive main | tar -x -C "${dir}"`]);
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const gc = (globalThis as { gc?: () => void }).gc as () => void;

/** JS heap bytes one pass of `f` allocates, chunk by chunk; chunks a GC ran in are skipped (and the total scaled). */
async function heapBytes(f: Path, bodies: Buffer[], chunk: number): Promise<number> {
  let bytes = 0;
  let counted = 0;
  for (let i = 0; i < bodies.length; i += chunk) {
    gc();
    // GC entries arrive asynchronously: let the forced one's entry land before counting.
    await new Promise((r) => setTimeout(r, 2));
    const g0 = gcs;
    const h0 = process.memoryUsage().heapUsed;
    const end = Math.min(bodies.length, i + chunk);
    for (let j = i; j < end; j++) f(bodies[j] as Buffer);
    const h1 = process.memoryUsage().heapUsed;
    await new Promise((r) => setTimeout(r, 2));
    if (gcs !== g0) continue;
    bytes += h1 - h0;
    counted += end - i;
  }
  if (counted === 0) throw new Error('a GC ran in every chunk: use a smaller --chunk');
  return (bytes * bodies.length) / counted;
}

function cpuMs(f: Path, bodies: Buffer[]): number {
  const t = process.cpuUsage();
  for (const b of bodies) f(b);
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

/** Runs the benchmark; the goal is at most half the bytes and at most 0.9× the CPU per report. */
export async function run(o: { bodies?: number; rounds?: number; chunk?: number; before?: string } = {}): Promise<BenchResult> {
  const { bodies, reports } = soakBodies(o.bodies ?? 2000, 60_000);
  const rounds = o.rounds ?? 7;
  const chunk = o.chunk ?? 25;
  const dir = beforeDir(o.before);
  const old = {
    ...((await import(join(dir, 'protocol/index.ts'))) as { decodeBatch: typeof decodeBatch }),
    ...((await import(join(dir, 'protocol/batch-check.ts'))) as { parseBatch: typeof parseBatch }),
    ...((await import(join(dir, 'collector/ingest/time-window.ts'))) as { applyTimeWindow: typeof applyTimeWindow }),
    ...((await import(join(dir, 'collector/ingest/points.ts'))) as { LineCache: new () => unknown; reportToLines: (o: unknown) => string[] }),
  };
  const ours = { decodeBatch, parseBatch, applyTimeWindow };
  const cache = new LineCache();
  const writer = new LineWriter();
  const oursPath: Path = (body) => {
    const rs = reportsOf(ours, body, receivedAtOf(body));
    const block = reportsToBlock({ reports: rs, tags: tagsOf((rs[0] as Report).school), receivedAtMs: receivedAtOf(body), cache, writer });
    return block.bytes.subarray(0, block.bytes.length - 1);
  };
  const oldCache = new old.LineCache();
  const beforePath: Path = (body) => {
    const rs = reportsOf(old, body, receivedAtOf(body));
    const tags = tagsOf((rs[0] as Report).school);
    const lines = rs.length === 1 ? old.reportToLines({ report: rs[0], tags, receivedAtMs: receivedAtOf(body), cache: oldCache }) : rs.flatMap((report) => old.reportToLines({ report, tags, receivedAtMs: receivedAtOf(body), cache: oldCache }));
    return Buffer.from(lines.join('\n'), 'utf8');
  };
  // The receive time of a body: its first report's sentAt, a minute after collection as in the soak (read once, outside the measured passes).
  const sentAt = new Map<Buffer, number>();
  const receivedAtOf = (b: Buffer) => sentAt.get(b) as number;
  for (const b of bodies) sentAt.set(b, (((decodeBatch(b, COLS_ENCODING, { maxBytes: MAX_BYTES }) as { reports: Report[] }).reports[0] as Report).sentAt));
  for (const b of bodies) if (!oursPath(b).equals(beforePath(b))) throw new Error('ours and before write different bytes for a body');

  for (let w = 0; w < 2; w++) cpuMs(oursPath, bodies), cpuMs(beforePath, bodies);
  const bytes = { ours: [] as number[], before: [] as number[] };
  const cpu = { ours: [] as number[], before: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const order: ['ours' | 'before', Path][] = r % 2 ? [['before', beforePath], ['ours', oursPath]] : [['ours', oursPath], ['before', beforePath]];
    for (const [k, f] of order) bytes[k].push((await heapBytes(f, bodies, chunk)) / reports);
    for (const [k, f] of order) cpu[k].push((1000 * cpuMs(f, bodies)) / reports);
  }
  const fig = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  const ratio = (a: number[], b: number[]) => a.map((x, i) => x / (b[i] as number));
  const bytesRatio = ratio(bytes.ours, bytes.before);
  const cpuRatio = ratio(cpu.ours, cpu.before);
  const figures = {
    bodies: bodies.length,
    reports,
    rounds,
    before: dir,
    'heap bytes/report ours (median, min–max)': fig(bytes.ours, 0),
    'heap bytes/report before': fig(bytes.before, 0),
    'bytes ratio ours/before': fig(bytesRatio, 3),
    'CPU µs/report ours': fig(cpu.ours, 1),
    'CPU µs/report before': fig(cpu.before, 1),
    'CPU ratio ours/before': fig(cpuRatio, 3),
  };
  const b = median(bytesRatio);
  const c = median(cpuRatio);
  return { name: 'ingest-alloc', figures, ratio: b, goal: 'bytes ≤ 0.5× and CPU ≤ 0.9× before, per report', pass: b <= 0.5 && c <= 0.9 };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  if (!(globalThis as { gc?: unknown }).gc) {
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const argv = process.argv.slice(2);
  const arg = (k: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (k: string) => (arg(k) === undefined ? undefined : Number(arg(k)));
  const result = await run({ bodies: num('bodies'), rounds: num('rounds'), chunk: num('chunk'), before: arg('before') });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
