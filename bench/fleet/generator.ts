/**
 * The load generator: every school of the fleet is one agent uploading on its link type's schedule with
 * the agent's headers and `x-campuslink-cols1` bodies (templates.ts), over a cleartext HTTP/2 session
 * kept the way agent/transport/h2.ts keeps it: opened when the school first uploads (not ahead), kept
 * between uploads (TCP keepalive on), opened again on the next upload after the collector closed it
 * (idle timeout, GOAWAY), dropped after an exchange that failed without an answer (timeout, reset), and
 * an upload that failed on a reused session because it had gone stale is tried once more on a fresh one.
 * Where the process may not hold one descriptor per school (`sessions`), several schools share a session
 * (round-robin); a dropped shared session is closed gracefully, so its other schools' uploads finish, unless
 * the link needs a new session first (a link never holds two descriptors: the limit set their number).
 * One batch in flight per agent, as the agent's delivery does; a batch still unanswered when the next is
 * due makes the next one count as offered and not sent. After a failed upload the agent backs off as the
 * agent does (agent/transport/backoff.ts: 2 s doubling to 5 min, full jitter, at least Retry-After);
 * batches due meanwhile count as offered and not sent, so a failing collector is not hammered harder
 * than a real fleet would. Source addresses are spread over 127.2.0.0/16 so 60,000 connections do not
 * run out of ephemeral ports on one loopback address.
 * With `renderAheadMs`, the body of every batch due in the first `renderAheadMs` of the live load is
 * rendered ahead of its send (body-ring.ts): from start() on, earliest first, in slices of a few ms
 * between sends, done within seconds; `sentAt` is then the batch's due time (the send follows within
 * the 10 ms schedule tick). Later batches are rendered when sent. The soak sets it to the whole run,
 * so the measured window only sends.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Backoff } from '../../agent/transport/backoff.js';
import { INGEST_PATH } from '../../agent/transport/exchange.js';
import { COLS_ENCODING } from '../../protocol/index.js';
import { CYCLE_MS, seededLastCollectedAt, UPLOAD_DELAY_MS, type FleetSchool } from './fleet.js';
import { BodyRing } from './body-ring.js';
import { MinHeap } from './heap.js';
import { TemplateBank, VARIANTS, type BatchKind, type BatchValues } from './templates.js';
import { benchTls } from './tls-trust.js';

export interface GeneratorOptions {
  /** Collector base URL, http://127.0.0.1:port. */
  url: string;
  fleet: readonly FleetSchool[];
  /** Token of each school, by fleet index. */
  tokens: readonly string[];
  /** Last sequence already held (seeded) per school, by fleet index. */
  lastSeq: readonly number[];
  /** The live start the seed planned for (seededLastCollectedAt); start() may move it. */
  liveStartMs: number;
  /** Connections per source address. */
  schoolsPerAddress?: number;
  /**
   * HTTP/2 sessions to open; default one per school. Fewer (where a process may not hold one
   * descriptor per school) spread the schools over them round-robin, several agents per connection.
   */
  sessions?: number;
  /** Deadline of one upload, ms (the agent's default timeoutMs), kept to within a second. */
  timeoutMs?: number;
  /** Every n-th body is checked against the agent's own encodeBatch(). */
  verifyEvery?: number;
  /**
   * Render the bodies of the batches due in the first renderAheadMs of the live load ahead of their send
   * (ms; 0, the default: each when it is sent). Memory: schools × (renderAheadMs ÷ upload interval + 3) × 512 bytes.
   */
  renderAheadMs?: number;
  /** CPU ms a render slice may take before the generator's loop gets a turn (default 4). */
  renderSliceMs?: number;
  now?: () => number;
}

