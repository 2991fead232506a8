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
import { CoverageModel } from './coverage/model.js';
import { complianceRouter } from './http/compliance.js';
import { coverageRouter } from './http/coverage.js';
import { rebuildLiveness } from './liveness/rebuild.js';
import { LivenessStore, livenessOf } from './liveness/store.js';
import { viewsSettingsFrom, viewsSettingsSchema, type ViewsSettings } from './settings.js';

export { viewsSettingsSchema, type ViewsSettings } from './settings.js';
export { CoverageModel } from './coverage/model.js';
export { LivenessStore } from './liveness/store.js';

export interface ViewsModuleOptions {
  /** A reloading registry (watchRegistry().registry); without it the module uses ctx.registry for ever. */
  liveRegistry?: LiveRegistry;
  /** Settings; default: `ctx.config.views`, else the schema's defaults. */
  settings?: Partial<ViewsSettings>;
}

/** The module plus handles for tests and benchmarks. */
export interface ViewsModule extends CollectorModule {
  readonly settings: ViewsSettings;
  readonly store: LivenessStore;
  /** The coverage model of the registry in force. */
  model(): CoverageModel;
  /** Writes one round of `coverage` points now. */
  writeCoverage(): Promise<number>;
  /** Saves liveness state now. */
  saveLiveness(): void;
}

/** Builds the views module. Call `start()` before serving (it loads or rebuilds liveness). */
export function createViewsModule(ctx: ModuleContext, opts: ViewsModuleOptions = {}): ViewsModule {
  const settings = viewsSettingsSchema.parse({ ...viewsSettingsFrom(ctx.config), ...opts.settings });
  const log = ctx.log.child({ module: 'views' });
  const registry = (): Registry => opts.liveRegistry?.current() ?? ctx.registry;
  const store = new LivenessStore();
  const windowMs = settings.onlineWindowMin * 60_000;
  let model = new CoverageModel({ registry: registry(), store, onlineWindowMs: windowMs, nowMs: ctx.now() });
  const compliance = new ComplianceService({ influx: ctx.influx, registry, store, settings, log });
  const timers: NodeJS.Timeout[] = [];

  opts.liveRegistry?.on('change', (change) => {
    model = new CoverageModel({ registry: change.current, store, onlineWindowMs: windowMs, nowMs: ctx.now() });
    log.info({ schools: change.current.schools.size }, 'coverage model rebuilt for the new registry');
  });

  const saveLiveness = (): void => {
    store.save(ctx.stateDir, ctx.now());
  };

  const writeCoverage = async (): Promise<number> => {
    const nowMs = ctx.now();
    const stepMs = Math.max(1, settings.coverageIntervalS) * 1000;
    // Stamped on the interval boundary: a restart mid-interval overwrites instead of adding a point.
    const points = coveragePoints(model, nowMs, Math.floor(nowMs / stepMs) * stepMs);
    await ctx.sink.write(points);
    return points.length;
  };

  const router = Router();
  router.use(coverageRouter({ registry, model: () => model, now: ctx.now }));
  router.use(complianceRouter({ registry, compliance, now: ctx.now }));

  return {
    name: 'views',
    router,
    settings,
    store,
    model: () => model,
    writeCoverage,
    saveLiveness,
    onAccepted(batch) {
      for (const report of batch.reports) store.apply(batch.school, livenessOf(report));
      model.update(batch.school, ctx.now());
    },
    async start() {
      let loaded = false;
      try {
        loaded = store.load(ctx.stateDir);
      } catch (e) {
        log.error({ err: String(e) }, 'liveness state unreadable; rebuilding it from InfluxDB');
      }
      if (!loaded) {
        try {
          const n = await rebuildLiveness({ influx: ctx.influx, store, nowMs: ctx.now(), windowMs: settings.livenessRebuildWindowH * 3_600_000, timeoutMs: settings.queryTimeoutMs });
          log.info({ schools: n, windowH: settings.livenessRebuildWindowH }, 'liveness rebuilt from InfluxDB');
        } catch (e) {
          log.error({ err: String(e) }, 'liveness could not be rebuilt from InfluxDB; starting with none (schools show as never seen until they report)');
        }
      }
      model = new CoverageModel({ registry: registry(), store, onlineWindowMs: windowMs, nowMs: ctx.now() });
      await compliance.loadProfiles();
      timers.push(
        setInterval(() => {
          if (!store.isDirty) return;
          try {
            saveLiveness();
          } catch (e) {
            log.error({ err: String(e) }, 'liveness state could not be saved');
          }
        }, settings.livenessSaveIntervalS * 1000).unref(),
      );
      if (settings.coverageIntervalS > 0) {
        timers.push(
          setInterval(() => {
            writeCoverage().catch((e: unknown) => log.error({ err: String(e) }, 'coverage points not written; next interval tries again'));
          }, settings.coverageIntervalS * 1000).unref(),
        );
      }
    },
    async stop() {
      for (const t of timers.splice(0)) clearInterval(t);
      saveLiveness();
    },
  };
}
