/**
 * Fairness between schools under load: no token may hold more than its share of ingest. Each token may
 * have at most `maxInflightRequestsPerToken` uploads and `maxInflightBodyBytesPerToken` body bytes in
 * flight; more gets 429 COL_ERR_BUDGET_EXCEEDED with Retry-After at once (the agent keeps its reports
 * and backs off), so a greedy token cannot fill the listener's global limits (collector/http/limits.ts)
 * or the sink's queue ahead of the other schools. State exists only for tokens with uploads in flight.
 */
import { budgetRefusal, type BudgetRefusal, type BudgetSettings } from './budgets.js';

/** One admitted upload's hold on its token's share. */
export interface Share {
  /** The body has reached `totalBytes`: holds that much (beyond what was declared); false when the token's byte share is spent. */
  hold(totalBytes: number): boolean;
  /** The 429 for an upload whose body outgrew the token's byte share. */
  refusal(): BudgetRefusal;
  /** Gives the share back; idempotent. */
  release(): void;
}

type FairnessSettings = Pick<BudgetSettings, 'maxInflightRequestsPerToken' | 'maxInflightBodyBytesPerToken' | 'busyRetryAfterS'>;

/** The in-flight shares of every token. */
export class TokenShares {
  private readonly held = new Map<string, { requests: number; bytes: number }>();
  /** Uploads refused for being over a token's share, since start. */
  refused = 0;

  /** `onRefused` counts each refusal for the school (SchoolBudgets.countRefusal). */
  constructor(
    private readonly settings: Readonly<FairnessSettings>,
    private readonly onRefused?: (school: string, budget: 'maxInflightRequestsPerToken' | 'maxInflightBodyBytesPerToken') => void,
  ) {}

  private refuse(school: string, budget: 'maxInflightRequestsPerToken' | 'maxInflightBodyBytesPerToken', limit: number, detail: string): BudgetRefusal {
    this.refused++;
    this.onRefused?.(school, budget);
    return budgetRefusal(budget, limit, this.settings.busyRetryAfterS, detail);
  }

  /** Tokens with uploads in flight. */
  get size(): number {
    return this.held.size;
  }

  /** An upload of `token` with `declaredBytes` (Content-Length, 0 when unknown) starts: its share, or a 429. */
  admit(token: string, school: string, declaredBytes: number): Share | BudgetRefusal {
    const { maxInflightRequestsPerToken: maxReq, maxInflightBodyBytesPerToken: maxBytes } = this.settings;
    const h = this.held.get(token) ?? { requests: 0, bytes: 0 };
    const bytes = Number.isFinite(declaredBytes) && declaredBytes > 0 ? declaredBytes : 0;
    if (h.requests >= maxReq) return this.refuse(school, 'maxInflightRequestsPerToken', maxReq, `token of school ${school} already has ${h.requests} uploads in flight`);
    if (h.requests > 0 && h.bytes + bytes > maxBytes) return this.refuse(school, 'maxInflightBodyBytesPerToken', maxBytes, `token of school ${school} already has ${h.bytes} body bytes in flight`);
    h.requests++;
    h.bytes += bytes;
    this.held.set(token, h);
    let taken = bytes;
    let released = false;
    return {
      hold: (total) => {
        if (released || total <= taken) return !released;
        const more = total - taken;
        // One upload alone may always reach maxBodyBytes (its own cap); only others' bytes count against it.
        if (h.requests > 1 && h.bytes + more > maxBytes) return false;
        h.bytes += more;
        taken = total;
        return true;
      },
      refusal: () => this.refuse(school, 'maxInflightBodyBytesPerToken', maxBytes, `token of school ${school} sent more body bytes than its in-flight share`),
      release: () => {
        if (released) return;
        released = true;
        h.requests--;
        h.bytes -= taken;
        if (h.requests <= 0) this.held.delete(token);
      },
    };
  }
}
