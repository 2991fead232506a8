/**
 * A hub's read side for tests: a real roll-up store (state database in a temp dir), a real influxd
 * with `rollup` points, and the hub views module on a loopback port, with an injected clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { feedsRouter } from '../../../../collector/hub/feeds.js';
import { HubRollupStore } from '../../../../collector/hub/store.js';
import { createHubViewsModule, type HubViewsModule } from '../../../../collector/hub/views/module.js';
import type { HubViewsSettings } from '../../../../collector/hub/views/settings.js';
import { openStateDb, type StateDb } from '../../../../collector/state/db.js';
import { rollupLines } from '../../../../collector/hub/points.js';
import type { Rollup } from '../../../../protocol/rollup.js';
import { startTestInfluxd, type TestInfluxd } from '../../../helpers/influxd.js';

export interface TestHub {
  url: string;
  store: HubRollupStore;
  module: HubViewsModule;
  influx: TestInfluxd;
  clock: { now: number };
  /** Applies a roll-up to the store (received at `receivedAt`) and writes its `rollup` points (the hub ingest's lines). */
  deliver(r: Rollup, receivedAt: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestHub(opts: { nowMs: number; settings?: Partial<HubViewsSettings> }): Promise<TestHub> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-views-'));
  const influx = await startTestInfluxd();
  await influx.query('CREATE DATABASE campuslink');
  const state: StateDb = openStateDb({ stateDir: dir, checkpointIntervalMs: 0 });
  const store = HubRollupStore.open({ state });
  const clock = { now: opts.nowMs };
  const log = pino({ level: 'silent' });
  const module = createHubViewsModule({ config: { listen: '127.0.0.1:0' }, store, influx: influx.client, log, now: () => clock.now }, { ...(opts.settings && { settings: opts.settings }), consoleBase: 'http://hub.test' });
  await module.start?.();
  const app = express();
  // As the hub mounts them (collector/hub/server.ts): its feeds, then the read side.
  app.use(feedsRouter({ store, now: () => clock.now, staleAfterMs: module.settings.staleAfterMs }));
  app.use(module.router!);
  const server: Server = await new Promise((res) => {
    const s = app.listen(0, '127.0.0.1', () => res(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, store, module, influx, clock,
    async deliver(r, receivedAt) {
      await store.apply(r, receivedAt);
      const res = await fetch(`${influx.url}/write?db=campuslink&precision=ms`, { method: 'POST', body: rollupLines(r).join('\n') });
      if (!res.ok) throw new Error(`influx write ${res.status}: ${await res.text()}`);
    },
    async close() {
      await new Promise((r) => server.close(() => r(undefined)));
      await module.stop?.();
      await state.close();
      await influx.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
