/**
 * A registry that can be replaced while the collector runs: `current()` is always a complete, valid
 * registry. `refresh()` re-reads the file in a worker thread (`reload()` does it on this thread); an
 * identical file (same bytes) changes nothing, a bad file keeps the old registry and logs every problem.
 * `watchRegistry()` polls the file and refreshes on change.
 */
import { EventEmitter } from 'node:events';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import { AliasTable, BUILT_IN_ALIASES } from './aliases.js';
import { decodeRegistry, sameSchool, type RegistryDiff } from './compact.js';
import { RegistryError, formatProblem } from './errors.js';
import { loadRegistry, parseRegistryBytes, readRegistryFile, type ParseRegistryOptions } from './load.js';
import { divisionsToWire, registryDigest, reloadInWorker, reloadRequest, type DivisionsWire, type WorkerReload } from './reload.js';
import { runAll, runSliced } from './slices.js';
import type { Registry, SchoolTags } from './registry.js';
import type { School } from './schema.js';

/** What a reload did. */
export type ReloadOutcome =
  | { status: 'unchanged' }
  | { status: 'reloaded'; schools: number; added: number; removed: number; changed: number }
  | { status: 'rejected'; error: RegistryError };

/** Emitted as `change` after a new registry replaced the old one. */
export interface RegistryChange {
  readonly previous: Registry;
  readonly current: Registry;
  readonly added: number;
  readonly removed: number;
  readonly changed: number;
}

export interface LiveRegistryOptions {
  /** The registry CSV path, as given (problems are reported against it). */
  path: string;
  log?: Logger;
  /** The registry already loaded from `path` (skips the first read); else it is loaded now (throws RegistryError). */
  initial?: Registry;
  /** The code list and alias table every load uses (see ParseRegistryOptions). */
  load?: Omit<ParseRegistryOptions, 'source'>;
}

/** Logs every refused row of a registry that loaded (one line, every problem), so none goes unseen. */
export function logRefusedRows(log: Logger | undefined, reg: Registry): void {
  if (!log || reg.extra.problemTotal === 0) return;
  log.error(
    { code: 'COL_ERR_REGISTRY_INVALID', registry: reg.source, refusedRows: reg.extra.refusedRows, problems: reg.extra.problems.map((p) => formatProblem(reg.source, p)), total: reg.extra.problemTotal },
    `registry loaded without ${reg.extra.refusedRows} refused row${reg.extra.refusedRows === 1 ? '' : 's'}: those schools are not registered until the rows are fixed`,
  );
}

/** Schools compared between two yields of `diffSteps`. */
const DIFF_STEP = 5_000;

/** What changed from `previous` to `next`, in steps (see slices.ts). */
function* diffSteps(previous: Registry, next: Registry): Generator<void, RegistryDiff> {
  const d: RegistryDiff = { added: 0, removed: 0, changed: 0 };
  let i = 0;
  for (const s of next.schools.values()) {
    const old = previous.get(s.id);
    if (!old) d.added++;
    else if (!sameSchool(old, s)) d.changed++;
    if (++i % DIFF_STEP === 0) yield;
  }
  for (const id of previous.schools.keys()) {
    if (!next.schools.has(id)) d.removed++;
    if (++i % DIFF_STEP === 0) yield;
  }
  return d;
}

/**
 * Holds the current registry and replaces it on `reload()` (synchronous) or `refresh()` (in a worker
 * thread, never blocking the event loop for long). Usable wherever a `Registry`'s `tagsFor`/`get` is
 * needed (the app's `schools`): lookups always go to the current one. A new registry is swapped in
 * whole, by one assignment, after it is completely built: a reader sees the old or the new one.
 */
