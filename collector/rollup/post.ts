/** One JSON POST from a provincial collector to its hub, over HTTP/1.1 or HTTPS with an optional CA. */
import type http from 'node:http';
import { http1Exchange, type WireAnswer } from '../../agent/transport/exchange.js';

export interface HubPostOptions {
  /** Hub base URL. */
  url: string;
  /** PEM of the CA the hub's certificate is checked against (https:), else the system's. */
  ca?: string | Buffer;
  /** Keep-alive connections to the hub. */
  agent?: http.Agent;
}

/**
 * POSTs `body` to `path` of the hub within `timeoutMs`; rejects when no answer came. The agent's own
 * HTTP/1.1 exchange: the same answer cap, whole-exchange deadline and retry on a stale kept-alive socket
 * (safe: the hub acknowledges a repeated roll-up or enrollment without recording it twice).
 */
export function postToHub(opts: HubPostOptions, path: string, headers: Record<string, string | number>, body: Buffer, timeoutMs: number): Promise<WireAnswer> {
  return http1Exchange({ url: opts.url, path, ...(opts.agent && { agent: opts.agent }), ...(opts.ca && { ca: opts.ca }) })({ headers, body }, timeoutMs);
}

/** The `{ error: { code, message } }` of an error answer, or the start of its text. */
export function answerDetail(a: WireAnswer): string {
  try {
    const b = JSON.parse(a.text) as { error?: { code?: string; message?: string } };
    if (b.error) return `${b.error.code}: ${b.error.message}`;
  } catch {
    /* not JSON */
  }
  return a.text.slice(0, 300);
}
