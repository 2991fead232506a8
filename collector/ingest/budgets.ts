/**
 * Per-school budgets: what one school may put into the database, so that no school (hostile, broken or
 * misconfigured) can fill InfluxDB's series and tag-value limits for all, or take the ingest path from
 * the others. Two kinds, refused differently (docs/reliability.md):
 *
 * - Rates (reports, measurements and request bytes per minute): a token bucket per school that may go
 *   into debt, so any one request, however large, gets through when the school is within its rate, and
 *   the school then waits. Over it, the whole request is refused with 429 COL_ERR_BUDGET_EXCEEDED and
 *   Retry-After (the agent keeps the reports and backs off); nothing of it was written.
 * - Cardinality (distinct series per school per day, distinct values per tag key per school per day,
 *   measurements per report): waiting does not help, so the report is accepted and only the excess is
 *   left out: points of series already known today are written, the points of new series over the
 *   budget are dropped and counted (`dropped_points.budget_series` / `budget_tag_values` /
 *   `budget_measurements`) in the ack and in the school's counters.
 *
 * Days are China days (UTC+8). State is bounded per school: one hash table of at most
 * seriesPerDay + 6 × tagValuesPerKeyPerDay 32-bit entries, reset every day.
 */
import type { Logger } from 'pino';
import { collectorMetrics } from '../metrics/registry.js';
import { z } from 'zod';
import { ERRORS, type Measurement, type Report } from '../../protocol/index.js';
import type { PartialWrite } from '../sink/sink.js';
import { HashSet32, hash32 } from './hashset.js';
import { unwritable } from './screen.js';

/** The `budgets` section of the collector config. Defaults fit the largest real school (a county server) many times over. */
export const budgetsSchema = z.strictObject({
  /** Distinct series (measurement + tags) one school may create per day; new series over it are dropped and counted. */
  seriesPerDay: z.number().int().min(100).max(10_000_000).default(20_000),
  /** Distinct values of one tag key (ping target, device, ifname, class, version, profile) one school may use per day. */
  tagValuesPerKeyPerDay: z.number().int().min(10).max(1_000_000).default(2_000),
  /** Measurements kept of one report (the agent's own health is always kept); the rest are dropped and counted. */
  measurementsPerReport: z.number().int().min(10).max(5_000).default(5_000),
  /** Reports one school may deliver per minute (a backlog of more than a few days drains at this pace); over it → 429 with Retry-After. */
  reportsPerMinute: z.number().int().min(1).max(1_000_000).default(6_000),
  /** Measurements one school may deliver per minute; over it → 429 with Retry-After. */
  measurementsPerMinute: z.number().int().min(100).max(100_000_000).default(150_000),
  /** Request-body bytes (as sent, compressed) one school may send per minute; over it → 429 with Retry-After. */
  bytesPerMinute: z.number().int().min(64 * 1024).max(64 * 1024 ** 3).default(64 * 1024 * 1024),
  /**
   * Uploads one token may have in flight at once; more → 429 with Retry-After (fairness between schools under
   * load). A school's agents share its token, and an agent may upload live reports and its backlog at once.
   */
  maxInflightRequestsPerToken: z.number().int().min(1).max(1000).default(4),
  /**
   * Uploads a county proxy's token may have in flight at once (instead of maxInflightRequestsPerToken): it
   * sends one batch per school for hundreds or thousands of schools every cycle. The proxy's default
   * `proxy.uploadConcurrency` is the same 16; more → 429 with Retry-After.
   */
  maxInflightRequestsPerProxyToken: z.number().int().min(1).max(1000).default(16),
  /** Request-body bytes one token's uploads may hold in memory at once (two maximal bodies); more → 429 with Retry-After. */
  maxInflightBodyBytesPerToken: z.number().int().min(64 * 1024).max(16 * 1024 ** 3).default(16 * 1024 * 1024),
  /** Seconds sent in Retry-After when a token is over its in-flight share. */
  busyRetryAfterS: z.number().int().min(1).max(3600).default(5),
});

