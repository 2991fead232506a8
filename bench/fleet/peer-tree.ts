/** An older tree's load generator, to run beside or instead of this one's (bench/generator-cost.bench.ts, the soak's `--generator-ref`). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Extracts bench/fleet, agent/ and protocol/ of git `ref` of the repository at `root` into `dir`, with
 * root's node_modules linked in; returns the path of its bench/fleet/generator-main.ts.
 */
export function peerGeneratorScript(root: string, ref: string, dir: string): string {
  const tar = execFileSync('git', ['-C', root, 'archive', ref, 'bench/fleet', 'agent', 'protocol', 'package.json', 'tsconfig.json'], { maxBuffer: 256 * 2 ** 20 });
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'bench/fleet/generator-main.ts');
}
