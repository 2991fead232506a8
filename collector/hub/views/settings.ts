/**
 * Settings of the hub's read side: when a province counts as stale, the national alert rules, and the
 * InfluxDB read timeout. Read from the collector config's `hub:` section (keys below); every key has a
 * default, so a hub needs none of them.
 */
import { z } from 'zod';

/** Default `hub.staleAfterMs`: three missed roll-ups at the default interval of 60 s. */
export const DEFAULT_STALE_AFTER_MS = 180_000;

export const hubAlertsSchema = z.strictObject({
  /** Raise "province stale" (its roll-ups stopped for longer than `staleAfterMs`). */
  stale: z.boolean().default(true),
  /** A province whose online share (online now / registered) stays below this, in %, raises "province online low". */
  onlineBelowPct: z.number().min(0).max(100).default(80),
  /** …for this long, minutes (judged on the roll-ups received; a stale province is not judged). */
  forMin: z.number().positive().max(10_080).default(15),
  /** Provinces with fewer registered schools are not judged: a handful of schools is no share. */
  minSchools: z.number().int().min(1).default(20),
  /** Alertmanager v2 base URLs the hub's alerts are posted to (empty: the console and the API only). */
  alertmanagerUrls: z.array(z.string().url()).default([]),
  /** How often the rules are evaluated, ms. */
  evaluateIntervalMs: z.number().int().min(1000).max(3_600_000).default(30_000),
});

export const hubViewsSettingsSchema = z.object({
  /** A province whose last roll-up arrived longer ago than this is stale, ms. */
  staleAfterMs: z.number().int().min(1000).max(7 * 86_400_000).default(DEFAULT_STALE_AFTER_MS),
  /** Timeout of one history read from InfluxDB, ms. */
  queryTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  alerts: hubAlertsSchema.default(hubAlertsSchema.parse({})),
});

export type HubViewsSettings = z.output<typeof hubViewsSettingsSchema>;
export type HubAlertsSettings = z.output<typeof hubAlertsSchema>;

/**
 * The read side's settings from the collector config's `hub:` section; other keys of that section
 * (url, enrollment, intervals) belong to the roll-up delivery and are ignored here.
 */
export function hubViewsSettings(hubSection: unknown, over: Partial<HubViewsSettings> = {}): HubViewsSettings {
  const h = (hubSection ?? {}) as Record<string, unknown>;
  const pick: Record<string, unknown> = {};
  for (const k of ['staleAfterMs', 'queryTimeoutMs', 'alerts'] as const) if (h[k] !== undefined) pick[k] = h[k];
  return hubViewsSettingsSchema.parse({ ...pick, ...over });
}
