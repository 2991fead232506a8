/**
 * The live side of compliance: the rolling evidence fed by accepted reports, its persistence in the
 * state database, its rebuild from InfluxDB when the database has none, and one rollup table per
 * profile answering region requests without reading raw data.
 */
import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import type { Report } from '../../../protocol/index.js';
import type { Registry } from '../../registry/index.js';
import type { ViewsState } from '../state.js';
import { Evidence, evidenceLayout } from './evidence.js';
import type { Profile } from './profile.js';
import { rebuildEvidence } from './rebuild.js';
import { RulePlans } from './engine.js';
import { defaultWindows, type SchoolWindows } from './windows.js';
import { ComplianceTable } from './rollup.js';

const META_LAYOUT = 'evidence.layout';
const META_COMPLETE = 'evidence.complete';

export interface LiveComplianceOptions {
  profiles: ReadonlyMap<string, Profile>;
  registry: () => Registry;
  influx: InfluxDB;
  state: ViewsState;
  log: Logger;
  now: () => number;
  queryTimeoutMs: number;
  /** Wait before retrying a county of the rebuild InfluxDB failed for, ms. */
  rebuildRetryMs?: number;
  /** How much older than a request's time its rollup counts may be (see ComplianceTable), ms. */
  maxStaleMs?: number;
  /** Profiles whose tables the timer keeps fresh even when nobody asked (the default profile). */
  warmProfiles?: readonly string[];
  /** The school calendar the windows are on (default: chinese-days without term breaks). */
  windows?: SchoolWindows;
  /**
   * Least time between two periodic saves of the evidence (`saveDue()`), ms; close() always saves. Default
   * 30 minutes. The saved evidence is only read after a clean stop (a crash leaves it marked open and the
   * next start rebuilds from InfluxDB), so a periodic save only shortens the save at stop; at province
   * scale every school's blob changes every minute, and saving them all every minute wrote ~100 MB a
   * minute into the WAL (and again at checkpoint) for nothing.
   */
  evidenceSaveIntervalMs?: number;
}

/** A table nobody asked for in this long is no longer refreshed by the timer (its changes wait), ms. */
const IDLE_TABLE_MS = 10 * 60_000;

