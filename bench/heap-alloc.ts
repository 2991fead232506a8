/**
 * What a sampling heap profile (bench/fleet/heap-watch.mjs, or DevTools) says was allocated, by the
 * function that allocated it and by source file.
 *
 *   npx tsx bench/heap-alloc.ts <file.heapprofile> [--top 30] [--per-unit <reports>]
 *
 * With `--per-unit`, bytes per unit too (e.g. the reports held while the profiler ran).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** Allocated bytes by function (name, file and line) and by file, from the tree of a sampling heap profile. */
export function allocations(head: ProfileNode): { byFunction: Map<string, number>; byFile: Map<string, number>; total: number } {
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  const stack: ProfileNode[] = [head];
  while (stack.length > 0) {
    const n = stack.pop() as ProfileNode;
    if (n.selfSize > 0) {
      const f = n.callFrame;
      const file = f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/') || '(native or V8)';
      const fn = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + n.selfSize);
      byFile.set(file, (byFile.get(file) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) stack.push(c);
  }
  return { byFunction, byFile, total };
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: heap-alloc.ts <file.heapprofile> [--top 30] [--per-unit n]');
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const top = Number(arg('top') ?? 30);
  const unit = Number(arg('per-unit') ?? 0);
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode };
  const a = allocations(head);
  const fmt = (b: number): string => `${(b / 2 ** 20).toFixed(1).padStart(8)} MiB${unit ? ` ${(b / unit).toFixed(0).padStart(7)} B/unit` : ''} ${((100 * b) / a.total).toFixed(1).padStart(5)} %`;
  console.log(`${file}: ${(a.total / 2 ** 20).toFixed(1)} MiB sampled${unit ? `, ${(a.total / unit).toFixed(0)} B per unit of ${unit}` : ''}`);
  console.log('by file:');
  for (const [k, v] of [...a.byFile].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${fmt(v)}  ${k}`);
  console.log('by function:');
  for (const [k, v] of [...a.byFunction].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${fmt(v)}  ${k}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
