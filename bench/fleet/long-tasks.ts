/**
 * Long tasks in a V8 CPU profile (`node --cpu-prof`): the stretches in which the event loop never went
 * idle for at least `minMs`, and what ran in them. The soak profiles its collector with it and prints the
 * top causes of loop delay, so a rerun on a quiet box says what is left of the stalls and where.
 *
 *   npx tsx bench/fleet/long-tasks.ts PROFILE.cpuprofile [--min-ms 50] [--top 15] [--from-s S] [--to-s S]
 *
 * A task is a run of consecutive non-idle samples. Each sample is charged to its *entry*: the first frame
 * of the project's own code from the root of its stack (a timer's callback, the ingest handler, a module's
 * job), or to the runtime bucket when no project frame is on the stack: `(garbage collector)`, `(program)`
 * (native work outside JS: libuv, HTTP/2, zlib, SQLite…) or the outermost node-internal function.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** The parts of a `.cpuprofile` this reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One long task. */
export interface LongTask {
  /** Offset from the start of the profile, ms. */
  atMs: number;
  durationMs: number;
  /**
   * Samples taken in it × the profile's sampling interval, ms: about the CPU time the task got. On a loaded
   * box a descheduled thread takes no samples, so durationMs ≫ cpuMs says "starved", not "busy".
   */
  cpuMs: number;
  /** ms by entry, largest first. */
  entries: [string, number][];
  /** ms by self function, largest first. */
  self: [string, number][];
  gcMs: number;
}

/** Long tasks and their causes summed over all of them. */
export interface LongTaskReport {
  profileMs: number;
  busyMs: number;
  gcMs: number;
  tasks: LongTask[];
  /** Over all long tasks: per entry, the ms charged to it, how many tasks it ran in, and the longest share it had of one task. */
  byEntry: { entry: string; ms: number; tasks: number; maxInTaskMs: number }[];
  /**
   * Per entry, its longest run of consecutive samples (wall ms, and samples × interval): one piece of work
   * without anything else running in between — what a loaded box cannot merge with its neighbours the way
   * it merges tasks. Most samples first (on a loaded box wall time includes time descheduled); runs of at least 10 ms.
   */
  longestRuns: { entry: string; ms: number; sampledMs: number; atMs: number }[];
}

const shortUrl = (u: string) => u.replace(/^file:\/\/.*?\/(dist|collector|bench|protocol|node_modules)\//, '$1/');
const label = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
const isOwn = (f: CallFrame) => /\/(dist|collector|protocol)\//.test(f.url) && !/node_modules/.test(f.url);
const RUNTIME = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

function sortedEntries(m: Map<string, number>, n = 5): [string, number][] {
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, Math.round(v * 10) / 10]);
}

/** Which tasks count: at least minMs long (default 50), starting within [fromMs, toMs) of the profile's start. */
export interface LongTaskOptions {
  minMs?: number;
  fromMs?: number;
  toMs?: number;
}

/** The median interval between samples, ms (the profile's sampling interval, 1 ms by default). */
export function sampleIntervalMs(p: CpuProfile): number {
  const d = p.timeDeltas.slice(1).filter((x) => x > 0).sort((a, b) => a - b);
  return (d[Math.floor(d.length / 2)] ?? 1000) / 1000;
}

