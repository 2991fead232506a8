/**
 * Sums V8's `--trace-gc-nvp` scavenge lines per case of a benchmark that prints `case <name> <n>` lines
 * (bench/liveness-store.bench.ts with `--marks 1`): scavenges, bytes promoted, bytes that survived in the
 * young generation, and pause time per case. Promoted bytes are what mark-compact must free later.
 *
 *   node --trace-gc-nvp … --marks 1 > out.txt; npx tsx bench/gc-nvp-cases.ts out.txt
 */
import { readFileSync } from 'node:fs';

interface Sums {
  scavenges: number;
  promoted: number;
  survived: number;
  pauseMs: number;
}

const file = process.argv[2];
if (!file) throw new Error('usage: gc-nvp-cases.ts <trace-gc-nvp output with case lines>');
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
