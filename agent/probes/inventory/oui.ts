/**
 * MAC → vendor from the IEEE registry as shipped by the `oui-data` package (MA-L, MA-M and MA-S
 * assignments, about 54 000 entries, 5.6 MB of JSON). The file is read on the first lookup, and only
 * each organisation's name is kept. This is the one module that knows where the data comes from, so
 * the agent bundle can later ship it as a separate file (`path`).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isLocallyAdministered } from './mac.js';

/** Looks up the organisation an address block was assigned to. */
export interface OuiLookup {
  /** The vendor of a normalised MAC (`aa:bb:…`); undefined when unassigned or locally administered. */
  vendor(mac: string): string | undefined;
  /** Entries loaded (0 until the first lookup). */
  readonly size: number;
}

/** Options of `createOuiLookup`. */
export interface OuiLookupOptions {
  /** The registry JSON (`{ "ACB92F": "Name\\nAddress…", … }`); default: `oui-data`'s index.json. */
  path?: string;
}

/** Where `oui-data` installed its JSON. */
export function defaultOuiPath(): string {
  return createRequire(import.meta.url).resolve('oui-data');
}

/** Creates a lazy lookup; a missing or corrupt file throws on the first lookup, naming the file. */
export function createOuiLookup(options: OuiLookupOptions = {}): OuiLookup {
  let table: Map<string, string> | undefined;
  const load = (): Map<string, string> => {
    const path = options.path ?? defaultOuiPath();
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`cannot load the OUI registry from ${path}: ${(e as Error).message} (npm install oui-data)`);
    }
    if (!raw || typeof raw !== 'object') throw new Error(`OUI registry ${path} is not a JSON object`);
    const m = new Map<string, string>();
    for (const [prefix, text] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof text !== 'string') continue;
      const name = text.split('\n', 1)[0]?.trim();
      if (name) m.set(prefix.toUpperCase(), name);
    }
    return m;
  };
  return {
    vendor(mac) {
      if (isLocallyAdministered(mac)) return undefined;
      table ??= load();
      const hex = mac.replace(/:/g, '').toUpperCase();
      // The most specific assignment wins: MA-S (36 bits), then MA-M (28), then MA-L (24).
      return table.get(hex.slice(0, 9)) ?? table.get(hex.slice(0, 7)) ?? table.get(hex.slice(0, 6));
    },
    get size() {
      return table?.size ?? 0;
    },
  };
}

let shared: OuiLookup | undefined;
/** One lookup per process, so every probe shares the loaded table. */
export function sharedOuiLookup(): OuiLookup {
  shared ??= createOuiLookup();
  return shared;
}