/** Counters since the generator started. */
export interface GeneratorCounters {
  batchesSent: number;
  reportsSent: number;
  batchesOk: number;
  /** Reports the collector acknowledged as newly written. */
  reportsHeld: number;
  /** Reports it acknowledged as already held. */
  reportsDuplicate: number;
  /** Reports due while the agent's previous batch was still unanswered (not sent). */
  reportsSkipped: number;
  /** Reports due while the agent was backing off after a failure (not sent). */
  reportsBackedOff: number;
  /** Failed uploads by HTTP status or error code. */
  failures: Record<string, number>;
  inFlight: number;
  sessionsOpen: number;
  /** Sessions opened, first ones and reopened ones. */
  sessionsOpened: number;
  /** Sessions the collector closed (idle or unauthenticated timeout, GOAWAY, reset). */
  sessionsClosedByCollector: number;
  /** Sessions the generator dropped after an exchange failed without an answer, as the agent does. */
  sessionsDropped: number;
  /** Uploads tried again on a fresh session after a stale reused one failed (h2.ts: once). */
  staleRetries: number;
  sessionErrors: number;
  templateChecks: number;
  templateMismatches: number;
  fullEncodes: number;
  /** Bodies rendered ahead (renderAheadMs). */
  bodiesRenderedAhead: number;
  /** Bodies rendered when sent: none was rendered ahead (off, or the renderer was behind). */
  bodiesRenderedAtSend: number;
}

/** One HTTP/2 session and what the generator knows of it. */
interface Live {
  session: http2.ClientHttp2Session;
  /** Exchanges answered on it: a failure on a used session may be a stale one. */
  used: number;
  /** The generator closed it (the close is not the collector's). */
  ours: boolean;
}

/** One HTTP/2 connection; normally one agent's, shared when descriptors run short (`sessions`). */
interface Link {
  index: number;
  /** Schools on it. */
  schools: number;
  live?: Live;
  /**
   * The link's previous session while it finishes closing (dropped, or GOAWAY from the collector): it still
   * holds a descriptor, so a new session for the link destroys it first and a link never holds two.
   */
  closing?: Live;
  /** Over TLS: the session ticket of its last session, offered on the next (agent/transport keeps it so). */
  ticket?: Buffer;
}

/** Errors of a connection that went away meanwhile (agent/transport/h2.ts STALE): a fresh one may well succeed at once. */
const STALE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_STREAM_CANCEL', 'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_SESSION_ERROR']);

/** An exchange under way and its deadline (performance.now() ms). */
interface Pending {
  stream: http2.ClientHttp2Stream;
  deadline: number;
  timedOut: boolean;
}

interface Agent {
  school: FleetSchool;
  /** Its request headers, made on its first upload. */
  headers?: http2.OutgoingHttpHeaders;
  link: Link;
  /** First sequence of the live load: batch k starts at firstSeq + k × reports. */
  firstSeq: number;
  /** First sequence of the next batch. */
  nextSeq: number;
  busy: boolean;
  kind: BatchKind;
  backoff: Backoff;
  /** No upload before this, generator clock ms. */
  backoffUntilMs: number;
}

/** Whether a failed exchange may be a stale session's: h2.ts's codes, and a stream that ended without an answer (h2.ts: ECONNRESET). */
function stale(code: string): boolean {
  return STALE_CODES.has(code) || code === 'NO_ANSWER' || code.startsWith('STREAM_CLOSED_');
}

/** An answer to an upload. */
interface Answer {
  status: number;
  text: string;
  retryAfterS?: number;
}

/** Latencies with their completion times, growing as needed. */
class Samples {
  at = new Float64Array(1 << 16);
  ms = new Float64Array(1 << 16);
  n = 0;

  add(atMs: number, ms: number): void {
    if (this.n === this.at.length) {
      const at = new Float64Array(this.n * 2);
      at.set(this.at);
      const m = new Float64Array(this.n * 2);
      m.set(this.ms);
      this.at = at;
      this.ms = m;
    }
    this.at[this.n] = atMs;
    this.ms[this.n++] = ms;
  }

  /** Sorted latencies of the uploads answered in [fromMs, toMs). */
  between(fromMs: number, toMs: number): Float64Array {
    const out: number[] = [];
    for (let i = 0; i < this.n; i++) if ((this.at[i] as number) >= fromMs && (this.at[i] as number) < toMs) out.push(this.ms[i] as number);
    return Float64Array.from(out).sort();
  }
}

