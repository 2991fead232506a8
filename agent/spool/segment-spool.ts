/**
 * The disk spool: append-only segment files of framed records (length + CRC32 + report JSON), one
 * fsync per appended report (one report per collection cycle: group commit of all its measurements),
 * a durable log of acknowledged sequences, a size limit that drops the oldest segment first, and
 * recovery that never refuses to start: a torn tail is cut off, a damaged segment is moved aside to
 * `corrupt/` and its intact records are kept.
 *
 * Layout of `dir`: `<first seq, 16 digits>.seg` segments, `acked.log`, `quarantine/`, `corrupt/`.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Report } from '../../protocol/index.js';
import { fsyncDir, writeFileDurable } from '../../protocol/durable.js';
import { AckedLog } from './acked-log.js';
import { FRAME_HEADER_BYTES, encodeFrame, scanFrames } from './frame.js';
import type { AppendResult, Spool, SpoolRecovery, SpoolStats } from './spool.js';

export interface SegmentSpoolOptions {
  dir: string;
  /** Most bytes of segments kept; the oldest segment is dropped when an append goes over. */
  maxSpoolBytes: number;
  /** A segment is closed once it reaches this size (capped at maxSpoolBytes / 4). */
  segmentBytes: number;
  /**
   * Highest sequence the agent recorded as collected (its sequence file). Lets recovery tell a record
   * lost at the tail (counted) from a write the crash cut short (never collected, the sequence is reused).
   */
  committedSeq?: number;
  log?: Logger;
}

interface Segment {
  name: string;
  firstSeq: number;
  bytes: number;
  /** Every sequence stored in it, ascending. */
  seqs: number[];
}

interface Entry {
  seg: Segment;
  offset: number;
  frameBytes: number;
}

