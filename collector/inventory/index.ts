/**
 * The inventory collector module: keeps the latest device list of every school from the `devices`
 * events of accepted reports, and serves it at `GET /api/v1/schools/:id/devices` (optionally
 * `?class=ap`). The endpoint has no authentication yet.
 */
import { Router } from 'express';
import { DEVICE_CLASSES, type DeviceClass } from '../../protocol/index.js';
import { sendError } from '../http/errors.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import { WriteFailureLog } from '../state/failures.js';
import { applyEvents, listDevices, loadFromDb, migrateInventory, putAgentDevices, updatedAt, type SchoolDevices } from './store.js';

/** What the module needs of the collector (a `ModuleContext` will do). */
export type InventoryModuleContext = Pick<ModuleContext, 'state' | 'log' | 'now'> & { registry: { get(id: string): unknown } };

/** The module plus a read of one school's list (for other modules and tests). */
export interface InventoryModule extends CollectorModule {
  /** The school's merged list, or undefined when nothing was received for it. */
  devices(school: string): ReturnType<typeof listDevices> | undefined;
}

/** Creates the module; `start()` loads the saved lists. */
export function createInventoryModule(ctx: InventoryModuleContext): InventoryModule {
  const log = ctx.log.child({ module: 'inventory' });
  migrateInventory(ctx.state);
  let schools = new Map<string, SchoolDevices>();
  const failures = new WriteFailureLog({ log, what: 'device list', now: ctx.now });
  // Agents whose list changed and is not written yet, by school: a failed write keeps them for the next change.
  const dirty = new Map<string, Set<string>>();
  const writes = new Set<Promise<void>>();
  const persist = (s: SchoolDevices, agents: Iterable<string>): Promise<void> => {
    let marked = dirty.get(s.school);
    if (!marked) dirty.set(s.school, (marked = new Set()));
    for (const a of agents) marked.add(a);
    let taken: string[] = [];
    const write = ctx.state
      .commit((db) => {
        taken = [...(dirty.get(s.school) ?? [])];
        dirty.delete(s.school);
        putAgentDevices(db, s, taken);
      })
      .then(
        () => failures.succeeded(),
        (e: unknown) => {
          let again = dirty.get(s.school);
          if (!again) dirty.set(s.school, (again = new Set()));
          for (const a of taken) again.add(a);
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
    const s = schools.get(id);
    const all = s ? listDevices(s) : [];
    const devices = cls === undefined ? all : all.filter((d) => d.class === (cls as DeviceClass));
    res.json({ school: id, updatedAt: (s && updatedAt(s)) ?? null, count: devices.length, devices });
  });

  return {
    name: 'inventory',
    router,
    devices(school) {
      const s = schools.get(school);
      return s ? listDevices(s) : undefined;
    },
    async start() {
      const loaded = loadFromDb(ctx.state.db);
      for (const p of loaded.problems) log.error({ problem: p }, 'stored device list unreadable; skipped');
      schools = loaded.schools;
      log.info({ schools: schools.size }, 'device lists loaded');
    },
    async onAccepted(batch) {
      const reports = [...batch.reports].filter((r) => r.devices).sort((a, b) => a.seq - b.seq);
      if (!reports.length) return;
      let s = schools.get(batch.school);
      if (!s) schools.set(batch.school, (s = { school: batch.school, agents: new Map() }));
      const changed = new Set<string>();
      for (const r of reports) {
        if (applyEvents(s, r.agent, r.seq, r.devices as NonNullable<typeof r.devices>, batch.receivedAtMs)) changed.add(r.agent);
        else log.debug({ school: batch.school, agent: r.agent, seq: r.seq }, 'stale device events skipped');
      }
      if (changed.size) await persist(s, changed);
    },
    async stop() {
      await Promise.all(writes);
      // Retry once what a failed write left (the state database is closed after every module stopped).
      for (const school of [...dirty.keys()]) {
        const s = schools.get(school);
        if (s) await persist(s, []);
      }
    },
  };
}