/** A profile's nodes by id, and each node's parent. */
export function profileTree(p: CpuProfile): { byId: Map<number, ProfileNode>; parent: Map<number, number> } {
  const byId = new Map<number, ProfileNode>(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  return { byId, parent };
}

/** Finds the long tasks of a profile. */
export function longTasks(p: CpuProfile, opts: LongTaskOptions = {}): LongTaskReport {
  const minMs = opts.minMs ?? 50;
  const fromUs = p.startTime + (opts.fromMs ?? 0) * 1000;
  const toUs = p.startTime + (opts.toMs ?? Infinity) * 1000;
  const interval = sampleIntervalMs(p);
  const { byId, parent } = profileTree(p);
  const entryCache = new Map<number, string>();
  const entryOf = (id: number): string => {
    const hit = entryCache.get(id);
    if (hit !== undefined) return hit;
    const stack: CallFrame[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push((byId.get(cur) as ProfileNode).callFrame);
    stack.reverse(); // root first
    const own = stack.find(isOwn);
    const leaf = stack.at(-1) as CallFrame;
    const e = own ? label(own) : RUNTIME.has(leaf.functionName) ? leaf.functionName : label(stack.find((f) => f.functionName !== '(root)') ?? leaf);
    entryCache.set(id, e);
    return e;
  };
  const tasks: LongTask[] = [];
  let busyMs = 0;
  let gcMs = 0;
  let t = p.startTime;
  let cur: { startUs: number; endUs: number; samples: number; entries: Map<string, number>; self: Map<string, number>; gcMs: number } | undefined;
  const runs = new Map<string, { ms: number; sampledMs: number; atMs: number }>();
  let run: { entry: string; startUs: number; endUs: number; samples: number } | undefined;
  const closeRun = () => {
    if (run && run.startUs >= fromUs && run.startUs < toUs) {
      const ms = (run.endUs - run.startUs) / 1000;
      const best = runs.get(run.entry);
      if (ms >= 10 && (!best || run.samples * interval > best.sampledMs)) runs.set(run.entry, { ms: Math.round(ms * 10) / 10, sampledMs: Math.round(run.samples * interval), atMs: Math.round((run.startUs - p.startTime) / 1000) });
    }
    run = undefined;
  };
  const close = () => {
    closeRun();
    if (cur && (cur.endUs - cur.startUs) / 1000 >= minMs && cur.startUs >= fromUs && cur.startUs < toUs) {
      tasks.push({ atMs: Math.round((cur.startUs - p.startTime) / 1000), durationMs: Math.round((cur.endUs - cur.startUs) / 100) / 10, cpuMs: Math.round(cur.samples * interval), entries: sortedEntries(cur.entries), self: sortedEntries(cur.self), gcMs: Math.round(cur.gcMs) });
    }
    cur = undefined;
  };
  for (let i = 0; i < p.samples.length; i++) {
    // A sample's time is the interval up to the next sample.
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    t += p.timeDeltas[i] ?? 0;
    const node = byId.get(p.samples[i] as number) as ProfileNode;
    const name = node.callFrame.functionName;
    if (name === '(idle)') {
      close();
      continue;
    }
    if (t >= fromUs && t < toUs) {
      busyMs += dt;
      if (name === '(garbage collector)') gcMs += dt;
    }
    cur ??= { startUs: t, endUs: t, samples: 0, entries: new Map(), self: new Map(), gcMs: 0 };
    cur.endUs = t + dt * 1000;
    cur.samples++;
    const e = entryOf(node.id);
    cur.entries.set(e, (cur.entries.get(e) ?? 0) + dt);
    if (run?.entry !== e) {
      closeRun();
      run = { entry: e, startUs: t, endUs: t, samples: 0 };
    }
    run.endUs = t + dt * 1000;
    run.samples++;
    const s = RUNTIME.has(name) ? name : label(node.callFrame);
    cur.self.set(s, (cur.self.get(s) ?? 0) + dt);
    if (name === '(garbage collector)') cur.gcMs += dt;
  }
  close();
  const agg = new Map<string, { ms: number; tasks: number; maxInTaskMs: number }>();
  for (const task of tasks) {
    for (const [e, ms] of task.entries) {
      const a = agg.get(e) ?? { ms: 0, tasks: 0, maxInTaskMs: 0 };
      a.ms += ms;
      a.tasks++;
      a.maxInTaskMs = Math.max(a.maxInTaskMs, ms);
      agg.set(e, a);
    }
  }
  const byEntry = [...agg.entries()].map(([entry, a]) => ({ entry, ms: Math.round(a.ms), tasks: a.tasks, maxInTaskMs: Math.round(a.maxInTaskMs) })).sort((a, b) => b.ms - a.ms);
  tasks.sort((a, b) => b.durationMs - a.durationMs);
  const spanUs = Math.min(p.endTime, toUs) - Math.max(p.startTime, fromUs);
  const longestRuns = [...runs.entries()].map(([entry, r]) => ({ entry, ...r })).sort((a, b) => b.sampledMs - a.sampledMs || b.ms - a.ms);
  return { profileMs: Math.round(spanUs / 1000), busyMs: Math.round(busyMs), gcMs: Math.round(gcMs), tasks, byEntry, longestRuns };
}

/** The report as text: the summary by entry, then the longest tasks. */
export function formatLongTasks(r: LongTaskReport, top = 15, minMs = 50): string {
  const lines = [
    `${(r.profileMs / 1000).toFixed(0)} s of profile, busy ${((100 * r.busyMs) / r.profileMs).toFixed(0)} %, GC ${((100 * r.gcMs) / r.profileMs).toFixed(1)} %; ${r.tasks.length} long tasks (≥ ${minMs} ms), longest ${r.tasks[0]?.durationMs ?? 0} ms`,
    'time in long tasks by entry (ms, tasks, most in one task):',
    ...r.byEntry.slice(0, top).map((e) => `  ${String(e.ms).padStart(7)} ms ${String(e.tasks).padStart(5)} × max ${String(e.maxInTaskMs).padStart(5)} ms  ${e.entry}`),
    'longest single runs of one entry, by samples (wall ms, sampled ms):',
    ...r.longestRuns.slice(0, top).map((e) => `  ${String(e.ms).padStart(7)} ms (${e.sampledMs}) at +${(e.atMs / 1000).toFixed(1)} s  ${e.entry}`),
    `longest tasks:`,
    ...r.tasks.slice(0, top).map((t) => `  ${t.durationMs} ms (${t.cpuMs} ms sampled) at +${(t.atMs / 1000).toFixed(1)} s (GC ${t.gcMs} ms): ${t.entries.slice(0, 3).map(([e, ms]) => `${e} ${ms}`).join('; ')} | self: ${t.self.slice(0, 3).map(([e, ms]) => `${e} ${ms}`).join('; ')}`),
  ];
  return lines.join('\n');
}

/** The command line of a profile tool: the profile, parsed, and its numeric options; exits with `usage` without a file. */
export function profileArgs(usage: string): { profile: CpuProfile; arg: (name: string, def: number) => number } {
  const file = process.argv[2];
  if (!file) {
    console.error(usage);
    process.exit(2);
  }
  const arg = (n: string, d: number) => {
    const i = process.argv.indexOf(`--${n}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  return { profile: JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, arg };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { profile, arg } = profileArgs('usage: npx tsx bench/fleet/long-tasks.ts PROFILE.cpuprofile [--min-ms 50] [--top 15] [--from-s S] [--to-s S]');
  const minMs = arg('min-ms', 50);
  const window = { fromMs: arg('from-s', 0) * 1000, toMs: arg('to-s', Infinity) * 1000 };
  console.log(formatLongTasks(longTasks(profile, { minMs, ...window }), arg('top', 15), minMs));
}
