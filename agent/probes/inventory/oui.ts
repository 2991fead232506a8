/**
 * MAC → vendor from the IEEE registry as shipped by the `oui-data` package (MA-L, MA-M and MA-S
 * assignments, about 54 000 entries, 5.6 MB of JSON). The file is read on the first lookup, and only
 * each organisation's name is kept (names interned: ~30 000 distinct). This is the one module that
 * knows where the data comes from, so the agent bundle ships it as a separate file (`path`).
 *
 * The file is scanned as bytes, one `"PREFIX": "Name\nAddress…"` pair at a time, rather than
 * JSON.parse'd whole: parsing builds every address string of all 54 000 entries at once and costs the
 * agent ~30 MB of peak memory on a router; the scan peaks at the file buffer plus the kept table.
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
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch (e) {
      throw new Error(`cannot load the OUI registry from ${path}: ${(e as Error).message} (npm install oui-data)`);
    }
    const m = parseOuiRegistry(buf);
    if (m.size === 0) throw new Error(`OUI registry ${path} holds no "PREFIX": "Name…" entries`);
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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * Reads `oui-data`'s JSON object (`{ "ACB92F": "Name\nAddress…", … }`, any layout) into prefix → name,
 * scanning string tokens: a key, a colon, a value. Names with JSON escapes are decoded exactly.
 */
export function parseOuiRegistry(buf: Buffer): Map<string, string> {
  const table = new Map<string, string>();
  const names = new Map<string, string>();
  /** Index of the quote closing the string that opens at `start`, honouring escapes; -1 if none. */
  const closing = (start: number): number => {
    for (let i = start + 1; i < buf.length; i++) {
      const c = buf[i];
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) return i;
    }
    return -1;
  };
  let pos = buf.indexOf(QUOTE);
  while (pos >= 0) {
    const k1 = closing(pos);
    if (k1 < 0) break;
    let i = k1 + 1;
    while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d || buf[i] === 0x0a)) i++;
    if (buf[i] !== COLON) {
      pos = buf.indexOf(QUOTE, k1 + 1);
      continue;
    }
    const v0 = buf.indexOf(QUOTE, i + 1);
    if (v0 < 0) break;
    const v1 = closing(v0);
    if (v1 < 0) break;
    // The organisation's name is the value's first line: up to the first escaped line break.
    let end = v1;
    for (let j = v0 + 1; j < v1; j++) {
      if (buf[j] === BACKSLASH) {
        if (buf[j + 1] === 0x6e) {
          end = j;
          break;
        }
        j++;
      }
    }
    const prefix = buf.toString('latin1', pos + 1, k1).toUpperCase();
    const raw = buf.toString('utf8', v0 + 1, end);
    const name = (raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw).trim();
    if (name && /^[0-9A-F]{6,9}$/.test(prefix)) {
      let interned = names.get(name);
      if (interned === undefined) {
        interned = name;
        names.set(name, name);
      }
      table.set(prefix, interned);
    }
    pos = buf.indexOf(QUOTE, v1 + 1);
  }
  return table;
}

let shared: OuiLookup | undefined;
/** One lookup per process, so every probe shares the loaded table. */
export function sharedOuiLookup(): OuiLookup {
  shared ??= createOuiLookup();
  return shared;
}
