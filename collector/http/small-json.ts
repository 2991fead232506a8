/** A POST endpoint with a small JSON body (enrollments): read whole, bounded, answered by one function. */
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { errorAnswer } from './errors.js';

/** What such an endpoint answers: status, JSON body and extra headers (Retry-After). */
export interface SmallJsonReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface SmallJsonHandlerOptions {
  /** Largest body read; a larger one is answered 413 COL_ERR_BODY_TOO_LARGE (the rest is read and dropped). */
  maxBodyBytes: number;
  /** What the body is, for the 413 message ("an enrollment body"). */
  what: string;
  /** Logs an answer function that threw (answered 500 COL_ERR_INTERNAL). */
  log: Logger;
}

/** An express handler that reads the JSON body and answers with `answer(body)`; a bad body costs only its request. */
export function smallJsonHandler(answer: (body: unknown) => Promise<SmallJsonReply>, opts: SmallJsonHandlerOptions): (req: Request, res: Response) => void {
  return (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const reply = (r: SmallJsonReply): void => {
      if (!res.headersSent) res.status(r.status).set(r.headers ?? {}).json(r.body);
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= opts.maxBodyBytes) chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (size > opts.maxBodyBytes) return reply(errorAnswer('COL_ERR_BODY_TOO_LARGE', `${opts.what} is at most ${opts.maxBodyBytes} bytes`));
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        return reply(errorAnswer('COL_ERR_INVALID_JSON', `body is not valid JSON: ${(e as Error).message}`));
      }
      answer(body).then(reply, (e: unknown) => {
        opts.log.error({ err: String(e) }, `unexpected error answering ${opts.what}`);
        reply(errorAnswer('COL_ERR_INTERNAL', 'internal error'));
      });
    });
  };
}
