/**
 * The spool's delivery position: an append-only log of the sequences the collector acknowledged
 * (or that were quarantined), one checksummed frame per acknowledgement, fsynced before `add()`
 * resolves. After a restart nothing in it is sent again.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { writeFileDurable } from '../../protocol/durable.js';
import { encodeFrame, scanFrames } from './frame.js';

export class AckedLog {
  private readonly seqs = new Set<number>();
  private fd: number | undefined;
  private frames = 0;

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
        this.rewrite();
        return;
      }
    }
    this.fd = openSync(path, 'a', 0o600);
  }

  has(seq: number): boolean {
    return this.seqs.has(seq);
  }

  get size(): number {
    return this.seqs.size;
  }

  /** Records sequences as done, durably. */
  add(seqs: readonly number[]): void {
    const fresh = seqs.filter((s) => !this.seqs.has(s));
    if (fresh.length === 0) return;
    const fd = this.fd ?? (this.fd = openSync(this.path, 'a', 0o600));
    writeSync(fd, encodeFrame(Buffer.from(JSON.stringify(fresh), 'utf8')));
    fsyncSync(fd);
    for (const s of fresh) this.seqs.add(s);
    this.frames++;
  }

  /** Forgets sequences no longer in the spool (their segment was deleted); rewrites the log when it has grown. */
  forget(seqs: Iterable<number>): void {
    for (const s of seqs) this.seqs.delete(s);
    if (this.frames > 256) this.rewrite();
  }

  private rewrite(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const body = this.seqs.size ? encodeFrame(Buffer.from(JSON.stringify([...this.seqs].sort((a, b) => a - b)), 'utf8')) : Buffer.alloc(0);
    writeFileDurable(this.path, body);
    this.frames = this.seqs.size ? 1 : 0;
    this.fd = openSync(this.path, 'a', 0o600);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