/** Percentile of sorted values (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Latency summary of a time range. */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class LoadGenerator {
  private readonly agents: Agent[];
  private readonly links: Link[];
  private readonly heap: MinHeap;
  private readonly bank = new TemplateBank();
  private readonly samples = new Samples();
  private readonly host: string;
  private readonly port: number;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  /** Exchanges under way, oldest first (a Set keeps insertion order). */
  private readonly pending = new Set<Pending>();
  private stopped = false;
  private sentCount = 0;
  /** The body of the first refusal, for the report. */
  firstFailure: string | undefined;
  /** The generator's own event-loop delay: when it lags, measured latencies are inflated. */
  readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  readonly counters: GeneratorCounters = {
    batchesSent: 0, reportsSent: 0, batchesOk: 0, reportsHeld: 0, reportsDuplicate: 0, reportsSkipped: 0, reportsBackedOff: 0, failures: {},
    inFlight: 0, sessionsOpen: 0, sessionsOpened: 0, sessionsClosedByCollector: 0, sessionsDropped: 0, staleRetries: 0, sessionErrors: 0, templateChecks: 0, templateMismatches: 0, fullEncodes: 0,
    bodiesRenderedAhead: 0, bodiesRenderedAtSend: 0,
  };
  /** Bodies rendered ahead, and the renderer's schedule: agents by the due time of the next batch to render. */
  private readonly ring?: BodyRing;
  private readonly renderHeap?: MinHeap;
  private readonly renderNext?: Float64Array;
  private renderTimer?: NodeJS.Timeout;

  constructor(private readonly opts: GeneratorOptions) {
    const u = new URL(opts.url);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.now = opts.now ?? Date.now;
    const n = Math.max(1, Math.min(opts.sessions ?? opts.fleet.length, opts.fleet.length));
    this.links = Array.from({ length: n }, (_, index) => ({ index, schools: Math.floor(opts.fleet.length / n) + (index < opts.fleet.length % n ? 1 : 0) }));
    this.agents = opts.fleet.map((school, i) => ({
      school,
      link: this.links[i % n] as Link,
      firstSeq: (opts.lastSeq[i] as number) + 1,
      nextSeq: (opts.lastSeq[i] as number) + 1,
      busy: false,
      backoff: new Backoff({ baseMs: 2000, maxMs: 300_000 }),
      backoffUntilMs: 0,
      kind: { reports: school.reportsPerBatch, variant: i % VARIANTS, satellite: school.linkType.startsWith('sat-') },
    }));
    this.heap = new MinHeap(this.agents.length);
    this.liveStartMs = opts.liveStartMs;
    const ahead = opts.renderAheadMs ?? 0;
    if (ahead > 0) {
      this.ring = new BodyRing({ slots: opts.fleet.map((s) => Math.ceil(ahead / s.uploadIntervalMs) + 3) });
      this.renderHeap = new MinHeap(this.agents.length);
      this.renderNext = new Float64Array(this.agents.length);
    }
  }

  /** Bytes held for bodies rendered ahead (0 without renderAheadMs). */
  get renderAheadBytes(): number {
    return this.ring?.bytes ?? 0;
  }

  private liveStartMs: number;

  /** Collection time of a sequence: the agent's fixed cycle, continuing the seeded series. */
  private collectedAt(a: Agent, seq: number): number {
    return seededLastCollectedAt(a.school, this.liveStartMs) + (seq - (this.opts.lastSeq[a.school.index] as number)) * CYCLE_MS;
  }

  /** When the batch starting at seq is due: after its last report was collected. */
  private dueMs(a: Agent, seq = a.nextSeq): number {
    return this.collectedAt(a, seq + a.kind.reports - 1) + UPLOAD_DELAY_MS;
  }

  /** What batch k of an agent carries; `sentAt` its due time (a body rendered ahead is sent then). */
  private batchValues(a: Agent, k: number): BatchValues {
    const seq = a.firstSeq + k * a.kind.reports;
    return { school: a.school.id, seq, collectedAt: this.collectedAt(a, seq), sentAt: this.dueMs(a, seq) };
  }

  /**
   * Renders the bodies due in the first renderAheadMs of the live load, earliest first, for at most
   * renderSliceMs; then gives the loop a turn (sends and answers go first), until all are rendered.
   */
  private renderSlice(): void {
    const ring = this.ring as BodyRing;
    const heap = this.renderHeap as MinHeap;
    const next = this.renderNext as Float64Array;
    const until = performance.now() + (this.opts.renderSliceMs ?? 4);
    const horizon = this.liveStartMs + (this.opts.renderAheadMs ?? 0);
    let n = 0;
    while (heap.size > 0 && heap.peekKey() <= horizon) {
      if ((++n & 15) === 0 && performance.now() > until) {
        this.renderTimer = setTimeout(() => this.renderSlice(), 0);
        return;
      }
      const i = heap.pop();
      const a = this.agents[i] as Agent;
      // Batches already sent or skipped are not rendered: the renderer fell behind there.
      const k = Math.max(next[i] as number, ring.consumedThrough(i));
      // No room: the ring is sized for renderAheadMs, so only a schedule moved by a stalled clock gets here; that one is rendered when sent.
      if (!ring.hasRoom(i, k)) continue;
      const v = this.batchValues(a, k);
      if (ring.put(i, k, this.bank.bodySync(a.kind, v))) this.counters.bodiesRenderedAhead++;
      next[i] = k + 1;
      heap.push(i, this.dueMs(a, v.seq + a.kind.reports));
    }
    this.counters.fullEncodes = this.bank.fullEncodes;
    this.renderTimer = undefined;
  }

  private localAddress(i: number): string {
    const k = 1 + Math.floor(i / (this.opts.schoolsPerAddress ?? 100));
    return `127.2.${(k >> 8) & 255}.${k & 255}`;
  }

  /** The link's open session, or a new one (h2c with prior knowledge; the TCP connect is under way). */
  private live(link: Link): Live {
    const cur = link.live;
    if (cur && !cur.session.closed && !cur.session.destroyed) return cur;
    // The descriptor limit is what sets the number of links: a session still closing gives its place up.
    if (link.closing && !link.closing.session.destroyed) link.closing.session.destroy();
    link.closing = undefined;
    const localAddress = this.localAddress(link.index);
    const session = http2.connect(this.opts.url, {
      createConnection: () => {
        const s = net.connect({ host: this.host, port: this.port, localAddress });
        s.setKeepAlive(true, 60_000);
        s.setNoDelay(true);
        if (!this.opts.url.startsWith('https:')) return s;
        return tls.connect({ socket: s, ALPNProtocols: ['h2'], ...(benchTls.ca && { ca: benchTls.ca }), ...(link.ticket && { session: link.ticket }) }).on('session', (t: Buffer) => (link.ticket = t));
      },
    });
    const live: Live = { session, used: 0, ours: false };
    this.counters.sessionsOpened++;
    this.counters.sessionsOpen++;
    session.on('error', () => this.counters.sessionErrors++);
    session.once('close', () => {
      this.counters.sessionsOpen--;
      if (!live.ours && !this.stopped) this.counters.sessionsClosedByCollector++;
      if (link.live === live) link.live = undefined;
      if (link.closing === live) link.closing = undefined;
    });
    session.once('goaway', () => {
      if (link.live !== live) return;
      link.live = undefined;
      link.closing = live;
    });
    link.live = live;
    return live;
  }

  /**
   * After an exchange failed without an answer: the agent destroys its session and starts the next upload
   * afresh. A session other schools share is closed gracefully instead, so their uploads on it finish.
   */
  private drop(link: Link, live: Live): void {
    if (link.live === live) link.live = undefined;
    if (live.ours || live.session.closed || live.session.destroyed) return;
    live.ours = true;
    this.counters.sessionsDropped++;
    if (link.schools > 1) {
      live.session.close();
      link.closing = live;
    } else live.session.destroy();
  }

  /**
   * Opens every session ahead of use, `perSec` a second; resolves when all have been started. Agents do
   * not do this (sessions open on first upload); it is there to measure what idle sessions cost.
   */
  async connectAll(perSec: number): Promise<void> {
    const step = Math.max(1, Math.round(perSec / 20));
    for (let i = 0; i < this.links.length && !this.stopped; i += step) {
      for (let j = i; j < Math.min(i + step, this.links.length); j++) this.live(this.links[j] as Link);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Starts uploading on schedule. A start later than the seed planned moves the whole schedule (and
   * the collection times) by the difference, so late setup does not make every agent due at once.
   */
  start(liveStartMs = this.opts.liveStartMs): void {
    this.liveStartMs = liveStartMs;
    this.agents.forEach((a, i) => this.heap.push(i, this.dueMs(a)));
    if (this.renderHeap) {
      this.agents.forEach((a, i) => (this.renderHeap as MinHeap).push(i, this.dueMs(a)));
      this.renderSlice();
    }
    this.loopDelay.enable();
    this.sweepTimer = setInterval(() => this.sweepDeadlines(), 1000);
    this.timer = setInterval(() => {
      try {
        this.tick();
      } catch (e) {
        this.fail(`tick: ${(e as Error).message}`);
      }
    }, 10);
  }

  private fail(key: string): void {
    this.counters.failures[key] = (this.counters.failures[key] ?? 0) + 1;
  }

  private tick(): void {
    const now = this.now();
    while (this.heap.size > 0 && this.heap.peekKey() <= now) {
      const i = this.heap.pop();
      const a = this.agents[i] as Agent;
      const seq = a.nextSeq;
      a.nextSeq += a.kind.reports;
      this.heap.push(i, this.dueMs(a));
      if (a.busy || now < a.backoffUntilMs) {
        if (a.busy) this.counters.reportsSkipped += a.kind.reports;
        else this.counters.reportsBackedOff += a.kind.reports;
        // Its body, if rendered, is not sent: the slot is free for a later batch.
        this.ring?.skipTo(i, (a.nextSeq - a.firstSeq) / a.kind.reports);
        continue;
      }
      this.send(a, i, seq, now).catch((e: Error) => this.fail(`send: ${e.message}`));
    }
  }

  /** The body of batch `seq`: rendered ahead if it was, else now with `sentAt` now. */
  private body(a: Agent, i: number, seq: number, now: number): { body: Buffer; values: BatchValues } {
    const k = (seq - a.firstSeq) / a.kind.reports;
    const ahead = this.ring?.take(i, k);
    if (ahead) return { body: ahead, values: this.batchValues(a, k) };
    this.counters.bodiesRenderedAtSend++;
    const values = { school: a.school.id, seq, collectedAt: this.collectedAt(a, seq), sentAt: now };
    // Synchronous deflate on one reused zlib context (templates.ts): ~30 µs, no context per batch for GC to free.
    return { body: this.bank.bodySync(a.kind, values), values };
  }

  private async send(a: Agent, i: number, seq: number, now: number): Promise<void> {
    a.busy = true;
    let counted = false;
    try {
      const { body, values } = this.body(a, i, seq, now);
      if (this.sentCount++ % (this.opts.verifyEvery ?? 997) === 0) {
        this.counters.templateChecks++;
        if (!this.bank.verify(a.kind, values, body)) this.counters.templateMismatches++;
      }
      this.counters.fullEncodes = this.bank.fullEncodes;
      if (this.stopped) return;
      this.counters.batchesSent++;
      this.counters.reportsSent += a.kind.reports;
      this.counters.inFlight++;
      counted = true;
      const t0 = performance.now();
      const answer = await this.upload(a, body);
      this.counters.inFlight--;
      counted = false;
      const doneAt = this.now();
      if (answer.status !== 200) {
        a.backoffUntilMs = this.now() + a.backoff.next(answer.retryAfterS === undefined ? undefined : answer.retryAfterS * 1000);
        let code = '';
        try {
          code = (JSON.parse(answer.text) as { error?: { code?: string } }).error?.code ?? '';
        } catch {
          /* not JSON */
        }
        if (!this.firstFailure) this.firstFailure = answer.text.slice(0, 600);
        return this.fail(`${answer.status}${code ? ` ${code}` : ''}`);
      }
      const ack = JSON.parse(answer.text) as { accepted?: number[]; duplicates?: number[] };
      const dup = ack.duplicates?.length ?? 0;
      if ((ack.accepted?.length ?? 0) !== a.kind.reports) return this.fail('ack-incomplete');
      a.backoff.reset();
      this.samples.add(doneAt, performance.now() - t0);
      this.counters.batchesOk++;
      this.counters.reportsHeld += a.kind.reports - dup;
      this.counters.reportsDuplicate += dup;
    } catch (e) {
      if (counted) this.counters.inFlight--;
      a.backoffUntilMs = this.now() + a.backoff.next();
      this.fail((e as NodeJS.ErrnoException).code ?? (e as Error).message.slice(0, 60));
    } finally {
      a.busy = false;
    }
  }

  /** One upload the way h2.ts makes it: on the link's session, once more on a fresh one when a reused session was stale. */
  private async upload(a: Agent, body: Buffer): Promise<Answer> {
    const live = this.live(a.link);
    try {
      return await this.attempt(a, live, body);
    } catch (e) {
      if (live.used === 0 || !stale((e as NodeJS.ErrnoException).code ?? '') || this.stopped) throw e;
      this.counters.staleRetries++;
      return this.attempt(a, this.live(a.link), body);
    }
  }

  /** One exchange on one session; a failure without an answer drops the session (h2.ts: "start the next one afresh"). */
  private async attempt(a: Agent, live: Live, body: Buffer): Promise<Answer> {
    try {
      const answer = await this.exchange(live.session, a, body);
      live.used++;
      return answer;
    } catch (e) {
      this.drop(a.link, live);
      throw e;
    }
  }

  /**
   * Cancels the exchanges past their deadline (once a second: one sweep instead of a timer per upload).
   * In send order, so the sweep stops at the first one still in time.
   */
  private sweepDeadlines(): void {
    const now = performance.now();
    for (const p of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(p);
      p.timedOut = true;
      p.stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  }

  /** The agent's request headers; only content-length changes between its uploads (request() copies them). */
  private headers(a: Agent, length: number): http2.OutgoingHttpHeaders {
    const h = (a.headers ??= {
      ':method': 'POST',
      ':path': INGEST_PATH,
      'content-type': 'application/json',
      authorization: `Bearer ${this.opts.tokens[a.school.index]}`,
      'user-agent': 'campuslink-agent/0.1.0',
      'content-length': 0,
      'content-encoding': COLS_ENCODING,
    });
    h['content-length'] = length;
    return h;
  }

  private exchange(session: http2.ClientHttp2Session, a: Agent, body: Buffer): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const stream = session.request(this.headers(a, body.length));
      const deadline: Pending = { stream, deadline: performance.now() + (this.opts.timeoutMs ?? 30_000), timedOut: false };
      this.pending.add(deadline);
      const done = () => this.pending.delete(deadline);
      let status = 0;
      let retryAfterS: number | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        status = Number(h[':status'] ?? 0);
        const ra = Number(h['retry-after']);
        if (Number.isFinite(ra) && h['retry-after'] !== undefined) retryAfterS = ra;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        done();
        if (status === 0) reject(Object.assign(new Error('no answer'), { code: deadline.timedOut ? 'TIMEOUT' : 'NO_ANSWER' }));
        else resolve({ status, text: Buffer.concat(chunks).toString('utf8'), ...(retryAfterS !== undefined && { retryAfterS }) });
      });
      stream.on('close', () => {
        done();
        if (status === 0) reject(Object.assign(new Error('stream closed'), { code: deadline.timedOut ? 'TIMEOUT' : `STREAM_CLOSED_${stream.rstCode}` }));
      });
      stream.on('error', (e) => {
        done();
        reject(e);
      });
      stream.end(body);
    });
  }

  /** Latencies of uploads answered in [fromMs, toMs). */
  latency(fromMs: number, toMs: number): LatencySummary {
    const s = this.samples.between(fromMs, toMs);
    return { count: s.length, p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), maxMs: s.length ? (s[s.length - 1] as number) : NaN };
  }

  /** Stops scheduling and closes every session. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.renderTimer) clearTimeout(this.renderTimer);
    this.loopDelay.disable();
    for (const l of this.links) {
      if (l.live) l.live.ours = true;
      l.live?.session.destroy();
    }
  }
}

/**
 * Sends one batch of one school on a fresh HTTP/2 session and resolves with the answer's status
 * (0: no answer) and body. For probes such as "first batch accepted after a restart".
 */
