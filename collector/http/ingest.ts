/**
 * `POST /api/v1/reports`, independent of the HTTP version that carried it: the express app serves it
 * over HTTP/1.1 and the HTTP/2 listener (h2.ts) over cleartext HTTP/2, through the same handler.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { parseBatch } from '../../protocol/batch-check.js';
import { PROTOCOL_VERSION, WireError, decodeBatch, toIssues, type Ack, type Report } from '../../protocol/index.js';
import type { IngestIdentity } from '../auth/identity.js';
import type { TokenRecord } from '../auth/tokens.js';
import { freshReports, recordByEpoch, streamSeq, type RecordOptions } from '../ingest/dedupe.js';
import { droppedOf, type SchoolBudgets } from '../ingest/budgets.js';
import { admitUpload, type TokenShares } from '../ingest/fairness.js';
import { LineCache, reportToLines, reportToPoints, reportsToBlock, type RegistryTags } from '../ingest/points.js';
import { applyTimeWindow, type TimeWindowOptions } from '../ingest/time-window.js';
import type { CollectorModule } from '../module.js';
import { LineWriter } from '../sink/line-protocol.js';
import { SinkError, type PartialWrite, type Sink } from '../sink/sink.js';
import { StateDbError } from '../state/db.js';
import { errorAnswer } from './errors.js';
import { observeAcceptedBatch, observeIngestAnswer } from '../metrics/registry.js';
import { createLagGuard, type LagGuard } from './lag-guard.js';

/** What ingest needs to know about schools. */
export interface SchoolDirectory {
  tagsFor(schoolId: string): RegistryTags | undefined;
}

/** What ingest needs to check tokens. */
export interface TokenVerifier {
  verify(token: string): TokenRecord | undefined;
}

/** The collector's record of the sequences it holds per agent and epoch ('' legacy; see ingest/dedupe.ts). */
export interface SequenceLedger {
  has(school: string, agent: string, seq: number, epoch?: string): boolean;
  heldThrough(school: string, agent: string, epoch?: string): number;
  /**
   * Durable before it returns or, when it returns a promise, before that resolves (a group commit).
   * A rejection with a retryable StateDbError answers 503 COL_ERR_STATE_UNAVAILABLE.
   */
  record(school: string, agent: string, seqs: readonly number[], opts?: RecordOptions): void | Promise<void>;
}

export interface IngestOptions {
  sink: Sink;
  tokens: TokenVerifier;
  schools: SchoolDirectory;
  log: Logger;
  /** Injected clock, ms since the epoch. */
  now?: () => number;
  /** Largest accepted body, before and after decompression, in bytes. */
  maxBodyBytes: number;
  /** Seconds sent in Retry-After with a 503. */
  retryAfterS: number;
  /** Features beside ingest: their hooks on accepted batches (and, in the app, their routers). */
  modules?: readonly CollectorModule[];
  /** Which sequences are already held; without it every report is written (InfluxDB overwrites replays). */
  dedupe?: SequenceLedger;
  /** A report whose sentAt is further than this from the receive time (ms) gets its times corrected and flagged. */
  maxClockSkewMs?: number;
  /** Agent binding, agents-per-school limit and token rotation (collector/auth/identity.ts). */
  identity?: IngestIdentity;
  /** The window of collection times stored (see ingest/time-window.ts); defaults apply without it. */
  timeWindow?: TimeWindowOptions;
  /** Per-school budgets (ingest/budgets.ts): rates refused with 429, the excess of series dropped and counted. */
  budgets?: SchoolBudgets;
  /** Per-token in-flight shares (ingest/fairness.ts): over its share a token gets 429. */
  shares?: TokenShares;
  /** Uploads are answered 503 COL_ERR_OVERLOADED before their body is read while the event loop lags more than this, ms (lag-guard.ts); 0 or absent: never. */
  maxEventLoopLagMs?: number;
  /** The lag guard itself (tests); default one built from maxEventLoopLagMs. */
  lagGuard?: LagGuard;
}

/** An answer to send: status, extra headers, a JSON body, and work to do once it is sent. */
export interface IngestAnswer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
  after?: () => Promise<void>;
}

