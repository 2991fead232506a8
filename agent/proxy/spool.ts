/**
 * The proxy's disk spool: the reports of every watched school in one set of append-only segment files,
 * with group commit. Why not one SegmentSpool per school: that is one synchronous fsync per report, plus
 * one for the sequence file, and this disk takes ~7 ms per fsync: 2,000 schools would block the event loop
 * for ~30 s of every minute. Here every report finished in the same turn of the event loop goes in one
 * write and one fdatasync (libuv's thread pool, not the event loop), and acknowledgements likewise.
 *
 * Records use the full agent's frame (length + CRC32, agent/spool/frame.ts); the payload is one header
 * line `<school> <seq>` and the report JSON. `acked.log` holds `A <school> <seq>` lines (and `D` lines for reports
 * dropped over a school's limit, which are done with in the same way); on compaction it
 * is rewritten with `H <school> <seq>` (the highest sequence the school ever had) so sequences never go
 * back after the segments holding them are gone. Recovery never refuses to start: a torn tail is cut off,
 * damaged bytes in the middle are skipped (intact records after them are kept).
 *
 * Each school's part is a `Spool` (agent/spool/spool.ts), so the full agent's delivery (flushSpool) sends it.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, truncateSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Report } from '../../protocol/index.js';
import { fsyncDir, writeFileDurable, writeFileDurableAsync } from '../../protocol/durable.js';
import { encodeFrame, scanFrames } from '../spool/frame.js';
import { spoolErrorCode } from '../spool/io.js';
import { DEFAULT_MIN_FREE_BYTES } from '../spool/segment-spool.js';
import type { AppendResult, Spool, SpoolStats } from '../spool/spool.js';

/** Options of the proxy spool. */
export interface ProxySpoolOptions {
  dir: string;
  /** Most bytes of segments kept; over it the oldest segment goes (its unsent reports counted as dropped). */
  maxSpoolBytes: number;
  /**
   * Most bytes of one school's waiting reports; over it that school's oldest go (counted as dropped), so one
   * school whose uploads are refused for days cannot fill the spool and push out the others' reports.
   * Unset: no per-school limit.
   */
  maxSpoolBytesPerSchool?: number;
  /** A segment is closed at this size. */
  segmentBytes: number;
  /**
   * Free bytes to leave on the spool's filesystem (default DEFAULT_MIN_FREE_BYTES, as the full agent's): a write
   * that would go below it first drops the oldest segments; when only the one being written is left, the reports
   * are not stored and are counted as dropped.
   */
  minFreeBytes?: number;
  /** The filesystem's free bytes (tests); default statfs of `dir`. */
  freeBytes?: () => number;
  /** The acked log is compacted once it is this large (default 4 MiB). */
  ackedLogCompactBytes?: number;
  log?: Logger;
  /** Told of reports dropped to stay within maxSpoolBytes or maxSpoolBytesPerSchool. */
  onDropped?: (school: string, seqs: number[]) => void;
}

interface Segment {
  name: string;
  bytes: number;
  /** Records not yet acknowledged or dropped. */
  live: number;
  /** `<school> <seq>` of its acknowledged records, for the acked log's compaction. */
  acked: string[];
  fh?: Promise<FileHandle>;
}

interface Entry {
  seg: Segment;
  offset: number;
  frameBytes: number;
  /** Bytes of the header line before the JSON. */
  headBytes: number;
}

interface School {
  /** Sequences waiting, ascending (reports are appended with growing seq). */
  waiting: Map<number, Entry>;
  /** Highest sequence ever stored or acknowledged. */
  last: number;
  bytes: number;
}

const SEGMENT = /^(\d{16})\.seg$/;