export function postOneBatch(opts: { url: string; school: FleetSchool; token: string; seq: number; collectedAt: number; timeoutMs: number }): Promise<{ status: number; text: string }> {
  const bank = new TemplateBank();
  const kind: BatchKind = { reports: opts.school.reportsPerBatch, variant: 0, satellite: opts.school.linkType.startsWith('sat-') };
  const body = bank.bodySync(kind, { school: opts.school.id, seq: opts.seq, collectedAt: opts.collectedAt, sentAt: Date.now() });
  return new Promise((resolve) => {
    const session = http2.connect(opts.url, benchTls.ca ? { ca: benchTls.ca } : {});
    const chunks: Buffer[] = [];
    const done = (status: number) => {
      clearTimeout(timer);
      session.destroy();
      resolve({ status, text: Buffer.concat(chunks).toString('utf8') });
    };
    const timer = setTimeout(() => done(0), opts.timeoutMs);
    session.on('error', () => done(0));
    const stream = session.request({ ':method': 'POST', ':path': INGEST_PATH, 'content-type': 'application/json', authorization: `Bearer ${opts.token}`, 'content-length': body.length, 'content-encoding': COLS_ENCODING });
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'] ?? 0)));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => done(status));
    stream.on('error', () => done(0));
    stream.end(body);
  });
}
