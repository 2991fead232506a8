/**
 * A collector module: a feature (views, inventory, …) that plugs into the collector through routes and
 * a hook on accepted reports, without touching ingest. `collector/modules.ts` lists the modules
 * `serve` runs; tests pass their own list to `createApp()`.
 */
import type { Router } from 'express';
import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import type { Report } from '../protocol/index.js';
import type { CollectorConfig } from './config.js';
import type { LiveRegistry, Registry } from './registry/index.js';
import type { Sink } from './sink/sink.js';
import type { StateDb } from './state/db.js';

/** A batch the collector has written and confirmed, handed to modules after the answer is decided. */
export interface AcceptedBatch {
  school: string;
  reports: readonly Report[];
  /** When the collector received the batch, ms since the epoch. */
  receivedAtMs: number;
}

export interface CollectorModule {
  readonly name: string;
  /** Mounted at the root, before the 404 handler. */
  readonly router?: Router;
  /**
   * Called once per accepted batch, after InfluxDB confirmed it. Must not throw for bad data; an error is
   * logged and never changes the agent's answer.
   */
  onAccepted?(batch: AcceptedBatch): void | Promise<void>;
  /** Called before the server listens (load state, start timers). */
  start?(): Promise<void>;
  /** Called on shutdown (persist state, stop timers). */
  stop?(): Promise<void>;
}

/** What a module factory gets from the collector. */
export interface ModuleContext {
  config: Readonly<CollectorConfig>;
  /** The registry as loaded at start. */
  registry: Registry;
  /** The registry that follows changes of the CSV file; prefer it for lookups. */
  liveRegistry: LiveRegistry;
  /** Absolute state directory of the collector. */
  stateDir: string;
  /**
   * The collector's state database (`<stateDir>/state.db`), opened once by the server before any
   * module is built and closed after every module stopped. A module keeps its own tables, created by
   * `state.migrate('<module>', …)`, and writes through `state.commit()` (group commit).
   */
  state: StateDb;
  /** Writes points (the same sink ingest uses). */
  sink: Sink;
  /** Reads from InfluxDB (InfluxQL) on the collector's database. */
  influx: InfluxDB;
  log: Logger;
  now: () => number;
}
