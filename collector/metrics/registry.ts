/**
 * The collector's own metrics in Prometheus format (prom-client), served at `/metrics`.
 *
 * One registry per process (`collectorMetrics()`): ingest, the sink and other modules increment the
 * counters below with a line each; gauges of live objects (queue depths, the state database's size)
 * are read at scrape time from sources registered with `addGaugeSource`. Label values come from small
 * fixed sets (HTTP status, error code, rule id, receiver kind): never a school id, so the series
 * count stays bounded at any number of schools. docs/alerts.md lists every name.
 */
import { statSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric name this module defines (docs/alerts.md lists the same; a test keeps them in sync). */
export const METRIC_NAMES = [
  'campuslink_ingest_requests_total',
  'campuslink_ingest_batches_total',
  'campuslink_ingest_reports_total',
  'campuslink_ingest_points_total',
  'campuslink_influx_write_seconds',
  'campuslink_influx_write_failures_total',
  'campuslink_queue_depth',
  'campuslink_state_db_bytes',
  'campuslink_alert_evaluations_total',
  'campuslink_alert_evaluation_seconds',
  'campuslink_alerts_firing',
  'campuslink_alert_notifications_total',
  'campuslink_budget_refusals_total',
] as const;

/** The collector's metrics; see the help texts for each. */
export interface CollectorMetrics {
  readonly registry: Registry;
  /** Answers of `POST /api/v1/reports` by HTTP status and catalogue code (`ok` for 200). */
  readonly ingestRequests: Counter<'status' | 'code'>;
  /** Accepted batches. */
  readonly ingestBatches: Counter;
  /** Reports of accepted batches, by `kind` (fresh = written, duplicate = held already). */
  readonly ingestReports: Counter<'kind'>;
  /** Points written for accepted batches. */
  readonly ingestPoints: Counter;
  /** Duration of one HTTP write to InfluxDB, by `result` (ok, error). */
  readonly influxWriteSeconds: Histogram<'result'>;
  /** InfluxDB writes not confirmed, by `retryable` (true, false). */
  readonly influxWriteFailures: Counter<'retryable'>;
  /** Alert rule evaluations (one sweep of one rule over every school or region), by `rule`. */
  readonly alertEvaluations: Counter<'rule'>;
  /** Duration of one sweep of every rule. */
  readonly alertEvaluationSeconds: Histogram;
  /** Alerts firing now, by `rule`. */
  readonly alertsFiring: Gauge<'rule'>;
  /** Notifications sent to Alertmanager or a robot, by `receiver` kind and `result` (ok, error). */
  readonly alertNotifications: Counter<'receiver' | 'result'>;
  /**
   * Batches or points refused by a per-school budget (collector/ingest/budgets.ts), by `limit`
   * (the budget's name, e.g. `points_per_minute`) — never by school.
   */
  readonly budgetRefusals: Counter<'limit'>;
  /** Adds a source of `campuslink_queue_depth{queue=…}`, read at every scrape; returns a remover. */
  addQueueSource(queue: string, depth: () => number): () => void;
  /** Sets the state database whose file (plus WAL) size `campuslink_state_db_bytes` reports. */
  setStateDbPath(path: string | undefined): void;
}

/** Bytes of a SQLite database: the file, its WAL and shared-memory index (0 for what does not exist). */
export function sqliteBytes(path: string): number {
  let n = 0;
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      n += statSync(p).size;
    } catch {
      /* not there (yet) */
    }
  }
  return n;
}

