/** The modules `campuslink-collector serve` runs, in order. */
import type { CollectorModule, ModuleContext } from './module.js';

/** Builds every collector module. */
export function buildModules(_ctx: ModuleContext): CollectorModule[] {
  return [];
}
