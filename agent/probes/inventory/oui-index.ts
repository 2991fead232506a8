/**
 * The OUI index: the IEEE registry (`oui-data`'s 5.6 MB JSON) turned into a compact sorted binary file
 * (~1.7 MB) that is binary-searched where it lies, so no part of the registry lives in the agent's heap.
 *
 * Layout (little-endian):
 * - header, 32 bytes: magic `CLKOUI01`; u32 entry count; u32 offset of the names; f64 byte size and
 *   f64 mtime (ms) of the registry it was built from (0 when built from a buffer).
 * - entries, 10 bytes each, sorted by key: 48-bit big-endian key (`prefix` padded to 36 bits, × 16, plus
 *   its hex length 6, 7 or 9: MA-L, MA-M, MA-S), u32 offset of the name from the start of the names.
 * - names: u8 byte length, then UTF-8. Entries with the same name in a row share it.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export const OUI_INDEX_MAGIC = 'CLKOUI01';
const HEADER = 32;
const ENTRY = 10;
/** Entries per block of the in-memory sparse index: one read of 640 bytes finds any key. */
const BLOCK = 64;
const CHUNK = 256 * 1024;

/** Where an index came from, as recorded in its header. */
export interface OuiIndexSource {
  size: number;
  mtimeMs: number;
}

/** The search key of a prefix of 6, 7 or 9 hex digits. */
export function ouiKey(prefix: string): number {
  return parseInt(prefix.padEnd(9, '0'), 16) * 16 + prefix.length;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const NEWLINE = 0x0a;

/**
 * Calls `onEntry(prefix, name)` for each `"PREFIX": "Name\nAddress…"` pair of the registry text in
 * `buf`, in order; `prefix` upper-cased, `name` the value's first line, JSON escapes decoded, trimmed.
 * Pairs that are not a 6-, 7- or 9-digit hex prefix with a non-empty name are skipped.
 */
export function scanOuiEntries(buf: Buffer, onEntry: (prefix: string, name: string) => void): void {
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
    if (name && /^[0-9A-F]{6}(?:[0-9A-F](?:[0-9A-F]{2})?)?$/.test(prefix)) onEntry(prefix, name);
    pos = buf.indexOf(QUOTE, v1 + 1);
  }
}

/**
 * Feeds the registry file to `scanOuiEntries` in chunks cut at raw line breaks (a JSON string never
 * holds one, so no pair is split), so reading it never holds the whole 5.6 MB file in memory.
 */
export function scanOuiFile(path: string, onEntry: (prefix: string, name: string) => void): void {
  const fd = openSync(path, 'r');
  try {
    let carry = Buffer.alloc(0);
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK, null);
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      if (n === 0) {
        scanOuiEntries(data, onEntry);
        return;
      }
      const cut = data.lastIndexOf(NEWLINE);
      if (cut < 0) {
        carry = Buffer.from(data);
        continue;
      }
      scanOuiEntries(data.subarray(0, cut + 1), onEntry);
      carry = Buffer.from(data.subarray(cut + 1));
    }
  } finally {
    closeSync(fd);
  }
}

/** Collects entries and lays out the index; `add` in any order (a later duplicate prefix wins). */
export class OuiIndexBuilder {
  private keys = new Float64Array(1024);
  private nameAt = new Uint32Array(1024);
  private names = Buffer.allocUnsafe(64 * 1024);
  private namesLength = 0;
  private count = 0;
  private lastName: string | undefined;
  private lastNameAt = 0;

  /** Adds one assignment; `prefix` is 6, 7 or 9 upper-case hex digits. */
  add(prefix: string, name: string): void {
    if (this.count === this.keys.length) {
      this.keys = grow(this.keys, new Float64Array(this.keys.length * 2));
      this.nameAt = grow(this.nameAt, new Uint32Array(this.nameAt.length * 2));
    }
    if (name !== this.lastName) {
      let bytes = Buffer.from(name, 'utf8');
      // A length byte holds up to 255: cut a (never seen) longer name at a character boundary.
      if (bytes.length > 255) bytes = Buffer.from(bytes.subarray(0, 255).toString('utf8').replace(/\uFFFD$/, ''), 'utf8');
      if (this.namesLength + 1 + bytes.length > this.names.length) {
        const bigger = Buffer.allocUnsafe(this.names.length * 2);
        this.names.copy(bigger, 0, 0, this.namesLength);
        this.names = bigger;
      }
      this.lastNameAt = this.namesLength;
      this.names[this.namesLength] = bytes.length;
      bytes.copy(this.names, this.namesLength + 1);
      this.namesLength += 1 + bytes.length;
      this.lastName = name;
    }
    this.keys[this.count] = ouiKey(prefix);
    this.nameAt[this.count] = this.lastNameAt;
    this.count++;
  }

