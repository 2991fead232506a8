/** A binary min-heap of integer ids by numeric key, on typed arrays (the generator's schedule of 60,000 agents). */
export class MinHeap {
  private readonly ids: Int32Array;
  private readonly keys: Float64Array;
  private n = 0;

  constructor(capacity: number) {
    this.ids = new Int32Array(capacity);
    this.keys = new Float64Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  /** The smallest key; only when size > 0. */
  peekKey(): number {
    return this.keys[0] as number;
  }

  push(id: number, key: number): void {
    if (this.n === this.ids.length) throw new Error('MinHeap full');
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((this.keys[p] as number) <= key) break;
      this.ids[i] = this.ids[p] as number;
      this.keys[i] = this.keys[p] as number;
      i = p;
    }
    this.ids[i] = id;
    this.keys[i] = key;
  }

  /** Removes and returns the id with the smallest key; only when size > 0. */
  pop(): number {
    const top = this.ids[0] as number;
    const id = this.ids[--this.n] as number;
    const key = this.keys[this.n] as number;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.n) break;
      if (c + 1 < this.n && (this.keys[c + 1] as number) < (this.keys[c] as number)) c++;
      if ((this.keys[c] as number) >= key) break;
      this.ids[i] = this.ids[c] as number;
      this.keys[i] = this.keys[c] as number;
      i = c;
    }
    this.ids[i] = id;
    this.keys[i] = key;
    return top;
  }
}
