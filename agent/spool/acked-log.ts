/**
 * The spool's delivery position: an append-only log of the sequences the collector acknowledged
 * (or that were quarantined or dropped), one checksummed frame per acknowledgement, fsynced.
 * After a restart nothing in it is sent again.
 *
 * A full or failing disk never loses an acknowledgement for the running agent: the sequences are held
 * in memory at once and written when the disk takes them (each `add()` and `flush()` tries again), so
 * acknowledged reports are never resent while the agent runs and their segments can be deleted, which
 * frees the space the log then needs. Only a restart before the write succeeds resends them (the
 * collector keeps them once).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { encodeFrame, scanFrames } from './frame.js';
import { replaceFileSync, writeRecordSync } from './io.js';

export class AckedLog {
  private readonly seqs = new Set<number>();
  /** Sequences in `seqs` not yet on disk. */
  private readonly unsaved = new Set<number>();
  private fd: number | undefined;
  /** Bytes of intact frames in the file. */
  private bytes = 0;
  private frames = 0;
  /** The last write error, while acknowledgements are held in memory only. */
  private failure: unknown;

  /** Opens (creating) the log; a torn last frame is cut off. */
  constructor(private readonly path: string) {
    if (existsSync(path)) {
      const buf = readFileSync(path);
      const scan = scanFrames(buf);
      for (const f of scan.frames) {
        const list = JSON.parse(f.payload.toString('utf8')) as number[];
        for (const s of list) this.seqs.add(s);
      }
      this.frames = scan.frames.length;
      if (scan.state !== 'clean') {
        // Keep every intact frame: rewrite rather than truncate so frames after damage survive.
        try {
          this.rewrite();
        } catch (e) {
          // A full disk: go on with the damaged file (every intact frame is still read) and compact later.
          this.failure = e;
          this.frames = 257;
        }
        return;
      }
    }
    this.open();
  }

  private open(): number {
    if (this.fd === undefined) {
      this.fd = openSync(this.path, 'a', 0o600);
      this.bytes = fstatSync(this.fd).size;
    }
    return this.fd;
  }

  has(seq: number): boolean {
    return this.seqs.has(seq);
  }

  get size(): number {
    return this.seqs.size;
  }

  /** Sequences held in memory only (the disk refused them so far). */
  get pending(): number {
    return this.unsaved.size;
  }

  /** The error that keeps acknowledgements in memory, if any. */
  get lastError(): unknown {
    return this.failure;
  }

  /**
   * Records sequences as done: at once in memory, durably as soon as the disk takes them. Returns
   * whether everything is on disk; never throws for a disk error (see `lastError`).
   */
  add(seqs: readonly number[]): boolean {
    for (const s of seqs) {
      if (this.seqs.has(s)) continue;
      this.seqs.add(s);
      this.unsaved.add(s);
    }
    return this.flush();
  }

  /** Writes the sequences held in memory only; true when none is left. Never throws for a disk error. */
  flush(): boolean {
    if (this.unsaved.size === 0) return true;
    const list = [...this.unsaved];
    try {
      const fd = this.open();
      const frame = encodeFrame(Buffer.from(JSON.stringify(list), 'utf8'));
      writeRecordSync(fd, frame, null, this.bytes);
      this.bytes += frame.length;
      this.frames++;
      this.unsaved.clear();
      this.failure = undefined;
      return true;
    } catch (e) {
      this.failure = e;
      return false;
    }
  }

  /** Forgets sequences no longer in the spool (their segment was deleted); rewrites the log when it has grown. */
  forget(seqs: Iterable<number>): void {
    for (const s of seqs) {
      this.seqs.delete(s);
      this.unsaved.delete(s);
    }
    if (this.frames > 256) {
      try {
        this.rewrite();
      } catch (e) {
        // The old log stays valid (a superset); compacting is tried again at the next forget.
        this.failure = e;
      }
    }
  }

  /** Forgets every sequence below `seq` (no segment holds them any more). */
  forgetBelow(seq: number): void {
    const gone: number[] = [];
    for (const s of this.seqs) if (s < seq) gone.push(s);
    if (gone.length) this.forget(gone);
  }

  private rewrite(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const body = this.seqs.size ? encodeFrame(Buffer.from(JSON.stringify([...this.seqs].sort((a, b) => a - b)), 'utf8')) : Buffer.alloc(0);
    try {
      replaceFileSync(this.path, body);
      this.frames = this.seqs.size ? 1 : 0;
      this.unsaved.clear();
    } finally {
      this.open();
    }
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
