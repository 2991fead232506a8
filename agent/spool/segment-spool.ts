/**
 * The disk spool: append-only segment files of framed records (length + CRC32 + report JSON), one
 * fsync per appended report (one report per collection cycle: group commit of all its measurements),
 * a durable log of acknowledged sequences, a size limit that drops the oldest segment first, and
 * recovery that never refuses to start: a torn tail is cut off, a damaged segment is moved aside to
 * `corrupt/` and its intact records are kept.
 *
 * Layout of `dir`: `<first seq, 16 digits>.seg` segments, `acked.log`, `quarantine/`, `corrupt/`.
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statfsSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Report } from '../../protocol/index.js';
import { fsyncDir, writeFileDurable } from '../../protocol/durable.js';
import { AckedLog } from './acked-log.js';
import { FRAME_HEADER_BYTES, encodeFrame, scanFrames } from './frame.js';
import { spoolErrorCode, writeRecordSync } from './io.js';
import type { AppendResult, Spool, SpoolRecovery, SpoolStats } from './spool.js';

export interface SegmentSpoolOptions {
  dir: string;
  /** Most bytes of segments kept; the oldest segment is dropped when an append goes over. */
  maxSpoolBytes: number;
  /** A segment is closed once it reaches this size (capped at maxSpoolBytes / 4). */
  segmentBytes: number;
  /**
   * Free bytes to leave on the spool's filesystem (default DEFAULT_MIN_FREE_BYTES): when an append would
   * go below, acknowledged segments are deleted, then the oldest unacknowledged ones (dropped, counted),
   * and when even that does not make room the new report is dropped and counted.
   */
  minFreeBytes?: number;
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

/** Default free space the spool leaves on its filesystem. */
export const DEFAULT_MIN_FREE_BYTES = 1024 * 1024;

