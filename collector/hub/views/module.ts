/**
 * The national hub's read side, a collector module for role `national`: coverage, compliance and
 * regions APIs in a province's shapes (from the roll-up store), history from the `rollup`
 * measurement, the provinces' feeds with their staleness, national alerts, and the national console.
 * Never per-school data: school lists are links to the province consoles. See docs/views.md
 * ("National hub") and docs/deployment.md ("National deployment").
 */
import { Router } from 'express';
import type { CollectorModule, ModuleContext } from '../../module.js';
import type { RollupStore } from '../store.js';
import { HubAlerts } from './alerts.js';
import { hubApiRouter } from './api.js';
import { hubCoverageRouter } from './coverage.js';
import { hubViewsSettings, type HubViewsSettings } from './settings.js';
import { hubStaticRouter } from './static.js';

export interface HubViewsModuleOptions {
  store: RollupStore;
  /** Settings over the config's `hub:` section (tests). */
  settings?: Partial<HubViewsSettings>;
  /** Base URL of this hub's console for alert links; default `http://<listen>`. */
  consoleBase?: string;
}

export interface HubViewsModule extends CollectorModule {
  readonly settings: HubViewsSettings;
  readonly alerts: HubAlerts;
}

/** Builds the module; `start()` starts the alert timer, `stop()` ends it. */
export function createHubViewsModule(ctx: ModuleContext, opts: HubViewsModuleOptions): HubViewsModule {
  const log = ctx.log.child({ module: 'hub-views' });
  const settings = hubViewsSettings((ctx.config as { hub?: unknown } | undefined)?.hub, opts.settings);
  const listen = (ctx.config as { listen?: string } | undefined)?.listen ?? '127.0.0.1:8470';
  const alerts = new HubAlerts({ store: opts.store, settings: settings.alerts, staleAfterMs: settings.staleAfterMs, consoleBase: opts.consoleBase ?? `http://${listen}`, now: ctx.now, log });
  const router = Router();
  router.use(hubCoverageRouter({ store: opts.store, now: ctx.now, staleAfterMs: settings.staleAfterMs }));
  router.use(hubApiRouter({ store: opts.store, influx: ctx.influx, alerts, now: ctx.now, staleAfterMs: settings.staleAfterMs, queryTimeoutMs: settings.queryTimeoutMs, log }));
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
      unsubscribe = opts.store.onChange(() => evaluate());
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
