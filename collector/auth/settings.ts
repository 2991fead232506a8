/** The `auth` section of the collector config: agents per school, token lifetime and rotation. */
import { z } from 'zod';

const DAY_MS = 86_400_000;

export const authSettingsSchema = z.strictObject({
  /** Most agent ids per school (enrolled, or seen with a legacy per-school token); one more is refused with 403 COL_ERR_AGENT_LIMIT. */
  maxAgentsPerSchool: z.number().int().min(1).max(10_000).default(8),
  /** Lifetime of tokens issued by enrollment and rotation, ms; absent: they do not expire. */
  tokenLifetimeMs: z.number().int().min(60_000).max(3650 * DAY_MS).optional(),
  /** A token that expires within this gets a successor in its agent's next ack, ms. */
  rotateBeforeExpiryMs: z.number().int().min(0).max(3650 * DAY_MS).default(30 * DAY_MS),
  /** How long the old token stays valid after the agent first used its successor, ms. */
  rotationGraceMs: z.number().int().min(0).max(365 * DAY_MS).default(DAY_MS),
  /** A successor the agent has not used yet is replaced by a new offer after this, ms. */
  rotationReofferMs: z.number().int().min(100).max(30 * DAY_MS).default(3_600_000),
  /** `token list` shows last-seen times to within this; the stored time moves at most once per token per this, ms. */
  lastSeenResolutionMs: z.number().int().min(100).max(DAY_MS).default(600_000),
});

export type AuthSettings = z.output<typeof authSettingsSchema>;
