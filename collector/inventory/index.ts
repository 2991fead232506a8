/**
 * The inventory collector module: keeps the latest device list of every school from the `devices`
 * events of accepted reports, and serves it at `GET /api/v1/schools/:id/devices` (optionally
 * `?class=ap`). The endpoint has no authentication yet.
 */
import { join } from 'node:path';
import { Router } from 'express';
import { DEVICE_CLASSES, type DeviceClass } from '../../protocol/index.js';
import { sendError } from '../http/errors.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import { applyEvents, listDevices, loadAll, serializeSchool, updatedAt, type SchoolDevices } from './store.js';
import { writeFileDurableAsync } from '../../protocol/durable.js';

/** What the module needs of the collector (a `ModuleContext` will do). */
export type InventoryModuleContext = Pick<ModuleContext, 'stateDir' | 'log' | 'now'> & { registry: { get(id: string): unknown } };

/** The module plus a read of one school's list (for other modules and tests). */
export interface InventoryModule extends CollectorModule {
  /** The school's merged list, or undefined when nothing was received for it. */
  devices(school: string): ReturnType<typeof listDevices> | undefined;
}

/** Creates the module; `start()` loads the saved lists. */
export function createInventoryModule(ctx: InventoryModuleContext): InventoryModule {
  const dir = join(ctx.stateDir, 'inventory');
  const log = ctx.log.child({ module: 'inventory' });
  let schools = new Map<string, SchoolDevices>();
  // One write at a time per school, in order; a failed write is logged and the next change retries.
  const writes = new Map<string, Promise<void>>();
  const persist = (s: SchoolDevices): Promise<void> => {
    const prev = writes.get(s.school) ?? Promise.resolve();
    const next = prev.then(() => writeFileDurableAsync(join(dir, `${s.school}.json`), serializeSchool(s))).catch((e: unknown) => {
      log.error({ school: s.school, err: String(e) }, 'device list not saved');
    });
    writes.set(s.school, next);
    return next;
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
      const loaded = await loadAll(dir);
      for (const p of loaded.problems) log.error({ problem: p }, 'device list file unreadable; left in place and skipped');
      schools = loaded.schools;
      log.info({ schools: schools.size }, 'device lists loaded');
    },
    async onAccepted(batch) {
      const reports = [...batch.reports].filter((r) => r.devices).sort((a, b) => a.seq - b.seq);
      if (!reports.length) return;
      let s = schools.get(batch.school);
      if (!s) schools.set(batch.school, (s = { school: batch.school, agents: new Map() }));
      let changed = false;
      for (const r of reports) {
        if (applyEvents(s, r.agent, r.seq, r.devices as NonNullable<typeof r.devices>, batch.receivedAtMs)) changed = true;
        else log.debug({ school: batch.school, agent: r.agent, seq: r.seq }, 'stale device events skipped');
      }
      if (changed) await persist(s);
    },
    async stop() {
      await Promise.all(writes.values());
    },
  };
}