/** The spool of all schools; `view(school)` is one school's Spool. */
export class ProxySpool {
  private readonly schools = new Map<string, School>();
  private readonly segments: Segment[] = [];
  private active: { seg: Segment; fh: FileHandle } | undefined;
  private nextSegmentNo = 1;
  private pending: { frame: Buffer; head: number; report: Report; resolve: (r: AppendResult) => void; reject: (e: unknown) => void }[] = [];
  private pendingAcks: { line: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;
  private ackedFh: FileHandle | undefined;
  private ackedBytes = 0;
  private totalBytes = 0;
  private readonly ackedPath: string;
  /** The error code of the write failure under way (logged once per stretch), if any. */
  private writeFailure: string | undefined;

  constructor(private readonly opts: ProxySpoolOptions) {
    mkdirSync(join(opts.dir, 'quarantine'), { recursive: true });
    this.ackedPath = join(opts.dir, 'acked.log');
    this.load();
  }

  private school(id: string): School {
    let s = this.schools.get(id);
    if (!s) {
      s = { waiting: new Map(), last: 0, bytes: 0 };
      this.schools.set(id, s);
    }
    return s;
  }

  private load(): void {
    const acked = new Set<string>();
    let text = '';
    try {
      text = readFileSync(this.ackedPath, 'utf8');
    } catch {
      /* none yet */
    }
    this.ackedBytes = Buffer.byteLength(text);
    for (const line of text.split('\n')) {
      const m = /^([AHD]) (\d{10}) (\d+)$/.exec(line);
      if (!m) continue;
      const s = this.school(m[2] as string);
      s.last = Math.max(s.last, Number(m[3]));
      // D: dropped over the school's limit; done with, like an acknowledged record (never sent again).
      if (m[1] !== 'H') acked.add(`${m[2]} ${m[3]}`);
    }
    const names = readdirSync(this.opts.dir).filter((n) => SEGMENT.test(n)).sort();
    names.forEach((name, i) => {
      const path = join(this.opts.dir, name);
      const buf = readFileSync(path);
      const scan = scanFrames(buf);
      if (scan.state === 'torn' && i === names.length - 1) {
        truncateSync(path, scan.goodBytes);
        this.opts.log?.warn({ segment: name, tornBytes: buf.length - scan.goodBytes }, 'proxy spool: cut a torn record off the newest segment');
      } else if (scan.state !== 'clean') {
        this.opts.log?.error({ code: 'AGT_ERR_SPOOL_IO', segment: name }, 'proxy spool: damaged bytes in a segment skipped; intact records kept');
      }
      const seg: Segment = { name, bytes: scan.state === 'torn' ? scan.goodBytes : buf.length, live: 0, acked: [] };
      for (const f of scan.frames) {
        const nl = f.payload.indexOf(10);
        const m = nl > 0 ? /^(\d{10}) (\d+)$/.exec(f.payload.subarray(0, nl).toString('latin1')) : null;
        if (!m) continue;
        const s = this.school(m[1] as string);
        const seq = Number(m[2]);
        s.last = Math.max(s.last, seq);
        if (acked.has(`${m[1]} ${seq}`)) seg.acked.push(`${m[1]} ${seq}`);
        if (acked.has(`${m[1]} ${seq}`) || s.waiting.has(seq)) continue;
        s.waiting.set(seq, { seg, offset: f.offset, frameBytes: f.frameBytes, headBytes: nl + 1 });
        s.bytes += f.frameBytes;
        seg.live++;
      }
      this.segments.push(seg);
      this.totalBytes += seg.bytes;
      this.nextSegmentNo = Math.max(this.nextSegmentNo, Number(SEGMENT.exec(name)?.[1]) + 1);
    });
    for (const s of this.schools.values()) s.waiting = new Map([...s.waiting].sort((a, b) => a[0] - b[0]));
    // Segments with nothing left to send go now; the rest stay until acknowledged.
    for (const seg of [...this.segments]) if (seg.live === 0) this.deleteSegmentSync(seg);
    this.compactSync();
  }

  private deleteSegmentSync(seg: Segment): void {
    rmSync(join(this.opts.dir, seg.name), { force: true });
    this.segments.splice(this.segments.indexOf(seg), 1);
    this.totalBytes -= seg.bytes;
  }

  /** The acked log's compacted text: every school's highest sequence, plus the acknowledged records still in segments. */
  private compactText(): string {
    const lines: string[] = [];
    for (const [id, s] of this.schools) if (s.last > 0) lines.push(`H ${id} ${s.last}`);
    for (const seg of this.segments) for (const a of seg.acked) lines.push(`A ${a}`);
    return lines.join('\n') + '\n';
  }

  private compactSync(): void {
    const tmp = `${this.ackedPath}.tmp`;
    writeFileDurable(tmp, this.compactText());
    renameSync(tmp, this.ackedPath);
    fsyncDir(this.opts.dir);
    this.ackedBytes = statSync(this.ackedPath).size;
  }

  /** Highest sequence the school ever had in this spool (0: none). */
  lastSeq(school: string): number {
    return this.schools.get(school)?.last ?? 0;
  }

  /** Schools with reports waiting. */
  waitingSchools(): string[] {
    const out: string[] = [];
    for (const [id, s] of this.schools) if (s.waiting.size) out.push(id);
    return out;
  }

  /** Reports waiting over all schools. */
  waitingReports(): number {
    let n = 0;
    for (const s of this.schools.values()) n += s.waiting.size;
    return n;
  }

  stats(school: string): SpoolStats {
    const s = this.schools.get(school);
    return { reports: s?.waiting.size ?? 0, bytes: s?.bytes ?? 0 };
  }

  /** Stores a report durably; reports appended in the same turn share one write and one fdatasync. */
  append(report: Report): Promise<AppendResult> {
    // One payload buffer written in place (2,000 reports a cycle: each copy costs ~22 MB of buffers a cycle).
    const headText = `${report.school} ${report.seq}\n`;
    const json = JSON.stringify(report);
    const payload = Buffer.allocUnsafe(headText.length + Buffer.byteLength(json));
    payload.write(json, payload.write(headText, 0, 'latin1'));
    const frame = encodeFrame(payload);
    const s = this.school(report.school);
    if (report.seq <= s.last) return Promise.reject(new Error(`proxy spool: sequence ${report.seq} of school ${report.school} is not above ${s.last}`));
    s.last = report.seq;
    return new Promise((resolve, reject) => {
      this.pending.push({ frame, head: headText.length, report, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.chain = this.chain.then(() => this.commit()).catch((e) => this.opts.log?.error({ code: 'AGT_ERR_SPOOL_IO', err: String(e) }, 'proxy spool commit failed'));
    });
  }

  private async openSegment(): Promise<{ seg: Segment; fh: FileHandle }> {
    const name = `${String(this.nextSegmentNo++).padStart(16, '0')}.seg`;
    const fh = await open(join(this.opts.dir, name), 'a');
    const seg: Segment = { name, bytes: 0, live: 0, acked: [] };
    this.segments.push(seg);
    return { seg, fh };
  }

  private async commit(): Promise<void> {
    const appends = this.pending;
    const acks = this.pendingAcks;
    this.pending = [];
    this.pendingAcks = [];
    if (appends.length) await this.commitAppends(appends);
    if (acks.length) await this.commitAcks(acks);
  }

  private async commitAppends(items: ProxySpool['pending']): Promise<void> {
    const bytes = items.reduce((n, i) => n + i.frame.length, 0);
    const roomDropped = await this.makeRoom(bytes);
    if (this.freeBytes() - bytes < this.reserve()) {
      this.notStored(items, roomDropped, Object.assign(new Error(`proxy spool: no room for ${bytes} bytes above the ${this.reserve()}-byte free-space reserve (spool.minFreeBytes)`), { code: 'ENOSPC' }));
      return;
    }
    try {
      if (!this.active || this.active.seg.bytes >= this.opts.segmentBytes) {
        if (this.active) await this.active.fh.close();
        this.active = await this.openSegment();
        await fsyncDirAsync(this.opts.dir);
      }
      const { seg, fh } = this.active;
      const frames = items.map((i) => i.frame);
      // writev appends the frames as they are, without a concatenated copy; a short write (rare) goes on from where it stopped.
      let done = (await fh.writev(frames)).bytesWritten;
      if (done < bytes) {
        const all = Buffer.concat(frames);
        while (done < bytes) done += (await fh.write(all, done, bytes - done, null)).bytesWritten;
      }
      await fh.datasync();
      let offset = seg.bytes;
      for (const i of items) {
        const s = this.school(i.report.school);
        s.waiting.set(i.report.seq, { seg, offset, frameBytes: i.frame.length, headBytes: i.head });
        s.bytes += i.frame.length;
        seg.live++;
        offset += i.frame.length;
      }
      seg.bytes = offset;
      this.totalBytes += bytes;
    } catch (e) {
      // Whatever part of the write reached the segment must not come back after a restart: a new segment
      // next time, and the items recorded as done (if the acked log can still be written).
      await this.active?.fh.close().catch(() => undefined);
      this.active = undefined;
      this.notStored(items, roomDropped, e);
      return;
    }
    if (this.writeFailure) this.opts.log?.warn({ after: this.writeFailure }, 'proxy spool: writes succeed again');
    this.writeFailure = undefined;
    const dropped = this.enforceSchoolLimit(items);
    for (const [id, seqs] of [...roomDropped, ...(await this.enforceLimit())]) dropped.set(id, [...(dropped.get(id) ?? []), ...seqs]);
    for (const i of items) i.resolve({ dropped: dropped.get(i.report.school) ?? [] });
  }

  private reserve(): number {
    return this.opts.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  }

  private freeBytes(): number {
    if (this.opts.freeBytes) return this.opts.freeBytes();
    try {
      const f = statfsSync(this.opts.dir);
      return f.bavail * f.bsize;
    } catch {
      return Infinity;
    }
  }

  /** Drops the oldest segments (never the one being written) while a write of `bytes` would go below the free-space reserve. */
  private async makeRoom(bytes: number): Promise<Map<string, number[]>> {
    const dropped = new Map<string, number[]>();
    while (this.freeBytes() - bytes < this.reserve()) {
      const seg = this.segments.find((g) => g !== this.active?.seg);
      if (!seg) break;
      this.dropSegment(seg, dropped);
      await this.deleteSegment(seg);
    }
    this.tellDropped(dropped, { minFreeBytes: this.reserve() }, 'proxy spool: below the free-space reserve (spool.minFreeBytes): oldest reports dropped and counted in agent.dropped_reports');
    return dropped;
  }

  /**
   * Reports the disk could not take: not stored, their sequences never reused, each counted as dropped for its
   * school (so the collector sees an explained hole), the failure logged once per stretch of failing writes.
   */
  private notStored(items: ProxySpool['pending'], dropped: Map<string, number[]>, e: unknown): void {
    const code = spoolErrorCode(e);
    if (this.writeFailure !== code) this.opts.log?.error({ code, err: String(e), reports: items.length }, 'proxy spool: reports not stored (counted as dropped)');
    this.writeFailure = code;
    const own = new Map<string, number[]>();
    for (const i of items) own.set(i.report.school, [...(own.get(i.report.school) ?? []), i.report.seq]);
    for (const [id, seqs] of own) {
      this.pendingAcks.push({ line: seqs.map((q) => `D ${id} ${q}\n`).join(''), resolve: () => undefined, reject: () => undefined });
      this.opts.onDropped?.(id, seqs);
    }
    this.schedule();
    for (const i of items) i.resolve({ dropped: [...(dropped.get(i.report.school) ?? []), ...(own.get(i.report.school) ?? [])] });
  }

  /**
   * Drops the oldest waiting reports of each school just appended to that is over maxSpoolBytesPerSchool (never
   * its newest). The drops are written to the acked log as `D` lines (group-committed), so a restart does not
   * bring them back; their segments go once nothing else in them waits.
   */
  private enforceSchoolLimit(items: ProxySpool['pending']): Map<string, number[]> {
    const dropped = new Map<string, number[]>();
    const limit = this.opts.maxSpoolBytesPerSchool;
    if (limit === undefined) return dropped;
    for (const id of new Set(items.map((i) => i.report.school))) {
      const s = this.school(id);
      if (s.bytes <= limit) continue;
      const seqs: number[] = [];
      for (const [seq, e] of s.waiting) {
        if (s.bytes <= limit || s.waiting.size === 1) break;
        s.waiting.delete(seq);
        s.bytes -= e.frameBytes;
        e.seg.live--;
        e.seg.acked.push(`${id} ${seq}`);
        seqs.push(seq);
      }
      // Over the limit with only its newest report left: nothing to drop, nothing to tell.
      if (!seqs.length) continue;
      dropped.set(id, seqs);
      this.pendingAcks.push({ line: seqs.map((q) => `D ${id} ${q}\n`).join(''), resolve: () => undefined, reject: (e) => this.opts.log?.warn({ code: 'AGT_ERR_SPOOL_IO', school: id, err: String(e) }, 'proxy spool: the drop of reports over the school limit was not recorded; after a restart they would be sent after all') });
      this.opts.log?.error({ code: 'AGT_ERR_SPOOL_FULL', school: id, dropped: seqs.length, maxSpoolBytesPerSchool: limit }, "proxy spool: the school's reports are over proxy.maxSpoolBytesPerSchool: its oldest dropped and counted in agent.dropped_reports");
      this.opts.onDropped?.(id, seqs);
    }
    if (dropped.size) this.schedule();
    return dropped;
  }

  /** Drops the oldest segments while over the limit (never the one being written). */
  private async enforceLimit(): Promise<Map<string, number[]>> {
    const dropped = new Map<string, number[]>();
    while (this.totalBytes > this.opts.maxSpoolBytes && this.segments.length > 1) {
      const seg = this.segments[0] as Segment;
      this.dropSegment(seg, dropped);
      await this.deleteSegment(seg);
    }
    this.tellDropped(dropped, { maxSpoolBytes: this.opts.maxSpoolBytes }, 'proxy spool full: oldest reports dropped and counted in agent.dropped_reports');
    return dropped;
  }

  /** Forgets the waiting reports of a segment about to be deleted, adding them to `dropped` by school. */
  private dropSegment(seg: Segment, dropped: Map<string, number[]>): void {
    for (const [id, s] of this.schools) {
      for (const [seq, e] of s.waiting) {
        if (e.seg !== seg) continue;
        s.waiting.delete(seq);
        s.bytes -= e.frameBytes;
        dropped.set(id, [...(dropped.get(id) ?? []), seq]);
      }
    }
    seg.live = 0;
  }

  private tellDropped(dropped: Map<string, number[]>, limit: Record<string, number>, message: string): void {
    for (const [id, seqs] of dropped) {
      this.opts.log?.error({ code: 'AGT_ERR_SPOOL_FULL', school: id, dropped: seqs.length, ...limit }, message);
      this.opts.onDropped?.(id, seqs);
    }
  }

  private async deleteSegment(seg: Segment): Promise<void> {
    const i = this.segments.indexOf(seg);
    if (i < 0 || seg === this.active?.seg) return;
    this.segments.splice(i, 1);
    this.totalBytes -= seg.bytes;
    if (seg.fh) await (await seg.fh).close().catch(() => undefined);
    await unlink(join(this.opts.dir, seg.name)).catch(() => undefined);
  }

  private async commitAcks(items: ProxySpool['pendingAcks']): Promise<void> {
    try {
      this.ackedFh ??= await open(this.ackedPath, 'a');
      const text = items.map((i) => i.line).join('');
      await this.ackedFh.write(text);
      await this.ackedFh.datasync();
      this.ackedBytes += Buffer.byteLength(text);
    } catch (e) {
      for (const i of items) i.reject(e);
      return;
    }
    for (const i of items) i.resolve();
    for (const seg of [...this.segments]) if (seg.live === 0 && seg !== this.active?.seg) await this.deleteSegment(seg);
    if (this.ackedBytes > (this.opts.ackedLogCompactBytes ?? 4 * 1024 * 1024)) {
      await this.ackedFh.close();
      this.ackedFh = undefined;
      const tmp = `${this.ackedPath}.tmp`;
      await writeFileDurableAsync(tmp, this.compactText());
      renameSync(tmp, this.ackedPath);
      await fsyncDirAsync(this.opts.dir);
      this.ackedBytes = statSync(this.ackedPath).size;
    }
  }

  /** Forgets acknowledged reports durably (group-committed like appends). */
  private forget(school: string, seqs: readonly number[]): Promise<void> {
    const s = this.schools.get(school);
    const lines: string[] = [];
    for (const seq of seqs) {
      const e = s?.waiting.get(seq);
      if (!s || !e) continue;
      s.waiting.delete(seq);
      s.bytes -= e.frameBytes;
      e.seg.live--;
      e.seg.acked.push(`${school} ${seq}`);
      lines.push(`A ${school} ${seq}\n`);
    }
    if (!lines.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pendingAcks.push({ line: lines.join(''), resolve, reject });
      this.schedule();
    });
  }

  private async readEntry(e: Entry): Promise<Report | undefined> {
    e.seg.fh ??= open(join(this.opts.dir, e.seg.name), 'r');
    const fh = await e.seg.fh;
    const buf = Buffer.alloc(e.frameBytes);
    await fh.read(buf, 0, e.frameBytes, e.offset);
    try {
      return JSON.parse(buf.subarray(8 + e.headBytes).toString('utf8')) as Report;
    } catch {
      return undefined;
    }
  }

  /** One school's part of the spool, as the full agent's delivery uses a spool. */
  view(school: string): Spool {
    const self = this;
    const s = () => this.school(school);
    return {
      append: (r) => self.append(r),
      waiting: () => [...s().waiting.keys()],
      async read(seqs) {
        const out: Report[] = [];
        for (const seq of seqs) {
          const e = s().waiting.get(seq);
          const r = e && (await self.readEntry(e));
          if (r) out.push(r);
        }
        return out;
      },
      async pending(limit) {
        return this.read([...s().waiting.keys()].slice(0, limit));
      },
      remove: (seqs) => self.forget(school, seqs),
      async quarantine(seqs, reason) {
        const reports = await this.read(seqs);
        await writeFileDurableAsync(join(self.opts.dir, 'quarantine', `${school}-${seqs[0]}.json`), JSON.stringify({ reason, reports }));
        await self.forget(school, seqs);
      },
      stats: async () => self.stats(school),
      lastSeq: () => self.lastSeq(school),
    };
  }

  /** Waits for writes under way; closes files. */
  async close(): Promise<void> {
    this.schedule();
    await new Promise((r) => setImmediate(r));
    await this.chain;
    await this.active?.fh.close().catch(() => undefined);
    await this.ackedFh?.close().catch(() => undefined);
    for (const seg of this.segments) if (seg.fh) await (await seg.fh).close().catch(() => undefined);
    this.active = undefined;
    this.ackedFh = undefined;
  }
}

async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
