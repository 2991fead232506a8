/**
 * The national hub's latest roll-up per region: for each province, the regions of the newest roll-up
 * (by as-of time) it delivered, plus its feed (collector, as-of, receive time, console, last sequence).
 * Persisted in the `hub_provinces` table of the state database, one row per province (its regions as one
 * JSON text: one upsert per roll-up, 32 rows to read at start), and kept in memory for reads.
 *
 * A roll-up holds every region of its province, so applying one replaces that province's set: a county
 * the province no longer has disappears with the next roll-up. Regions are keyed by their 6-digit
 * division code; `children('')` are the provinces (`NN0000`), `children('NN0000')` its cities and the
 * counties folded directly under it (no city of theirs in the roll-up), `children('NNNN00')` its counties.
 *
 * Staleness is the reader's to decide (`feeds()[i].receivedAt` against `hub.staleAfterMs`): the store
 * keeps a province's last figures however old, so a silent province is shown stale, never as zero.
 */
import type { Rollup, RegionAggregate, RollupLevel } from '../../protocol/rollup.js';
import type { Migration, Sqlite, StateDb } from '../state/db.js';

/** The latest aggregates of one region, as the hub's views read them. */
export interface RegionRollup {
  region: string;
  level: 'province' | 'city' | 'county';
  /** 2-digit province code. */
  province: string;
  name?: string;
  /** As-of time of the roll-up these figures came from, ms. */
  asOf: number;
  /** When the hub received that roll-up, ms. */
  receivedAt: number;
  registered: number;
  online: number;
  offline: number;
  neverSeen: number;
  schoolHoursOnlinePct: number | null;
  schoolHoursUnknownReason?: string;
  /** The hours behind the rate (sum these to combine regions): online school hours and school hours over `days`. */
  schoolHours?: { days: number; onlineHours: number; schoolHours: number };
  tiers: Record<string, { measured: number; contracted: number }>;
  tierUnknown: number;
  links: Record<string, number>;
  compliance: Record<string, { pass: number; fail: number; unknown: number }>;
  alertsFiring: Record<string, number>;
}

/** One province's feed: who sends it, and how current it is. */
export interface ProvinceFeed {
  province: string;
  collector: string;
  /** As-of time of the newest roll-up received, ms. */
  asOf: number;
  /** When the hub last received a roll-up of this province, ms. */
  receivedAt: number;
  consoleUrl: string;
  lastSeq: number;
}

/** The read side of the store (the hub's views build on it). */
export interface RollupStore {
  latest(region: string): RegionRollup | undefined;
  /** Regions directly under `region`, sorted by code; `''` = the provinces. */
  children(region: string): RegionRollup[];
  /** Every province that ever delivered, sorted by province code. */
  feeds(): ProvinceFeed[];
  /** Called with the province code after a roll-up of that province changed the store; returns an unsubscribe. */
  onChange(listener: (province: string) => void): () => void;
}

/** What applying one roll-up did. */
export interface ApplyResult {
  /** False when the store already held figures at least as new (the feed's receive time still moved). */
  replaced: boolean;
}

/** Schema of the `hub.store` module. */
export const HUB_STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'latest roll-up per province (regions as JSON) and its feed',
    up: 'CREATE TABLE hub_provinces (province TEXT PRIMARY KEY, collector TEXT NOT NULL, epoch TEXT NOT NULL, last_seq INTEGER NOT NULL, as_of_ms INTEGER NOT NULL, received_at_ms INTEGER NOT NULL, console_url TEXT NOT NULL, regions TEXT NOT NULL) WITHOUT ROWID',
  },
];

interface ProvinceEntry {
  feed: ProvinceFeed;
  epoch: string;
  regions: Map<string, RegionRollup>;
  /** Parent code ('' for the province itself) → children sorted by code. */
  children: Map<string, RegionRollup[]>;
}

interface Row {
  province: string;
  collector: string;
  epoch: string;
  last_seq: number;
  as_of_ms: number;
  received_at_ms: number;
  console_url: string;
  regions: string;
}

/**
 * The parent of a region within its province's set: a county's city when the set holds it (and it is not
 * the county itself, as for 东莞 441900), else the province; a city's province; a province's ''.
 */
export function parentOf(code: string, level: RollupLevel, has: (code: string) => boolean): string {
  if (level === 'province') return '';
  const province = `${code.slice(0, 2)}0000`;
  if (level === 'city') return province;
  const city = `${code.slice(0, 4)}00`;
  return city !== code && has(city) ? city : province;
}

function toRegion(g: RegionAggregate, province: string, asOf: number, receivedAt: number): RegionRollup {
  const r: RegionRollup = {
    region: g.region,
    level: g.level,
    province,
    asOf,
    receivedAt,
    registered: g.registered,
    online: g.online,
    offline: g.offline,
    neverSeen: g.neverSeen,
    schoolHoursOnlinePct: g.schoolHoursOnlinePct,
    tiers: g.tiers,
    tierUnknown: g.tierUnknown,
    links: g.links,
    compliance: g.compliance,
    alertsFiring: g.alertsFiring,
  };
  if (g.name !== undefined) r.name = g.name;
  if (g.schoolHoursUnknownReason !== undefined) r.schoolHoursUnknownReason = g.schoolHoursUnknownReason;
  if (g.schoolHours !== undefined) r.schoolHours = g.schoolHours;
  return r;
}

function buildEntry(feed: ProvinceFeed, epoch: string, aggregates: readonly RegionAggregate[]): ProvinceEntry {
  const regions = new Map<string, RegionRollup>();
  for (const g of aggregates) regions.set(g.region, toRegion(g, feed.province, feed.asOf, feed.receivedAt));
  const children = new Map<string, RegionRollup[]>();
  for (const r of regions.values()) {
    const p = parentOf(r.region, r.level, (c) => regions.get(c)?.level === 'city');
    let list = children.get(p);
    if (!list) children.set(p, (list = []));
    list.push(r);
  }
  for (const list of children.values()) list.sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0));
  return { feed, epoch, regions, children };
}

