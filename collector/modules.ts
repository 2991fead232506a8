/** The modules `campuslink-collector serve` runs, in order. */
import { createInventoryModule } from './inventory/index.js';
import { createViewsModule } from './views/index.js';
import type { CollectorModule, ModuleContext } from './module.js';

/** Builds every collector module. */
export function buildModules(ctx: ModuleContext): CollectorModule[] {
  return [createInventoryModule(ctx), createViewsModule(ctx, { liveRegistry: ctx.liveRegistry })];
}
