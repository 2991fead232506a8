/** Answers of the read API: the catalogue's error shape for bad queries, and CSV with a UTF-8 BOM. */
import type { Request, Response } from 'express';
import { stringify } from 'csv-stringify/sync';
import type { z } from 'zod';
import { sendError } from '../../http/errors.js';

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

/**
 * Sends rows as CSV (RFC 4180, CRLF) with a UTF-8 byte-order mark, so spreadsheet programs on Chinese
 * Windows read the names as UTF-8.
 */
export function sendCsv(res: Response, filename: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): void {
  const body = stringify([columns as unknown[], ...(rows as unknown[][])], { record_delimiter: '\r\n', cast: { number: (n) => String(n) } });
  res
    .status(200)
    .type('text/csv; charset=utf-8')
    .set('Content-Disposition', `attachment; filename="${filename}"`)
    .send(`\uFEFF${body}`);
}
