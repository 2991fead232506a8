/**
 * MAC → vendor from the IEEE registry as shipped by the `oui-data` package (MA-L, MA-M and MA-S
 * assignments, about 54 000 entries, 5.6 MB of JSON). Lookups binary-search a compact index file
 * (`oui-index.ts`, ~1.7 MB) where it lies, with a small cache of recent answers, so the registry never
 * sits in the heap: a Map of it cost the agent ~10 MB of RSS for good and ~14 MB at its peak.
 *
 * Where the index comes from, on the first lookup:
 * - the agent bundle ships it beside itself, `oui-index.bin` (scripts/build-agent.ts builds it and
 *   rewrites `SHIPPED_INDEX` below);
 * - else (running from the repository) it is built from the registry JSON once into `cacheDir`
 *   (the agent's state directory) and rebuilt when the registry's size or mtime changes;
 * - else, with no `cacheDir` or an unwritable one, it is built into memory (~1.7 MB).
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { writeFileDurable } from '../../../protocol/durable.js';
import { isLocallyAdministered } from './mac.js';
import { buildOuiIndex, bufferBytes, fileBytes, OuiIndexReader, readOuiHeader, type OuiIndexBytes } from './oui-index.js';

/** Looks up the organisation an address block was assigned to. */
export interface OuiLookup {
  /** The vendor of a normalised MAC (`aa:bb:…`); undefined when unassigned or locally administered. */
  vendor(mac: string): string | undefined;
  /** Entries in the index (0 until the first lookup). */
  readonly size: number;
}

/** Options of `createOuiLookup`. */
export interface OuiLookupOptions {
  /** A prebuilt index file; default: the one shipped beside the agent bundle, if any. */
  index?: string;
  /** The registry JSON (`{ "ACB92F": "Name\\nAddress…", … }`) to build the index from; default: `oui-data`'s index.json. */
  path?: string;
  /** Directory to keep the index built from `path` in (`oui-index.bin`), so it is built once. */
  cacheDir?: string;
  /** Answers kept in memory, by the MAC's first 36 bits (default 1024). */
  cacheEntries?: number;
}

/** The index shipped beside the agent bundle; none when running from the repository. */
const SHIPPED_INDEX: string | undefined = undefined;

/** The file name of the index, beside the bundle and in `cacheDir`. */
export const OUI_INDEX_FILE = 'oui-index.bin';

/** Where `oui-data` installed its JSON. */
export function defaultOuiPath(): string {
  return createRequire(import.meta.url).resolve('oui-data');
}

/** The index of the registry at `path`, from `cacheDir` when built there from this version of it. */
function registryIndex(path: string, cacheDir: string | undefined): { bytes: OuiIndexBytes; what: string } {
  let source: { size: number; mtimeMs: number };
  try {
    const st = statSync(path);
    source = { size: st.size, mtimeMs: st.mtimeMs };
  } catch (e) {
    throw new Error(`cannot load the OUI registry from ${path}: ${(e as Error).message} (npm install oui-data)`);
  }
  const cached = cacheDir && join(cacheDir, OUI_INDEX_FILE);
  if (cached) {
    try {
      const bytes = fileBytes(cached);
      const h = readOuiHeader(bytes);
      if (h && h.source.size === source.size && h.source.mtimeMs === source.mtimeMs) return { bytes, what: cached };
      bytes.close();
    } catch {
      // Not built yet (or unreadable): build it below.
    }
  }
  const built = buildOuiIndex(path, source);
  if (readOuiHeader(bufferBytes(built))?.count === 0) throw new Error(`OUI registry ${path} holds no "PREFIX": "Name…" entries`);
  if (cached) {
    try {
      writeFileDurable(cached, built);
      return { bytes: fileBytes(cached), what: cached };
    } catch {
      // A read-only state directory still gets vendors, from the index in memory.
    }
  }
  return { bytes: bufferBytes(built), what: `the index built from ${path}` };
}

/** Creates a lazy lookup; a missing or corrupt index or registry throws on the first lookup, naming the file. */
export function createOuiLookup(options: OuiLookupOptions = {}): OuiLookup {
  let reader: OuiIndexReader | undefined;
  const capacity = options.cacheEntries ?? 1024;
  // Insertion order is recency: a hit is moved to the end, the first entry is the least recent.
  const cache = new Map<string, string | undefined>();
  const open = (): OuiIndexReader => {
    const index = options.index ?? (options.path === undefined ? SHIPPED_INDEX : undefined);
    if (index !== undefined) {
      let bytes: OuiIndexBytes;
      try {
        bytes = fileBytes(index);
      } catch (e) {
        throw new Error(`cannot open the OUI index ${index}: ${(e as Error).message} (it ships beside the agent bundle)`);
      }
      return new OuiIndexReader(bytes, index);
    }
    const { bytes, what } = registryIndex(options.path ?? defaultOuiPath(), options.cacheDir);
    return new OuiIndexReader(bytes, what);
  };
  return {
    vendor(mac) {
      if (isLocallyAdministered(mac)) return undefined;
      const hex = mac.replace(/:/g, '').toUpperCase().slice(0, 9);
      if (cache.has(hex)) {
        const hit = cache.get(hex);
        cache.delete(hex);
        cache.set(hex, hit);
        return hit;
      }
      reader ??= open();
      // The most specific assignment wins: MA-S (36 bits), then MA-M (28), then MA-L (24).
      const name = reader.get(hex) ?? reader.get(hex.slice(0, 7)) ?? reader.get(hex.slice(0, 6));
      if (cache.size >= capacity) cache.delete(cache.keys().next().value as string);
      cache.set(hex, name);
      return name;
    },
    get size() {
      return reader?.count ?? 0;
    },
  };
}

let shared: OuiLookup | undefined;
/**
 * One lookup per process, so every probe shares the open index and its cache; the first caller's
 * `cacheDir` (the agent's state directory) is where a repository run keeps the index it builds.
 */
export function sharedOuiLookup(options: { cacheDir?: string } = {}): OuiLookup {
  shared ??= createOuiLookup(options);
  return shared;
}
