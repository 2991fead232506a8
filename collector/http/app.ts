/** The collector's HTTP application: ingest, health, and the error catalogue's answers. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { requireViewer, type ViewerVerifier } from '../auth/viewers.js';
import type { CollectorModule } from '../module.js';
import { sendError } from './errors.js';
import { createIngest, type IngestOptions } from './ingest.js';

export type { SchoolDirectory, TokenVerifier, SequenceLedger } from './ingest.js';

/** What the app needs: ingest's options, and the features mounted beside it. */
export interface AppOptions extends IngestOptions {
  /** Features mounted beside ingest: their routers, and their hooks on accepted batches. */
  modules?: readonly CollectorModule[];
  /** Viewer accounts; when there is any, everything but ingest and health needs one (HTTP Basic). */
  viewers?: ViewerVerifier;
}

/** Builds the express app. It never throws on input: every failure is an answer from the catalogue. */
export function createApp(opts: AppOptions): express.Express {
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

  // Ingest is HTTP-version independent (ingest.ts); the HTTP/2 listener serves the same handler.
  const ingest = createIngest(opts);
  app.post('/api/v1/reports', (req: Request, res: Response) => ingest(req, res));

  // Everything below (views, devices, console, and the 404 of unknown paths) is the read side.
  if (opts.viewers) app.use(requireViewer(opts.viewers));

  for (const m of opts.modules ?? []) if (m.router) app.use(m.router);

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