/** The error an append gives itself when the free-space bound leaves no room for the report. */
function noRoom(needBytes: number, minFreeBytes: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`spool: no room for a ${needBytes}-byte record above the ${minFreeBytes}-byte free-space reserve`), { code: 'ENOSPC' });
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
  /** Code of the failure of the current stretch of failing report writes, if any. */
  private writeFailure: string | undefined;
  /** Code of the failure of the current stretch of failing acknowledgement writes, if any. */
  private ackFailure: string | undefined;

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
        try {
          this.write(r);
        } catch (e) {
          // A full disk at start: the old files stay where they are and are imported at the next start.
          this.opts.log?.error({ code: spoolErrorCode(e), file: name, err: String(e) }, 'spool: old-layout reports not imported yet');
          return;
        }
        this.recovery.imported++;
      }
      rmSync(this.path(name), { force: true });
    }
  }

  private write(report: Report, frame: Buffer = encodeFrame(Buffer.from(JSON.stringify(report), 'utf8'))): Entry {
    if (report.seq <= this.last) throw new Error(`spool: sequence ${report.seq} is not above the last stored ${this.last}`);
    let seg = this.segments.at(-1);
    let created = false;
    if (!seg || seg.bytes >= this.segmentBytes) {
      this.closeActive();
      seg = { name: segmentName(report.seq), firstSeq: report.seq, bytes: 0, seqs: [] };
      created = true;
    }
    try {
      // Positional writes at the end of the last intact record: a record the disk cut short is cut off
      // again (writeRecordSync), and never left in front of the next one.
      const fd = this.activeFd ?? (this.activeFd = openSync(this.path(seg.name), constants.O_WRONLY | constants.O_CREAT, 0o600));
      writeRecordSync(fd, frame, seg.bytes, seg.bytes);
      if (created) fsyncDir(this.opts.dir);
    } catch (e) {
      if (created) {
        // An empty segment would claim the sequence at the next start: remove it.
        this.closeActive();
        rmSync(this.path(seg.name), { force: true });
      }
      throw e;
    }
    if (created) this.segments.push(seg);
    const entry = { seg, offset: seg.bytes, frameBytes: frame.length };
    seg.bytes += frame.length;
    seg.seqs.push(report.seq);
    this.index.set(report.seq, entry);
    this.last = report.seq;
    return entry;
  }

  private closeActive(): void {
    if (this.activeFd !== undefined) closeSync(this.activeFd);
    this.activeFd = undefined;
  }

  /** Free bytes on the spool's filesystem; Infinity when the system cannot say. */
  private freeBytes(): number {
    try {
      const s = statfsSync(this.opts.dir);
      return s.bavail * s.bsize;
    } catch {
      return Infinity;
    }
  }

  /**
   * Keeps `minFreeBytes` free after a write of `needBytes`: deletes the newest segment if it is fully
   * acknowledged, then drops the oldest segments (their unacknowledged sequences go to `dropped`).
   * Throws ENOSPC when only the active segment is left and there is still no room.
   */
  private makeRoom(needBytes: number, dropped: number[]): void {
    const reserve = this.opts.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
    const short = () => this.freeBytes() - needBytes < reserve;
    if (!short()) return;
    const active = this.segments.at(-1);
    if (active && active.seqs.every((q) => !this.index.has(q))) this.deleteSegment(active);
    while (short() && this.segments.length > 1) {
      const oldest = this.segments[0] as Segment;
      for (const q of oldest.seqs) if (this.index.has(q)) dropped.push(q);
      this.deleteSegment(oldest);
    }
    if (short()) throw noRoom(needBytes, reserve);
  }

  /** Logs the start and the end of a stretch of failing writes once each, not once per report. */
  private noteWrite(e: unknown, what: string): void {
    if (e === undefined) {
      if (this.writeFailure) this.opts.log?.warn({ after: this.writeFailure }, 'spool: writes succeed again');
      this.writeFailure = undefined;
      return;
    }
    const code = spoolErrorCode(e);
    if (this.writeFailure === code) return;
    this.writeFailure = code;
    this.opts.log?.error({ code, err: String(e) }, what);
  }

  /**
   * Stores a report. A report the disk cannot take (full, below the free-space reserve, or an I/O
   * error) is not stored: its sequence is returned in `dropped` (the caller counts it), recorded as done
   * so a restart does not count it again, and never reused.
   */
  async append(report: Report): Promise<AppendResult> {
    if (report.seq <= this.last) throw new Error(`spool: sequence ${report.seq} is not above the last stored ${this.last}`);
    this.acked.flush();
    const dropped: number[] = [];
    const frame = encodeFrame(Buffer.from(JSON.stringify(report), 'utf8'));
    try {
      this.makeRoom(frame.length, dropped);
      this.write(report, frame);
      this.noteWrite(undefined, '');
    } catch (e) {
      this.noteWrite(e, 'spool: a report could not be stored (disk full or failing); it is dropped and counted, delivery of what is held goes on');
      this.last = report.seq;
      this.acked.add([report.seq]);
      dropped.push(report.seq);
    }
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
    if (i === this.segments.length - 1) this.closeActive();
    this.segments.splice(i, 1);
    rmSync(this.path(seg.name), { force: true });
    for (const s of seg.seqs) this.index.delete(s);
    // Only sequences below the oldest segment left are forgotten: at the next start, a segment's range runs
    // to the next segment's first sequence, and an acknowledged sequence in that range must still read as done.
    this.acked.forgetBelow(this.segments[0]?.firstSeq ?? this.last + 1);
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

  /**
   * Forgets acknowledged reports. On a full disk the acknowledgement is held in memory (never resent
   * while the agent runs), the fully acknowledged segments are deleted, and the acknowledgement is written
   * in the space that frees.
   */
  async remove(seqs: readonly number[]): Promise<void> {
    const known = seqs.filter((s) => this.index.has(s));
    if (!known.length) return;
    const saved = this.acked.add(known);
    for (const s of known) this.index.delete(s);
    this.reclaim();
    if (!saved && !this.acked.flush()) {
      const e = this.acked.lastError;
      if (this.ackFailure !== spoolErrorCode(e)) {
        this.ackFailure = spoolErrorCode(e);
        this.opts.log?.error({ code: this.ackFailure, pending: this.acked.pending, err: String(e) }, 'spool: acknowledgements cannot be written; kept in memory and written when the disk takes them');
      }
    } else if (this.ackFailure) {
      this.ackFailure = undefined;
      this.opts.log?.warn('spool: acknowledgements are written again');
    }
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
    this.closeActive();
    this.acked.close();
  }
}