export type BudgetSettings = z.output<typeof budgetsSchema>;

/** The defaults, as the README's table lists them. */
export const DEFAULT_BUDGETS: Readonly<BudgetSettings> = Object.freeze(budgetsSchema.parse({}));

/** The config key and environment variable that raise each budget, named in every refusal. */
export function budgetKey(name: keyof BudgetSettings): string {
  return `budgets.${name} (CAMPUSLINK_BUDGETS_${name.replace(/([A-Z])/g, '_$1').toUpperCase()})`;
}

const RATE_NAMES = ['reportsPerMinute', 'measurementsPerMinute', 'bytesPerMinute'] as const;
type RateName = (typeof RATE_NAMES)[number];

/** Tag keys whose values are free text (enum tags such as `role` cannot flood). */
const FREE_TAG_KEYS = ['target', 'device', 'ifname', 'class', 'version', 'profile'] as const;
const KEY_SEEDS = FREE_TAG_KEYS.map((k) => hash32(k));
const KEY_INDEX = new Map<string, number>(FREE_TAG_KEYS.map((k, i) => [k, i]));

const DAY_MS = 86_400_000;
const CHINA_OFFSET_MS = 8 * 3_600_000;
const chinaDay = (ms: number) => Math.floor((ms + CHINA_OFFSET_MS) / DAY_MS);

/** Counts by reason (snake_case), as in the ack and the counters API. */
export type Counts = Record<string, number>;

/** What a school lost and was refused, today and since the collector started. */
export interface SchoolCounters {
  /** Requests refused with 429, by budget. */
  budget_refusals: Counts;
  /** Points left out, by reason (budget_series, budget_tag_values, budget_measurements, unencodable_tag, no_fields, type_conflict, …). */
  dropped_points: Counts;
  /** Fields left out of otherwise stored points, by reason. */
  dropped_fields: Counts;
}

interface SchoolState {
  day: number;
  known: HashSet32;
  series: number;
  /** Distinct values today of each FREE_TAG_KEYS key (a plain array: a typed array costs ~200 B more). */
  values: number[];
  levels: [number, number, number];
  refilledAt: number;
  today?: SchoolCounters;
  total?: SchoolCounters;
}

/** A refusal of a whole request: 429 COL_ERR_BUDGET_EXCEEDED. */
export interface BudgetRefusal {
  status: 429;
  headers: Record<string, string>;
  body: unknown;
}

/** What admit() kept of a batch, and what it left out. */
export interface Admitted {
  reports: Report[];
  /** What was charged to the rates: reports, measurements, body bytes (given back by refund()). */
  charged: [number, number, number];
  dropped_points: Counts;
  dropped_fields: Counts;
}

const addCount = (c: Counts, reason: string, n = 1) => {
  c[reason] = (c[reason] ?? 0) + n;
};

const emptyCounters = (): SchoolCounters => ({ budget_refusals: {}, dropped_points: {}, dropped_fields: {} });

/** The 429 answer naming the budget, its value and what to change. */
export function budgetRefusal(name: keyof BudgetSettings, limit: number, retryAfterS: number, detail: string): BudgetRefusal {
  const code = 'COL_ERR_BUDGET_EXCEEDED';
  const change = budgetKey(name);
  return {
    status: ERRORS[code].status,
    headers: { 'retry-after': String(retryAfterS) },
    body: {
      error: { code, message: `${detail}: over budget ${name} = ${limit}; nothing of this request was written; keep it and retry after ${retryAfterS} s (or raise ${change} in the collector config)` },
      budget: { name, limit, retryAfterS, change },
    },
  };
}

/**
 * The ack's `dropped_points` / `dropped_fields`: what admit() left out plus what InfluxDB dropped in a
 * partial write (handed to `onPartial` to be counted); nothing when nothing was lost.
 */
