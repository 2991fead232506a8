/**
 * The metrics compliance rules can name: which InfluxQL aggregates each needs (one query grouped by
 * school per window piece) and how a school's value is computed from them. Aggregates are sums,
 * counts and maxima so that the pieces of a school-hours window combine exactly.
 */
import type { Measurement } from '../../../protocol/index.js';
import type { School } from '../../registry/schema.js';

export const METRIC_NAMES = [
  'internet_reachable_pct',
  'wan_speed_mbps',
  'bandwidth_mbps',
  'wan_peak_in_mbps',
  'inventory_count',
  'inventory_per_classroom_pct',
  'students_per_device',
  'ipv6_internet_reachable',
  'peer_path',
  'not_measured',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** One aggregate query, run per window piece and combined. */
export interface QuerySpec {
  /** Identifies the query; rules needing the same one share it. */
  key: string;
  measurement: string;
  /** alias → [InfluxQL aggregate, how pieces combine]. */
  select: Record<string, [string, 'sum' | 'max']>;
  /** Extra InfluxQL condition (without time and region). */
  where: string;
  /** A second tag to group by besides school (e.g. `class`). */
  groupBy?: string;
  /**
   * The same query on one accepted measurement, for the incremental evidence: `match` is the WHERE
   * clause (without time and region), `fold` gives each alias's field and InfluxQL aggregate. Must
   * select exactly what `measurement`, `where` and `select` select (test/collector/views/evidence.test.ts
   * compares both on a real influxd).
   */
  match: (m: Measurement) => boolean;
  fold: Record<string, { field: string; agg: 'count' | 'sum' | 'max' }>;
}

/** Combined aggregates: school → group value ('' without groupBy) → alias → number. */
export type QueryData = Map<string, Map<string, Record<string, number>>>;

/** What a metric found for one school. */
export type MetricValue =
  | { kind: 'unknown'; reason: string }
  | { kind: 'number'; value: number | null; note?: string; basis?: 'measured' | 'contracted' }
  | { kind: 'limits'; values: Record<string, number | null> };

export interface MetricDef {
  unit: string;
  /** What the value is, for the evidence. */
  describes: string;
  queries(opts: { class?: string }): QuerySpec[];
  value(opts: { school: School; data: (key: string) => Map<string, Record<string, number>> | undefined; class?: string }): MetricValue;
}

const isPing = (m: Measurement, role: string): boolean => m.name === 'ping' && m.tags.role === role;
const isWan = (m: Measurement): boolean => m.name === 'iface' && m.tags.role === 'wan';
const countLoss = { field: 'loss_pct', agg: 'count' } as const;

const pingInternet: QuerySpec = {
  key: 'ping_internet',
  measurement: 'ping',
  select: { n: ['count("loss_pct")', 'sum'] },
  where: `"role" = 'internet'`,
  match: (m) => isPing(m, 'internet'),
  fold: { n: countLoss },
};
const pingInternetOk: QuerySpec = {
  key: 'ping_internet_ok',
  measurement: 'ping',
  select: { n: ['count("loss_pct")', 'sum'] },
  where: `"role" = 'internet' AND "loss_pct" < 100`,
  match: (m) => isPing(m, 'internet') && m.name === 'ping' && m.fields.loss_pct < 100,
  fold: { n: countLoss },
};
const wanSpeed: QuerySpec = {
  key: 'iface_wan_speed',
  measurement: 'iface',
  select: { v: ['max("speed_bps")', 'max'] },
  where: `"role" = 'wan'`,
  match: isWan,
  fold: { v: { field: 'speed_bps', agg: 'max' } },
};
const throughputDown: QuerySpec = {
  key: 'throughput_down',
  measurement: 'throughput',
  // One slot: the evidence holds it per school and day (a count would cost 8 bytes more each).
  select: { v: ['max("down_mbps")', 'max'] },
  where: '"result_code" = 0',
  match: (m) => m.name === 'throughput' && m.fields.result_code === 0,
  fold: { v: { field: 'down_mbps', agg: 'max' } },
};
const wanIn: QuerySpec = {
  key: 'iface_wan_in',
  measurement: 'iface',
  select: { v: ['max("in_bps")', 'max'] },
  where: `"role" = 'wan'`,
  match: isWan,
  fold: { v: { field: 'in_bps', agg: 'max' } },
};
const inventory: QuerySpec = {
  key: 'inventory',
  measurement: 'inventory',
  select: { v: ['max("count")', 'max'] },
  where: '',
  groupBy: 'class',
  match: (m) => m.name === 'inventory',
  fold: { v: { field: 'count', agg: 'max' } },
};
const isV6 = (m: Measurement): boolean => isPing(m, 'internet') && m.name === 'ping' && m.tags.target.includes(':');
const pingV6: QuerySpec = {
  key: 'ping_internet_v6',
  measurement: 'ping',
  select: { n: ['count("loss_pct")', 'sum'] },
  where: `"role" = 'internet' AND "target" =~ /:/`,
  match: isV6,
  fold: { n: countLoss },
};
// A reply came back: loss_pct < 100 (`received` is not stored, collector/ingest/stored-fields.ts).
const pingV6Ok: QuerySpec = {
  key: 'ping_internet_v6_ok',
  measurement: 'ping',
  select: { n: ['count("loss_pct")', 'sum'] },
  where: `"role" = 'internet' AND "target" =~ /:/ AND "loss_pct" < 100`,
  match: (m) => isV6(m) && m.name === 'ping' && m.fields.loss_pct < 100,
  fold: { n: countLoss },
};
const pingPeer: QuerySpec = {
  key: 'ping_peer',
  measurement: 'ping',
  select: {
    sl: ['sum("loss_pct")', 'sum'],
    nl: ['count("loss_pct")', 'sum'],
    sj: ['sum("jitter_ms")', 'sum'],
    nj: ['count("jitter_ms")', 'sum'],
    sr: ['sum("rtt_avg_ms")', 'sum'],
    nr: ['count("rtt_avg_ms")', 'sum'],
  },
  where: `"role" = 'peer'`,
  match: (m) => isPing(m, 'peer'),
  fold: {
    sl: { field: 'loss_pct', agg: 'sum' },
    nl: countLoss,
    sj: { field: 'jitter_ms', agg: 'sum' },
    nj: { field: 'jitter_ms', agg: 'count' },
    sr: { field: 'rtt_avg_ms', agg: 'sum' },
    nr: { field: 'rtt_avg_ms', agg: 'count' },
  },
};

const one = (d: Map<string, Record<string, number>> | undefined): Record<string, number> | undefined => d?.get('');

/** Max count of `cls` devices, 0 when the school reports inventory without that class; undefined without inventory. */
function inventoryCount(d: Map<string, Record<string, number>> | undefined, cls: string | undefined): number | undefined {
  if (!d || d.size === 0) return undefined;
  return d.get(cls ?? '')?.v ?? 0;
}

const NO_INVENTORY: MetricValue = { kind: 'unknown', reason: 'no inventory measurement from this school in the window' };

export const METRICS: Record<MetricName, MetricDef> = {
  internet_reachable_pct: {
    unit: '%',
    describes: 'share of pings to internet targets that got an answer (loss_pct < 100)',
    queries: () => [pingInternet, pingInternetOk],
    value: ({ data }) => {
      const n = one(data('ping_internet'))?.n ?? 0;
      if (n === 0) return { kind: 'unknown', reason: 'no ping to an internet target in the window' };
      return { kind: 'number', value: (100 * (one(data('ping_internet_ok'))?.n ?? 0)) / n };
    },
  },
  wan_speed_mbps: {
    unit: 'Mbit/s',
    describes: 'highest WAN port speed (iface role=wan speed_bps: ifHighSpeed, else ifSpeed); a port speed, not the bandwidth the school gets',
    queries: () => [wanSpeed],
    value: ({ data }) => {
      const v = one(data('iface_wan_speed'))?.v;
      return v === undefined ? { kind: 'unknown', reason: 'no WAN interface speed in the window' } : { kind: 'number', value: v / 1e6 };
    },
  },
  bandwidth_mbps: {
    unit: 'Mbit/s',
    describes: 'the school\'s bandwidth: the highest measured download (throughput, iperf3) in the window; without a test in the window the contracted bandwidth from the registry, labelled contracted; never the WAN port speed',
    queries: () => [throughputDown],
    value: ({ data, school }) => {
      const r = one(data('throughput_down'));
      if (r?.v !== undefined) return { kind: 'number', value: r.v, basis: 'measured', note: 'measured: highest download of the throughput tests (iperf3) in the window' };
      if (Number.isFinite(school.contractedMbps) && school.contractedMbps > 0) {
        return { kind: 'number', value: school.contractedMbps, basis: 'contracted', note: 'contracted bandwidth from the registry (no throughput test in the window)' };
      }
      return { kind: 'unknown', reason: 'no throughput test in the window and no contracted bandwidth in the registry' };
    },
  },
  wan_peak_in_mbps: {
    unit: 'Mbit/s',
    describes: 'highest measured WAN download rate (iface role=wan in_bps)',
    queries: () => [wanIn],
    value: ({ data }) => {
      const v = one(data('iface_wan_in'))?.v;
      return v === undefined ? { kind: 'unknown', reason: 'no measured WAN rate in the window' } : { kind: 'number', value: v / 1e6 };
    },
  },
  inventory_count: {
    unit: 'devices',
    describes: 'most devices of the class seen at once (inventory count)',
    queries: () => [inventory],
    value: ({ data, class: cls }) => {
      const c = inventoryCount(data('inventory'), cls);
      return c === undefined ? NO_INVENTORY : { kind: 'number', value: c };
    },
  },
  inventory_per_classroom_pct: {
    unit: '% of classrooms',
    describes: 'devices of the class per registered classroom, in %',
    queries: () => [inventory],
    value: ({ data, class: cls, school }) => {
      const c = inventoryCount(data('inventory'), cls);
      if (c === undefined) return NO_INVENTORY;
      if (school.classrooms === 0) return { kind: 'unknown', reason: 'the registry has 0 classrooms for this school' };
      return { kind: 'number', value: (100 * c) / school.classrooms };
    },
  },
  students_per_device: {
    unit: 'students per device',
    describes: 'registered students per device of the class',
    queries: () => [inventory],
    value: ({ data, class: cls, school }) => {
      const c = inventoryCount(data('inventory'), cls);
      if (c === undefined) return NO_INVENTORY;
      if (school.students === 0) return { kind: 'unknown', reason: 'the registry has 0 students for this school' };
      if (c === 0) return { kind: 'number', value: null, note: 'no device of the class: no ratio can be met' };
      return { kind: 'number', value: school.students / c };
    },
  },
  ipv6_internet_reachable: {
    unit: '0/1',
    describes: '1 when an internet target with an IPv6 address answered a ping',
    queries: () => [pingV6, pingV6Ok],
    value: ({ data }) => {
      const r = one(data('ping_internet_v6'));
      if (!r || !r.n) return { kind: 'unknown', reason: 'no IPv6 internet target configured (ping targets with an IPv6 address)' };
      return { kind: 'number', value: (one(data('ping_internet_v6_ok'))?.n ?? 0) > 0 ? 1 : 0 };
    },
  },
  peer_path: {
    unit: 'loss %, jitter ms, RTT ms',
    describes: 'mean loss, jitter and RTT of pings to the hub school (ping role=peer)',
    queries: () => [pingPeer],
    value: ({ data }) => {
      const r = one(data('ping_peer'));
      if (!r || !r.nl) return { kind: 'unknown', reason: 'no ping to the hub school (role=peer) in the window' };
      const mean = (s: string, n: string): number | null => ((r[n] ?? 0) > 0 ? (r[s] ?? 0) / (r[n] as number) : null);
      return { kind: 'limits', values: { loss_pct: mean('sl', 'nl'), jitter_ms: mean('sj', 'nj'), rtt_ms: mean('sr', 'nr') } };
    },
  },
  not_measured: {
    unit: '',
    describes: 'no probe measures this yet',
    queries: () => [],
    value: () => ({ kind: 'unknown', reason: 'no probe measures this yet' }),
  },
};
