/** Sends error answers in the one documented shape: `{ error: { code, message, issues? } }`. */
import type { Response } from 'express';
import { ERRORS, type ErrorBody, type ErrorCode, type Issue } from '../../protocol/index.js';

/** Sends the status of `code` from the catalogue with its JSON body. */
export function sendError(res: Response, code: ErrorCode, message: string, issues?: Issue[]): void {
  const spec = ERRORS[code] as { status?: number };
  const body: ErrorBody = { error: { code, message, ...(issues ? { issues } : {}) } };
  res.status(spec.status ?? 500).json(body);
}
