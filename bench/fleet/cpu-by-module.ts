/**
 * Where the main thread's CPU went, by module: each sample of a V8 CPU profile (`node --cpu-prof`) is charged
 * to the innermost frame of the project's own code on its stack (so SQLite, zlib or a Buffer copy it called
 * count for the module that called them), else to a runtime bucket (`(garbage collector)`, `(program)`: native
 * work outside JS such as libuv and nghttp2, or node's own module: `node:http2`, `node:zlib`, …). With the
 * number of reports held in the same window, each is µs of main-thread CPU per held report: the figure that
 * survives a loaded box (a descheduled thread takes no samples).
 *
 *   npx tsx bench/fleet/cpu-by-module.ts PROFILE.cpuprofile [--from-s S] [--to-s S] [--reports N] [--top 30] [--functions 1]
 *
 * Modules are files (`dist/collector/http/ingest.js`); `--functions 1` splits them by function.
 */
import { pathToFileURL } from 'node:url';
import { profileArgs, profileTree, sampleIntervalMs, type CpuProfile } from './long-tasks.js';

type Frame = CpuProfile['nodes'][number]['callFrame'];

const RUNTIME = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);
const isOwn = (f: Frame) => /\/(dist|collector|protocol|agent)\//.test(f.url) && !/node_modules/.test(f.url);
const shortUrl = (u: string) => u.replace(/^file:\/\/.*?\/(dist|collector|protocol|agent|node_modules)\//, '$1/');

/** The bucket of a sample's leaf when no project frame is on its stack. */
function runtimeBucket(leaf: Frame, outer: Frame | undefined): string {
  if (RUNTIME.has(leaf.functionName)) return leaf.functionName;
  const f = outer ?? leaf;
  const m = /^node:(?:internal\/)?([a-z_0-9]+)/.exec(f.url);
  if (m) return `node:${m[1]}`;
  if (/node_modules\/([^/]+)/.test(f.url)) return `node_modules/${/node_modules\/([^/]+)/.exec(f.url)?.[1]}`;
  return f.url ? shortUrl(f.url) : `(native) ${f.functionName || '(anonymous)'}`;
}

export interface CpuByModule {
  /** Main-thread CPU sampled in the window, ms (samples × interval, idle excluded). */
  busyMs: number;
  windowMs: number;
  /** ms per module (or module + function), largest first. */
  rows: { name: string; ms: number }[];
}

/** Sums a profile's non-idle samples in [fromMs, toMs) of its start by module. */
export function cpuByModule(p: CpuProfile, opts: { fromMs?: number; toMs?: number; functions?: boolean } = {}): CpuByModule {
  const { byId, parent } = profileTree(p);
  const cache = new Map<number, string>();
  const bucketOf = (id: number): string => {
    const hit = cache.get(id);
    if (hit !== undefined) return hit;
    const leaf = (byId.get(id) as (typeof p.nodes)[number]).callFrame;
    let name: string | undefined;
    let outerNode: Frame | undefined;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = (byId.get(cur) as (typeof p.nodes)[number]).callFrame;
      if (isOwn(f)) {
        name = opts.functions ? `${shortUrl(f.url)} ${f.functionName || '(anonymous)'}:${f.lineNumber + 1}` : shortUrl(f.url);
        break;
      }
      if (f.functionName !== '(root)' && f.url) outerNode = f;
    }
    name ??= runtimeBucket(leaf, outerNode);
    cache.set(id, name);
    return name;
  };
  const fromUs = p.startTime + (opts.fromMs ?? 0) * 1000;
  const toUs = p.startTime + (opts.toMs ?? Infinity) * 1000;
  // Samples × the sampling interval: a descheduled thread's long deltas must not count as CPU.
  const intervalMs = sampleIntervalMs(p);
  const sums = new Map<string, number>();
  let busy = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < fromUs || t >= toUs) continue;
    const id = p.samples[i] as number;
    if ((byId.get(id) as (typeof p.nodes)[number]).callFrame.functionName === '(idle)') continue;
    const b = bucketOf(id);
    sums.set(b, (sums.get(b) ?? 0) + intervalMs);
    busy += intervalMs;
  }
  const windowMs = (Math.min(p.endTime, toUs) - Math.max(p.startTime, fromUs)) / 1000;
  return { busyMs: busy, windowMs, rows: [...sums].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms) };
}

/** The table as text; with `reports`, µs per report too. */
export function formatCpuByModule(r: CpuByModule, opts: { reports?: number; top?: number } = {}): string {
  const per = (ms: number) => (opts.reports ? `${((ms * 1000) / opts.reports).toFixed(1).padStart(8)} µs/report` : '');
  const lines = [
    `main thread: ${(r.busyMs / 1000).toFixed(1)} s sampled CPU in ${(r.windowMs / 1000).toFixed(0)} s${opts.reports ? `; ${opts.reports} reports held: ${((r.busyMs * 1000) / opts.reports).toFixed(0)} µs per report` : ''}`,
    ...r.rows.slice(0, opts.top ?? 30).map((x) => `  ${x.ms.toFixed(0).padStart(7)} ms ${((100 * x.ms) / r.busyMs).toFixed(1).padStart(5)} % ${per(x.ms)}  ${x.name}`),
  ];
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { profile, arg } = profileArgs('usage: npx tsx bench/fleet/cpu-by-module.ts PROFILE.cpuprofile [--from-s S] [--to-s S] [--reports N] [--top 30] [--functions 1]');
  const r = cpuByModule(profile, { fromMs: arg('from-s', 0) * 1000, toMs: arg('to-s', Infinity) * 1000, functions: arg('functions', 0) > 0 });
  console.log(formatCpuByModule(r, { reports: arg('reports', 0) || undefined, top: arg('top', 30) }));
}
