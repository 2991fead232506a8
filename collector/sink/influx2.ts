/**
 * The InfluxDB v2 write-API sink: writes line protocol to `POST /api/v2/write` (served by InfluxDB
 * 1.8+, 2.x, 3.x and InfluxDB Cloud) through `@influxdata/influxdb-client`, and maps every failure
 * to a SinkError.
 *
 * The library buffers failed lines in memory and retries them behind the caller's back; closing it
 * drops what is left. A collector that acknowledged such a report would lose it. So every HTTP write
 * here uses a fresh WriteApi with `maxRetries: 0`, an unbounded batch (it never flushes on its own)
 * and an explicit `flush()`: write() resolves only when that flush — one HTTP write per
 * `maxBatchPoints` lines — was answered 204, and the retry buffer is never used. Retrying is the
 * agent's job (its spool is on disk).
 *
 * The library logs to the console; `setLogger` sends its messages to pino instead (at debug level:
 * every failure also reaches the caller as a SinkError, which the collector logs).
 */
import { HttpError, InfluxDB, RequestTimedOutError, setLogger } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import { parseRetryAfter, toLineProtocol } from './influx1.js';
import { SinkError, type Point, type Sink } from './sink.js';

export interface Influx2SinkOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:8086` or `https://eu-central-1-1.aws.cloud2.influxdata.com`. */
  url: string;
  /** Organization name or id (InfluxDB 2.x, Cloud). 1.8 and 3.x ignore it; give any non-empty value there. */
  org: string;
  /** Bucket written to (on 1.8: `database/retention-policy`; on 3.x: the database). */
  bucket: string;
  /** API token, sent as `Authorization: Token …` (on 1.8: `username:password`). Take it from the environment. */
  token?: string;
  /** Most points in one HTTP write. Default 5000. */
  maxBatchPoints?: number;
  /** Timeout of one HTTP request, in ms. Default 10000. */
  timeoutMs?: number;
  /** Most HTTP writes in flight at once. Default 2. */
  maxConcurrentWrites?: number;
  /** gzip request bodies larger than this many bytes; -1 never. Default 1000. */
  gzipThresholdBytes?: number;
  /** retryAfterMs of a retryable SinkError when the server did not send Retry-After. Default 1000. */
  defaultRetryAfterMs?: number;
  log?: Logger;
}

export interface Influx2SinkStats {
  /** HTTP writes sent, including failed ones. */
  httpWrites: number;
  /** HTTP writes the server did not confirm. */
  failedHttpWrites: number;
  /** Points the server confirmed. */
  pointsWritten: number;
  /** HTTP writes in flight. */
  inFlight: number;
}

export interface Influx2Sink extends Sink {
  writeLines(lines: readonly string[]): Promise<void>;
  readonly url: string;
  readonly org: string;
  readonly bucket: string;
  stats(): Influx2SinkStats;
}

/** The server's error text: the v2 JSON `message` (with `code`), else the body. */
function httpErrorText(e: HttpError): string {
  const json = e.json as { code?: unknown; message?: unknown; error?: unknown } | undefined;
  if (json && typeof json.message === 'string') return typeof json.code === 'string' ? `${json.code}: ${json.message}` : json.message;
  if (json && typeof json.error === 'string') return json.error;
  return (e.body ?? '').trim().slice(0, 500) || e.statusMessage || 'no details';
}

/**
 * Maps an error of `@influxdata/influxdb-client` onto a SinkError: 429 and 5xx are retryable with
 * the server's Retry-After (seconds or an HTTP date), network errors and timeouts retryable with
 * the default delay, every other status (400 bad line, 401/403 token, 404 bucket, 413 too large) not.
 */
export function toSinkError(what: string, displayUrl: string, e: unknown, defaultRetryAfterMs: number, now = Date.now()): SinkError {
  if (e instanceof HttpError) {
    const text = httpErrorText(e);
    if (e.statusCode === 429 || e.statusCode >= 500) {
      const after = parseRetryAfter(e.headers?.['retry-after'], now) ?? defaultRetryAfterMs;
      return new SinkError(`${what}: InfluxDB at ${displayUrl} answered ${e.statusCode}: ${text}`, true, after, { cause: e });
    }
    const hint =
      e.statusCode === 401 || e.statusCode === 403
        ? ' (check the token and its write permission on the bucket)'
        : e.statusCode === 404
          ? ' (check org and bucket)'
          : e.statusCode === 413
            ? ' (lower influx.maxBatchPoints)'
            : '';
    return new SinkError(`${what}: InfluxDB at ${displayUrl} rejected it (${e.statusCode}): ${text}${hint}`, false, undefined, { cause: e });
  }
  if (e instanceof RequestTimedOutError) {
    return new SinkError(`${what}: InfluxDB at ${displayUrl} did not answer in time`, true, defaultRetryAfterMs, { cause: e });
  }
  const err = e as NodeJS.ErrnoException;
  const code = err?.code;
  const text = code ? `${code}${err.message && !err.message.includes(code) ? ` (${err.message})` : ''}` : String(err?.message ?? e);
  // Below HTTP (refused, reset, DNS, TLS) the server may come back: the write is worth repeating.
  return new SinkError(`${what}: InfluxDB at ${displayUrl} is unreachable: ${text}`, true, defaultRetryAfterMs, { cause: e });
}

