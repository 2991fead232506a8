/**
 * A registry reload off the main thread: a worker thread reads the file, compares its hash with the
 * registry in force, parses and validates it (the same `parseRegistryBytes` as start-up, so the same
 * problems and messages) and hands back the compact form (compact.ts). The main thread only receives
 * buffers and rebuilds the registry in slices: a 250,000-row file no longer blocks the event loop for
 * seconds.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AliasTable, BUILT_IN_ALIASES, type CodeAlias } from './aliases.js';
import { encodeRegistry, type CompactRegistry } from './compact.js';
import { DivisionList, type DivisionCounty } from './divisions.js';
import { RegistryError, type RegistryProblem } from './errors.js';
import { parseRegistryBytes, readRegistryFile, type ParseRegistryOptions } from './load.js';

/** The sha256 of a registry file's bytes (hex): same bytes, same registry. */
export function registryDigest(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** A code list as plain data, for the worker. */
export interface DivisionsWire {
  readonly edition: string;
  readonly provinces: readonly (readonly [string, string])[];
  readonly cities: readonly (readonly [string, string])[];
  readonly counties: readonly DivisionCounty[];
}

export function divisionsToWire(list: DivisionList): DivisionsWire {
  return { edition: list.edition, provinces: [...list.provinces], cities: [...list.cities], counties: [...list.counties.values()] };
}

export function divisionsFromWire(w: DivisionsWire): DivisionList {
  const list = new DivisionList(w.edition, new Map(w.provinces), new Map(w.cities), new Map(w.counties.map((c) => [c.code, c])));
  list.indexSoleCounties();
  return list;
}

/** What the worker is asked. */
export interface ReloadRequest {
  readonly path: string;
  /** The hash of the registry in force: the same bytes answer `unchanged` without a parse. */
  readonly hash: string;
  readonly divisions: DivisionsWire | null;
  readonly aliases: readonly CodeAlias[];
}

/** What the worker answers. */
export type ReloadAnswer =
  | { status: 'unchanged' }
  | { status: 'parsed'; hash: string; compact: CompactRegistry }
  | { status: 'rejected'; source: string; problems: readonly RegistryProblem[]; total: number };

/** The request for `path` with these load options. */
export function reloadRequest(path: string, hash: string, opts: Omit<ParseRegistryOptions, 'source'>, divisions: DivisionsWire | null): ReloadRequest {
  return { path, hash, divisions, aliases: (opts.aliases ?? new AliasTable(BUILT_IN_ALIASES)).all() };
}

/** The worker's work (also callable in-thread): read, compare, parse, encode. */
export function handleReload(req: ReloadRequest): { answer: ReloadAnswer; transfer: ArrayBuffer[] } {
  try {
    const buf = readRegistryFile(req.path);
    const hash = registryDigest(buf);
    if (hash === req.hash) return { answer: { status: 'unchanged' }, transfer: [] };
    const opts = { divisions: req.divisions ? divisionsFromWire(req.divisions) : null, aliases: new AliasTable(req.aliases) };
    const { compact, transfer } = encodeRegistry(parseRegistryBytes(buf, req.path, opts));
    return { answer: { status: 'parsed', hash, compact }, transfer };
  } catch (e) {
    const error = e instanceof RegistryError ? e : new RegistryError(req.path, [{ line: null, column: null, message: String(e) }]);
    return { answer: { status: 'rejected', source: error.source, problems: error.problems, total: error.total }, transfer: [] };
  }
}

/** The worker's entry: the compiled .js next to this file, or the .ts source when run through tsx. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './reload-worker.ts' : './reload-worker.js', import.meta.url);

/**
 * Node 20 does not run `--import tsx` in worker threads: from source (tests, benches) the worker
 * registers tsx's loader itself before importing its entry.
 */
function startWorker(req: ReloadRequest): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData: req });
  // tsx's ESM API (its package export `tsx/esm/api` → import); resolved here, where tsx is found.
  const api = pathToFileURL(join(dirname(createRequire(WORKER_URL).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const boot = `import(${JSON.stringify(api)}).then((t) => { t.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(boot, { eval: true, workerData: req });
}

/** A reload running in a worker thread; `cancel()` ends it (the answer is then `unchanged`). */
export interface WorkerReload {
  readonly answer: Promise<ReloadAnswer>;
  cancel(): void;
}

/**
 * Starts a worker for `req`. A worker that dies (out of memory, a crash) answers `rejected` with
 * the reason: the caller keeps the registry in force.
 */
export function reloadInWorker(req: ReloadRequest): WorkerReload {
  const worker = startWorker(req);
  worker.unref();
  let done = false;
  let settle: (a: ReloadAnswer) => void = () => undefined;
  const answer = new Promise<ReloadAnswer>((resolve) => {
    settle = resolve;
    const fail = (why: string): void => {
      if (done) return;
      done = true;
      resolve({ status: 'rejected', source: req.path, problems: [{ line: null, column: null, message: `the reload worker failed: ${why}` }], total: 1 });
    };
    worker.once('message', (a: ReloadAnswer) => {
      done = true;
      resolve(a);
      void worker.terminate();
    });
    worker.once('error', (e) => fail(e.message));
    worker.once('exit', (code) => fail(`it exited with code ${code} before answering`));
  });
  return {
    answer,
    cancel: () => {
      if (!done) settle({ status: 'unchanged' });
      done = true;
      void worker.terminate();
    },
  };
}
