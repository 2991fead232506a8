/** The recorded ping outputs of test/fixtures/ping and their manifest (command, exit code, count). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/ping');

export interface FixtureEntry {
  /** Path under FIXTURE_DIR, e.g. `iputils/success.txt`. */
  file: string;
  flavour: 'iputils' | 'busybox';
  /** File name without `.txt`, e.g. `success`. */
  name: string;
  command: string;
  exitCode: number;
  /** The `count` the probe would use for this run. */
  count: number;
  /** The `timeoutMs` the probe would use (late-reply fixtures only). */
  timeoutMs?: number;
  output: string;
}

type Manifest = Record<string, { command: string; exitCode: number; count: number; timeoutMs?: number }>;
const read = (name: string) => JSON.parse(readFileSync(join(FIXTURE_DIR, name), 'utf8')) as Manifest;
/** manifest.json (record.sh) and late-manifest.json (record-late.sh). */
const manifest: Manifest = { ...read('manifest.json'), ...read('late-manifest.json') };

/** Every fixture listed in manifest.json. */
export const FIXTURES: FixtureEntry[] = Object.entries(manifest).map(([file, e]) => {
  const [flavour, base] = file.split('/') as ['iputils' | 'busybox', string];
  return { file, flavour, name: base.replace(/\.txt$/, ''), ...e, output: readFileSync(join(FIXTURE_DIR, file), 'utf8') };
});

/** One fixture by flavour and name; throws if it is missing. */
export function fixture(flavour: 'iputils' | 'busybox', name: string): FixtureEntry {
  const f = FIXTURES.find((x) => x.flavour === flavour && x.name === name);
  if (!f) throw new Error(`no fixture ${flavour}/${name}`);
  return f;
}
