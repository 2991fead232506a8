/**
 * The views module's settings, from `views:` in the collector config (every key has a default, so the
 * module works before the collector config knows the section).
 */
import { z } from 'zod';
import { DEFAULT_LOOKBACK_DAYS } from './compliance/windows.js';

export const viewsSettingsSchema = z.strictObject({
  /** A school is online when it reported, with an internet target answering, within this many minutes. */
  onlineWindowMin: z.number().positive().max(24 * 60).default(15),
  /**
   * How long a throughput test (iperf3) decides a school's bandwidth tier, in days; after that the
   * contracted bandwidth does again until the next test. Never the WAN port speed.
   */
  measuredFreshDays: z.number().positive().max(365).default(7),
  /** How often the `coverage` measurement is written, in seconds; 0 turns the writer off. */
  coverageIntervalS: z.number().int().min(0).max(24 * 3600).default(300),
  /** How often the liveness and compliance evidence changed since the last save are written to the state database, in seconds. */
  livenessSaveIntervalS: z.number().int().min(1).max(3600).default(60),
  /** How far back the one-off rebuild from InfluxDB looks when the liveness state is missing, in hours. */
  livenessRebuildWindowH: z.number().positive().max(24 * 90).default(24),
  /** Directory of compliance profiles (`<id>.yaml`). */
  complianceProfilesDir: z.string().min(1).default('config/compliance'),
  /** The profile used when a request names none. */
  defaultProfile: z.string().min(1).default('cn-moe'),
  /** Timeout of one compliance query to InfluxDB, in ms. */
  queryTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /**
   * How far back (calendar days, today included) a `schoolDays` window looks for its school days;
   * a window with fewer school days in that span is judged unknown ("window incomplete").
   */
  complianceLookbackDays: z.number().int().min(14).max(366).default(DEFAULT_LOOKBACK_DAYS),
});

export type ViewsSettings = z.output<typeof viewsSettingsSchema>;

/** Reads `views` from a config object that may not have it yet; throws a ZodError on bad values. */
export function viewsSettingsFrom(config: unknown): ViewsSettings {
  const section = (config as { views?: unknown } | undefined)?.views;
  return viewsSettingsSchema.parse(section ?? {});
}
