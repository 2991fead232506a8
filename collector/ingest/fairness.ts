/**
 * Fairness between schools under load: no token may hold more than its share of ingest. Each token may
 * have at most `maxInflightRequestsPerToken` uploads and `maxInflightBodyBytesPerToken` body bytes in
 * flight, from their headers to their answer; more gets 429 COL_ERR_BUDGET_EXCEEDED with Retry-After at
 * once, before the body is read (the agent keeps its reports and backs off), so a greedy token cannot fill
 * the listener's global limits (collector/http/limits.ts) or the sink's queue ahead of the other schools.
 * An upload counts with its declared Content-Length, or with ingest.maxBodyBytes when it declares none.
 * A county proxy's token (school `proxy`) reports for many schools and has `maxInflightRequestsPerProxyToken`
 * uploads instead, and a bytes share grown in the same proportion (16 of a school's backlog batches at once).
 * State exists only for tokens with uploads in flight.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { IngestResponse } from '../http/ingest.js';
import { isProxyToken } from '../auth/proxies.js';
import { budgetRefusal, type BudgetRefusal, type BudgetSettings, type SchoolBudgets } from './budgets.js';

/** One admitted upload's hold on its token's share. */
export interface Share {
  /** Gives the share back; idempotent. */
  release(): void;
}

type FairnessSettings = Pick<BudgetSettings, 'maxInflightRequestsPerToken' | 'maxInflightBodyBytesPerToken' | 'busyRetryAfterS'> & Partial<Pick<BudgetSettings, 'maxInflightRequestsPerProxyToken'>>;
type ShareBudget = 'maxInflightRequestsPerToken' | 'maxInflightRequestsPerProxyToken' | 'maxInflightBodyBytesPerToken';

/** One upload's hold (a class, not a closure per upload). */
class HeldShare implements Share {
  private released = false;

  constructor(
    private readonly held: Map<string, { requests: number; bytes: number }>,
    private readonly token: string,
    private readonly h: { requests: number; bytes: number },
    private readonly bytes: number,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.h.requests--;
    this.h.bytes -= this.bytes;
    if (this.h.requests <= 0) this.held.delete(this.token);
  }
}

/** The in-flight shares of every token. */
export class TokenShares {
  private readonly held = new Map<string, { requests: number; bytes: number }>();
  /** Uploads refused for being over a token's share, since start. */
  refused = 0;

  /** `onRefused` counts each refusal for the school (SchoolBudgets.countRefusal). */
  constructor(
    private readonly settings: Readonly<FairnessSettings>,
    private readonly onRefused?: (school: string, budget: ShareBudget) => void,
  ) {}

  /** Tokens with uploads in flight. */
  get size(): number {
    return this.held.size;
  }

  /**
   * An upload of `token` (whose school is `school`: `proxy` for a county proxy's) holding `bytes` of body
   * starts: its share, or a 429. The first upload of a token is always admitted.
   */
  admit(token: string, school: string, bytes: number): Share | BudgetRefusal {
    const proxy = isProxyToken({ school });
    const reqBudget: ShareBudget = proxy ? 'maxInflightRequestsPerProxyToken' : 'maxInflightRequestsPerToken';
    const maxReq = (proxy ? this.settings.maxInflightRequestsPerProxyToken : undefined) ?? this.settings.maxInflightRequestsPerToken;
    const perToken = this.settings.maxInflightBodyBytesPerToken;
    const maxBytes = proxy ? Math.floor((perToken * maxReq) / this.settings.maxInflightRequestsPerToken) : perToken;
    const h = this.held.get(token) ?? { requests: 0, bytes: 0 };
    if (h.requests >= maxReq) return this.refuse(school, reqBudget, maxReq, `token of ${proxy ? 'a county proxy' : `school ${school}`} already has ${h.requests} uploads in flight`);
    if (h.requests > 0 && h.bytes + bytes > maxBytes) return this.refuse(school, 'maxInflightBodyBytesPerToken', maxBytes, `token of ${proxy ? 'a county proxy' : `school ${school}`} already has ${h.bytes} body bytes in flight`);
    h.requests++;
    h.bytes += bytes;
    this.held.set(token, h);
    return new HeldShare(this.held, token, h, bytes);
  }

  private refuse(school: string, budget: ShareBudget, limit: number, detail: string): BudgetRefusal {
    this.refused++;
    this.onRefused?.(school, budget);
    return budgetRefusal(budget, limit, this.settings.busyRetryAfterS, detail);
  }
}

/** What admitUpload() needs of one upload. */
export interface UploadAdmission<R extends IngestResponse> {
  shares?: TokenShares;
  budgets?: SchoolBudgets;
  token: { id: string; school: string };
  headers: IncomingHttpHeaders;
  maxBodyBytes: number;
  req: { on(event: 'aborted' | 'error', cb: () => void): unknown };
  res: R;
}

/**
 * The ingest hook, when an upload's headers arrived: a 429 when its token is over its share or its school
 * over a rate budget; else the response to answer on, which gives the share back once the answer is sent
 * (or when the client goes away first).
 */
export function admitUpload<R extends IngestResponse>(o: UploadAdmission<R>): { refused: BudgetRefusal } | { res: IngestResponse } {
  const raw = o.headers['content-length'];
  const declared = Number(Array.isArray(raw) ? raw[0] : raw);
  const bytes = Number.isFinite(declared) && declared > 0 ? Math.min(declared, o.maxBodyBytes) : o.maxBodyBytes;
  const share = o.shares?.admit(o.token.id, o.token.school, bytes);
  if (share && !('release' in share)) return { refused: share };
  const refused = o.budgets?.gate(o.token.school);
  if (refused || !share) {
    share?.release();
    return refused ? { refused } : { res: o.res };
  }
  // The HTTP/2 listener gives the share back when the stream closes, answered or not: no wrapper, no listeners.
  if (o.res.holdUntilClosed) {
    o.res.holdUntilClosed(share);
    return { res: o.res };
  }
  const release = () => share.release();
  o.req.on('aborted', release);
  o.req.on('error', release);
  const res = {
    writeHead: (status: number, headers: Record<string, string | number>) => o.res.writeHead(status, headers),
    end: (body: string) => {
      try {
        return o.res.end(body);
      } finally {
        share.release();
      }
    },
    get headersSent() {
      return o.res.headersSent;
    },
  };
  return { res };
}
