/**
 * The alerts module: rules from `alerts.rulesFile` (docs/alerts.md), the engine fed by accepted
 * batches and swept on a timer, firing alerts kept in the state database, delivery to Alertmanager
 * and to the direct robot receivers, and `GET /api/v1/alerts`.
 */
import { Router } from 'express';
import type { Report } from '../../protocol/index.js';
import { collectorMetrics, type CollectorMetrics } from '../metrics/registry.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import type { Registry } from '../registry/index.js';
import type { ViewsModule } from '../views/index.js';
import type { Alert } from './alert.js';
import { AlertmanagerClient } from './alertmanager.js';
import type { MaintenanceCheck } from './maintenance.js';
import { ALWAYS_SCHOOL_TIME, calendarSchoolTime, type SchoolTime } from './calendar.js';
import { AlertEngine, type ComplianceStatuses, type SweepResult } from './engine.js';
import { RobotReceiver } from './robots.js';
import { loadAlertRules, type AlertRule } from './rules.js';
import { alertsSettingsSchema, type AlertsSettings } from './settings.js';
import { AlertStore } from './store.js';

export { alertsSettingsSchema, type AlertsSettings } from './settings.js';

export interface AlertsModuleOptions {
  /** The views module: saved liveness to start from, the online window, compliance tables. */
  views?: ViewsModule;
  /** School hours; default: the views module's school calendar, else always. */
  schoolTime?: SchoolTime;
  /** Settings over `ctx.config.alerts`. */
  settings?: Partial<AlertsSettings>;
  /** Rules over the rules file (tests). */
  rules?: readonly AlertRule[];
  metrics?: CollectorMetrics;
  /** Maintenance windows (maintenance.ts); alerts inside one are not raised. */
  maintenance?: MaintenanceCheck;
  /** Told what each sweep changed (the alerts page's history, board.ts). */
  journal?: { note(fired: readonly Alert[], resolved: readonly Alert[]): void };
}

/** The module plus handles for tests and benchmarks. */
export interface AlertsModule extends CollectorModule {
  readonly engine: AlertEngine;
  readonly settings: AlertsSettings;
  /** One sweep now, with delivery and persistence of what changed. */
  evaluate(): Promise<SweepResult>;
  /** Sends every firing and recently resolved alert to Alertmanager now. */
  resend(): Promise<void>;
  /** Settles the Alertmanager sends queued so far (tests). */
  delivered(): Promise<void>;
  readonly receivers: readonly RobotReceiver[];
}

/**
 * The time a report's points carry when the agent's clock was off: its collection moved by the
 * offset seen at receipt (as ingest does), so a school with a wrong clock is not judged hours off.
 */
function reportTimeMs(r: Report, receivedAtMs: number, maxSkewMs: number): number {
  const offset = receivedAtMs - r.sentAt;
  return !r.clockCorrected && Math.abs(offset) > maxSkewMs ? r.collectedAt + offset : r.collectedAt;
}

function complianceAdapter(views: ViewsModule | undefined): ((profile: string) => ComplianceStatuses | undefined) | undefined {
  if (!views) return undefined;
  return (profile) => {
    const table = views.live()?.table(profile);
    if (!table || table.schoolCount('000000') === 0) return undefined;
    return { ruleIds: table.profile.rules.map((r) => r.id), statusOf: (school, k) => table.statusOf(school, k) };
  };
}