export class LiveRegistry extends EventEmitter<{ change: [RegistryChange]; rejected: [RegistryError] }> {
  readonly path: string;
  private registry: Registry;
  private hash: string;
  private readonly log: Logger | undefined;
  private readonly loadOpts: Omit<ParseRegistryOptions, 'source'>;
  private divisionsWire: DivisionsWire | null | undefined;
  private inFlight: Promise<ReloadOutcome> | null = null;
  private queued: Promise<ReloadOutcome> | null = null;
  private worker: WorkerReload | null = null;
  private closed = false;

  constructor(opts: LiveRegistryOptions) {
    super();
    this.path = opts.path;
    this.log = opts.log;
    // The table parseRegistry would default to, made explicit: the worker and the decode use the same one.
    this.loadOpts = { ...opts.load, aliases: opts.load?.aliases ?? new AliasTable(BUILT_IN_ALIASES) };
    if (opts.initial) {
      this.hash = this.readHash() ?? '';
      this.registry = opts.initial;
    } else {
      // One read: the hash is of the bytes the registry was parsed from.
      const buf = readRegistryFile(opts.path);
      this.hash = registryDigest(buf);
      this.registry = parseRegistryBytes(buf, opts.path, this.loadOpts);
      logRefusedRows(this.log, this.registry);
    }
  }

  /** The registry in force now. Keep the reference only for one request: a reload replaces it. */
  current(): Registry {
    return this.registry;
  }

  /** The point tags of a school in the current registry. */
  tagsFor(id: string): SchoolTags | undefined {
    return this.registry.tagsFor(id);
  }

  /** The school with this id in the current registry. */
  get(id: string): School | undefined {
    return this.registry.get(id);
  }

  private readHash(): string | undefined {
    try {
      return registryDigest(readFileSync(this.path));
    } catch {
      return undefined;
    }
  }

  /**
   * Re-reads the file on this thread, blocking the event loop for the whole parse (seconds at
   * 250,000 rows): for tools and tests; a running collector uses `refresh()`. Same bytes as the
   * registry in force: nothing happens. A file with problems is logged (every problem) and the old
   * registry stays. Never throws.
   */
  reload(): ReloadOutcome {
    const hash = this.readHash();
    if (hash !== undefined && hash === this.hash) return { status: 'unchanged' };
    let next: Registry;
    try {
      next = loadRegistry(this.path, this.loadOpts);
    } catch (e) {
      return this.reject(e instanceof RegistryError ? e : new RegistryError(this.path, [{ line: null, column: null, message: String(e) }]));
    }
    return this.accept(next, hash ?? '', this.registry, runAll(diffSteps(this.registry, next)));
  }