export function droppedOf(admitted: Admitted | undefined, partial: PartialWrite | void | undefined, onPartial?: (p: PartialWrite) => void): { dropped_points?: Counts; dropped_fields?: Counts } {
  const points: Counts = { ...admitted?.dropped_points };
  const fields: Counts = { ...admitted?.dropped_fields };
  if (partial) {
    if (partial.droppedPoints) addCount(points, partial.reason, partial.droppedPoints);
    if (partial.droppedFields) addCount(fields, partial.reason, partial.droppedFields);
    onPartial?.(partial);
  }
  return { ...(Object.keys(points).length ? { dropped_points: points } : {}), ...(Object.keys(fields).length ? { dropped_fields: fields } : {}) };
}

export interface SchoolBudgetsOptions {
  settings: Readonly<BudgetSettings>;
  log: Logger;
  now?: () => number;
}

/** The budgets of every school; one instance per collector, shared by ingest and the counters API. */
export class SchoolBudgets {
  private readonly schools = new Map<string, SchoolState>();
  private readonly logged = new Set<string>();
  /** What each school lost or was refused since the last takePending(), for the `ingest_budget` measurement. */
  private pending = new Map<string, SchoolCounters>();
  private loggedDay = -1;
  private readonly now: () => number;
  private readonly rates: readonly number[];

  constructor(private readonly opts: SchoolBudgetsOptions) {
    this.now = opts.now ?? Date.now;
    this.rates = RATE_NAMES.map((n) => opts.settings[n]);
  }

  get settings(): Readonly<BudgetSettings> {
    return this.opts.settings;
  }

  /** Schools with budget state today. */
  get size(): number {
    return this.schools.size;
  }

  private state(school: string, t: number): SchoolState {
    const day = chinaDay(t);
    let s = this.schools.get(school);
    if (!s) {
      s = { day, known: new HashSet32(64), series: 0, values: FREE_TAG_KEYS.map(() => 0), levels: [this.rates[0] as number, this.rates[1] as number, this.rates[2] as number], refilledAt: t };
      this.schools.set(school, s);
    } else if (s.day !== day) {
      s.day = day;
      // Small again: yesterday's flood must not hold its table today.
      s.known = new HashSet32(64);
      s.series = 0;
      s.values.fill(0);
      s.today = undefined;
    }
    const elapsed = Math.max(0, t - s.refilledAt);
    s.refilledAt = t;
    for (let i = 0; i < 3; i++) s.levels[i] = Math.min(this.rates[i] as number, (s.levels[i] as number) + (elapsed * (this.rates[i] as number)) / 60_000);
    return s;
  }

  /**
   * Called when a request's headers arrived: a refusal when the school is over a rate budget (its bucket
   * in debt), so its body is not even read; undefined when it may go on.
   */
  gate(school: string): BudgetRefusal | undefined {
    const s = this.state(school, this.now());
    let worst = -1;
    let waitMs = 0;
    for (let i = 0; i < 3; i++) {
      const level = s.levels[i] as number;
      if (level >= 0) continue;
      const ms = (-level * 60_000) / (this.rates[i] as number);
      if (ms > waitMs) {
        waitMs = ms;
        worst = i;
      }
    }
    if (worst < 0) return undefined;
    const name = RATE_NAMES[worst] as RateName;
    this.count(school, s, 'budget_refusals', name, 1);
    return budgetRefusal(name, this.opts.settings[name], Math.max(1, Math.ceil(waitMs / 1000)), `school ${school} sent more than its ${name}`);
  }

