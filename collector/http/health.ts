/**
 * What `/healthz` reports beside "ok", so an operator and the benchmarks can read the collector's own
 * condition: event-loop delay (since start and over the last complete window), the listener's connection
 * counts and limits, and the state database's health when there is one.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Event-loop delay figures, in ms. */
export interface LoopDelay {
  maxMs: number;
  p99Ms: number;
  meanMs: number;
}

/** What a listener tells about itself (see listener.ts). */
export interface ListenerStats {
  open: number;
  /** The connection cap in force: http.maxConnections, or lower when the descriptor limit leaves less room. */
  maxConnections: number;
  http1: number;
  http2Sessions: number;
  refused: number;
  bodyInflightBytes: number;
  bodyBudgetBytes: number;
  /** Uploads admitted and not yet answered, and their cap (http.maxInflightRequests). */
  inflightRequests: number;
  maxInflightRequests: number;
  overloaded: number;
  resourceErrors: Record<string, number>;
  /** With HTTPS (tls.certFile): handshakes, resumed ones, failures, certificate reloads and the certificate's notAfter (behind a front: HAProxy's counters since it last started). */
  tls?: { handshakes: number; resumed: number; failed: number; reloads: number; reloadFailures: number; certValidTo: string };
  /** With `front.kind: haproxy`: HAProxy's pid and how often it was started again. */
  front?: { kind: 'haproxy'; pid: number | null; restarts: number };
}

/** Anything with the state database's `health()`. */
export interface StateHealthSource {
  health(): unknown;
}

/** The live health of a collector, read by `/healthz`. */
export interface Health {
  /** The JSON `/healthz` sends. */
  snapshot(): Record<string, unknown>;
  /** Gives the listener's counts once it is listening (it is created after the app). */
  attachListener(stats: () => ListenerStats): void;
  /** Stops the event-loop monitors. */
  close(): void;
}

export interface HealthOptions {
  /** The state database (or anything with `health()`). */
  state?: StateHealthSource;
  /** Length of the window whose last complete figures are reported, in ms. Default 60000. */
  windowMs?: number;
  /** Histogram resolution, in ms. Default 10. */
  resolutionMs?: number;
}

const ms = (ns: number) => Math.round(ns / 1e4) / 100;

function figures(h: IntervalHistogram): LoopDelay {
  // An empty histogram reports min/max of ±9.2e18; nothing measured is 0.
  if (h.count === 0) return { maxMs: 0, p99Ms: 0, meanMs: 0 };
  return { maxMs: ms(h.max), p99Ms: ms(h.percentile(99)), meanMs: ms(h.mean) };
}

/** Starts the event-loop monitors and returns the health source. */
export function createHealth(opts: HealthOptions = {}): Health {
  const resolution = opts.resolutionMs ?? 10;
  const windowMs = opts.windowMs ?? 60_000;
  const startedAt = Date.now();
  const sinceStart = monitorEventLoopDelay({ resolution });
  const window = monitorEventLoopDelay({ resolution });
  sinceStart.enable();
  window.enable();
  let lastWindow: LoopDelay | undefined;
  const timer = setInterval(() => {
    try {
      lastWindow = figures(window);
      window.reset();
    } catch {
      // A histogram read cannot fail in practice; a timer must never throw either way.
    }
  }, windowMs);
  timer.unref();
  let listener: (() => ListenerStats) | undefined;

  return {
    snapshot() {
      const out: Record<string, unknown> = {
        uptimeS: Math.round((Date.now() - startedAt) / 1000),
        eventLoop: { sinceStart: figures(sinceStart), window: { ...(lastWindow ?? figures(window)), windowS: windowMs / 1000 } },
        rssBytes: process.memoryUsage.rss(),
      };
      if (listener) out.connections = listener();
      if (opts.state) {
        try {
          out.state = opts.state.health();
        } catch (e) {
          out.state = { error: String(e) };
        }
      }
      return out;
    },
    attachListener(stats) {
      listener = stats;
    },
    close() {
      clearInterval(timer);
      sinceStart.disable();
      window.disable();
    },
  };
}
