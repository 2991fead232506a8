/**
 * The inventory collector module: keeps the latest device list of every school from the `devices`
 * events of accepted reports, and serves it at `GET /api/v1/schools/:id/devices` (optionally
 * `?class=ap`). The endpoint has no authentication yet.
 *
 * Lists live in the state database; a school's list is read (one indexed query) when a batch or a
 * request needs it and kept in a bounded cache of recently used schools, so start reads nothing and
 * memory does not grow with the number of schools.
 */
import { Router } from 'express';
import { DEVICE_CLASSES, type DeviceClass } from '../../protocol/index.js';
import { sendError } from '../http/errors.js';
import { skewShiftMs } from '../ingest/points.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import { WriteFailureLog } from '../state/failures.js';
import { applyEvents, correctedEvents, listDevices, loadSchool, migrateInventory, putAgentDevices, updatedAt, type SchoolDevices } from './store.js';

/** What the module needs of the collector (a `ModuleContext` will do). */
export type InventoryModuleContext = Pick<ModuleContext, 'state' | 'log' | 'now'> & Partial<Pick<ModuleContext, 'config'>> & { registry: { get(id: string): unknown } };

export interface InventoryModuleOptions {
  /** Schools whose lists are kept in memory (most recently used). Default 2000. */
  maxCachedSchools?: number;
}

/** The module plus a read of one school's list (for other modules and tests). */
export interface InventoryModule extends CollectorModule {
  /** The school's merged list, or undefined when nothing was received for it. */
  devices(school: string): ReturnType<typeof listDevices> | undefined;
}

/** Creates the module; lists are read from the state database per school when first needed. */
export function createInventoryModule(ctx: InventoryModuleContext, opts: InventoryModuleOptions = {}): InventoryModule {
  const log = ctx.log.child({ module: 'inventory' });
  migrateInventory(ctx.state);
  const maxCached = opts.maxCachedSchools ?? 2000;
  const maxSkewMs = (ctx.config as { ingest?: { maxClockSkewMs?: number } } | undefined)?.ingest?.maxClockSkewMs;
  const cache = new Map<string, SchoolDevices>();
  /** The school's lists (cached, or read from the table), or undefined when none is stored. */
  const school = (id: string, create = false): SchoolDevices | undefined => {
    let s = cache.get(id) ?? unsaved.get(id);
    if (s) cache.delete(id);
    else {
      const problems: string[] = [];
      s = loadSchool(ctx.state.db, id, problems);
      for (const p of problems) log.error({ problem: p }, 'stored device list unreadable; skipped');
      if (!s && !create) return undefined;
      s ??= { school: id, agents: new Map() };
    }
    cache.set(id, s);
    if (cache.size > maxCached) cache.delete(cache.keys().next().value as string);
    return s;
  };
  const failures = new WriteFailureLog({ log, what: 'device list', now: ctx.now });
  // Agents whose list changed and is not written yet, by school: a failed write keeps them for the next
  // change, and the school's lists stay in memory (out of the cache's reach) until written.
  const dirty = new Map<string, Set<string>>();
  const unsaved = new Map<string, SchoolDevices>();
  const writes = new Set<Promise<void>>();
  const persist = (s: SchoolDevices, agents: Iterable<string>): Promise<void> => {
    let marked = dirty.get(s.school);
    if (!marked) dirty.set(s.school, (marked = new Set()));
    for (const a of agents) marked.add(a);
    unsaved.set(s.school, s);
    let taken: string[] = [];
    const write = ctx.state
      .commit((db) => {
        taken = [...(dirty.get(s.school) ?? [])];
        dirty.delete(s.school);
        putAgentDevices(db, s, taken);
        unsaved.delete(s.school);
      })
      .then(
        () => failures.succeeded(),
        (e: unknown) => {
          let again = dirty.get(s.school);
          if (!again) dirty.set(s.school, (again = new Set()));
          for (const a of taken) again.add(a);
          unsaved.set(s.school, s);
          failures.failed(e);
        },
      )
      .finally(() => writes.delete(write));
    writes.add(write);
    return write;
  };

  const router = Router();
  router.get('/api/v1/schools/:id/devices', (req, res) => {
    const id = req.params.id;
    if (!/^\d{10}$/.test(id) || !ctx.registry.get(id)) return sendError(res, 'COL_ERR_NOT_FOUND', `no registered school ${id}`);
    const cls = req.query.class;
    if (cls !== undefined && (typeof cls !== 'string' || !(DEVICE_CLASSES as readonly string[]).includes(cls))) {
      sendError(res, 'COL_ERR_INVALID_QUERY', `class must be one of ${DEVICE_CLASSES.join(', ')}`, [{ path: 'class', message: `must be one of ${DEVICE_CLASSES.join(', ')}` }]);
      return;
    }
    const s = school(id);
    const all = s ? listDevices(s) : [];
    const devices = cls === undefined ? all : all.filter((d) => d.class === (cls as DeviceClass));
    res.json({ school: id, updatedAt: (s && updatedAt(s)) ?? null, count: devices.length, devices });
  });

  return {
    name: 'inventory',
    router,
    devices(id) {
      const s = school(id);
      return s ? listDevices(s) : undefined;
    },
    async onAccepted(batch) {
      const reports = [...batch.reports].filter((r) => r.devices).sort((a, b) => a.seq - b.seq);
      if (!reports.length) return;
      const s = school(batch.school, true) as SchoolDevices;
      const changed = new Set<string>();
      for (const r of reports) {
        if (applyEvents(s, r.agent, r.seq, correctedEvents(r, skewShiftMs(r, batch.receivedAtMs, maxSkewMs)), batch.receivedAtMs)) changed.add(r.agent);
        else log.debug({ school: batch.school, agent: r.agent, seq: r.seq }, 'stale device events skipped');
      }
      if (changed.size) await persist(s, changed);
    },
    async stop() {
      await Promise.all(writes);
      // Retry once what a failed write left (the state database is closed after every module stopped).
      for (const s of [...unsaved.values()]) await persist(s, []);
    },
  };
}