  /**
   * Re-reads the file in a worker thread and swaps the new registry in when it is completely built;
   * the event loop is only held for short slices (receiving and rebuilding, comparing with the old
   * one). Outcomes, logs and events are those of `reload()`. A call while one runs is coalesced
   * into one more run after it (the file may have changed again). Never rejects.
   */
  refresh(): Promise<ReloadOutcome> {
    if (this.inFlight) {
      this.queued ??= this.inFlight.then(() => {
        this.queued = null;
        return this.refresh();
      });
      return this.queued;
    }
    const run = this.refreshOnce().catch((e: unknown): ReloadOutcome => {
      // Not the file (that is a `rejected` answer): a bug or a throwing `change` listener.
      this.log?.error({ err: e, registry: this.path, schools: this.registry.schools.size }, 'registry refresh failed');
      return { status: 'rejected', error: new RegistryError(this.path, [{ line: null, column: null, message: String(e) }]) };
    });
    this.inFlight = run.finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async refreshOnce(): Promise<ReloadOutcome> {
    if (this.closed) return { status: 'unchanged' };
    this.divisionsWire ??= this.loadOpts.divisions ? divisionsToWire(this.loadOpts.divisions) : null;
    this.worker = reloadInWorker(reloadRequest(this.path, this.hash, this.loadOpts, this.divisionsWire));
    const answer = await this.worker.answer;
    this.worker = null;
    if (this.closed || answer.status === 'unchanged') return { status: 'unchanged' };
    if (answer.status === 'rejected') return this.reject(new RegistryError(answer.source, answer.problems, answer.total));
    let previous = this.registry;
    const decoded = await runSliced(decodeRegistry(answer.compact, this.loadOpts.aliases ?? new AliasTable(BUILT_IN_ALIASES), previous));
    let diff = decoded.diff;
    // A synchronous reload() swapped meanwhile: compare with what is in force now.
    if (this.registry !== previous) diff = runAll(diffSteps((previous = this.registry), decoded.registry));
    return this.accept(decoded.registry, answer.hash, previous, diff);
  }

  /** Stops a reload in progress (its outcome is `unchanged`) and refuses new ones. */
  close(): void {
    this.closed = true;
    this.worker?.cancel();
  }

  private reject(error: RegistryError): ReloadOutcome {
    this.log?.error(
      { code: error.code, registry: this.path, problems: error.problems.map((p) => formatProblem(error.source, p)), total: error.total },
      'registry file changed but is invalid; keeping the registry in force',
    );
    this.emit('rejected', error);
    return { status: 'rejected', error };
  }

  /** Puts `next` in force (one assignment), unless only formatting changed. */
  private accept(next: Registry, hash: string, previous: Registry, { added, removed, changed }: RegistryDiff): ReloadOutcome {
    this.hash = hash;
    logRefusedRows(this.log, next);
    if (added === 0 && removed === 0 && changed === 0 && sameRegionNames(previous, next)) {
      // Only formatting changed (order, quoting, x_ columns): keep the registry object.
      return { status: 'unchanged' };
    }
    this.registry = next;
    this.log?.info({ registry: this.path, schools: next.schools.size, added, removed, changed }, 'registry reloaded');
    this.emit('change', { previous, current: next, added, removed, changed });
    return { status: 'reloaded', schools: next.schools.size, added, removed, changed };
  }
}

function sameRegionNames(a: Registry, b: Registry): boolean {
  for (const [maps, other] of [
    [a.provinces, b.provinces],
    [a.cities, b.cities],
    [a.counties, b.counties],
  ] as const) {
    if (maps.size !== other.size) return false;
    for (const [code, r] of maps) if (other.get(code)?.name !== r.name) return false;
  }
  return true;
}

export interface WatchRegistryOptions extends LiveRegistryOptions {
  /** How often the file's mtime and size are polled, in ms. Default 2000. */
  pollIntervalMs?: number;
}

/** A live registry that reloads itself when its file changes; `close()` stops watching. */
export interface WatchedRegistry {
  readonly registry: LiveRegistry;
  close(): void;
}

/**
 * Loads the registry (throws RegistryError on a bad file, as at start-up) and polls the file.
 * Polling (fs.watchFile) rather than inotify: editors and `cp` replace the file by rename, which an
 * inotify watch on the old inode misses.
 */
export function watchRegistry(opts: WatchRegistryOptions): WatchedRegistry {
  const registry = new LiveRegistry(opts);
  // refresh() never rejects by itself; a `change`/`rejected` listener that throws must not crash the poller.
  const refresh = (): void => void registry.refresh().catch((e: unknown) => opts.log?.error({ err: e, registry: opts.path }, 'a registry change listener failed'));
  const listener = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
    if (cur.nlink === 0 && cur.size === 0) return; // deleted: keep the registry in force
    refresh();
  };
  const intervalMs = opts.pollIntervalMs ?? 2000;
  watchFile(opts.path, { interval: intervalMs, persistent: false }, listener);
  // The poller's baseline stat runs on libuv's thread pool after this returns: a change made before it
  // (between the load above and that stat) would never be seen. One look after the first interval closes
  // the gap; an unchanged file costs a hash (reload compares bytes first).
  const first = setTimeout(refresh, intervalMs);
  first.unref();
  return {
    registry,
    close: () => {
      clearTimeout(first);
      unwatchFile(opts.path, listener);
      registry.close();
    },
  };
}
