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
