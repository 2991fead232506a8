/**
 * A small set of 32-bit hashes in one Int32Array (open addressing, linear probing), for per-school
 * budget state: about 4-8 bytes per member instead of the ~25 of a JS Set, and one allocation.
 * Two strings with the same hash count as one: at the budgets' sizes (at most tens of thousands of
 * members per school) a collision lets one series through unnoticed, nothing worse.
 */

/**
 * FNV-1a of a string's UTF-16 code units with murmur3's finaliser (FNV alone is nearly linear in the
 * last characters, so sums of such hashes collide), never 0 (0 marks an empty slot).
 */
export function hash32(s: string, seed = 0x811c9dc5): number {
  let h = seed | 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h;
}

/** A growable set of non-zero int32 values. */
export class HashSet32 {
  private slots: Int32Array;
  private count = 0;

  constructor(initialCapacity = 16) {
    let c = 8;
    while (c < initialCapacity) c <<= 1;
    this.slots = new Int32Array(c);
  }

  /** Members held. */
  get size(): number {
    return this.count;
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.slots.byteLength;
  }

  has(h: number): boolean {
    const s = this.slots;
    const mask = s.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = s[i] as number;
      if (v === h) return true;
      if (v === 0) return false;
    }
  }

  /** Adds `h`; true when it was new. */
  add(h: number): boolean {
    if ((this.count + 1) * 4 > this.slots.length * 3) this.grow();
    const s = this.slots;
    const mask = s.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = s[i] as number;
      if (v === h) return false;
      if (v === 0) {
        s[i] = h;
        this.count++;
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.count = 0;
    for (const v of old) if (v !== 0) this.add(v);
  }
}
