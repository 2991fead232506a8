/** Sends a batch of reports to one collector over HTTP and interprets the answer. */
import { ackSchema, agentActionFor, encodeBatch, type Ack, type AgentAction, type BatchEncoding, type Report } from '../../protocol/index.js';
import type { Exchange, WireAnswer } from './exchange.js';
import { H2UnsupportedError } from './h2.js';

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
  /** Collector base URL, e.g. http://127.0.0.1:8470 (for messages; the exchange knows where to send). */
  url: string;
  token: string;
  /** Timeout of one POST, in ms. */
  timeoutMs: number;
  /** Request-body encoding (see protocol/wire.ts). */
  encoding: BatchEncoding;
  /** Agent version, sent in User-Agent. */
  version: string;
  /** How the request travels: HTTP/1.1 (exchange.ts) or HTTP/2 (h2.ts). */
  exchange: Exchange;
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

/** POSTs one batch; resolves with the ack, or throws an UploadError saying what to do. */
export async function uploadBatch(opts: UploaderOptions, reports: readonly Report[], now: () => number = Date.now): Promise<UploadResult> {
  const body = encodeBatch(reports, opts.encoding);
  // Only the headers the collector needs: on a metered satellite link every byte counts.
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    authorization: `Bearer ${opts.token}`,
    'user-agent': `campuslink-agent/${opts.version}`,
    'content-length': body.length,
  };
  if (opts.encoding !== 'identity') headers['content-encoding'] = opts.encoding;
  const sentAtMs = now();
  let res: WireAnswer;
  try {
    res = await opts.exchange({ headers, body }, opts.timeoutMs);
  } catch (e) {
    if (e instanceof H2UnsupportedError) throw e;
    const cause = (e as NodeJS.ErrnoException).code ?? (e as Error).name;
    throw new UploadError(`collector ${opts.url} unreachable: ${cause}`, undefined, 'keep-and-back-off', true);
  }
  const answeredAtMs = now();
  // Not an HTTP status: whatever the transport made of a broken exchange must never count as a refusal.
  if (res.status < 100 || res.status > 599) throw new UploadError(`collector ${opts.url} gave no valid answer (status ${res.status})`, undefined, 'keep-and-back-off', true);
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