/** The request as any HTTP version delivers it: headers, then a body stream. */
export interface IngestRequest {
  headers: IncomingHttpHeaders;
  on(event: 'data', cb: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'aborted', cb: () => void): unknown;
  on(event: 'error', cb: (e: Error) => void): unknown;
  resume(): unknown;
}

/** The response as http.ServerResponse and http2's compatibility Http2ServerResponse both offer it. */
export interface IngestResponse {
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body: string): unknown;
  readonly headersSent: boolean;
  /**
   * Holds `share` (the token's in-flight share, ingest/fairness.ts) until the request's stream closes, answered
   * or not, and then releases it. Offered by the HTTP/2 listener; without it fairness wraps the response.
   */
  holdUntilClosed?(share: { release(): void }): void;
}

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Builds the handler. It never throws on input: every failure is an answer from the catalogue. */
export function createIngest(opts: IngestOptions): (req: IngestRequest, res: IngestResponse) => void {
  const now = opts.now ?? Date.now;
  const modules = opts.modules ?? [];
  const lagGuard = opts.lagGuard ?? createLagGuard({ maxLagMs: opts.maxEventLoopLagMs ?? 0 });

  /** Authentication and media type, answered before a body is read. */
  const check = (h: IncomingHttpHeaders): IngestAnswer | TokenRecord => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header(h, 'authorization') ?? '');
    const rec = m?.[1] ? opts.tokens.verify(m[1]) : undefined;
    if (!rec) return errorAnswer('COL_ERR_UNAUTHENTICATED', m ? 'unknown, revoked or expired token' : 'missing "Authorization: Bearer <token>" header');
    const type = header(h, 'content-type') ?? '';
    const [media, ...params] = type.split(';').map((s) => s.trim().toLowerCase());
    if (media !== 'application/json') {
      return errorAnswer('COL_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json, got "${type}"`);
    }
    const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replace(/"/g, '');
    if (charset && charset !== 'utf-8' && charset !== 'utf8') return errorAnswer('COL_ERR_UNSUPPORTED_MEDIA_TYPE', `unsupported charset "${charset}"; send utf-8`);
    return rec;
  };

  const lineCache = new LineCache();
  /** One reused buffer: an upload's lines are written in one synchronous step. */
  const lineWriter = new LineWriter();
  /** Writes the points of these reports; resolves with how many (and what InfluxDB dropped) once the sink confirmed them. */
  const write = async (reports: readonly Report[], tags: RegistryTags, receivedAtMs: number): Promise<{ points: number; partial?: PartialWrite | void }> => {
    const pointOpts = { tags, receivedAtMs, maxClockSkewMs: opts.maxClockSkewMs };
    if (opts.sink.writeLineBlock) {
      const block = reportsToBlock({ ...pointOpts, reports, cache: lineCache, writer: lineWriter });
      const n = block.ends.length;
      return { points: n, partial: n ? await opts.sink.writeLineBlock(block) : undefined };
    }
    if (opts.sink.writeLines) {
      const lines = reports.length === 1 ? reportToLines({ ...pointOpts, report: reports[0] as Report, cache: lineCache }) : reports.flatMap((report) => reportToLines({ ...pointOpts, report, cache: lineCache }));
      return { points: lines.length, partial: lines.length ? await opts.sink.writeLines(lines) : undefined };
    }
    const points = reports.flatMap((report) => reportToPoints({ ...pointOpts, report }));
    return { points: points.length, partial: points.length ? await opts.sink.write(points) : undefined };
  };

  /**
   * The answer when the ledger could not record a written batch: a full disk, an I/O error or a lock
   * (a retryable StateDbError, or a file-system error) is 503 with Retry-After; anything else is a bug.
   * The points are written: unacknowledged, the agent sends them again and InfluxDB overwrites them.
   */
  const unrecorded = (e: unknown, school: string): IngestAnswer => {
    const retryable = !(e instanceof StateDbError) || e.retryable;
    opts.log.error({ code: retryable ? 'COL_ERR_STATE_UNAVAILABLE' : 'COL_ERR_INTERNAL', err: String((e as Error)?.message ?? e), retryable, school }, 'dedupe ledger could not record the batch; nothing acknowledged');
    if (!retryable) return errorAnswer('COL_ERR_INTERNAL', 'the state database refused to record the batch; nothing was acknowledged');
    return {
      ...errorAnswer('COL_ERR_STATE_UNAVAILABLE', 'the state database could not record the batch; nothing was acknowledged'),
      headers: { 'retry-after': String(opts.retryAfterS) },
    };
  };

  const handle = async (token: TokenRecord, h: IncomingHttpHeaders, raw: Buffer): Promise<IngestAnswer> => {
    let body: unknown;
    try {
      body = decodeBatch(raw, header(h, 'content-encoding'), { maxBytes: opts.maxBodyBytes });
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      const code = e.kind === 'too-large' ? 'COL_ERR_BODY_TOO_LARGE' : e.kind === 'unsupported' ? 'COL_ERR_UNSUPPORTED_MEDIA_TYPE' : 'COL_ERR_INVALID_JSON';
      return errorAnswer(code, e.message);
    }
    const parsed = parseBatch(body);
    if (!parsed.success) {
      const issues = toIssues(parsed.error);
      return errorAnswer('COL_ERR_INVALID_PAYLOAD', `invalid batch: ${issues.map((i) => `${i.path}: ${i.message}`).slice(0, 5).join('; ')}`, issues);
    }
    const { reports: parsedReports } = parsed.data;
    // A county proxy's token stands for the batch's school once its scope allows it (auth/identity.ts).
    const scoped = opts.identity?.scope?.(token, parsedReports) ?? token;
    if (!('sha256' in scoped)) return scoped;
    // A proxy's upload passed the rate gate as the proxy; the school's own rates apply as well.
    const gated = scoped !== token ? opts.budgets?.gate(scoped.school) : undefined;
    if (gated) return gated;
    token = scoped;
    const foreign = parsedReports.findIndex((r) => r.school !== token.school);
    if (foreign >= 0) {
      opts.log.warn({ token: token.id, school: token.school, claimed: parsedReports[foreign]?.school }, 'report for another school refused');
      return errorAnswer('COL_ERR_WRONG_SCHOOL', `token ${token.id} belongs to school ${token.school}; reports.${foreign}.school is ${parsedReports[foreign]?.school}; nothing was written`);
    }
    const tags = opts.schools.tagsFor(token.school);
    if (!tags) return errorAnswer('COL_ERR_SCHOOL_NOT_REGISTERED', `school ${token.school} is not in the registry; nothing was written`);
    const refused = await opts.identity?.admit(token, parsedReports[0]?.agent as string, parsedReports);
    if (refused) return refused;

    const receivedAtMs = now();
    const windowed = applyTimeWindow(parsedReports, receivedAtMs, { maxClockSkewMs: opts.maxClockSkewMs, ...opts.timeWindow });
    if (!windowed.ok) return errorAnswer('COL_ERR_TIME_OUT_OF_WINDOW', windowed.message, windowed.issues);
    const reports = windowed.reports;
    const agent = reports[0]?.agent as string;
    // A repeated report (per epoch) is acknowledged and not written again; a batch may repeat one too.
    const fresh = freshReports(opts.dedupe, token.school, agent, reports);
    // Fresh is a subset of the batch: as many as the batch, nothing repeated.
    const freshKeys = fresh.length === reports.length ? undefined : new Set(fresh.map(streamSeq));
    const duplicates = freshKeys ? reports.filter((r) => !freshKeys.has(streamSeq(r))).map((r) => r.seq) : [];
    // Budgets keep of the reports what fits and what line protocol can hold; the rest is dropped and counted.
    const admitted = opts.budgets?.admit(token.school, fresh, raw.length);
    const stored = admitted?.reports ?? fresh;
    let points = 0;
    let partial: PartialWrite | void | undefined;
    try {
      ({ points, partial } = await write(stored, tags, receivedAtMs));
    } catch (e) {
      const err = e instanceof SinkError ? e : new SinkError(String(e), true);
      opts.log.error({ err: err.message, retryable: err.retryable, school: token.school }, 'sink write failed; nothing acknowledged');
      opts.budgets?.refund(token.school, admitted);
      if (!err.retryable) {
        // The database refused the data itself (e.g. a field type conflict): retrying cannot help.
        return errorAnswer('COL_ERR_INVALID_PAYLOAD', `the database refused the points: ${err.message}`);
      }
      return {
        ...errorAnswer('COL_ERR_SINK_UNAVAILABLE', 'the time-series database did not confirm the write; nothing was acknowledged'),
        headers: { 'retry-after': String(Math.max(opts.retryAfterS, Math.ceil((err.retryAfterMs ?? 0) / 1000))) },
      };
    }
    try {
      if (opts.dedupe) await recordByEpoch(opts.dedupe, token.school, agent, fresh, receivedAtMs);
    } catch (e) {
      return unrecorded(e, token.school);
    }
    const epoch = reports.at(-1)?.epoch;
    const heldThrough = opts.dedupe?.heldThrough(token.school, agent, epoch ?? '');
    const ack: Ack = {
      v: PROTOCOL_VERSION,
      accepted: reports.length === 1 ? [(reports[0] as Report).seq] : [...new Set(reports.map((r) => r.seq))],
      ...(duplicates.length ? { duplicates: [...new Set(duplicates)] } : {}),
      // 0 says nothing an agent can use; on a metered link it is left out.
      ...(heldThrough ? { heldThrough, ...(epoch ? { epoch } : {}) } : {}),
      serverTime: now(),
      ...(await opts.identity?.ackFields(token, agent)),
      ...droppedOf(admitted, partial, (p) => opts.budgets?.droppedBySink(token.school, p)),
    };
    opts.log.debug({ school: token.school, reports: reports.length, duplicates: duplicates.length, points }, 'batch accepted');
    observeAcceptedBatch(fresh.length, duplicates.length, points);
    const after = async () => {
      if (!fresh.length) return;
      for (const m of modules) {
        if (!m.onAccepted) continue;
        try {
          await m.onAccepted({ school: token.school, reports: stored, receivedAtMs });
        } catch (e) {
          opts.log.error({ module: m.name, err: String(e) }, 'module failed on an accepted batch');
        }
      }
    };
    return { status: 200, body: ack, after };
  };

  const send = (res: IngestResponse, a: IngestAnswer): void => {
    if (res.headersSent) return;
    observeIngestAnswer(a.status, a.body);
    const text = JSON.stringify(a.body);
    res.writeHead(a.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...a.headers });
    res.end(text);
  };

  return (req, answer) => {
    const checked = check(req.headers);
    if (!('id' in checked)) {
      // Drain what the client already sent, so a kept-alive connection stays usable.
      req.resume();
      return send(answer, checked);
    }
    const lag = lagGuard.over();
    if (lag !== undefined) {
      req.resume();
      return send(answer, {
        ...errorAnswer('COL_ERR_OVERLOADED', `the collector's event loop lags ${lag} ms (more than ingest.maxEventLoopLagMs, ${opts.maxEventLoopLagMs ?? 0} ms); retry later`),
        headers: { 'retry-after': String(opts.retryAfterS) },
      });
    }
    // Per-token share and rate budgets, before the body is read; `res` gives the share back once answered.
    const admitted = admitUpload({ shares: opts.shares, budgets: opts.budgets, token: checked, headers: req.headers, maxBodyBytes: opts.maxBodyBytes, req, res: answer });
    if ('refused' in admitted) {
      req.resume();
      return send(answer, admitted.refused);
    }
    const { res } = admitted;
    const declared = Number(header(req.headers, 'content-length') ?? NaN);
    if (declared > opts.maxBodyBytes) {
      req.resume();
      return send(res, errorAnswer('COL_ERR_BODY_TOO_LARGE', `body exceeds ${opts.maxBodyBytes} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= opts.maxBodyBytes) chunks.push(c);
    });
    req.on('error', () => {
      done = true;
    });
    req.on('aborted', () => {
      done = true;
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      if (size > opts.maxBodyBytes) return send(res, errorAnswer('COL_ERR_BODY_TOO_LARGE', `body exceeds ${opts.maxBodyBytes} bytes`));
      handle(checked, req.headers, Buffer.concat(chunks))
        .catch((e: unknown): IngestAnswer => {
          opts.log.error({ err: String(e) }, 'unexpected error in ingest');
          return errorAnswer('COL_ERR_INTERNAL', 'internal error');
        })
        .then((a) => {
          send(res, a);
          return a.after?.();
        })
        .catch((e: unknown) => opts.log.error({ err: String(e) }, 'after-ack work failed'));
    });
  };
}
