/**
 * What bounds the collector's port: how many connections and HTTP/2 sessions it holds, how many streams a
 * session may open, how many request-body bytes all requests together may hold in memory, and how long a
 * connection may sit idle (before its first byte, before it authenticates, between uploads).
 */
import type { Logger } from 'pino';

/** The listener's limits; every one has a default sized for a province (60,000 schools, one HTTP/2 session each). */
export interface ListenerLimits {
  /** Open connections of both HTTP versions; a connection over it is accepted and closed at once. */
  maxConnections: number;
  /** Open HTTP/2 sessions (a subset of the connections). */
  maxHttp2Sessions: number;
  /** Concurrent streams one HTTP/2 session may open (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** Request-body bytes all requests together may hold in flight; over it → 503 COL_ERR_OVERLOADED. */
  maxInflightBodyBytes: number;
  /**
   * Requests with a body (uploads) in flight at once, from their headers to their answer; over it → 503
   * COL_ERR_OVERLOADED at once. Past capacity a queue only adds latency, memory and GC pauses until every
   * upload times out; a quick 503 with Retry-After makes the excess agents back off instead.
   */
  maxInflightRequests: number;
  /** HTTP/1.1: time to receive a request's headers, in ms. */
  headersTimeoutMs: number;
  /** HTTP/1.1: time to receive a whole request, in ms. */
  requestTimeoutMs: number;
  /** HTTP/1.1: an idle kept-alive connection is closed after this, in ms. */
  keepAliveTimeoutMs: number;
  /** A connection that sends nothing for this long after connecting is closed, in ms. */
  firstByteTimeoutMs: number;
  /**
   * An HTTP/2 session without any stream for this long is closed (GOAWAY), in ms. Longer than any upload interval.
   * Both session timeouts are checked by one sweep every quarter of the shorter one (10 ms – 5 s), not by a timer
   * per session (listener.ts: Node's session timer kept closed sessions reachable).
   */
  sessionIdleTimeoutMs: number;
  /** An HTTP/2 session that has not had one request answered other than 401 within this (and has no stream open) is closed, in ms. */
  unauthenticatedTimeoutMs: number;
  /** Seconds sent in Retry-After with 503 COL_ERR_OVERLOADED. */
  retryAfterS: number;
  /** COL_ERR_RESOURCE_EXHAUSTED is logged at most once per this, in ms. */
  resourceLogIntervalMs: number;
}

/** The defaults: 60,000 sessions with 25 % headroom, ~2 uploads in flight per session at most. */
export const DEFAULT_LIMITS: Readonly<ListenerLimits> = Object.freeze({
  maxConnections: 80_000,
  maxHttp2Sessions: 75_000,
  maxConcurrentStreams: 16,
  maxInflightBodyBytes: 256 * 1024 * 1024,
  maxInflightRequests: 1_000,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  firstByteTimeoutMs: 30_000,
  sessionIdleTimeoutMs: 15 * 60_000,
  unauthenticatedTimeoutMs: 60_000,
  retryAfterS: 10,
  resourceLogIntervalMs: 10_000,
});

/**
 * The global body budget: bytes of request bodies held in memory by all requests together. A request
 * reserves its declared Content-Length when it starts and grows its share as bytes beyond it arrive.
 */
export class BodyBudget {
  private used = 0;
  /** Requests refused or cut because the budget was spent. */
  rejected = 0;

  constructor(readonly limitBytes: number) {}

  /** Bytes held now. */
  get inflightBytes(): number {
    return this.used;
  }

  /** Takes `bytes` if they fit; false (and nothing taken) when they would exceed the budget. */
  tryTake(bytes: number): boolean {
    if (bytes > 0 && this.used + bytes > this.limitBytes) return false;
    this.used += bytes;
    return true;
  }

  /** Gives back bytes taken earlier. */
  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

const RESOURCE_CODES = new Set(['EMFILE', 'ENFILE', 'ENOSPC', 'EIO', 'ENOBUFS', 'ENOMEM']);

/** Whether an error is the environment running out of something (descriptors, space, I/O), not a bug. */
export function isResourceError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RESOURCE_CODES.has(code);
}

/**
 * Logs COL_ERR_RESOURCE_EXHAUSTED at most once per `intervalMs` per `where`, with how many were suppressed
 * in between: under EMFILE the accept loop fails thousands of times a second.
 */
export class ResourceAlarm {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  /** Resource errors seen, by errno code. */
  readonly counts: Record<string, number> = {};

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one resource error at `where`; logs it unless one was logged there less than intervalMs ago. */
  raise(where: string, e: unknown): void {
    const code = String((e as { code?: unknown } | null)?.code ?? 'UNKNOWN');
    this.counts[code] = (this.counts[code] ?? 0) + 1;
    const suppressed = this.due(`resource:${where}`);
    if (suppressed === undefined) return;
    this.log.error(
      { code: 'COL_ERR_RESOURCE_EXHAUSTED', errno: code, where, err: (e as Error)?.message, suppressed },
      `COL_ERR_RESOURCE_EXHAUSTED: ${where}: ${code}; the collector keeps running and recovers when the resource is back`,
    );
  }

  /** Records one connection refused at a cap; logs COL_ERR_OVERLOADED at most once per intervalMs. */
  refused(cap: 'maxConnections' | 'maxHttp2Sessions', limit: number): void {
    const suppressed = this.due(`cap:${cap}`);
    if (suppressed === undefined) return;
    this.log.warn({ code: 'COL_ERR_OVERLOADED', cap, limit, suppressed }, `COL_ERR_OVERLOADED: ${cap} (${limit}) reached; new connections are closed until some end`);
  }

  /** Undefined while `key` was logged less than intervalMs ago (and counts one more suppressed), else the count suppressed since. */
  private due(key: string): number | undefined {
    const t = this.now();
    const prev = this.last.get(key);
    if (prev && t - prev.at < this.intervalMs) {
      prev.suppressed++;
      return undefined;
    }
    this.last.set(key, { at: t, suppressed: 0 });
    return prev?.suppressed ?? 0;
  }
}