/** Builds a fresh set of metrics on its own registry (tests; the process uses `collectorMetrics()`). */
export function createCollectorMetrics(opts: { defaultMetrics?: boolean } = {}): CollectorMetrics {
  const registry = new Registry();
  // Node's own: event-loop delay (nodejs_eventloop_lag_*), heap, GC, handles, CPU and RSS.
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const registers = [registry];
  const queues = new Map<string, Set<() => number>>();
  let statePath: string | undefined;

  new Gauge({
    name: 'campuslink_queue_depth',
    help: 'Items waiting in an internal queue, by queue (sink_points: points waiting for an InfluxDB write; sink_writes: writes in flight; alert_notifications: alert messages not yet delivered)',
    labelNames: ['queue'],
    registers,
    collect() {
      this.reset();
      for (const [queue, fns] of queues) {
        let sum = 0;
        for (const fn of fns) {
          try {
            sum += fn();
          } catch {
            /* a source that fails reports nothing, the scrape goes on */
          }
        }
        this.set({ queue }, sum);
      }
    },
  });
  new Gauge({
    name: 'campuslink_state_db_bytes',
    help: 'Size of the state database on disk (file, WAL and index), bytes',
    registers,
    collect() {
      this.set(statePath ? sqliteBytes(statePath) : 0);
    },
  });

  return {
    registry,
    ingestRequests: new Counter({ name: 'campuslink_ingest_requests_total', help: 'Answers of POST /api/v1/reports by HTTP status and error code (ok for 200)', labelNames: ['status', 'code'], registers }),
    ingestBatches: new Counter({ name: 'campuslink_ingest_batches_total', help: 'Accepted batches', registers }),
    ingestReports: new Counter({ name: 'campuslink_ingest_reports_total', help: 'Reports of accepted batches by kind (fresh: written now; duplicate: held already)', labelNames: ['kind'], registers }),
    ingestPoints: new Counter({ name: 'campuslink_ingest_points_total', help: 'Points written for accepted batches', registers }),
    influxWriteSeconds: new Histogram({
      name: 'campuslink_influx_write_seconds',
      help: 'Duration of one HTTP write to InfluxDB by result (ok, error), seconds',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    influxWriteFailures: new Counter({ name: 'campuslink_influx_write_failures_total', help: 'InfluxDB writes not confirmed, by retryable (true: unreachable or 5xx; false: refused)', labelNames: ['retryable'], registers }),
    alertEvaluations: new Counter({ name: 'campuslink_alert_evaluations_total', help: 'Alert rule evaluations (one sweep of one rule over every school or region), by rule', labelNames: ['rule'], registers }),
    alertEvaluationSeconds: new Histogram({ name: 'campuslink_alert_evaluation_seconds', help: 'Duration of one sweep of every alert rule (wall time, including yields), seconds', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers }),
    alertsFiring: new Gauge({ name: 'campuslink_alerts_firing', help: 'Alerts firing now, by rule', labelNames: ['rule'], registers }),
    alertNotifications: new Counter({ name: 'campuslink_alert_notifications_total', help: 'Notifications sent to Alertmanager or a robot, by receiver kind and result (ok, error)', labelNames: ['receiver', 'result'], registers }),
    budgetRefusals: new Counter({ name: 'campuslink_budget_refusals_total', help: 'Batches or points refused by a per-school budget, by limit (never by school)', labelNames: ['limit'], registers }),
    addQueueSource(queue, depth) {
      let set = queues.get(queue);
      if (!set) queues.set(queue, (set = new Set()));
      set.add(depth);
      return () => void set.delete(depth);
    },
    setStateDbPath(path) {
      statePath = path;
    },
  };
}

let shared: CollectorMetrics | undefined;

/** The process's metrics, created on first use. Increment them with a line where things happen. */
export function collectorMetrics(): CollectorMetrics {
  shared ??= createCollectorMetrics();
  return shared;
}

/** ingest's hook: one answer of `POST /api/v1/reports` (status, and the catalogue code of an error body). */
export function observeIngestAnswer(status: number, body: unknown): void {
  const code = (body as { error?: { code?: string } } | undefined)?.error?.code ?? (status === 200 ? 'ok' : 'unknown');
  collectorMetrics().ingestRequests.inc({ status: String(status), code });
}

/** ingest's hook: an accepted batch with its fresh and repeated reports and the points written. */
export function observeAcceptedBatch(fresh: number, duplicates: number, points: number): void {
  const m = collectorMetrics();
  m.ingestBatches.inc();
  if (fresh) m.ingestReports.inc({ kind: 'fresh' }, fresh);
  if (duplicates) m.ingestReports.inc({ kind: 'duplicate' }, duplicates);
  if (points) m.ingestPoints.inc(points);
}

/**
 * The sink's hook: wraps its one-HTTP-write function (resolving with an error or undefined) to time
 * it and count failures.
 */
export function timedInfluxWrite<A extends unknown[], E extends object | undefined>(write: (...args: A) => Promise<E>): (...args: A) => Promise<E> {
  return async (...args) => {
    const m = collectorMetrics();
    const end = m.influxWriteSeconds.startTimer();
    const err = await write(...args);
    // A partial write (no `retryable`) stored the rest of the batch: neither ok nor a failed write.
    const failed = err !== undefined && 'retryable' in err;
    end({ result: err === undefined ? 'ok' : failed ? 'error' : 'partial' });
    if (failed) m.influxWriteFailures.inc({ retryable: String((err as { retryable: boolean }).retryable) });
    return err;
  };
}
