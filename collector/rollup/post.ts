/** One JSON POST from a provincial collector to its hub, over HTTP/1.1 or HTTPS with an optional CA. */
import http from 'node:http';
import https from 'node:https';
import { MAX_ANSWER_BYTES, answerTooLarge, type WireAnswer } from '../../agent/transport/exchange.js';

export interface HubPostOptions {
  /** Hub base URL. */
  url: string;
  /** PEM of the CA the hub's certificate is checked against (https:), else the system's. */
  ca?: string | Buffer;
  /** Keep-alive connections to the hub. */
  agent?: http.Agent;
}

/** POSTs `body` to `path` of the hub within `timeoutMs`; rejects when no answer came. */
export function postToHub(opts: HubPostOptions, path: string, headers: Record<string, string | number>, body: Buffer, timeoutMs: number): Promise<WireAnswer> {
  const url = new URL(path, opts.url);
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const r = (secure ? https : http).request(url, { method: 'POST', headers, agent: opts.agent, timeout: timeoutMs, ...(secure && opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) return r.destroy(answerTooLarge());
        chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    // A deadline for the whole exchange, not only socket idleness.
    const timer = setTimeout(() => r.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    r.on('timeout', () => r.destroy(Object.assign(new Error('socket idle timeout'), { code: 'ETIMEDOUT' })));
    r.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    r.end(body);
  });
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
