/** The modules `campuslink-collector serve` runs, in order. */
import { createAlertsModule } from './alerts/module.js';
import { createConsoleModule } from './console/module.js';
import { createInventoryModule } from './inventory/index.js';
import { createMetricsModule } from './metrics/module.js';
import { createViewsModule } from './views/index.js';
import type { CollectorModule, ModuleContext } from './module.js';

/** Builds every collector module. */
export function buildModules(ctx: ModuleContext): CollectorModule[] {
  const views = createViewsModule(ctx, { liveRegistry: ctx.liveRegistry });
  return [views, createInventoryModule(ctx), createConsoleModule(ctx, { views }), createAlertsModule(ctx, { views }), createMetricsModule(ctx)];
}