  /** The index file's bytes. */
  finish(source: OuiIndexSource = { size: 0, mtimeMs: 0 }): Buffer {
    const order = Uint32Array.from({ length: this.count }, (_, i) => i);
    // Stable, so of two equal keys the later added comes last, and deduplication keeps it.
    order.sort((a, b) => (this.keys[a] as number) - (this.keys[b] as number) || a - b);
    const unique: number[] = [];
    for (let i = 0; i < order.length; i++) {
      const next = order[i + 1];
      if (next !== undefined && this.keys[next] === this.keys[order[i] as number]) continue;
      unique.push(order[i] as number);
    }
    const namesOffset = HEADER + unique.length * ENTRY;
    const out = Buffer.alloc(namesOffset + this.namesLength);
    out.write(OUI_INDEX_MAGIC, 0, 'latin1');
    out.writeUInt32LE(unique.length, 8);
    out.writeUInt32LE(namesOffset, 12);
    out.writeDoubleLE(source.size, 16);
    out.writeDoubleLE(source.mtimeMs, 24);
    unique.forEach((e, i) => {
      out.writeUIntBE(this.keys[e] as number, HEADER + i * ENTRY, 6);
      out.writeUInt32LE(this.nameAt[e] as number, HEADER + i * ENTRY + 6);
    });
    this.names.copy(out, namesOffset, 0, this.namesLength);
    return out;
  }
}

function grow<T extends Float64Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** Builds the index of the registry file at `path`, recording its size and mtime. */
export function buildOuiIndex(path: string, source: OuiIndexSource): Buffer {
  const b = new OuiIndexBuilder();
  scanOuiFile(path, (prefix, name) => b.add(prefix, name));
  return b.finish(source);
}

/** Reads bytes of an index at a position: from an open file, or from memory. */
export interface OuiIndexBytes {
  read(into: Buffer, length: number, position: number): number;
  close(): void;
}

/** The bytes of the index file at `path`, read with positioned reads of an open descriptor. */
export function fileBytes(path: string): OuiIndexBytes {
  const fd = openSync(path, 'r');
  return { read: (into, length, position) => readSync(fd, into, 0, length, position), close: () => closeSync(fd) };
}

/** The bytes of an index held in memory. */
export function bufferBytes(buf: Buffer): OuiIndexBytes {
  return { read: (into, length, position) => buf.copy(into, 0, position, Math.min(buf.length, position + length)), close: () => undefined };
}

/** What `readOuiHeader` finds at the start of an index. */
export interface OuiIndexHeader {
  count: number;
  namesOffset: number;
  source: OuiIndexSource;
}

/** The header of an index; undefined when the bytes are not one (wrong magic, truncated). */
export function readOuiHeader(bytes: OuiIndexBytes): OuiIndexHeader | undefined {
  const h = Buffer.alloc(HEADER);
  if (bytes.read(h, HEADER, 0) !== HEADER || h.toString('latin1', 0, 8) !== OUI_INDEX_MAGIC) return undefined;
  return { count: h.readUInt32LE(8), namesOffset: h.readUInt32LE(12), source: { size: h.readDoubleLE(16), mtimeMs: h.readDoubleLE(24) } };
}

/** Binary search of an index where it lies: one block read per key, one read per name. */
export class OuiIndexReader {
  readonly count: number;
  private readonly namesOffset: number;
  /** The first key of every block of `BLOCK` entries. */
  private readonly blockKeys: Float64Array;
  private readonly block = Buffer.alloc(BLOCK * ENTRY);
  private readonly name = Buffer.alloc(256);

  /** Throws when the bytes are not an index. */
  constructor(
    private readonly bytes: OuiIndexBytes,
    what: string,
  ) {
    const h = readOuiHeader(bytes);
    if (!h || h.namesOffset !== HEADER + h.count * ENTRY) throw new Error(`${what} is not an OUI index (${OUI_INDEX_MAGIC})`);
    this.count = h.count;
    this.namesOffset = h.namesOffset;
    this.blockKeys = new Float64Array(Math.ceil(h.count / BLOCK));
    const key = Buffer.alloc(6);
    for (let b = 0; b < this.blockKeys.length; b++) {
      if (bytes.read(key, 6, HEADER + b * BLOCK * ENTRY) !== 6) throw new Error(`${what} is truncated`);
      this.blockKeys[b] = key.readUIntBE(0, 6);
    }
  }

  /** The name recorded for a prefix of 6, 7 or 9 upper-case hex digits, exactly; undefined if none. */
  get(prefix: string): string | undefined {
    const key = ouiKey(prefix);
    // The last block whose first key is ≤ key.
    let lo = 0;
    let hi = this.blockKeys.length - 1;
    if (hi < 0 || key < (this.blockKeys[0] as number)) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.blockKeys[mid] as number) <= key) lo = mid;
      else hi = mid - 1;
    }
    const first = lo * BLOCK;
    const n = Math.min(BLOCK, this.count - first);
    this.bytes.read(this.block, n * ENTRY, HEADER + first * ENTRY);
    let a = 0;
    let b = n - 1;
    while (a <= b) {
      const mid = (a + b) >> 1;
      const k = this.block.readUIntBE(mid * ENTRY, 6);
      if (k === key) return this.readName(this.block.readUInt32LE(mid * ENTRY + 6));
      if (k < key) a = mid + 1;
      else b = mid - 1;
    }
    return undefined;
  }

  private readName(offset: number): string {
    const got = this.bytes.read(this.name, 256, this.namesOffset + offset);
    const len = this.name[0] ?? 0;
    if (got < 1 + len) throw new Error('OUI index is truncated');
    return this.name.toString('utf8', 1, 1 + len);
  }

  close(): void {
    this.bytes.close();
  }
}
