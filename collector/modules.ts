/** The modules `campuslink-collector serve` runs, in order. */
import { createAlertBoardModule } from './alerts/board.js';
import { createAdminModule } from './auth/scope-admin.js';
import { createMaintenanceModule } from './alerts/maintenance.js';
import { createAlertsModule, type AlertsModule } from './alerts/module.js';
import { createConsoleModule } from './console/module.js';
import { createInventoryModule } from './inventory/index.js';
import { createMetricsModule } from './metrics/module.js';
import { createViewsModule } from './views/index.js';
import type { CollectorModule, ModuleContext } from './module.js';

/** Builds every collector module. */
export function buildModules(ctx: ModuleContext): CollectorModule[] {
  const views = createViewsModule(ctx, { liveRegistry: ctx.liveRegistry });
  // Maintenance windows silence the engine; the alerts page's board keeps acknowledgements and what resolved.
  const maintenance = createMaintenanceModule(ctx);
  const board = createAlertBoardModule(ctx, { active: () => alerts.engine.active });
  const alerts: AlertsModule = createAlertsModule(ctx, { views, maintenance, journal: board });
  return [views, createInventoryModule(ctx), createConsoleModule(ctx, { views }), maintenance, board, alerts, createAdminModule(ctx), createMetricsModule(ctx)];
}
