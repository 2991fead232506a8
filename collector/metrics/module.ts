/**
 * The metrics module: the handler of `GET /metrics` (mounted by collector/http/app.ts beside
 * `/healthz`), and the gauges of the collector's
 * live objects (the sink's queue, the state database's size). See collector/metrics/registry.ts.
 */
import type { RequestHandler } from 'express';
import type { CollectorModule, ModuleContext } from '../module.js';
import { collectorMetrics, type CollectorMetrics } from './registry.js';

/** A sink that can say how much it holds (collector/sink/influx1.ts has it). */
interface SinkWithStats {
  stats(): { queuedPoints: number; inFlight: number };
}

function hasStats(sink: unknown): sink is SinkWithStats {
  return typeof (sink as Partial<SinkWithStats>)?.stats === 'function';
}

/** `GET /metrics`: the registry in Prometheus text format. */
export function metricsHandler(metrics: CollectorMetrics = collectorMetrics()): RequestHandler {
  return (_req, res, next) => {
    metrics.registry
      .metrics()
      .then((text) => res.type(metrics.registry.contentType).send(text))
      .catch(next);
  };
}

/** Builds the module; `metrics` defaults to the process's (tests pass a fresh set). */
export function createMetricsModule(ctx: Pick<ModuleContext, 'sink' | 'state' | 'log'>, metrics: CollectorMetrics = collectorMetrics()): CollectorModule {
  const removers: (() => void)[] = [];
  return {
    name: 'metrics',
    async start() {
      metrics.setStateDbPath(ctx.state.path);
      const sink = ctx.sink;
      if (hasStats(sink)) {
        removers.push(metrics.addQueueSource('sink_points', () => sink.stats().queuedPoints));
        removers.push(metrics.addQueueSource('sink_writes', () => sink.stats().inFlight));
      }
    },
    async stop() {
      for (const r of removers.splice(0)) r();
    },
  };
}
