/** Small helpers for the views' InfluxQL reads: quoting, and raw results per statement. */
import type { InfluxDB } from 'influx';

/** One series of a statement's result. */
export interface Series {
  name: string;
  tags: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

interface RawResult {
  results?: { statement_id?: number; error?: string; series?: { name: string; tags?: Record<string, string>; columns: string[]; values?: unknown[][] }[] }[];
  error?: string;
}

/**
 * InfluxDB could not answer a read: refused, reset, down, a 5xx, or slower than the timeout. The read
 * APIs answer it with 503 COL_ERR_QUERY_UNAVAILABLE and Retry-After, never 500.
 */
export class QueryUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueryUnavailableError';
  }
}

/** Whether an error means InfluxDB could not answer (see QueryUnavailableError). */
export function isQueryUnavailable(e: unknown): boolean {
  return e instanceof QueryUnavailableError;
}

/** A tag or string literal for InfluxQL: single quotes, backslash and quote escaped. */
export function lit(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A time bound as an epoch-ms literal. */
export function ms(t: number): string {
  return `${Math.floor(t)}ms`;
}

/**
 * Runs one or more statements (joined by `;`) in one HTTP request with epoch=ms. Returns the series of
 * each statement in order; any statement error rejects, and so does a request slower than `timeoutMs`.
 */
export async function runStatements(influx: InfluxDB, statements: readonly string[], timeoutMs: number): Promise<Series[][]> {
  if (statements.length === 0) return [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new QueryUnavailableError(`InfluxDB query timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    let raw: RawResult;
    try {
      raw = (await Promise.race([influx.queryRaw(statements.join(';\n'), { precision: 'ms', method: 'POST' } as never), timeout])) as RawResult;
    } catch (e) {
      if (e instanceof QueryUnavailableError) throw e;
      // The request itself failed (refused, reset, an HTTP error status): InfluxDB is not answering.
      throw new QueryUnavailableError(`InfluxDB did not answer the query: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
    // A whole-request error (e.g. a timeout inside influxd); a statement's error is the query's fault.
    if (raw.error) throw new QueryUnavailableError(`InfluxDB query failed: ${raw.error}`);
    const out: Series[][] = statements.map(() => []);
    // Before the first write the database does not exist: no data, not a failure. InfluxDB may
    // answer a multi-statement request with only "not executed"; the first statement alone says why.
    let errors = (raw.results ?? []).map((r) => r.error).filter((e): e is string => !!e);
    if (errors.length && errors.every((e) => e === 'not executed') && statements.length > 1) {
      try {
        const first = (await Promise.race([influx.queryRaw(statements[0] as string, { precision: 'ms', method: 'POST' } as never), timeout])) as RawResult;
        errors = (first.results ?? []).map((r) => r.error).filter((e): e is string => !!e);
      } catch (e) {
        throw new QueryUnavailableError(`InfluxDB did not answer the query: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      }
    }
    if (errors.some((e) => /database not found/.test(e))) return out;
    (raw.results ?? []).forEach((r, i) => {
      if (r.error) throw new Error(`InfluxDB query failed: ${r.error} (in: ${statements[r.statement_id ?? i]})`);
      out[r.statement_id ?? i] = (r.series ?? []).map((s) => ({ name: s.name, tags: s.tags ?? {}, columns: s.columns, values: s.values ?? [] }));
    });
    return out;
  } finally {
    clearTimeout(timer);
  }
}

/** The first row of a series as column → value. */
export function firstRow(s: Series): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  s.columns.forEach((c, i) => (row[c] = s.values[0]?.[i]));
  return row;
}
