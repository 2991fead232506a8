/**
 * The national hub's application: roll-up ingest (`POST /api/v1/rollups`), province enrollment
 * (`POST /api/v1/hub/enroll`), health, metrics, and the hub modules' routers behind the viewer accounts.
 * Agent ingest is not served: `POST /api/v1/reports` and `POST /api/v1/enroll` answer 403
 * COL_ERR_HUB_ROLE, so an agent pointed at the hub by mistake stops and alerts (its auth pause) instead of
 * retrying for ever, and its operator reads why.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import { HUB_ENROLL_PATH, ROLLUPS_PATH } from '../../protocol/rollup.js';
import type { ReadTokenVerifier } from '../auth/scope-tokens.js';
import { whoAmI } from '../auth/scope.js';
import { requireViewer, type ViewerVerifier } from '../auth/viewers.js';
import type { CollectorConfig } from '../config.js';
import { errorAnswer, sendError } from '../http/errors.js';
import { smallJsonHandler } from '../http/small-json.js';
import type { Health } from '../http/health.js';
import type { IngestRequest, IngestResponse } from '../http/ingest.js';
import { DedupeStore } from '../ingest/dedupe.js';
import { metricsHandler } from '../metrics/module.js';
import type { CollectorModule } from '../module.js';
import type { Sink } from '../sink/sink.js';
import type { StateDb } from '../state/db.js';
import { ProvinceCredentials } from './credentials.js';
import { createHubEnrollment, type HubReply } from './enroll.js';
import { feedsRouter } from './feeds.js';
import { createRollupIngest } from './ingest.js';
import { buildHubModules, type HubModuleContext } from './modules.js';
import { HubRollupStore } from './store.js';
import { DEFAULT_ROLLUP_INTERVAL_MS } from './config.js';

/** Largest enrollment body, bytes. */
const MAX_ENROLL_BODY = 4096;

export interface HubOptions {
  config: Readonly<CollectorConfig>;
  state: StateDb;
  stateDir: string;
  sink: Sink;
  influx: InfluxDB;
  log: Logger;
  now: () => number;
  viewers?: ViewerVerifier;
  readTokens?: ReadTokenVerifier;
  health?: Health;
  /** Modules over buildHubModules() (tests). */
  modules?: (ctx: HubModuleContext) => CollectorModule[];
}

/** A built hub: its express app, the HTTP/2 answer for agent reports, its parts, start and stop. */
export interface Hub {
  app: express.Express;
  /** What HTTP/2 streams to POST /api/v1/reports get: 403 COL_ERR_HUB_ROLE. */
  agentIngest: (req: IngestRequest, res: IngestResponse) => void;
  store: HubRollupStore;
  credentials: ProvinceCredentials;
  modules: readonly CollectorModule[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

const hubRole = (what: string): HubReply => errorAnswer('COL_ERR_HUB_ROLE', `this collector is a national hub (role: national): it takes provinces' roll-ups, not ${what}; point the agent at its provincial collector`);

/** Builds the hub (nothing listens yet; the caller starts the listener after `start()`). */
export function createHub(opts: HubOptions): Hub {
  const log = opts.log.child({ module: 'hub' });
  const problems: string[] = [];
  const store = HubRollupStore.open({ state: opts.state, problems, onListenerError: (e) => log.error({ err: String(e) }, 'a roll-up listener failed') });
  for (const p of problems) log.error({ problem: p }, 'damaged roll-up row skipped; the province\'s next roll-up replaces it');
  const credentials = new ProvinceCredentials(opts.state);
  const dedupe = new DedupeStore({ state: opts.state });
  // No time-based gap detector (gaps/detector.ts) on roll-ups: their cadence follows the province's changes
  // (10 s to 60 s apart), so its "the agent collected nothing" inference from a longer interval would invent
  // holes. Missing sequences are in the dedupe ledger's ranges; a silent province is stale in the feeds.
  const ingest = createRollupIngest({ credentials, store, dedupe, sink: opts.sink, log, now: opts.now, maxBodyBytes: opts.config.ingest.maxBodyBytes, retryAfterS: opts.config.ingest.retryAfterS });
  const enrollment = createHubEnrollment({ state: opts.state, credentials, retryAfterS: opts.config.ingest.retryAfterS, now: opts.now, log });
  const ctx: HubModuleContext = { config: opts.config, store, staleAfterMs: opts.config.hub?.staleAfterMs ?? 3 * DEFAULT_ROLLUP_INTERVAL_MS, state: opts.state, stateDir: opts.stateDir, sink: opts.sink, influx: opts.influx, log, now: opts.now };
  const modules = (opts.modules ?? buildHubModules)(ctx);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', role: 'national', provinces: store.feeds().length, ...opts.health?.snapshot() });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await opts.sink.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', sink: ok ? 'up' : 'down' });
  });
  app.get('/metrics', metricsHandler());
  app.post(ROLLUPS_PATH, (req, res) => ingest.handler(req, res));
  app.post(HUB_ENROLL_PATH, smallJsonHandler((body) => enrollment.enroll(body), { maxBodyBytes: MAX_ENROLL_BODY, what: 'an enrollment body', log }));
  const refuse = (what: string) => (req: Request, res: Response) => {
    req.resume();
    const r = hubRole(what);
    res.status(r.status).json(r.body);
  };
  app.post('/api/v1/reports', refuse('agent reports'));
  app.post('/api/v1/enroll', refuse('agent enrollment'));
  if (opts.viewers) app.use(requireViewer(opts.viewers, opts.readTokens));
  app.get('/api/v1/me', whoAmI);
  app.use(feedsRouter({ store, now: opts.now, staleAfterMs: ctx.staleAfterMs }));
  for (const m of modules) if (m.router) app.use(m.router);
  app.use((_req: Request, res: Response) => sendError(res, 'COL_ERR_NOT_FOUND', 'no such endpoint'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    log.error({ err }, 'unexpected error');
    sendError(res, 'COL_ERR_INTERNAL', 'internal error');
  });

  const agentIngest = (req: IngestRequest, res: IngestResponse): void => {
    req.resume();
    const r = hubRole('agent reports');
    const text = JSON.stringify(r.body);
    res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  return {
    app,
    agentIngest,
    store,
    credentials,
    modules,
    async start() {
      for (const m of modules) await m.start?.();
      const feeds = store.feeds();
      log.info({ provinces: feeds.length, credentials: credentials.list().length }, 'national hub: roll-up store loaded');
    },
    async stop() {
      for (const m of [...modules].reverse()) await m.stop?.().catch((e: unknown) => log.error({ module: m.name, err: String(e) }, 'module stop failed'));
    },
  };
}