/** Builds the module; throws ConfigError on a bad rules file (the config check catches it first). */
export function createAlertsModule(ctx: ModuleContext, opts: AlertsModuleOptions = {}): AlertsModule {
  const fromConfig = (ctx.config as { alerts?: unknown } | undefined)?.alerts ?? {};
  const settings = alertsSettingsSchema.parse({ ...(fromConfig as object), ...opts.settings });
  const rules = opts.rules ?? loadAlertRules(settings.rulesFile);
  const metrics = opts.metrics ?? collectorMetrics();
  const log = ctx.log.child({ module: 'alerts' });
  const registry = (): Registry => ctx.liveRegistry?.current() ?? ctx.registry;
  const listen = (ctx.config as { listen?: string } | undefined)?.listen ?? '127.0.0.1:8470';
  const maxSkewMs = (ctx.config as { ingest?: { maxClockSkewMs?: number } } | undefined)?.ingest?.maxClockSkewMs ?? 600_000;
  const engine = new AlertEngine({
    rules,
    registry,
    now: ctx.now,
    log,
    // Offline and region rules that ask for school hours follow the views' calendar (holidays, 寒暑假 silence them).
    schoolTime: opts.schoolTime ?? (opts.views ? calendarSchoolTime(opts.views.calendar) : ALWAYS_SCHOOL_TIME),
    onlineWindowMs: (opts.views?.settings.onlineWindowMin ?? 15) * 60_000,
    staleAfterMs: settings.staleAfterMin * 60_000,
    maxActive: settings.maxActive,
    consoleUrl: settings.consoleUrl || `http://${listen}`,
    compliance: complianceAdapter(opts.views),
    maintenance: opts.maintenance,
  });
  const am = new AlertmanagerClient({
    ...settings.alertmanager,
    resendIntervalMs: settings.alertmanager.resendIntervalS * 1000,
    resolvedResendMs: settings.alertmanager.resolvedResendMin * 60_000,
    now: ctx.now,
    log,
    metrics,
  });
  const receivers = settings.receivers.map((s) => new RobotReceiver({ settings: s, now: ctx.now, log, metrics }));
  let store: AlertStore | undefined;
  const timers: NodeJS.Timeout[] = [];
  const removers: (() => void)[] = [];

  const evaluate = async (): Promise<SweepResult> => {
    const end = metrics.alertEvaluationSeconds.startTimer();
    const r = await engine.sweep();
    end();
    const firing = new Map<string, number>(engine.rules.map((x) => [x.id, 0]));
    for (const a of engine.active.values()) firing.set(a.rule, (firing.get(a.rule) ?? 0) + 1);
    for (const [rule, n] of firing) {
      metrics.alertEvaluations.inc({ rule });
      metrics.alertsFiring.set({ rule }, n);
    }
    if (r.fired.length || r.resolved.length) log.info({ fired: r.fired.length, resolved: r.resolved.length, firing: engine.active.size, busyMs: Math.round(r.busyMs) }, 'alerts changed');
    store?.note(r.fired, r.resolved);
    opts.journal?.note(r.fired, r.resolved);
    for (const rx of receivers) rx.add(r.fired, r.resolved);
    // Queued, not awaited: an Alertmanager that is down or slow never holds up the sweep.
    am.changed(r.fired, r.resolved);
    await store?.flush();
    return r;
  };

  /** A job on a timer that never overlaps itself; its failure is logged and the next round tries again. */
  const repeat = (ms: number, what: string, job: () => Promise<unknown>): void => {
    const state = { running: false };
    const timer = setInterval(() => {
      if (state.running) return;
      state.running = true;
      void job()
        .catch((e: unknown) => log.error({ err: String(e) }, what))
        .finally(() => (state.running = false));
    }, ms);
    timer.unref();
    timers.push(timer);
  };

  const router = Router();
  router.get('/api/v1/alerts', (req, res) => {
    const rule = typeof req.query.rule === 'string' ? req.query.rule : undefined;
    const region = typeof req.query.region === 'string' ? req.query.region : undefined;
    const limit = Math.min(10_000, Math.max(1, Number(req.query.limit) || 1000));
    const out: Alert[] = [];
    let total = 0;
    for (const a of engine.active.values()) {
      if (rule && a.rule !== rule) continue;
      if (region && ![a.labels.region, a.labels.county, a.labels.city, a.labels.province].includes(region)) continue;
      total++;
      if (out.length < limit) out.push(a);
    }
    res.json({
      firing: total,
      alerts: out.map((a) => ({ key: a.key, rule: a.rule, severity: a.severity, labels: a.labels, summary: a.summaryEn, summaryZh: a.summaryZh, consoleUrl: a.consoleUrl, startsAt: new Date(a.startsAtMs).toISOString() })),
      truncated: total > out.length,
    });
  });
  router.get('/api/v1/alerts/rules', (_req, res) => {
    res.json({ rules: rules.map((r) => ({ ...r })) });
  });

  return {
    name: 'alerts',
    router,
    engine,
    settings,
    receivers,
    evaluate,
    resend: () => am.resend(engine.active.values()),
    delivered: () => am.idle(),
    onAccepted(batch) {
      for (const r of batch.reports) engine.onReport(batch.school, r, reportTimeMs(r, batch.receivedAtMs, maxSkewMs));
    },
    async start() {
      store = new AlertStore(ctx.state);
      const saved = store.load();
      engine.restore(saved);
      // Start from the views' saved liveness: a restart does not forget who has been offline since when.
      if (opts.views) for (const [school, l] of opts.views.store.entries()) engine.seed(school, l.internetLossPct !== null && l.internetLossPct < 100 ? l.internetAtMs : null, l.lastReportMs);
      log.info({ rules: engine.rules.length, restored: saved.length, alertmanagers: settings.alertmanager.urls.length, receivers: receivers.length }, 'alert rules loaded');
      const s = store;
      removers.push(metrics.addQueueSource('alert_notifications', () => receivers.reduce((n, r) => n + r.backlog, 0) + s.backlog + am.backlog));
      repeat(settings.evaluateIntervalS * 1000, 'alert sweep failed; the next one tries again', evaluate);
      if (am.enabled) repeat(settings.alertmanager.resendIntervalS * 1000, 'alert re-send failed; the next one tries again', () => am.resend(engine.active.values()));
    },
    async stop() {
      for (const t of timers.splice(0)) clearInterval(t);
      for (const r of removers.splice(0)) r();
      await Promise.all(receivers.map((r) => r.stop()));
      await store?.flush().catch((e: unknown) => log.error({ err: String(e) }, 'alert state not saved at stop'));
    },
  };
}
