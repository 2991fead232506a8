/** The collector's HTTP application: ingest, health, and the error catalogue's answers. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { scopeGuard, whoAmI } from '../auth/scope.js';
import type { ReadTokenVerifier } from '../auth/scope-tokens.js';
import { requireViewer, type ViewerVerifier } from '../auth/viewers.js';
import type { Registry } from '../registry/index.js';
import { metricsHandler } from '../metrics/module.js';
import type { CollectorMetrics } from '../metrics/registry.js';
import { sendError } from './errors.js';
import type { Health } from './health.js';
import { createIngest, type IngestOptions } from './ingest.js';

export type { SchoolDirectory, TokenVerifier, SequenceLedger } from './ingest.js';

/** What the app needs: ingest's options (whose `modules` also give the routers mounted here), and viewers. */
export interface AppOptions extends IngestOptions {
  /** Viewer accounts; when there is any, everything but ingest and health needs one (HTTP Basic). */
  viewers?: ViewerVerifier;
  /** Read-only API tokens (Bearer clr1_…), scoped like accounts (auth/scope-tokens.ts). */
  readTokens?: ReadTokenVerifier;
  /** The registry scopes are checked against; default `schools` when it is a (live) registry. */
  scopeRegistry?: () => Registry;
  /** What `/healthz` reports beside its status: event-loop delay, connections, state database (health.ts). */
  health?: Health;
  /** `POST /api/v1/enroll` (collector/enroll/service.ts); agents enroll without a viewer account. */
  enroll?: (req: Request, res: Response) => void;
  /** What `/metrics` serves; default the process's (collector/metrics/registry.ts). */
  metrics?: CollectorMetrics;
}

function registryOf(dir: unknown): () => Registry {
  const d = dir as { current?: () => Registry };
  return typeof d.current === 'function' ? () => (d.current as () => Registry).call(dir) : () => dir as Registry;
}

/** Builds the express app. It never throws on input: every failure is an answer from the catalogue. */
export function createApp(opts: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag on answers: a few bytes per upload on a metered satellite link, and never used.
  app.set('etag', false);

  // Liveness: answers while the process runs, whatever the sink or the disk does; the figures are for operators and benchmarks.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', ...opts.health?.snapshot() });
  });

  app.get('/readyz', async (_req, res) => {
    const ok = await opts.sink.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', sink: ok ? 'up' : 'down' });
  });

  // Like /healthz, open to the scraper: no school data, only bounded labels (docs/alerts.md).
  app.get('/metrics', metricsHandler(opts.metrics));

  // Ingest is HTTP-version independent (ingest.ts); the HTTP/2 listener serves the same handler.
  const ingest = createIngest(opts);
  app.post('/api/v1/reports', (req: Request, res: Response) => ingest(req, res));
  if (opts.enroll) app.post('/api/v1/enroll', opts.enroll);

  // Everything below (views, devices, console, and the 404 of unknown paths) is the read side.
  // Then every read and write is kept inside the principal's scope and role (auth/scope.ts).
  if (opts.viewers) app.use(requireViewer(opts.viewers, opts.readTokens));
  app.use(scopeGuard(opts.scopeRegistry ?? registryOf(opts.schools)));
  app.get('/api/v1/me', whoAmI);

  for (const m of opts.modules ?? []) if (m.router) app.use(m.router);

  app.use((_req: Request, res: Response) => sendError(res, 'COL_ERR_NOT_FOUND', 'no such endpoint'));

  // Any error a route passes on (a bug, or a failed read query a module did not answer) ends here;
  // ingest decodes its own bodies, so no body parser errors arrive. The process never crashes on input.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    opts.log.error({ err }, 'unexpected error');
    sendError(res, 'COL_ERR_INTERNAL', 'internal error');
  });

  return app;
}
