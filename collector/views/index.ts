/**
 * The views module: liveness from accepted reports, coverage along the five-level hierarchy (API and
 * the `coverage` history measurement), and compliance with the profiles in `config/compliance/`.
 * See docs/views.md.
 */
import { Router } from 'express';
import type { CollectorModule, ModuleContext } from '../module.js';
import type { LiveRegistry, Registry } from '../registry/index.js';
import { ComplianceService } from './compliance/service.js';
import { coveragePoints } from './coverage/history.js';
import { regionPoints } from '../registry/points.js';
import { writeSchoolStatus } from './school-status.js';
import { CoverageModel } from './coverage/model.js';
import { complianceRouter } from './http/compliance.js';
import { coverageRouter } from './http/coverage.js';
import type { Report } from '../../protocol/index.js';
import { DEFAULT_COLLECTOR_MAX_CLOCK_SKEW_MS } from '../ingest/points.js';
import { LiveCompliance } from './compliance/live.js';
import { rebuildLiveness } from './liveness/rebuild.js';
import { LivenessStore, livenessOf } from './liveness/store.js';
import { viewsSettingsFrom, viewsSettingsSchema, type ViewsSettings } from './settings.js';
import { ViewsState } from './state.js';
import { SchoolCalendar, calendarSectionSchema } from '../calendar/index.js';
import { Availability, availabilitySnapshot, type AvailabilitySnapshot } from './coverage/availability.js';
import type { SchoolHoursSource } from './coverage/view.js';
import { chinaDayNumber } from './compliance/engine.js';
import { SchoolWindows } from './compliance/windows.js';
import { StopPhases } from '../stop-phases.js';

export { viewsSettingsSchema, type ViewsSettings } from './settings.js';
export { CoverageModel } from './coverage/model.js';
export { LivenessStore } from './liveness/store.js';
export { LiveCompliance } from './compliance/live.js';

export interface ViewsModuleOptions {
  /** A reloading registry (watchRegistry().registry); without it the module uses ctx.registry for ever. */
  liveRegistry?: LiveRegistry;
  /** Settings; default: `ctx.config.views`, else the schema's defaults. */
  settings?: Partial<ViewsSettings>;
  /**
   * How much older than now the compliance rollup counts of an answer may be while the windows have
   * not moved, ms (the refresh timer runs every 2 s, so they are usually fresher). Default 30000; tests
   * use 0 (every answer includes every report accepted before it).
   */
  complianceMaxStaleMs?: number;
}

/** The module plus handles for tests and benchmarks. */
export interface ViewsModule extends CollectorModule {
  readonly settings: ViewsSettings;
  readonly store: LivenessStore;
  /** The school calendar of `calendar:` (compliance windows, the school-hours rate, alerts in school hours). */
  readonly calendar: SchoolCalendar;
  /** Compliance answers (live from the evidence, or from raw data). */
  readonly compliance: ComplianceService;
  /** The live evidence and rollups, once started. */
  live(): LiveCompliance | undefined;
  /** The coverage model of the registry in force. */
  model(): CoverageModel;
  /** Writes one round of `coverage` points now, with the `region` and `school_status` points Grafana reads; returns the number of `coverage` points. */
  writeCoverage(): Promise<number>;
  /** Saves the liveness (and school-hours rings) changed since the last save, now, and the compliance evidence when its save is due (LiveCompliance.saveDue). */
  saveState(): Promise<void>;
  /** Recomputes the region sums of the school-hours online rate now. */
  refreshSchoolHours(): Promise<void>;
  /** The school-hours online state, once started. */
  schoolHours(): SchoolHoursSource | undefined;
}

/** How often the compliance rollup tables take in changed schools, ms. */
const TABLE_REFRESH_MS = 2000;
/** How often the region sums of the school-hours online rate are recomputed, ms. */
const SCHOOL_HOURS_REFRESH_MS = 60_000;
const META_HOURS_SINCE = 'availability.since';

/**
 * The time InfluxDB stamps a report's points with: `collectedAt`, shifted like ingest shifts it when
 * the agent's clock is off by more than `maxClockSkewMs` (collector/ingest/points.ts).
 */
function pointTimeMs(report: Report, receivedAtMs: number, maxClockSkewMs: number): number {
  const skew = receivedAtMs - report.sentAt;
  const shift = !report.clockCorrected && Math.abs(skew) > maxClockSkewMs ? Math.round(skew / 1000) * 1000 : 0;
  return report.collectedAt + shift;
}

