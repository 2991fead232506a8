/** The collector's HTTP application: ingest, health, and the error catalogue's answers. */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { inflateRawSync } from 'node:zlib';
import { DICT_ENCODING, PROTOCOL_VERSION, WIRE_DICTIONARY, batchSchema, toIssues, type Ack } from '../../protocol/index.js';
import type { TokenRecord } from '../auth/tokens.js';
import { reportToPoints, type RegistryTags } from '../ingest/points.js';
import type { CollectorModule } from '../module.js';
import { SinkError, type Sink } from '../sink/sink.js';
import { sendError } from './errors.js';

/** What the app needs to know about schools. */
export interface SchoolDirectory {
  tagsFor(schoolId: string): RegistryTags | undefined;
}

/** What the app needs to check tokens. */
export interface TokenVerifier {
  verify(token: string): TokenRecord | undefined;
}

export interface AppOptions {
  sink: Sink;
  tokens: TokenVerifier;
  schools: SchoolDirectory;
  log: Logger;
  /** Injected clock, ms since the epoch. */
  now?: () => number;
  /** Largest accepted body after decompression, in bytes. */
  maxBodyBytes: number;
  /** Seconds sent in Retry-After with a 503. */
  retryAfterS: number;
  /** Features mounted beside ingest: their routers, and their hooks on accepted batches. */
  modules?: readonly CollectorModule[];
  /** Which sequences are already held; without it every report is written (InfluxDB overwrites replays). */
  dedupe?: SequenceLedger;
  /** A report whose sentAt is further than this from the receive time (ms) gets its times corrected and flagged. */
  maxClockSkewMs?: number;
}

/** The collector's record of the sequences it holds per agent (see ingest/dedupe.ts). */
export interface SequenceLedger {
  has(school: string, agent: string, seq: number): boolean;
  heldThrough(school: string, agent: string): number;
  /** Durable before it returns. */
  record(school: string, agent: string, seqs: readonly number[]): void;
}

type AuthedRequest = Request & { token?: TokenRecord };

