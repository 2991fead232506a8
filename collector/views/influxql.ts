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
    timer = setTimeout(() => rej(new Error(`InfluxDB query timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const raw = (await Promise.race([influx.queryRaw(statements.join(';\n'), { precision: 'ms', method: 'POST' } as never), timeout])) as RawResult;
    if (raw.error) throw new Error(`InfluxDB query failed: ${raw.error}`);
    const out: Series[][] = statements.map(() => []);
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
