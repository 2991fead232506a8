/**
 * `GET /api/v1/hub/feeds` on the national hub: every province that ever delivered, with its collector,
 * console, last sequence, as-of and receive time, whether it is stale, and its province-level counts; and
 * the national sums of those counts with the stale provinces named. A stale province is summed with its
 * last known figures and flagged, never counted as zero online.
 */
import { Router } from 'express';
import type { RollupStore } from './store.js';

/** One province's line of the answer. */
export interface FeedRow {
  province: string;
  name?: string;
  collector: string;
  consoleUrl: string;
  lastSeq: number;
  asOf: string;
  receivedAt: string;
  stale: boolean;
  /** Present when stale: the as-of time its figures are from. */
  staleSince?: string;
  registered: number;
  online: number;
  offline: number;
  neverSeen: number;
}

/** The answer. */
export interface FeedsAnswer {
  asOf: string;
  staleAfterMs: number;
  national: { registered: number; online: number; offline: number; neverSeen: number; provinces: number; staleProvinces: string[] };
  provinces: FeedRow[];
}

/** Builds the answer at `nowMs`. */
export function feedsAnswer(store: RollupStore, nowMs: number, staleAfterMs: number): FeedsAnswer {
  const national = { registered: 0, online: 0, offline: 0, neverSeen: 0, provinces: 0, staleProvinces: [] as string[] };
  const provinces: FeedRow[] = [];
  for (const f of store.feeds()) {
    const p = store.latest(`${f.province}0000`);
    const stale = nowMs - f.receivedAt > staleAfterMs;
    const row: FeedRow = {
      province: f.province,
      ...(p?.name !== undefined && { name: p.name }),
      collector: f.collector,
      consoleUrl: f.consoleUrl,
      lastSeq: f.lastSeq,
      asOf: new Date(f.asOf).toISOString(),
      receivedAt: new Date(f.receivedAt).toISOString(),
      stale,
      ...(stale && { staleSince: new Date(f.asOf).toISOString() }),
      registered: p?.registered ?? 0,
      online: p?.online ?? 0,
      offline: p?.offline ?? 0,
      neverSeen: p?.neverSeen ?? 0,
    };
    provinces.push(row);
    national.provinces++;
    national.registered += row.registered;
    national.online += row.online;
    national.offline += row.offline;
    national.neverSeen += row.neverSeen;
    if (stale) national.staleProvinces.push(f.province);
  }
  return { asOf: new Date(nowMs).toISOString(), staleAfterMs, national, provinces };
}

/** The router of `GET /api/v1/hub/feeds`. */
export function feedsRouter(opts: { store: RollupStore; now: () => number; staleAfterMs: number }): Router {
  const router = Router();
  router.get('/api/v1/hub/feeds', (_req, res) => {
    res.json(feedsAnswer(opts.store, opts.now(), opts.staleAfterMs));
  });
  return router;
}
