/**
 * The modules a national hub runs beside roll-up ingest: its read side (coverage, compliance and history
 * APIs, console, map, alerting at national level) builds on the roll-up store. Each is a CollectorModule
 * (router, start, stop); roll-ups reach them through `store.onChange`.
 */
import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import type { CollectorConfig } from '../config.js';
import type { CollectorModule } from '../module.js';
import type { Sink } from '../sink/sink.js';
import type { StateDb } from '../state/db.js';
import type { HubRollupStore } from './store.js';
import { createHubViewsModule } from './views/module.js';

/** What a hub module factory gets. */
export interface HubModuleContext {
  config: Readonly<CollectorConfig>;
  /** The latest roll-up per region and each province's feed. */
  store: HubRollupStore;
  /** A province is stale when its feed's receivedAt is older than this, ms (`hub.staleAfterMs`). */
  staleAfterMs: number;
  state: StateDb;
  stateDir: string;
  /** Writes points to the hub's InfluxDB. */
  sink: Sink;
  /** InfluxQL reads on the hub's database (the `rollup` measurement). */
  influx: InfluxDB;
  log: Logger;
  now: () => number;
}

/** Builds the hub's modules, in order (the read side appends its own here). */
export function buildHubModules(ctx: HubModuleContext): CollectorModule[] {
  return [createHubViewsModule(ctx)];
}
