/** The modules `campuslink-collector serve` runs, in order. */
import { createAlertBoardModule } from './alerts/board.js';
import { createAdminModule } from './auth/scope-admin.js';
import { createMaintenanceModule } from './alerts/maintenance.js';
import { createAlertsModule, type AlertsModule } from './alerts/module.js';
import { createConsoleModule } from './console/module.js';
import { createInventoryModule } from './inventory/index.js';
import { createMetricsModule } from './metrics/module.js';
import { createViewsModule, type ViewsModule } from './views/index.js';
import { createRollupModule } from './rollup/module.js';
import type { RollupSources } from './rollup/build.js';
import type { CollectorModule, ModuleContext } from './module.js';

/** Builds every collector module. */
export function buildModules(ctx: ModuleContext): CollectorModule[] {
  const views = createViewsModule(ctx, { liveRegistry: ctx.liveRegistry });
  // Maintenance windows silence the engine; the alerts page's board keeps acknowledgements and what resolved.
  const maintenance = createMaintenanceModule(ctx);
  const board = createAlertBoardModule(ctx, { active: () => alerts.engine.active });
  const alerts: AlertsModule = createAlertsModule(ctx, { views, maintenance, journal: board });
  const modules = [views, createInventoryModule(ctx), createConsoleModule(ctx, { views }), maintenance, board, alerts, createAdminModule(ctx), createMetricsModule(ctx)];
  // A provincial collector with a hub section rolls its regions up to the national hub.
  const hub = ctx.config.hub;
  if (ctx.config.role === 'provincial' && hub?.url) {
    const base = (hub.consoleUrl ?? alerts.settings.consoleUrl ?? '') || `http://${ctx.config.listen}`;
    modules.push(createRollupModule(ctx, { hub, sources: rollupSources(ctx, views, alerts), consoleUrl: `${base.replace(/\/+$/, '')}/console` }));
  }
  return modules;
}

/** What a roll-up is built from: the views' coverage model, school hours and compliance table, and the firing alerts. */
export function rollupSources(ctx: ModuleContext, views: ViewsModule, alerts: AlertsModule): RollupSources {
  return {
    registry: () => ctx.liveRegistry.current(),
    model: () => views.model(),
    schoolHours: () => views.schoolHours(),
    compliance: (code) => {
      const table = views.live()?.table(views.settings.defaultProfile);
      // Before its first pass the table counts no school: no figures rather than zeros.
      return table && table.schoolCount(code) > 0 ? table.rollup(code) : undefined;
    },
    alerts: () => alerts.engine.active.values(),
  };
}
