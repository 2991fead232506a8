/**
 * The national hub's read side, a collector module for role `national`: coverage, compliance and
 * regions APIs in a province's shapes (from the roll-up store), history from the `rollup`
 * measurement, the provinces' feeds with their staleness, national alerts, and the national console.
 * Never per-school data: school lists are links to the province consoles. See docs/views.md
 * ("National hub") and docs/deployment.md ("National deployment").
 */
import { Router } from 'express';
import type { CollectorModule } from '../../module.js';
import type { HubModuleContext } from '../modules.js';
import type { RollupStore } from '../store.js';
import { HubAlerts } from './alerts.js';
import { hubApiRouter } from './api.js';
import { hubCoverageRouter } from './coverage.js';
import { hubViewsSettings, type HubViewsSettings } from './settings.js';
import { hubStaticRouter } from './static.js';

/** What the module reads of the hub: its config, the store, InfluxDB, the clock. */
export type HubViewsContext = Pick<HubModuleContext, 'influx' | 'log' | 'now'> & { config: unknown; store: RollupStore; staleAfterMs?: number };

export interface HubViewsModuleOptions {
  /** Settings over the config (tests). */
  settings?: Partial<HubViewsSettings>;
  /** Base URL of this hub's console for alert links; default `http://<listen>`. */
  consoleBase?: string;
}

export interface HubViewsModule extends CollectorModule {
  readonly settings: HubViewsSettings;
  readonly alerts: HubAlerts;
}

/** Builds the module; `start()` starts the alert timer, `stop()` ends it. */
export function createHubViewsModule(ctx: HubViewsContext, opts: HubViewsModuleOptions = {}): HubViewsModule {
  const log = ctx.log.child({ module: 'hub-views' });
  const config = (ctx.config ?? {}) as { hub?: Record<string, unknown>; listen?: string; alerts?: { consoleUrl?: string; alertmanager?: { urls?: string[] } } };
  const settings = hubViewsSettings(config.hub, {
    ...(ctx.staleAfterMs !== undefined && { staleAfterMs: ctx.staleAfterMs }),
    // National alerts go to the Alertmanagers of the config's `alerts:` section, as a province's do.
    ...(config.alerts?.alertmanager?.urls?.length && { alerts: { ...hubViewsSettings(config.hub).alerts, alertmanagerUrls: config.alerts.alertmanager.urls } }),
    ...opts.settings,
  });
  const consoleBase = opts.consoleBase ?? (config.alerts?.consoleUrl || `http://${config.listen ?? '127.0.0.1:8470'}`);
  const store = ctx.store;
  const alerts = new HubAlerts({ store, settings: settings.alerts, staleAfterMs: settings.staleAfterMs, consoleBase, now: ctx.now, log });
  const router = Router();
  router.use(hubCoverageRouter({ store, now: ctx.now, staleAfterMs: settings.staleAfterMs }));
  router.use(hubApiRouter({ store, influx: ctx.influx, alerts, now: ctx.now, staleAfterMs: settings.staleAfterMs, queryTimeoutMs: settings.queryTimeoutMs, log }));
  router.use(hubStaticRouter());
  let timer: NodeJS.Timeout | undefined;
  let resendTimer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let running: Promise<unknown> | undefined;
  const evaluate = (): void => {
    // One evaluation at a time; a roll-up arriving meanwhile is seen by the next timer tick.
    if (running) return;
    running = alerts.evaluate().catch((e: unknown) => log.error({ err: String(e) }, 'national alert evaluation failed')).finally(() => (running = undefined));
  };
  return {
    name: 'hub-views',
    router,
    settings,
    alerts,
    async start() {
      evaluate();
      unsubscribe = store.onChange(() => evaluate());
      timer = setInterval(evaluate, settings.alerts.evaluateIntervalMs);
      resendTimer = setInterval(() => void alerts.resend(), 60_000);
      timer.unref();
      resendTimer.unref();
    },
    async stop() {
      clearInterval(timer);
      clearInterval(resendTimer);
      unsubscribe?.();
      await running;
    },
  };
}
