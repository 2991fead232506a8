/** Answers of the read API: the catalogue's error shape for bad queries, and CSV with a UTF-8 BOM. */
import type { Request, Response } from 'express';
import { stringify } from 'csv-stringify/sync';
import type { z } from 'zod';
import type { Logger } from 'pino';
import { sendError } from '../../http/errors.js';
import { isQueryUnavailable } from '../influxql.js';

/** Seconds a client is asked to wait when InfluxDB could not answer a read. */
export const QUERY_RETRY_AFTER_S = 5;

/**
 * Answers 503 COL_ERR_QUERY_UNAVAILABLE with Retry-After when `e` says InfluxDB could not answer a
 * read; returns false (nothing sent) for any other error, which stays a bug for the 500 handler.
 */
export function sendIfUnavailable(res: Response, e: unknown, log?: Logger): boolean {
  if (!isQueryUnavailable(e)) return false;
  log?.warn({ path: res.req?.path, err: String((e as Error).message) }, 'read from InfluxDB failed');
  res.set('Retry-After', String(QUERY_RETRY_AFTER_S));
  sendError(res, 'COL_ERR_QUERY_UNAVAILABLE', `the time-series database did not answer: ${(e as Error).message}`);
  return true;
}

/** 400 `{ error: { code: COL_ERR_INVALID_QUERY, message, issues } }`. */
export function sendInvalidQuery(res: Response, issues: { path: string; message: string }[]): void {
  sendError(res, 'COL_ERR_INVALID_QUERY', `invalid query: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

/** Parses `req.query` (or params) with `schema`; answers 400 and returns undefined when it does not fit. */
export function parseQuery<S extends z.ZodType>(schema: S, input: unknown, res: Response): z.output<S> | undefined {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  sendInvalidQuery(
    res,
    r.error.issues.map((i) => ({
      path: i.path.join('.') || '(query)',
      message: i.code === 'unrecognized_keys' ? `unknown parameter${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}` : i.message,
    })),
  );
  return undefined;
}

/** CSV when `?format=csv`, or when the client accepts text/csv and prefers it to JSON. */
export function wantsCsv(req: Request, format: 'json' | 'csv' | undefined): boolean {
  if (format) return format === 'csv';
  return req.accepts(['application/json', 'text/csv']) === 'text/csv' && !!req.get('accept')?.includes('text/csv');
}

/** Text that a spreadsheet would take as a formula (or a DDE command): `=`, `+`, `-`, `@`, tab or CR first. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A text cell made safe for Excel and WPS (OWASP CSV injection): a cell starting with `=`, `+`, `-`, `@`,
 * tab or CR gets a leading single quote, so `=HYPERLINK(…)` reads as text. Numbers are not text: a
 * negative number stays a number.
 */
export function neutraliseCell(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/**
 * Sends rows as CSV (RFC 4180, CRLF) with a UTF-8 byte-order mark, so spreadsheet programs on Chinese
 * Windows read the names as UTF-8. Every text cell (header included) is neutralised (`neutraliseCell`);
 * this is the one CSV writer of the collector's answers.
 */
export function sendCsv(res: Response, filename: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): void {
  const body = stringify([columns as unknown[], ...(rows as unknown[][])], {
    record_delimiter: '\r\n',
    cast: { number: (n) => String(n), string: (s) => neutraliseCell(s) },
  });
  res
    .status(200)
    .type('text/csv; charset=utf-8')
    .set('Content-Disposition', `attachment; filename="${filename}"`)
    .send(`\uFEFF${body}`);
}
