/**
 * The collector's `role` and `hub` section. A provincial collector (the default role) with a `hub.url`
 * sends its roll-ups to that national hub; a national hub (`role: national`) takes roll-ups and reads
 * `hub.staleAfterMs`. docs/deployment.md shows both.
 */
import { accessSync, constants } from 'node:fs';
import { z } from 'zod';

/** What `campuslink-collector serve` runs as. */
export const COLLECTOR_ROLES = ['provincial', 'national'] as const;
export type CollectorRole = (typeof COLLECTOR_ROLES)[number];

/** Default time between two roll-ups of a province, ms. */
export const DEFAULT_ROLLUP_INTERVAL_MS = 60_000;

/** The `hub` section: its keys for a province (url, …) and for the hub (staleAfterMs). */
export const hubSectionSchema = z.strictObject({
  /** Provincial: base URL of the national hub, e.g. https://hub.example.cn:8470. */
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Provincial: the 2-digit code of the province rolled up; default the registry's only province. */
  province: z.string().regex(/^\d{2}$/, 'must be a 2-digit province code, e.g. 32').optional(),
  /** Provincial: enrollment code from the hub (`enroll issue --province`), used once when no credential is stored. */
  enrollCode: z.string().regex(/^clke_[A-Za-z0-9_-]{16,64}$/, 'must be an enrollment code (clke_…)').optional(),
  /** Provincial: CA certificate file (PEM) the hub's certificate is checked against, for an https: url; default the system's. */
  caFile: z.string().min(1).optional(),
  /** Provincial: time between two roll-ups when nothing changes, ms. */
  intervalMs: z.number().int().min(5_000).max(3_600_000).default(DEFAULT_ROLLUP_INTERVAL_MS),
  /** Provincial: shortest time between two roll-ups when a county's online count moves (a change that matters), ms. */
  minIntervalMs: z.number().int().min(1_000).max(3_600_000).default(10_000),
  /** Provincial: a county's online count must move by at least this many schools to send before the interval. */
  changeMinSchools: z.number().int().min(1).max(1_000_000).default(1),
  /** Provincial: timeout of one POST to the hub, ms. */
  timeoutMs: z.number().int().min(1_000).max(600_000).default(30_000),
  /** Provincial: most bytes of roll-ups spooled while the hub is unreachable (the oldest are dropped, counted, beyond it). */
  maxSpoolBytes: z.number().int().min(1024 * 1024).max(64 * 1024 ** 3).default(2 * 1024 ** 3),
  /** Provincial: the console school lists link to (sent with every roll-up); default alerts.consoleUrl, else http://<listen>. */
  consoleUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Provincial: backoff after a failed delivery: first ceiling and largest wait, ms. */
  retryBaseMs: z.number().int().min(100).max(600_000).default(2_000),
  retryMaxMs: z.number().int().min(1_000).max(3_600_000).default(300_000),
  /** National: a province whose last roll-up arrived longer ago than this is stale, ms (3 × the default interval). */
  staleAfterMs: z.number().int().min(10_000).max(7 * 86_400_000).default(3 * DEFAULT_ROLLUP_INTERVAL_MS),
});
export type HubSection = z.output<typeof hubSectionSchema>;

const PROVINCIAL_ONLY = ['url', 'province', 'enrollCode', 'caFile', 'consoleUrl'] as const;

/** Problems of `role` with `hub` together, added to the config's issues (every one is listed at start-up). */
export function checkRoleAndHub(c: { role: CollectorRole; hub?: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  const hub = c.hub;
  if (!hub) return;
  if (c.role === 'national') {
    for (const k of PROVINCIAL_ONLY) {
      if (hub[k] !== undefined) ctx.addIssue({ code: 'custom', path: ['hub', k], message: `is a provincial collector's key; a national hub (role: national) takes roll-ups and sends none` });
    }
    return;
  }
  if (hub.url === undefined) ctx.addIssue({ code: 'custom', path: ['hub', 'url'], message: 'is required for a provincial collector with a hub section (the national hub to send roll-ups to); remove the section to send none' });
  if (typeof hub.caFile === 'string' && typeof hub.url === 'string' && hub.url.startsWith('http:')) {
    ctx.addIssue({ code: 'custom', path: ['hub', 'caFile'], message: 'goes with an https: hub.url' });
  }
  if (typeof hub.caFile === 'string') {
    try {
      accessSync(hub.caFile, constants.R_OK);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['hub', 'caFile'], message: `cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
    }
  }
  if (typeof hub.minIntervalMs === 'number' && typeof hub.intervalMs === 'number' && hub.minIntervalMs > hub.intervalMs) {
    ctx.addIssue({ code: 'custom', path: ['hub', 'minIntervalMs'], message: `must be at most hub.intervalMs (${hub.intervalMs})` });
  }
  if (typeof hub.retryBaseMs === 'number' && typeof hub.retryMaxMs === 'number' && hub.retryBaseMs > hub.retryMaxMs) {
    ctx.addIssue({ code: 'custom', path: ['hub', 'retryBaseMs'], message: `must be at most hub.retryMaxMs (${hub.retryMaxMs})` });
  }
}
