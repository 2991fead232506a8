/** Sends a batch of reports to one collector over HTTP and interprets the answer. */
import http from 'node:http';
import https from 'node:https';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { DICT_ENCODING, WIRE_DICTIONARY, ackSchema, agentActionFor, type Ack, type AgentAction, type Report } from '../../protocol/index.js';

/** A batch the collector did not acknowledge. */
export class UploadError extends Error {
  constructor(
    message: string,
    /** HTTP status, or undefined when no answer came (network error, timeout). */
    readonly status: number | undefined,
    /** What the agent does about it; see `agentActionFor()`. */
    readonly action: AgentAction,
    /** Whether the same batch may succeed later. */
    readonly retryable: boolean,
    /** Wait the collector asked for (Retry-After), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

export interface UploaderOptions {
  /** Collector base URL, e.g. http://127.0.0.1:8470. */
  url: string;
  token: string;
  /** Timeout of one POST, in ms. */
  timeoutMs: number;
  /** Compress request bodies. */
  gzip: boolean;
  /** Compress with the protocol's preset dictionary (DICT_ENCODING) instead of plain gzip. */
  dictionary?: boolean;
  /** Agent version, sent in User-Agent. */
  version: string;
  /** Keep-alive agent to reuse connections; one per collector URL is best. */
  agent?: http.Agent;
}

/** Result of an acknowledged upload. */
export interface UploadResult {
  ack: Ack;
  /** Bytes of the request body as sent. */
  requestBytes: number;
  /** Agent clock when the request started and when the answer arrived (for the clock offset). */
  sentAtMs: number;
  answeredAtMs: number;
}

function parseRetryAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/** Encodes a batch body as it goes on the wire; returns it with its Content-Encoding. */
export function encodeBatch(reports: readonly Report[], opts: { gzip: boolean; dictionary?: boolean }): { body: Buffer; encoding?: string } {
  const json = Buffer.from(JSON.stringify({ reports }), 'utf8');
  if (!opts.gzip) return { body: json };
  if (opts.dictionary) return { body: deflateRawSync(json, { level: 9, dictionary: WIRE_DICTIONARY }), encoding: DICT_ENCODING };
  return { body: gzipSync(json, { level: 9 }), encoding: 'gzip' };
}

const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

function post(opts: UploaderOptions, body: Buffer, encoding: string | undefined, retries = 2): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const url = new URL('/api/v1/reports', opts.url);
  const transport = url.protocol === 'https:' ? https : http;
  // Only the headers the collector needs: on a metered satellite link every byte counts.
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json',
    authorization: `Bearer ${opts.token}`,
    'user-agent': `campuslink-agent/${opts.version}`,
    'content-length': body.length,
  };
  if (encoding) headers['content-encoding'] = encoding;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { method: 'POST', headers, agent: opts.agent, timeout: opts.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
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
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })), opts.timeoutMs);
    req.on('timeout', () => req.destroy(Object.assign(new Error('socket idle timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A kept-alive connection the link or the server dropped meanwhile: try again on a fresh one.
      // Safe even if the collector did get it: it acknowledges a repeat without writing it twice.
      if (retries > 0 && req.reusedSocket && STALE_SOCKET.has(e.code ?? '')) post(opts, body, encoding, retries - 1).then(resolve, reject);
      else reject(e);
    });
    req.end(body);
  });
}

/** POSTs one batch; resolves with the ack, or throws an UploadError saying what to do. */
export async function uploadBatch(opts: UploaderOptions, reports: readonly Report[], now: () => number = Date.now): Promise<UploadResult> {
  const { body, encoding } = encodeBatch(reports, opts);
  const sentAtMs = now();
  let res: Awaited<ReturnType<typeof post>>;
  try {
    res = await post(opts, body, encoding);
  } catch (e) {
    const cause = (e as NodeJS.ErrnoException).code ?? (e as Error).name;
    throw new UploadError(`collector ${opts.url} unreachable: ${cause}`, undefined, 'keep-and-back-off', true);
  }
  const answeredAtMs = now();
  if (res.status >= 200 && res.status < 300) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.text);
    } catch {
      parsed = undefined;
    }
    const ack = ackSchema.safeParse(parsed);
    if (!ack.success) throw new UploadError(`collector answered ${res.status} without a valid ack`, res.status, 'keep-and-back-off', true);
    return { ack: ack.data, requestBytes: body.length, sentAtMs, answeredAtMs };
  }
  const action = agentActionFor(res.status);
  let detail = res.text.slice(0, 500);
  try {
    const b = JSON.parse(res.text) as { error?: { code?: string; message?: string } };
    if (b.error) detail = `${b.error.code}: ${b.error.message}`;
  } catch {
    /* keep the raw text */
  }
  const retryAfter = res.headers['retry-after'];
  throw new UploadError(`collector ${opts.url} answered ${res.status}: ${detail}`, res.status, action, action === 'keep-and-back-off', parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter));
}
