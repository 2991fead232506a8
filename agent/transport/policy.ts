/** Delivery defaults per link type: how often to upload, and how fast a backlog may drain. */
import type { LinkType } from '../../protocol/index.js';
import type { CollectorSection } from './config.js';

/** Upload interval by link type, ms (0: after every cycle). Satellite batches cycles but stays ≤ 5 minutes behind. */
export const UPLOAD_INTERVAL_MS: Record<LinkType, number> = {
  fiber: 0,
  dsl: 0,
  microwave: 0,
  other: 0,
  cellular: 120_000,
  'sat-leo': 120_000,
  'sat-geo': 240_000,
};

/** Typical contracted uplink by link type, Mbit/s, when the config does not say. */
export const CONTRACTED_MBPS: Record<LinkType, number> = {
  fiber: 100,
  dsl: 20,
  microwave: 50,
  other: 10,
  cellular: 10,
  'sat-leo': 20,
  'sat-geo': 2,
};

/** The delivery policy the runtime follows. */
export interface DeliveryPolicy {
  uploadIntervalMs: number;
  /** Request-body bytes per second a backlog may use. */
  backlogBytesPerSec: number;
}

/** Resolves the policy from the config section and the link type. */
export function deliveryPolicy(opts: { collector: Readonly<CollectorSection>; linkType: LinkType }): DeliveryPolicy {
  const c = opts.collector;
  const mbps = c.contractedMbps ?? CONTRACTED_MBPS[opts.linkType];
  return {
    uploadIntervalMs: c.uploadIntervalMs ?? UPLOAD_INTERVAL_MS[opts.linkType],
    backlogBytesPerSec: c.backlogBytesPerSec ?? Math.max(100, Math.floor((mbps * 1e6 * c.backlogShare) / 8)),
  };
}

/** After a 401/403 (or a refused enrollment), the first pause before sending is tried again, ms. */
export const AUTH_RETRY_MIN_MS = 120_000;
/** The longest pause after repeated 401/403 answers, ms: never given up, tried at least hourly. */
export const AUTH_RETRY_MAX_MS = 3_600_000;

/**
 * Sending paused after the collector refused the credential: minutes at first, doubling to hourly,
 * never for good (a registry edit undone, a token re-issued or rotated, a re-enrollment all heal by
 * themselves). The spool keeps everything meanwhile.
 */
export class AuthPause {
  private refusals = 0;
  /** Until when sending waits, agent clock ms (0: not paused). */
  until = 0;
  /** The last refusal's reason. */
  why?: string;

  constructor(private readonly opts: { minMs: number; maxMs: number }) {}

  /** Notes a refusal; returns the pause in ms. */
  refused(why: string, nowMs: number): number {
    const pause = Math.min(this.opts.maxMs, this.opts.minMs * 2 ** Math.min(this.refusals, 30));
    this.refusals++;
    this.why = why;
    this.until = nowMs + pause;
    return pause;
  }

  /** Whether sending waits now. */
  paused(nowMs: number): boolean {
    return nowMs < this.until;
  }

  /** After an accepted upload. */
  clear(): void {
    this.refusals = 0;
    this.until = 0;
    delete this.why;
  }
}