const SEGMENT = /^(\d{16})\.seg$/;
const LEGACY = /^(\d{16})\.json$/;

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.seg`;
}

function decode(payload: Buffer): Report | undefined {
  try {
    const r = JSON.parse(payload.toString('utf8')) as Report;
    return Number.isSafeInteger(r?.seq) ? r : undefined;
  } catch {
    return undefined;
  }
}

export class SegmentSpool implements Spool {
  /** What opening the spool found and repaired. */
  readonly recovery: SpoolRecovery = { tornBytes: 0, corruptSegments: [], lost: [], imported: 0 };
  private readonly segments: Segment[] = [];
  private readonly index = new Map<number, Entry>();
  private readonly acked: AckedLog;
  private readonly segmentBytes: number;
  private activeFd: number | undefined;
  private last = 0;

  /** Opens the spool, repairing what a crash or a bad disk left; never throws for damaged data. */
  constructor(private readonly opts: SegmentSpoolOptions) {
    this.segmentBytes = Math.max(FRAME_HEADER_BYTES + 1, Math.min(opts.segmentBytes, Math.floor(opts.maxSpoolBytes / 4)));
    mkdirSync(join(opts.dir, 'quarantine'), { recursive: true });
    this.acked = new AckedLog(join(opts.dir, 'acked.log'));
    this.load();
    this.importLegacy();
    this.reclaim();
  }

  private path(name: string): string {
    return join(this.opts.dir, name);
  }

  private load(): void {
    const names = readdirSync(this.opts.dir).filter((n) => SEGMENT.test(n)).sort();
    names.forEach((name, i) => {
      const firstSeq = Number(SEGMENT.exec(name)?.[1]);
      const buf = readFileSync(this.path(name));
      const scan = scanFrames(buf);
      const records = scan.frames.map((f) => ({ f, r: decode(f.payload) }));
      const isLast = i === names.length - 1;
      let keep = records.filter((x): x is { f: typeof x.f; r: Report } => x.r !== undefined);
      const undecodable = keep.length !== records.length;
      if (scan.state === 'torn' && isLast && !undecodable) {
        // A write cut short: cut the partial record off and keep everything before it.
        this.recovery.tornBytes += buf.length - scan.goodBytes;
        truncateSync(this.path(name), scan.goodBytes);
        this.opts.log?.warn({ segment: name, tornBytes: buf.length - scan.goodBytes }, 'spool: cut a torn record off the newest segment');
      } else if (scan.state !== 'clean' || undecodable) {
        mkdirSync(join(this.opts.dir, 'corrupt'), { recursive: true });
        renameSync(this.path(name), join(this.opts.dir, 'corrupt', `${name}.${Date.now()}`));
        keep = keep.filter((x, j, a) => j === 0 || x.r.seq > (a[j - 1] as { r: Report }).r.seq);
        writeFileDurable(this.path(name), Buffer.concat(keep.map((x) => encodeFrame(x.f.payload))));
        this.recovery.corruptSegments.push(name);
        this.opts.log?.error({ code: 'AGT_ERR_SPOOL_CORRUPT', segment: name, kept: keep.length }, 'spool: damaged segment moved to corrupt/; its intact records are kept');
      }
      const seg: Segment = { name, firstSeq, bytes: 0, seqs: [] };
      let offset = 0;
      for (const { f, r } of keep) {
        const frameBytes = f.frameBytes;
        seg.seqs.push(r.seq);
        if (!this.acked.has(r.seq)) this.index.set(r.seq, { seg, offset, frameBytes });
        offset += frameBytes;
      }
      seg.bytes = offset;
      this.segments.push(seg);
      // Every sequence from this segment's first to the next segment's first was stored here.
      const upper = isLast ? Math.max(this.opts.committedSeq ?? 0, seg.seqs.at(-1) ?? 0) : Number(SEGMENT.exec(names[i + 1] as string)?.[1]) - 1;
      const present = new Set(seg.seqs);
      for (let s = firstSeq; s <= upper; s++) if (!present.has(s) && !this.acked.has(s)) this.recovery.lost.push(s);
      this.last = Math.max(this.last, upper);
    });
    if (this.recovery.lost.length) {
      // Recorded as done so a later restart does not count them again.
      this.acked.add(this.recovery.lost);
      this.opts.log?.error({ code: 'AGT_ERR_SPOOL_CORRUPT', lost: this.recovery.lost.length, first: this.recovery.lost[0] }, 'spool: reports unreadable after damage; counted as dropped');
    }
  }

  /** Moves reports of the old one-file-per-report spool into segments. */
  private importLegacy(): void {
    for (const name of readdirSync(this.opts.dir).filter((n) => LEGACY.test(n)).sort()) {
      const r = decode(readFileSync(this.path(name)));
      if (r && r.seq > this.last) {
        this.write(r);
        this.recovery.imported++;
      }
      rmSync(this.path(name), { force: true });
    }
  }

  private write(report: Report): Entry {
    if (report.seq <= this.last) throw new Error(`spool: sequence ${report.seq} is not above the last stored ${this.last}`);
    let seg = this.segments.at(-1);
    let created = false;
    if (!seg || seg.bytes >= this.segmentBytes) {
      if (this.activeFd !== undefined) closeSync(this.activeFd);
      this.activeFd = undefined;
      seg = { name: segmentName(report.seq), firstSeq: report.seq, bytes: 0, seqs: [] };
      this.segments.push(seg);
      created = true;
    }
    const fd = this.activeFd ?? (this.activeFd = openSync(this.path(seg.name), 'a', 0o600));
    const frame = encodeFrame(Buffer.from(JSON.stringify(report), 'utf8'));
    writeSync(fd, frame);
    fsyncSync(fd);
    if (created) fsyncDir(this.opts.dir);
    const entry = { seg, offset: seg.bytes, frameBytes: frame.length };
    seg.bytes += frame.length;
    seg.seqs.push(report.seq);
    this.index.set(report.seq, entry);
    this.last = report.seq;
    return entry;
  }

  async append(report: Report): Promise<AppendResult> {
    this.write(report);
    const dropped: number[] = [];
    while (this.totalBytes() > this.opts.maxSpoolBytes && this.segments.length > 1) {
      const oldest = this.segments[0] as Segment;
      for (const s of oldest.seqs) if (this.index.has(s)) dropped.push(s);
      this.deleteSegment(oldest);
    }
    return { dropped };
  }

  private totalBytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0);
  }

  private deleteSegment(seg: Segment): void {
    const i = this.segments.indexOf(seg);
    if (i < 0) return;
    if (i === this.segments.length - 1 && this.activeFd !== undefined) {
      closeSync(this.activeFd);
      this.activeFd = undefined;
    }
    this.segments.splice(i, 1);
    rmSync(this.path(seg.name), { force: true });
    for (const s of seg.seqs) this.index.delete(s);
    this.acked.forget(seg.seqs);
  }

  /** Deletes closed segments whose every report is acknowledged. */
  private reclaim(): void {
    for (const seg of this.segments.slice(0, -1)) {
      if (seg.seqs.every((s) => !this.index.has(s))) this.deleteSegment(seg);
    }
  }

  waiting(): number[] {
    return [...this.index.keys()].sort((a, b) => a - b);
  }

  async read(seqs: readonly number[]): Promise<Report[]> {
    const out: Report[] = [];
    const fds = new Map<string, number>();
    try {
      for (const seq of seqs) {
        const e = this.index.get(seq);
        if (!e) continue;
        let fd = fds.get(e.seg.name);
        if (fd === undefined) fds.set(e.seg.name, (fd = openSync(this.path(e.seg.name), 'r')));
        const buf = Buffer.allocUnsafe(e.frameBytes - FRAME_HEADER_BYTES);
        readSync(fd, buf, 0, buf.length, e.offset + FRAME_HEADER_BYTES);
        const r = decode(buf);
        if (r) out.push(r);
      }
    } finally {
      for (const fd of fds.values()) closeSync(fd);
    }
    return out;
  }

  async pending(limit: number): Promise<Report[]> {
    return this.read(this.waiting().slice(0, limit));
  }

  async remove(seqs: readonly number[]): Promise<void> {
    const known = seqs.filter((s) => this.index.has(s));
    if (!known.length) return;
    this.acked.add(known);
    for (const s of known) this.index.delete(s);
    this.reclaim();
  }

  async quarantine(seqs: readonly number[], reason: string): Promise<void> {
    for (const r of await this.read(seqs)) {
      const name = `${String(r.seq).padStart(16, '0')}.json`;
      writeFileDurable(join(this.opts.dir, 'quarantine', name), JSON.stringify(r));
      writeFileDurable(join(this.opts.dir, 'quarantine', `${name}.reason`), `${reason}\n`);
    }
    await this.remove(seqs);
  }

  async stats(): Promise<SpoolStats> {
    return { reports: this.index.size, bytes: this.totalBytes() + (existsSync(this.path('acked.log')) ? statSync(this.path('acked.log')).size : 0) };
  }

  lastSeq(): number {
    return this.last;
  }

  /** Closes open files. */
  close(): void {
    if (this.activeFd !== undefined) closeSync(this.activeFd);
    this.activeFd = undefined;
    this.acked.close();
  }
}