/** A counting semaphore bounding concurrent HTTP writes. */
function limiter(max: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Creates the sink. Nothing is contacted until the first write() or ready(). */
export function createInflux2Sink(options: Influx2SinkOptions): Influx2Sink {
  if (!options.org) throw new Error('influx2 sink: org must be set (any non-empty value for InfluxDB 1.8 and 3.x)');
  if (!options.bucket) throw new Error('influx2 sink: bucket must be set');
  const base = new URL(options.url);
  const displayUrl = `${base.protocol}//${base.host}${base.pathname.replace(/\/+$/, '')}`;
  const maxBatchPoints = Math.max(1, options.maxBatchPoints ?? 5000);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const gzipThreshold = options.gzipThresholdBytes ?? 1000;
  const defaultRetryAfterMs = options.defaultRetryAfterMs ?? 1000;
  const log = options.log?.child({ component: 'influx2-sink', influx: displayUrl, org: options.org, bucket: options.bucket });

  // The library's logger is global to the process; its messages duplicate the SinkErrors we raise.
  setLogger({
    error: (message: string, err?: unknown) => log?.debug({ err: err instanceof Error ? err.message : err }, `influxdb-client: ${message}`),
    warn: (message: string, err?: unknown) => log?.debug({ err: err instanceof Error ? err.message : err }, `influxdb-client: ${message}`),
  });

  const client = new InfluxDB({ url: displayUrl, token: options.token, timeout: timeoutMs });
  const limit = limiter(Math.max(1, options.maxConcurrentWrites ?? 2));
  const counters = { httpWrites: 0, failedHttpWrites: 0, pointsWritten: 0, inFlight: 0 };
  let closed = false;
  const pending = new Set<Promise<unknown>>();

  /** One HTTP write of these lines; resolves once answered 204, rejects with a SinkError otherwise. */
  const writeChunk = (lines: string[]): Promise<void> =>
    limit(async () => {
      const what = `writing ${lines.length} point${lines.length === 1 ? '' : 's'}`;
      const api = client.getWriteApi(options.org, options.bucket, 'ms', {
        maxRetries: 0,
        maxBufferLines: 0,
        batchSize: lines.length + 1,
        maxBatchBytes: Number.MAX_SAFE_INTEGER,
        flushInterval: 0,
        gzipThreshold: gzipThreshold < 0 ? undefined : gzipThreshold,
      });
      counters.httpWrites++;
      counters.inFlight++;
      try {
        api.writeRecords(lines);
        await api.flush();
        counters.pointsWritten += lines.length;
      } catch (e) {
        counters.failedHttpWrites++;
        const err = toSinkError(what, displayUrl, e, defaultRetryAfterMs);
        log?.[err.retryable ? 'warn' : 'error']({ err: err.message, points: lines.length }, 'write failed');
        throw err;
      } finally {
        counters.inFlight--;
        // Nothing is left in its buffers (maxRetries 0); dispose only clears its timers.
        api.dispose();
      }
    });

  const writeLines = (lines: readonly string[]): Promise<void> => {
    if (closed) return Promise.reject(new SinkError('the InfluxDB v2 sink is closed', true, defaultRetryAfterMs));
    if (lines.length === 0) return Promise.resolve();
    const chunks: string[][] = [];
    for (let i = 0; i < lines.length; i += maxBatchPoints) chunks.push(lines.slice(i, i + maxBatchPoints));
    // All chunks settle before the caller hears the outcome, so close() never cuts one short.
    const job = Promise.allSettled(chunks.map(writeChunk)).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
    pending.add(job);
    void job.catch(() => undefined).finally(() => pending.delete(job));
    return job;
  };

  return {
    url: displayUrl,
    org: options.org,
    bucket: options.bucket,

    write(points: readonly Point[]): Promise<void> {
      if (closed) return Promise.reject(new SinkError('the InfluxDB v2 sink is closed', true, defaultRetryAfterMs));
      let lines: string[];
      try {
        lines = points.map(toLineProtocol);
      } catch (e) {
        return Promise.reject(e instanceof SinkError ? e : new SinkError(String(e), false, undefined, { cause: e }));
      }
      return writeLines(lines);
    },

    writeLines: (lines: readonly string[]) => writeLines(lines),

    async ready(): Promise<boolean> {
      try {
        const res = await fetch(new URL(`${base.pathname.replace(/\/+$/, '')}/ping`, base), {
          headers: options.token ? { authorization: `Token ${options.token}` } : {},
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer();
        return res.ok;
      } catch {
        return false;
      }
    },

    async close(): Promise<void> {
      closed = true;
      await Promise.allSettled([...pending]);
    },

    stats(): Influx2SinkStats {
      return { ...counters };
    },
  };
}