/** Builds the express app. It never throws on input: every failure is an answer from the catalogue. */
export function createApp(opts: AppOptions): express.Express {
  const now = opts.now ?? Date.now;
  const modules = opts.modules ?? [];
  const app = express();
  app.disable('x-powered-by');
  // No ETag on answers: a few bytes per upload on a metered satellite link, and never used.
  app.set('etag', false);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const ok = await opts.sink.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', sink: ok ? 'up' : 'down' });
  });

  const authenticate = (req: AuthedRequest, res: Response, next: NextFunction): void => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    const rec = m?.[1] ? opts.tokens.verify(m[1]) : undefined;
    if (!rec) return sendError(res, 'COL_ERR_UNAUTHENTICATED', m ? 'unknown token' : 'missing "Authorization: Bearer <token>" header');
    req.token = rec;
    next();
  };

  const requireJson = (req: Request, res: Response, next: NextFunction): void => {
    if (!req.is('application/json')) {
      return sendError(res, 'COL_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json, got "${req.get('content-type') ?? ''}"`);
    }
    next();
  };

  /** Bodies in the protocol's preset-dictionary encoding (see protocol/report.ts, DICT_ENCODING). */
  const dictionaryBody = (req: Request, res: Response, next: NextFunction): void => {
    if ((req.get('content-encoding') ?? '').trim().toLowerCase() !== DICT_ENCODING) return next();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= opts.maxBodyBytes) chunks.push(c);
    });
    req.on('error', next);
    req.on('end', () => {
      if (size > opts.maxBodyBytes) return sendError(res, 'COL_ERR_BODY_TOO_LARGE', `body exceeds ${opts.maxBodyBytes} bytes`);
      let json: Buffer;
      try {
        json = inflateRawSync(Buffer.concat(chunks), { dictionary: WIRE_DICTIONARY, maxOutputLength: opts.maxBodyBytes });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
          return sendError(res, 'COL_ERR_BODY_TOO_LARGE', `body exceeds ${opts.maxBodyBytes} bytes (after decompression)`);
        }
        return sendError(res, 'COL_ERR_INVALID_JSON', `body is not valid ${DICT_ENCODING} data: ${(e as Error).message}`);
      }
      try {
        req.body = JSON.parse(json.toString('utf8'));
      } catch (e) {
        return sendError(res, 'COL_ERR_INVALID_JSON', `body is not valid JSON: ${(e as Error).message}`);
      }
      next();
    });
  };

  app.post(
    '/api/v1/reports',
    authenticate,
    requireJson,
    dictionaryBody,
    express.json({ limit: opts.maxBodyBytes, inflate: true, strict: true, type: () => true }),
    async (req: AuthedRequest, res: Response) => {
      const token = req.token as TokenRecord;
      const parsed = batchSchema.safeParse(req.body);
      if (!parsed.success) {
        const issues = toIssues(parsed.error);
        return sendError(res, 'COL_ERR_INVALID_PAYLOAD', `invalid batch: ${issues.map((i) => `${i.path}: ${i.message}`).slice(0, 5).join('; ')}`, issues);
      }
      const { reports } = parsed.data;
      const foreign = reports.findIndex((r) => r.school !== token.school);
      if (foreign >= 0) {
        opts.log.warn({ token: token.id, school: token.school, claimed: reports[foreign]?.school }, 'report for another school refused');
        return sendError(res, 'COL_ERR_WRONG_SCHOOL', `token ${token.id} belongs to school ${token.school}; reports.${foreign}.school is ${reports[foreign]?.school}; nothing was written`);
      }
      const tags = opts.schools.tagsFor(token.school);
      if (!tags) return sendError(res, 'COL_ERR_SCHOOL_NOT_REGISTERED', `school ${token.school} is not in the registry; nothing was written`);

      const receivedAtMs = now();
      const agent = reports[0]?.agent as string;
      // A repeated report is acknowledged and not written again; a batch may repeat a sequence too.
      const seen = new Set<number>();
      const fresh = reports.filter((r) => {
        if (seen.has(r.seq) || opts.dedupe?.has(token.school, agent, r.seq)) return false;
        seen.add(r.seq);
        return true;
      });
      const duplicates = reports.map((r) => r.seq).filter((q) => !fresh.some((r) => r.seq === q));
      const points = fresh.flatMap((report) => reportToPoints({ report, tags, receivedAtMs, maxClockSkewMs: opts.maxClockSkewMs }));
      try {
        if (points.length) await opts.sink.write(points);
        opts.dedupe?.record(token.school, agent, fresh.map((r) => r.seq));
      } catch (e) {
        const err = e instanceof SinkError ? e : new SinkError(String(e), true);
        opts.log.error({ err: err.message, retryable: err.retryable, school: token.school }, 'sink write failed; nothing acknowledged');
        if (!err.retryable) {
          // The database refused the data itself (e.g. a field type conflict): retrying cannot help.
          return sendError(res, 'COL_ERR_INVALID_PAYLOAD', `the database refused the points: ${err.message}`);
        }
        res.set('Retry-After', String(Math.max(opts.retryAfterS, Math.ceil((err.retryAfterMs ?? 0) / 1000))));
        return sendError(res, 'COL_ERR_SINK_UNAVAILABLE', 'the time-series database did not confirm the write; nothing was acknowledged');
      }
      const ack: Ack = {
        v: PROTOCOL_VERSION,
        accepted: [...new Set(reports.map((r) => r.seq))],
        ...(duplicates.length ? { duplicates: [...new Set(duplicates)] } : {}),
        ...(opts.dedupe ? { heldThrough: opts.dedupe.heldThrough(token.school, agent) } : {}),
        serverTime: now(),
      };
      opts.log.debug({ school: token.school, reports: reports.length, duplicates: duplicates.length, points: points.length }, 'batch accepted');
      res.json(ack);
      if (!fresh.length) return;
      for (const m of modules) {
        if (!m.onAccepted) continue;
        try {
          await m.onAccepted({ school: token.school, reports: fresh, receivedAtMs });
        } catch (e) {
          opts.log.error({ module: m.name, err: String(e) }, 'module failed on an accepted batch');
        }
      }
    },
  );

  for (const m of modules) if (m.router) app.use(m.router);

  app.use((_req: Request, res: Response) => sendError(res, 'COL_ERR_NOT_FOUND', 'no such endpoint'));

  // Errors from body parsing (and any bug) end here; the process never crashes on input.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    if (res.headersSent) return;
    if (e.status === 413) return sendError(res, 'COL_ERR_BODY_TOO_LARGE', `body exceeds ${opts.maxBodyBytes} bytes (after decompression)`);
    if (e.status === 415) return sendError(res, 'COL_ERR_UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported content encoding or charset');
    if (e.status === 400) return sendError(res, 'COL_ERR_INVALID_JSON', `body is not valid JSON (or its compression is broken): ${e.message ?? ''}`);
    opts.log.error({ err }, 'unexpected error');
    sendError(res, 'COL_ERR_INTERNAL', 'internal error');
  });

  return app;
}