  /**
   * Charges an accepted request to the school's rates and keeps of its reports what the cardinality
   * budgets and line protocol allow (see the file's comment). Never refuses: gate() did.
   */
  admit(school: string, reports: readonly Report[], bodyBytes: number): Admitted {
    const s = this.state(school, this.now());
    const out: Admitted = { reports: [], charged: [0, 0, 0], dropped_points: {}, dropped_fields: {} };
    let measurements = 0;
    for (const r of reports) {
      measurements += r.measurements.length;
      out.reports.push(this.keep(s, r, out.dropped_points));
    }
    out.charged = [reports.length, measurements, bodyBytes];
    for (let i = 0; i < 3; i++) s.levels[i] = (s.levels[i] as number) - (out.charged[i] as number);
    for (const [reason, n] of Object.entries(out.dropped_points)) this.count(school, s, 'dropped_points', reason, n);
    return out;
  }

  /** Gives back what admit() charged to the rates, when nothing of it was stored (the sink failed): a school does not pay for retries of an outage. */
  refund(school: string, admitted: Admitted | undefined): void {
    const s = this.schools.get(school);
    if (!s || !admitted) return;
    for (let i = 0; i < 3; i++) s.levels[i] = Math.min(this.rates[i] as number, (s.levels[i] as number) + (admitted.charged[i] as number));
  }

  /** Counts one request refused for `budget` outside the rates (the fairness shares, ingest/fairness.ts). */
  countRefusal(school: string, budget: keyof BudgetSettings): void {
    this.count(school, this.state(school, this.now()), 'budget_refusals', budget, 1);
  }

  /** Counts points and values InfluxDB itself dropped from a confirmed write (a partial write). */
  droppedBySink(school: string, partial: PartialWrite): void {
    const s = this.state(school, this.now());
    if (partial.droppedPoints) this.count(school, s, 'dropped_points', partial.reason, partial.droppedPoints, partial.message);
    if (partial.droppedFields) this.count(school, s, 'dropped_fields', partial.reason, partial.droppedFields, partial.message);
  }

  /** The school's counters today and since start; undefined when it lost and was refused nothing. */
  counters(school: string): { today: SchoolCounters; total: SchoolCounters; series: number } | undefined {
    const s = this.schools.get(school);
    if (!s?.total) return undefined;
    const today = s.day === chinaDay(this.now()) ? (s.today ?? emptyCounters()) : emptyCounters();
    return { today, total: s.total, series: this.seriesToday(school) };
  }

  /** Distinct series the school created today (0 when unknown). */
  seriesToday(school: string): number {
    const s = this.schools.get(school);
    return s && s.day === chinaDay(this.now()) ? s.series : 0;
  }

  /** Every school that lost or was refused something since start, most first, at most `limit`. */
  offenders(limit = 1000): { school: string; today: SchoolCounters; total: SchoolCounters; series: number }[] {
    const rows: { school: string; n: number; today: SchoolCounters; total: SchoolCounters; series: number }[] = [];
    for (const school of this.schools.keys()) {
      const c = this.counters(school);
      if (!c) continue;
      const n = [c.total.budget_refusals, c.total.dropped_points, c.total.dropped_fields].reduce((a, o) => a + Object.values(o).reduce((x, y) => x + y, 0), 0);
      rows.push({ school, n, ...c });
    }
    rows.sort((a, b) => b.n - a.n || a.school.localeCompare(b.school));
    return rows.slice(0, limit).map(({ n: _n, ...r }) => r);
  }

