/** One request and its answer over HTTP/1.1, the shape every transport of the uploader offers. */
import http from 'node:http';
import https from 'node:https';

/** A POST to send: headers (lower-case names) and body. */
export interface WireRequest {
  headers: Record<string, string | number>;
  body: Buffer;
}

/** What came back. */
export interface WireAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Sends one request to the ingest endpoint within `timeoutMs`; rejects when no answer came. */
export type Exchange = (req: WireRequest, timeoutMs: number) => Promise<WireAnswer>;

/**
 * The most of an answer the agent reads. An ack for 500 reports is about 5 KB; anything far larger is not the
 * collector (a captive portal, a proxy's error page, a misdirected download) and is cut off as "no answer",
 * so the agent keeps its reports and backs off instead of buffering it (a 400 MB answer once took 3 GB).
 */
export const MAX_ANSWER_BYTES = 256 * 1024;

/** The error an answer over MAX_ANSWER_BYTES ends with (treated as no answer: keep and back off). */
export function answerTooLarge(): Error {
  return Object.assign(new Error(`the answer exceeds ${MAX_ANSWER_BYTES} bytes: not a campuslink collector's (captive portal or proxy?)`), { code: 'EANSWERTOOLARGE' });
}

/** The path agents POST batches to. */
export const INGEST_PATH = '/api/v1/reports';

const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Where and how an HTTP/1.1 exchange POSTs. */
export interface Http1ExchangeOptions {
  /** Base URL of the server. */
  url: string;
  /** Path POSTed to; default the ingest endpoint. */
  path?: string;
  /** Keep-alive connections; one agent per server URL is best. */
  agent?: http.Agent;
  /** For https:, PEM of the CA the server's certificate is checked against, else the system's. */
  ca?: string | Buffer;
}

/** HTTP/1.1 (or HTTPS) through a keep-alive agent; one agent per collector URL is best. */
export function http1Exchange(opts: Http1ExchangeOptions): Exchange {
  const url = new URL(opts.path ?? INGEST_PATH, opts.url);
  const secure = url.protocol === 'https:';
  const transport = secure ? https : http;
  const tls = secure && opts.ca ? { ca: opts.ca } : {};
  const post = (req: WireRequest, timeoutMs: number, retries: number): Promise<WireAnswer> =>
    new Promise((resolve, reject) => {
      const r = transport.request(url, { method: 'POST', headers: req.headers, agent: opts.agent, timeout: timeoutMs, ...tls }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        if (Number(res.headers['content-length']) > MAX_ANSWER_BYTES) return r.destroy(answerTooLarge());
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
      // A whole-exchange deadline: the socket timeout alone would let a slow trickle go on for ever.
      const timer = setTimeout(() => r.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      r.on('timeout', () => r.destroy(Object.assign(new Error('socket idle timeout'), { code: 'ETIMEDOUT' })));
      r.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // A kept-alive connection the link or the server dropped meanwhile: try again on a fresh one.
        // Safe even if the collector did get it: it acknowledges a repeat without writing it twice.
        if (retries > 0 && r.reusedSocket && STALE_SOCKET.has(e.code ?? '')) post(req, timeoutMs, retries - 1).then(resolve, reject);
        else reject(e);
      });
      r.end(req.body);
    });
  return (req, timeoutMs) => post(req, timeoutMs, 2);
}
