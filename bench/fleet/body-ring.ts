/**
 * Upload bodies rendered ahead of their send (the load generator's pre-render): per agent a ring of
 * fixed-size slots in a few large slabs, so the measured window spends its CPU on sending, not on
 * patching templates and deflating. Batch `k` of an agent (its k-th due upload since the live start) sits
 * in slot `k mod slots`; the renderer may fill a slot only while the batch `slots - 1` earlier has been
 * taken or skipped (the slot of the batch taken last is left alone: its body may still be on its way
 * out), so memory is fixed: agents × slots × slotBytes (bodies are 250-320 bytes; 512-byte slots). No
 * JS object per body: lengths in a typed array, the bytes in the slabs.
 */

/** Options of a BodyRing. */
export interface BodyRingOptions {
  /** Slots of each agent, by agent index (at least 2: one holds the body taken last). */
  slots: readonly number[];
  /** Bytes a slot holds; a longer body is not stored (the sender renders it itself). */
  slotBytes?: number;
  /** Bytes of one slab (a Buffer); default 64 MiB. */
  slabBytes?: number;
}

/** Bodies rendered ahead, by agent and batch number. */
export class BodyRing {
  private readonly slotBytes: number;
  private readonly slotsPerSlab: number;
  private readonly slabs: Buffer[] = [];
  /** First global slot of each agent. */
  private readonly base: Float64Array;
  private readonly slots: Int32Array;
  /** Body length of each global slot (0: empty). */
  private readonly lengths: Uint16Array;
  /** Batch number stored in each global slot. */
  private readonly batch: Float64Array;
  /** Per agent: batches below this were taken or skipped (their slots are free). */
  private readonly consumed: Float64Array;
  /** Bytes allocated for the slabs. */
  readonly bytes: number;

  constructor(opts: BodyRingOptions) {
    this.slotBytes = opts.slotBytes ?? 512;
    if (this.slotBytes > 65_535) throw new Error('slotBytes must be at most 65535');
    this.slotsPerSlab = Math.max(1, Math.floor((opts.slabBytes ?? 64 * 2 ** 20) / this.slotBytes));
    const n = opts.slots.length;
    this.base = new Float64Array(n);
    this.slots = new Int32Array(n);
    this.consumed = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      this.base[i] = total;
      const s = Math.max(2, Math.floor(opts.slots[i] as number));
      this.slots[i] = s;
      total += s;
    }
    this.lengths = new Uint16Array(total);
    this.batch = new Float64Array(total).fill(-1);
    for (let left = total; left > 0; left -= this.slotsPerSlab) this.slabs.push(Buffer.allocUnsafe(Math.min(left, this.slotsPerSlab) * this.slotBytes));
    this.bytes = total * this.slotBytes;
  }

  private slot(agent: number, k: number): number {
    return (this.base[agent] as number) + (k % (this.slots[agent] as number));
  }

  /** Whether batch k of the agent may be stored now: not taken yet, and the slot's previous batch is not the one taken last. */
  hasRoom(agent: number, k: number): boolean {
    const c = this.consumed[agent] as number;
    return k >= c && k < c + (this.slots[agent] as number) - 1;
  }

  /** The first batch not yet taken or skipped. */
  consumedThrough(agent: number): number {
    return this.consumed[agent] as number;
  }

  /** Stores batch k's body; false when it has no room or does not fit a slot. */
  put(agent: number, k: number, body: Buffer): boolean {
    if (!this.hasRoom(agent, k) || body.length > this.slotBytes || body.length === 0) return false;
    const g = this.slot(agent, k);
    const slab = this.slabs[Math.floor(g / this.slotsPerSlab)] as Buffer;
    body.copy(slab, (g % this.slotsPerSlab) * this.slotBytes);
    this.lengths[g] = body.length;
    this.batch[g] = k;
    return true;
  }

  /**
   * Batch k's body (a view into the slab, valid until the renderer reuses the slot: after `slots - 1` more
   * batches), or undefined when it was not rendered or was taken or skipped already; batch k and those
   * before it are done.
   */
  take(agent: number, k: number): Buffer | undefined {
    if (k < (this.consumed[agent] as number)) return undefined;
    this.skipTo(agent, k + 1);
    const g = this.slot(agent, k);
    if (this.batch[g] !== k || this.lengths[g] === 0) return undefined;
    const slab = this.slabs[Math.floor(g / this.slotsPerSlab)] as Buffer;
    const off = (g % this.slotsPerSlab) * this.slotBytes;
    return slab.subarray(off, off + (this.lengths[g] as number));
  }

  /** Marks the agent's batches below k as done (skipped: due while the previous one was unanswered). */
  skipTo(agent: number, k: number): void {
    if (k > (this.consumed[agent] as number)) this.consumed[agent] = k;
  }
}
