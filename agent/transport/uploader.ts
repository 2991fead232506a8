/** Sends a batch of reports to the collector over HTTP and interprets the answer. */
import { gzipSync } from 'node:zlib';
import { ackSchema, agentActionFor, type Ack, type AgentAction, type Report } from '../../protocol/index.js';

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
  /** Compress request bodies with gzip. */
  gzip: boolean;
  /** Agent version, sent in User-Agent. */
  version: string;
}

/** Result of an acknowledged upload. */
export interface UploadResult {
  ack: Ack;
  /** Bytes of the request body as sent. */
  requestBytes: number;
}

function parseRetryAfter(v: string | null): number | undefined {
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/** POSTs one batch; resolves with the ack, or throws an UploadError saying what to do. */
export async function uploadBatch(opts: UploaderOptions, reports: readonly Report[]): Promise<UploadResult> {
  const json = Buffer.from(JSON.stringify({ reports }), 'utf8');
  const body = opts.gzip ? gzipSync(json) : json;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${opts.token}`,
    'user-agent': `campuslink-agent/${opts.version}`,
  };
  if (opts.gzip) headers['content-encoding'] = 'gzip';
  let res: Response;
  try {
    res = await fetch(new URL('/api/v1/reports', opts.url), { method: 'POST', headers, body, signal: AbortSignal.timeout(opts.timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw new UploadError(`collector ${opts.url} unreachable: ${cause}`, undefined, 'keep-and-back-off', true);
  }
  const text = await res.text().catch(() => '');
  if (res.ok) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const ack = ackSchema.safeParse(parsed);
    if (!ack.success) throw new UploadError(`collector answered ${res.status} without a valid ack`, res.status, 'keep-and-back-off', true);
    return { ack: ack.data, requestBytes: body.length };
  }
  const action = agentActionFor(res.status);
  let detail = text.slice(0, 500);
  try {
    const b = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (b.error) detail = `${b.error.code}: ${b.error.message}`;
  } catch {
    /* keep the raw text */
  }
  throw new UploadError(`collector answered ${res.status}: ${detail}`, res.status, action, action === 'keep-and-back-off', parseRetryAfter(res.headers.get('retry-after')));
}