/** Evidence, rollup tables and the rebuild, for the loaded profiles. */
export class LiveCompliance {
  readonly evidence: Evidence;
  readonly windows: SchoolWindows;
  private readonly tables = new Map<string, ComplianceTable>();
  /** When each table was last asked for (wall clock, ms). */
  private readonly usedAtMs = new Map<string, number>();
  /** Set while a rebuild runs: counties done, and the time live reports count from for the others. */
  private rebuild: { done: Set<string>; fromLiveMs: number } | undefined;
  /** When the evidence was last saved (or this started), ms of `now()`. */
  private savedAtMs: number;
  /** The saved evidence is still marked complete although this process changes it (a full disk at start). */
  private openMarkPending = false;
  private rebuildJob: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: LiveComplianceOptions) {
    this.savedAtMs = opts.now();
    this.windows = opts.windows ?? defaultWindows();
    this.evidence = new Evidence(evidenceLayout(opts.profiles.values(), this.windows), this.windows);
    const src = {
      windows: this.windows,
      registry: opts.registry,
      source: (atMs: number) => this.evidence.source(atMs),
      has: (school: string) => this.evidence.has(school),
      pending: (school: string) => this.pending(school),
    };
    for (const p of opts.profiles.values()) this.tables.set(p.id, new ComplianceTable(p, src, opts.maxStaleMs ?? 0));
    this.evidence.onChange((school) => {
      for (const t of this.tables.values()) t.touch(school);
    });
  }

  /** The rollup table of a profile (marks it in use: the timer keeps it fresh). */
  table(profileId: string): ComplianceTable | undefined {
    this.usedAtMs.set(profileId, Date.now());
    return this.tables.get(profileId);
  }

  /** Whether the school's evidence is still being rebuilt from InfluxDB. */
  pending(school: string): boolean {
    if (!this.rebuild) return false;
    const county = this.opts.registry().get(school)?.countyCode;
    return county === undefined || !this.rebuild.done.has(county);
  }

  /** Whether a rebuild is running, and how far it got. */
  rebuildProgress(): { running: boolean; countiesDone: number; counties: number } {
    return { running: this.rebuild !== undefined, countiesDone: this.rebuild?.done.size ?? 0, counties: this.opts.registry().counties.size };
  }

  /** Folds one accepted report (its points stamped `timeMs`) into the evidence. */
  onReport(school: string, report: Report, timeMs: number): void {
    // During a rebuild, the school's points before the rebuild's start come from InfluxDB.
    if (this.rebuild && timeMs < this.rebuild.fromLiveMs && this.pending(school)) return;
    this.evidence.apply(school, report, timeMs, this.opts.now(), this.opts.registry().get(school)?.provinceCode ?? '');
  }

  /** A profile's rules planned at `atMs` on this calendar, for every province. */
  plans(profile: Profile, atMs: number): RulePlans {
    return new RulePlans(profile, atMs, this.windows);
  }

  /**
   * Loads the saved evidence, or starts a rebuild from InfluxDB in the background when there is none
   * or it was saved for another layout of the profiles. Resolves once loading is done (not the rebuild).
   */
  async start(): Promise<void> {
    const { state, log } = this.opts;
    const layout = this.evidence.layout.fingerprint;
    if (state.meta(META_LAYOUT) === layout && state.meta(META_COMPLETE) === '1') {
      const n = await state.loadEvidence(this.evidence);
      // Until a clean stop marks it again: a crash leaves it unmarked, and the next start rebuilds. On a
      // full disk the mark waits for the next flush (flush() writes it first), and start goes on.
      this.openMarkPending = true;
      await this.markOpen();
      log.info({ schools: n }, 'compliance evidence loaded from the state database');
      return;
    }
    log.warn({ reason: state.meta(META_LAYOUT) === undefined ? 'none saved' : 'saved for other profiles or incomplete' }, 'compliance evidence rebuilt from InfluxDB in the background; schools not yet done are judged unknown');
    this.rebuild = { done: new Set(), fromLiveMs: this.opts.now() };
    this.evidence.clear();
    this.evidence.takeDirty();
    try {
      await state.clearEvidence();
      await state.setMeta(META_COMPLETE, undefined);
      await state.setMeta(META_LAYOUT, layout);
    } catch (e) {
      // A full disk: the saved evidence stays unmarked for this layout, so the next start rebuilds again.
      log.error({ code: 'COL_ERR_RESOURCE_EXHAUSTED', err: String(e) }, 'compliance evidence state not reset; rebuilding in memory, the next start rebuilds again');
    }
    const job = this.rebuild;
    this.rebuildJob = rebuildEvidence(
      {
        influx: this.opts.influx,
        evidence: this.evidence,
        registry: this.opts.registry,
        fromLiveMs: job.fromLiveMs,
        timeoutMs: this.opts.queryTimeoutMs,
        log,
        retryMs: this.opts.rebuildRetryMs,
        stopped: () => this.stopped,
        onCounty: (county) => {
          const reg = this.opts.registry();
          for (const id of reg.counties.get(county)?.children ?? []) for (const t of this.tables.values()) t.touch(id);
        },
      },
      job.done,
    )
      .then(async () => {
        if (this.stopped) return;
        this.rebuild = undefined;
        for (const t of this.tables.values()) t.invalidate();
        await state.flushEvidence(this.evidence);
        await state.setMeta(META_COMPLETE, 'open');
      })
      .catch((e: unknown) => log.error({ err: String(e) }, 'compliance evidence rebuild failed; it starts over at the next start'));
  }

  /** Marks the saved evidence as in use (not complete); false, logged, when the state database refuses. */
  private async markOpen(): Promise<boolean> {
    try {
      await this.opts.state.setMeta(META_COMPLETE, 'open');
      this.openMarkPending = false;
      return true;
    } catch (e) {
      this.opts.log.error({ code: 'COL_ERR_RESOURCE_EXHAUSTED', err: String(e) }, 'compliance evidence not marked open; the next flush tries again');
      return false;
    }
  }

  /** Resolves when a running rebuild is over (tests, benchmarks). */
  async rebuilt(): Promise<void> {
    await this.rebuildJob;
  }

  /** Saves the schools changed since the last flush. */
  async flush(): Promise<number> {
    if (this.openMarkPending && !(await this.markOpen())) throw new Error('compliance evidence not marked open (state database not writable); not flushed');
    this.savedAtMs = this.opts.now();
    return this.opts.state.flushEvidence(this.evidence);
  }

  /**
   * The periodic save (the views' save timer): marks the saved evidence open if that is still pending,
   * and saves the changed schools once `evidenceSaveIntervalMs` has passed since the last save.
   */
  async saveDue(): Promise<number> {
    if (this.openMarkPending && !(await this.markOpen())) throw new Error('compliance evidence not marked open (state database not writable); not flushed');
    if (this.opts.now() - this.savedAtMs < (this.opts.evidenceSaveIntervalMs ?? 30 * 60_000)) return 0;
    return this.flush();
  }

  /** Brings every table up to date (the refresh timer). */
  async refreshAll(): Promise<void> {
    for (const t of this.tables.values()) await t.refresh(this.opts.now(), 0);
  }

  /**
   * Brings the tables in use up to date (the refresh timer): the warm profiles and those asked for in
   * the last 10 minutes. The others collect their changed schools (at most one entry per school) and
   * catch up on their next request.
   */
  async refreshActive(): Promise<void> {
    const wall = Date.now();
    for (const [id, t] of this.tables) {
      if (this.opts.warmProfiles?.includes(id) || wall - (this.usedAtMs.get(id) ?? -Infinity) < IDLE_TABLE_MS) await t.refresh(this.opts.now(), 0);
    }
  }

  /** A registry reload: every table is rebuilt on its next refresh. */
  registryChanged(): void {
    for (const t of this.tables.values()) t.invalidate();
  }

  /**
   * Stops the rebuild, saves what changed, and marks the saved evidence complete (when it is): a
   * start after a crash finds it unmarked and rebuilds, since reports of the last seconds may be missing.
   * Resolves with the rows saved.
   */
  async close(): Promise<number> {
    this.stopped = true;
    const rows = await this.flush();
    if (!this.rebuild) await this.opts.state.setMeta(META_COMPLETE, '1');
    return rows;
  }
}