/** Aggregates as persisted: the wire objects without province-level repetition. */
function regionsJson(rollup: Rollup): string {
  return JSON.stringify(rollup.regions);
}

/** The roll-up store of a national hub, backed by the state database. */
export class HubRollupStore implements RollupStore {
  private readonly provinces = new Map<string, ProvinceEntry>();
  private readonly listeners = new Set<(province: string) => void>();

  private constructor(
    private readonly state: StateDb,
    private readonly onListenerError: (e: unknown) => void,
  ) {}

  /**
   * Creates the table if needed and loads every province's row. A damaged row is skipped and named in
   * `problems` (the province's next roll-up replaces it).
   */
  static open(opts: { state: StateDb; problems?: string[]; onListenerError?: (e: unknown) => void }): HubRollupStore {
    opts.state.migrate('hub.store', HUB_STORE_MIGRATIONS);
    const store = new HubRollupStore(opts.state, opts.onListenerError ?? (() => undefined));
    store.load(opts.state.db, opts.problems ?? []);
    return store;
  }

  private load(db: Sqlite, problems: string[]): void {
    for (const row of db.prepare('SELECT * FROM hub_provinces').iterate() as IterableIterator<Row>) {
      try {
        const aggregates = JSON.parse(row.regions) as RegionAggregate[];
        if (!Array.isArray(aggregates) || aggregates.some((g) => typeof g?.region !== 'string' || typeof g.registered !== 'number')) throw new Error('regions is not a list of region aggregates');
        const feed: ProvinceFeed = { province: row.province, collector: row.collector, asOf: row.as_of_ms, receivedAt: row.received_at_ms, consoleUrl: row.console_url, lastSeq: row.last_seq };
        this.provinces.set(row.province, buildEntry(feed, row.epoch, aggregates));
      } catch (e) {
        problems.push(`hub_provinces ${row.province}: ${(e as Error).message.slice(0, 200)}`);
      }
    }
  }

  latest(region: string): RegionRollup | undefined {
    return this.provinces.get(region.slice(0, 2))?.regions.get(region);
  }

  children(region: string): RegionRollup[] {
    if (region === '') {
      const out: RegionRollup[] = [];
      for (const code of [...this.provinces.keys()].sort()) {
        const p = this.provinces.get(code)?.regions.get(`${code}0000`);
        if (p) out.push(p);
      }
      return out;
    }
    return [...(this.provinces.get(region.slice(0, 2))?.children.get(region) ?? [])];
  }

  feeds(): ProvinceFeed[] {
    return [...this.provinces.keys()].sort().map((k) => ({ ...(this.provinces.get(k) as ProvinceEntry).feed }));
  }

  onChange(listener: (province: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Applies a validated roll-up received at `receivedAt`: durable once the promise resolves (group commit),
   * then visible to reads and announced to listeners. A roll-up older (by as-of) than the one held only
   * moves the feed's receive time and sequence: the province is alive, its newest figures stay.
   */
  async apply(rollup: Rollup, receivedAt: number): Promise<ApplyResult> {
    const held = this.provinces.get(rollup.province);
    const replaced = !held || rollup.asOf >= held.feed.asOf;
    const lastSeq = held && held.epoch === rollup.epoch ? Math.max(held.feed.lastSeq, rollup.seq) : rollup.seq;
    if (replaced) {
      const json = regionsJson(rollup);
      await this.state.commit((db) =>
        db
          .prepare(
            'INSERT INTO hub_provinces (province, collector, epoch, last_seq, as_of_ms, received_at_ms, console_url, regions) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (province) DO UPDATE SET collector = excluded.collector, epoch = excluded.epoch, last_seq = excluded.last_seq, as_of_ms = excluded.as_of_ms, received_at_ms = excluded.received_at_ms, console_url = excluded.console_url, regions = excluded.regions WHERE excluded.as_of_ms >= hub_provinces.as_of_ms',
          )
          .run(rollup.province, rollup.collector, rollup.epoch, lastSeq, rollup.asOf, receivedAt, rollup.consoleUrl, json),
      );
      // Another apply of this province may have committed meanwhile (one batch's roll-ups commit together):
      // the newer as-of wins, in the row (the upsert's WHERE) as in memory.
      const now = this.provinces.get(rollup.province);
      if (!now || rollup.asOf >= now.feed.asOf) {
        const feed: ProvinceFeed = { province: rollup.province, collector: rollup.collector, asOf: rollup.asOf, receivedAt, consoleUrl: rollup.consoleUrl, lastSeq };
        this.provinces.set(rollup.province, buildEntry(feed, rollup.epoch, rollup.regions));
      }
    } else {
      await this.state.commit((db) => db.prepare('UPDATE hub_provinces SET received_at_ms = max(received_at_ms, ?), last_seq = CASE WHEN epoch = ? THEN max(last_seq, ?) ELSE last_seq END WHERE province = ?').run(receivedAt, rollup.epoch, rollup.seq, rollup.province));
      const now = this.provinces.get(rollup.province);
      if (now) {
        now.feed.receivedAt = Math.max(now.feed.receivedAt, receivedAt);
        if (now.epoch === rollup.epoch) now.feed.lastSeq = Math.max(now.feed.lastSeq, rollup.seq);
      }
    }
    this.announce(rollup.province);
    return { replaced };
  }

  private announce(province: string): void {
    for (const l of [...this.listeners]) {
      try {
        l(province);
      } catch (e) {
        this.onListenerError(e);
      }
    }
  }
}
