/** Exponential backoff with full jitter, honouring the collector's Retry-After. */

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Random number in [0, 1); injected for tests. */
  random?: () => number;
}

export class Backoff {
  private failures = 0;
  private readonly random: () => number;

  constructor(private readonly opts: BackoffOptions) {
    this.random = opts.random ?? Math.random;
  }

  /** The delay before the next attempt after one more failure: uniform in [0, min(max, base·2ⁿ)], never shorter than Retry-After. */
  next(retryAfterMs?: number): number {
    const ceiling = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const jittered = Math.round(this.random() * ceiling);
    return Math.max(jittered, retryAfterMs ?? 0);
  }

  /** After a success. */
  reset(): void {
    this.failures = 0;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
