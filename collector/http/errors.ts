/** Error answers in the one documented shape: `{ error: { code, message, issues? } }`. */
import type { Response } from 'express';
import { ERRORS, type ErrorBody, type ErrorCode, type Issue } from '../../protocol/index.js';

/** The status and body of an error from the catalogue. */
export function errorAnswer(code: ErrorCode, message: string, issues?: Issue[]): { status: number; body: ErrorBody } {
  const spec = ERRORS[code] as { status?: number };
  return { status: spec.status ?? 500, body: { error: { code, message, ...(issues ? { issues } : {}) } } };
}

/** Sends the status of `code` from the catalogue with its JSON body. */
export function sendError(res: Response, code: ErrorCode, message: string, issues?: Issue[]): void {
  const { status, body } = errorAnswer(code, message, issues);
  res.status(status).json(body);
}