/** Builds the views module. Call `start()` before serving (it loads or rebuilds state). */
export function createViewsModule(ctx: ModuleContext, opts: ViewsModuleOptions = {}): ViewsModule {
  const settings = viewsSettingsSchema.parse({ ...viewsSettingsFrom(ctx.config), ...opts.settings });
  const log = ctx.log.child({ module: 'views' });
  const registry = (): Registry => opts.liveRegistry?.current() ?? ctx.registry;
  const store = new LivenessStore();
  const windowMs = settings.onlineWindowMin * 60_000;
  const freshMs = settings.measuredFreshDays * 86_400_000;
  const maxSkewMs = (ctx.config as { ingest?: { maxClockSkewMs?: number } } | undefined)?.ingest?.maxClockSkewMs ?? DEFAULT_COLLECTOR_MAX_CLOCK_SKEW_MS;
  let model = new CoverageModel({ registry: registry(), store, onlineWindowMs: windowMs, measuredFreshMs: freshMs, nowMs: ctx.now() });
  let live: LiveCompliance | undefined;
  const calendar = new SchoolCalendar(calendarSectionSchema.parse((ctx.config as { calendar?: unknown } | undefined)?.calendar ?? {}));
  const windows = new SchoolWindows(calendar, settings.complianceLookbackDays);
  const compliance = new ComplianceService({ influx: ctx.influx, registry, store, settings, log, live: () => live, windows });
  let state: ViewsState | undefined;
  const timers: NodeJS.Timeout[] = [];
  let hours: { availability: Availability; snapshot: AvailabilitySnapshot | undefined } | undefined;

  opts.liveRegistry?.on('change', (change) => {
    model = new CoverageModel({ registry: change.current, store, onlineWindowMs: windowMs, measuredFreshMs: freshMs, nowMs: ctx.now() });
    live?.registryChanged();
    log.info({ schools: change.current.schools.size }, 'coverage model rebuilt for the new registry');
  });

  const saveState = async (): Promise<void> => {
    if (!state) return;
    await state.flushLiveness(store);
    if (hours) await state.flushAvailability(hours.availability);
    await live?.saveDue();
  };

  const refreshSchoolHours = async (): Promise<void> => {
    if (!hours) return;
    hours.snapshot = await availabilitySnapshot(registry(), hours.availability, ctx.now());
  };

  /** Loads the school-hours rings, and the day counting started (today on a first start). */
  const startSchoolHours = async (st: ViewsState): Promise<void> => {
    let since = Number(st.meta(META_HOURS_SINCE));
    if (!Number.isInteger(since)) {
      since = chinaDayNumber(ctx.now());
      try {
        await st.setMeta(META_HOURS_SINCE, String(since));
      } catch (e) {
        // A full disk: counting starts today all the same; the next start tries to save the day again.
        log.error({ code: 'COL_ERR_RESOURCE_EXHAUSTED', err: String(e) }, 'school-hours start day not saved');
      }
    }
    const availability = new Availability(calendar, since);
    const n = await st.loadAvailability(availability);
    hours = { availability, snapshot: undefined };
    if (calendar.coveredThroughYear < new Date(ctx.now() + 8 * 3_600_000).getUTCFullYear()) {
      log.warn({ coveredThroughYear: calendar.coveredThroughYear }, 'the holiday package does not know this year\'s public holidays; add them to calendar.extraHolidays / extraWorkdays or update chinese-days (weekends only until then)');
    }
    log.info({ schools: n, since }, 'school-hours online state loaded');
  };

  const writeCoverage = async (): Promise<number> => {
    const nowMs = ctx.now();
    const stepMs = Math.max(1, settings.coverageIntervalS) * 1000;
    // Stamped on the interval boundary: a restart mid-interval overwrites instead of adding a point.
    const ts = Math.floor(nowMs / stepMs) * stepMs;
    const points = coveragePoints(model, nowMs, ts, hours?.snapshot);
    // Grafana's sources: the registry's regions (drop-downs) and every school's status (offline table, school drop-down).
    await Promise.all([ctx.sink.write([...points, ...regionPoints(model.registry, ts)]), writeSchoolStatus(ctx.sink, model, nowMs, ts)]);
    return points.length;
  };

  const loadLiveness = async (st: ViewsState): Promise<void> => {
    const loaded = await st.loadLiveness(store);
    if (loaded > 0) return void log.info({ schools: loaded }, 'liveness loaded from the state database');
    try {
      if ((await st.migrateLivenessFile(ctx.stateDir, store)) !== undefined) return;
    } catch (e) {
      log.error({ err: String(e) }, 'liveness JSON file not migrated; rebuilding liveness from InfluxDB');
    }
    try {
      const n = await rebuildLiveness({ influx: ctx.influx, store, nowMs: ctx.now(), windowMs: settings.livenessRebuildWindowH * 3_600_000, throughputWindowMs: freshMs, timeoutMs: settings.queryTimeoutMs });
      log.info({ schools: n, windowH: settings.livenessRebuildWindowH }, 'liveness rebuilt from InfluxDB');
    } catch (e) {
      log.error({ err: String(e) }, 'liveness could not be rebuilt from InfluxDB; starting with none (schools show as never seen until they report)');
    }
  };

  const every = (ms: number, what: string, fn: () => Promise<unknown>): void => {
    let busy = false;
    timers.push(
      setInterval(() => {
        if (busy) return;
        busy = true;
        fn()
          .catch((e: unknown) => log.error({ err: String(e) }, what))
          .finally(() => (busy = false));
      }, ms).unref(),
    );
  };

  const router = Router();
  router.use(coverageRouter({ registry, model: () => model, now: ctx.now, schoolHours: () => hours }));
  router.use(complianceRouter({ registry, compliance, now: ctx.now, log }));

  return {
    name: 'views',
    router,
    settings,
    store,
    calendar,
    compliance,
    live: () => live,
    model: () => model,
    writeCoverage,
    saveState,
    refreshSchoolHours,
    schoolHours: () => hours,
    onAccepted(batch) {
      for (const report of batch.reports) {
        const facts = livenessOf(report);
        store.apply(batch.school, facts);
        if (hours && facts.internetLossPct !== null && facts.internetLossPct < 100) hours.availability.markOnline(batch.school, report.collectedAt, ctx.now());
        live?.onReport(batch.school, report, pointTimeMs(report, batch.receivedAtMs, maxSkewMs));
      }
      model.update(batch.school, ctx.now());
    },
    async start() {
      state = new ViewsState({ state: ctx.state, log });
      await loadLiveness(state);
      await startSchoolHours(state);
      void refreshSchoolHours().catch((e: unknown) => log.error({ err: String(e) }, 'school-hours online rate not computed; the next round tries again'));
      model = new CoverageModel({ registry: registry(), store, onlineWindowMs: windowMs, measuredFreshMs: freshMs, nowMs: ctx.now() });
      await compliance.loadProfiles();
      live = new LiveCompliance({ profiles: compliance.loaded(), registry, influx: ctx.influx, state, log, now: ctx.now, queryTimeoutMs: settings.queryTimeoutMs, maxStaleMs: opts.complianceMaxStaleMs ?? 30_000, warmProfiles: [settings.defaultProfile], windows });
      await live.start();
      const current = live;
      void current.refreshActive().catch((e: unknown) => log.error({ err: String(e) }, 'compliance rollups not built; the next refresh tries again'));
      every(settings.livenessSaveIntervalS * 1000, 'liveness or compliance evidence not saved; the next round tries again', saveState);
      every(TABLE_REFRESH_MS, 'compliance rollups not refreshed; the next round tries again', () => current.refreshActive());
      every(SCHOOL_HOURS_REFRESH_MS, 'school-hours online rate not computed; the next round tries again', refreshSchoolHours);
      if (settings.coverageIntervalS > 0) every(settings.coverageIntervalS * 1000, 'coverage points not written; next interval tries again', writeCoverage);
    },
    async stop() {
      for (const t of timers.splice(0)) clearInterval(t);
      state?.hurry();
      // At province scale every school changed since the last periodic save: the stop writes them all.
      const t = new StopPhases();
      const rows: Record<string, number> = {};
      rows.liveness = (await t.run('liveness', () => state?.flushLiveness(store))) ?? 0;
      const availability = hours?.availability;
      if (availability) rows.availability = (await t.run('availability', () => state?.flushAvailability(availability))) ?? 0;
      rows.evidence = (await t.run('evidence', () => live?.close())) ?? 0;
      state?.close();
      t.report(log, 'views state saved at stop', { rows });
    },
  };
}
