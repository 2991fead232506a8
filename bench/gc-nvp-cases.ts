/**
 * Sums V8's `--trace-gc-nvp` scavenge lines per case of a benchmark that prints `case <name> <n>` lines
 * (bench/liveness-store.bench.ts with `--marks 1`): scavenges, bytes promoted, bytes that survived in the
 * young generation, and pause time per case. Promoted bytes are what mark-compact must free later.
 *
 *   node --trace-gc-nvp … --marks 1 > out.txt; npx tsx bench/gc-nvp-cases.ts out.txt
 *
 * With `--phases` (any `--trace-gc-nvp` log, e.g. the soak's collector.log with SOAK_COLLECTOR_NODE_ARGS=--trace-gc-nvp):
 * where the main-thread pause of each GC kind goes, phase by phase (mark, weak clearing, evacuation, sweeping …),
 * summed over the log and for the longest pauses, with the heap sizes; `--pid <n>` keeps one process's lines.
 *
 *   npx tsx bench/gc-nvp-cases.ts collector.log --phases [--pid 31038] [--top 5]
 */
import { readFileSync } from 'node:fs';

interface Sums {
  scavenges: number;
  promoted: number;
  survived: number;
  pauseMs: number;
}

const file = process.argv[2];
if (!file) throw new Error('usage: gc-nvp-cases.ts <trace-gc-nvp output with case lines> [--phases]');

/** The main-thread phases of each kind worth naming (V8's top-level nvp keys; the rest are their parts). */
const PHASES: Record<string, string[]> = {
  mc: ['mark', 'mark.roots', 'mark.full_closure_parallel', 'mark.finish_incremental', 'clear', 'clear.external_string_table', 'clear.weak_references', 'clear.weak_collections', 'clear.maps', 'clear.weak_global_handles', 'heap.external.weak_global_handles', 'heap.embedder_tracing_epilogue', 'evacuate', 'evacuate.copy', 'evacuate.update_pointers', 'evacuate.clean_up', 'sweep', 'finish', 'complete.sweeping'],
  s: ['scavenge', 'scavenge.roots', 'scavenge.parallel', 'scavenge.weak', 'scavenge.update_refs', 'scavenge.sweep_array_buffers', 'heap.external_weak_global_handles'],
  ms: ['mark', 'sweep', 'finish'],
};

/** --phases: pause time per phase and GC kind, and the longest pauses phase by phase. */
function phases(text: string, pid: string | undefined, top: number): void {
  const byKind = new Map<string, { n: number; pause: number; sums: Map<string, number>; lines: Map<string, string>[] }>();
  for (const line of text.split('\n')) {
    if (!line.includes(' gc=') || (pid && !line.startsWith(`[${pid}:`))) continue;
    const kv = new Map(line.slice(line.indexOf(' pause=') + 1).trim().split(/\s+/).map((p) => p.split('=') as [string, string]));
    const kind = kv.get('gc') as string;
    let k = byKind.get(kind);
    if (!k) byKind.set(kind, (k = { n: 0, pause: 0, sums: new Map(), lines: [] }));
    k.n++;
    k.pause += Number(kv.get('pause'));
    for (const ph of PHASES[kind] ?? []) k.sums.set(ph, (k.sums.get(ph) ?? 0) + Number(kv.get(ph) ?? 0));
    k.lines.push(kv);
    if (kind === 'mc') k.sums.set('(incremental marking, between tasks)', (k.sums.get('(incremental marking, between tasks)') ?? 0) + Number(kv.get('incremental') ?? 0));
  }
  const mb = (b: string | undefined) => (Number(b ?? 0) / 2 ** 20).toFixed(0);
  for (const [kind, k] of byKind) {
    const parts = [...k.sums].map(([ph, ms]) => `${ph} ${ms.toFixed(0)} (${((100 * ms) / k.pause).toFixed(0)} %)`);
    console.log(`gc=${kind}: ${k.n} pauses, ${k.pause.toFixed(0)} ms in all, max ${Math.max(...k.lines.map((l) => Number(l.get('pause')))).toFixed(1)} ms; ms by phase: ${parts.join(', ')}`);
    for (const l of [...k.lines].sort((a, b) => Number(b.get('pause')) - Number(a.get('pause'))).slice(0, top)) {
      const ph = (PHASES[kind] ?? []).filter((p) => Number(l.get(p) ?? 0) >= 1).map((p) => `${p} ${Number(l.get(p)).toFixed(1)}`);
      console.log(`  pause ${l.get('pause')} ms, heap ${mb(l.get('total_size_before'))} -> ${mb(l.get('total_size_after'))} MiB, promoted ${mb(l.get('promoted'))} MiB, survived ${mb(l.get('new_space_survived'))} MiB: ${ph.join(', ')}`);
    }
  }
}

const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
if (process.argv.includes('--phases')) {
  phases(readFileSync(file, 'utf8'), flag('pid'), Number(flag('top') ?? 5));
  process.exit(0);
}
const byCase = new Map<string, Sums>();
let current: Sums | undefined;
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const m = /^case (\S+) (\S+)/.exec(line);
  if (m) {
    byCase.set(`${m[1]} ${m[2]}`, (current = { scavenges: 0, promoted: 0, survived: 0, pauseMs: 0 }));
    continue;
  }
  if (!current || !line.includes(' gc=s ')) continue;
  const kv = new Map(line.trim().split(/\s+/).map((p) => p.split('=') as [string, string]));
  current.scavenges++;
  current.promoted += Number(kv.get('promoted') ?? 0);
  current.survived += Number(kv.get('new_space_survived') ?? 0);
  current.pauseMs += Number(kv.get('pause') ?? 0);
}
const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
for (const [k, s] of byCase) console.log(`${k.padEnd(10)} ${String(s.scavenges).padStart(4)} scavenges, promoted ${mib(s.promoted).padStart(6)} MiB, survived ${mib(s.survived).padStart(7)} MiB, pauses ${s.pauseMs.toFixed(0).padStart(5)} ms`);