  /** The report as it will be written: without the measurements over a budget or not storable. */
  private keep(s: SchoolState, r: Report, dropped: Counts): Report {
    const { measurementsPerReport } = this.opts.settings;
    let kept: Measurement[] | undefined;
    const ms = r.measurements;
    const agentSeed = hash32(r.agent);
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i] as Measurement;
      const reason = i >= measurementsPerReport && m.name !== 'agent' ? 'budget_measurements' : (unwritable(m) ?? this.cardinality(s, m, agentSeed));
      if (reason === undefined) {
        kept?.push(m);
        continue;
      }
      kept ??= ms.slice(0, i);
      addCount(dropped, reason);
    }
    return kept ? { ...r, measurements: kept } : r;
  }

  /** undefined when the measurement's series is known today or fits the budgets (and is now known); else the budget's reason. */
  private cardinality(s: SchoolState, m: Measurement, agentSeed: number): string | undefined {
    const tags = m.tags as Record<string, string>;
    // Order-independent series hash: the tags' key order may differ between encoders.
    let h = hash32(m.name, agentSeed);
    for (const k in tags) h = (h + Math.imul(hash32(tags[k] as string, hash32(k)), 0x9e3779b1)) | 0;
    const series = h === 0 ? 1 : h;
    if (s.known.has(series)) return undefined;
    const { seriesPerDay, tagValuesPerKeyPerDay } = this.opts.settings;
    if (s.series >= seriesPerDay) return 'budget_series';
    let newValues = 0;
    for (const k in tags) {
      const ki = KEY_INDEX.get(k);
      if (ki === undefined) continue;
      const vh = hash32(tags[k] as string, KEY_SEEDS[ki]);
      if (s.known.has(vh)) continue;
      if ((s.values[ki] as number) >= tagValuesPerKeyPerDay) return 'budget_tag_values';
      newValues |= 1 << ki;
    }
    for (const k in tags) {
      const ki = KEY_INDEX.get(k);
      if (ki === undefined || !(newValues & (1 << ki))) continue;
      if (s.known.add(hash32(tags[k] as string, KEY_SEEDS[ki]))) s.values[ki] = (s.values[ki] as number) + 1;
    }
    s.known.add(series);
    s.series++;
    return undefined;
  }

  /**
   * What each school lost or was refused since the last call (and since what was given back), and starts
   * over. Bounded by the schools that lost anything in between.
   */
  takePending(): Map<string, SchoolCounters> {
    const out = this.pending;
    this.pending = new Map();
    return out;
  }

  /** Gives back what takePending() returned and could not be written, to go out with the next. */
  giveBack(pending: ReadonlyMap<string, SchoolCounters>): void {
    for (const [school, c] of pending) {
      const into = this.pending.get(school) ?? emptyCounters();
      for (const kind of ['budget_refusals', 'dropped_points', 'dropped_fields'] as const) for (const [reason, n] of Object.entries(c[kind])) addCount(into[kind], reason, n);
      this.pending.set(school, into);
    }
  }

  private count(school: string, s: SchoolState, kind: keyof SchoolCounters, reason: string, n: number, detail?: string): void {
    s.today ??= emptyCounters();
    s.total ??= emptyCounters();
    addCount(s.today[kind], reason, n);
    addCount(s.total[kind], reason, n);
    let p = this.pending.get(school);
    if (!p) this.pending.set(school, (p = emptyCounters()));
    addCount(p[kind], reason, n);
    // /metrics counts refusals by budget only (never by school: label cardinality stays bounded).
    if (kind === 'budget_refusals' || reason.startsWith('budget_')) collectorMetrics().budgetRefusals.inc({ limit: reason }, n);
    // Logged once per school, reason and day; the set is bounded by schools × reasons and cleared daily.
    const day = s.day;
    if (day !== this.loggedDay) {
      this.logged.clear();
      this.loggedDay = day;
    }
    const key = `${school}\u0000${kind}\u0000${reason}`;
    if (this.logged.has(key) || this.logged.size >= 200_000) return;
    this.logged.add(key);
    const what = kind === 'budget_refusals' ? `requests refused (429) over budget ${reason}` : `${kind.replace('_', ' ')} (${reason})`;
    this.opts.log.warn({ code: kind === 'budget_refusals' ? 'COL_ERR_BUDGET_EXCEEDED' : undefined, school, kind, reason, n, detail }, `school ${school}: ${what}; the rest of its data is written; logged once per school, reason and day (counters: GET /api/v1/ingest/budgets/${school})`);
  }
}
