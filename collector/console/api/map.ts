/**
 * Map points of a region, thinned on the server: up to `maxPoints` schools are sent one by one; beyond
 * that the box is cut into a grid and each cell is sent as one cluster with its counts per status, so
 * the answer stays small at 250,000 schools.
 */
import type { Registry } from '../../registry/index.js';
import type { CoverageModel, SchoolStatus } from '../../views/coverage/model.js';
import { schoolsUnder } from './scope.js';

/** [minLon, minLat, maxLon, maxLat], degrees. */
export type BBox = [number, number, number, number];

export interface MapQuery {
  region: string;
  bbox?: BBox;
  maxPoints: number;
}

export interface MapAnswer {
  region: string;
  /** The box of every school of the region (the initial view). */
  bounds: BBox | null;
  total: number;
  /** `points` (one per school) or `clusters` (grid cells). */
  mode: 'points' | 'clusters';
  /** [id, name, lon, lat, status, linkType]. */
  points: [string, string, number, number, SchoolStatus, string][];
  /** [lon, lat, count, online, offline, never_seen]: the cell's mean position and counts. */
  clusters: [number, number, number, number, number, number][];
  cellDeg: number | null;
}

const STATUS_SLOT: Record<SchoolStatus, number> = { online: 0, offline: 1, never_seen: 2 };

export function mapAnswer(reg: Registry, model: CoverageModel, q: MapQuery, nowMs: number): MapAnswer {
  let bounds: BBox | null = null;
  const inBox: { id: string; name: string; lon: number; lat: number; status: SchoolStatus; link: string }[] = [];
  let total = 0;
  // Kept as rows only while under the limit; past it, only the box and the cells are needed.
  const [x0, y0, x1, y1] = q.bbox ?? [-180, -90, 180, 90];
  for (const s of schoolsUnder(reg, q.region)) {
    bounds = bounds ? [Math.min(bounds[0], s.lon), Math.min(bounds[1], s.lat), Math.max(bounds[2], s.lon), Math.max(bounds[3], s.lat)] : [s.lon, s.lat, s.lon, s.lat];
    if (s.lon < x0 || s.lon > x1 || s.lat < y0 || s.lat > y1) continue;
    total++;
    inBox.push({ id: s.id, name: s.name, lon: s.lon, lat: s.lat, status: model.school(s.id, nowMs)?.status ?? 'never_seen', link: s.linkType });
  }
  if (total <= q.maxPoints) {
    return { region: q.region, bounds, total, mode: 'points', points: inBox.map((p) => [p.id, p.name, p.lon, p.lat, p.status, p.link]), clusters: [], cellDeg: null };
  }
  const box = q.bbox ?? bounds ?? [73, 3, 136, 54];
  // About maxPoints/4 cells over the box: clusters leave room between them on the canvas.
  const span = Math.max(box[2] - box[0], box[3] - box[1], 1e-6);
  const perSide = Math.max(4, Math.floor(Math.sqrt(q.maxPoints / 4)));
  const cell = span / perSide;
  const cells = new Map<string, [number, number, number, number, number, number]>();
  for (const p of inBox) {
    const key = `${Math.floor((p.lon - box[0]) / cell)}:${Math.floor((p.lat - box[1]) / cell)}`;
    let c = cells.get(key);
    if (!c) cells.set(key, (c = [0, 0, 0, 0, 0, 0]));
    c[0] += p.lon;
    c[1] += p.lat;
    c[2]++;
    const slot = 3 + STATUS_SLOT[p.status];
    c[slot] = (c[slot] as number) + 1;
  }
  const clusters = [...cells.values()].map(([lon, lat, n, a, b, d]) => [lon / n, lat / n, n, a, b, d] as [number, number, number, number, number, number]);
  return { region: q.region, bounds, total, mode: 'clusters', points: [], clusters, cellDeg: cell };
}
