/**
 * The window of collection times the collector stores: [now − maxBacklogMs, now + futureGraceMs].
 *
 * Nothing outside it is written, so no report can create an InfluxDB shard far from now (one shard per
 * week of time stamps: a hostile or broken agent could otherwise create thousands) or keep a school
 * "online" until a date years ahead. `maxBacklogMs` is the longest backlog an agent's spool can hold;
 * `futureGraceMs` covers small clock differences.
 *
 * A report outside the window whose agent clock offset explains it (its `sentAt` against the receive
 * time: a gateway booted at 1970 without RTC, a clock years off, an agent that trusted a wrong
 * `serverTime`) is corrected by that offset and flagged (`clockCorrected`, `clockOffsetMs`: the whole
 * correction from the agent's own clock). Anything else is refused: 400 COL_ERR_TIME_OUT_OF_WINDOW with
 * an issue naming `reports.<i>.collectedAt`, so the agent quarantines that report alone.
 */
import type { Issue, Report } from '../../protocol/index.js';
import { DEFAULT_COLLECTOR_MAX_CLOCK_SKEW_MS } from './points.js';

export interface TimeWindowOptions {
  /** Oldest collection time stored, as an age at receive time, ms. Default 30 days. */
  maxBacklogMs?: number;
  /** Newest collection time stored, ahead of the receive time, ms. Default 5 minutes. */
  futureGraceMs?: number;
  /** Skew beyond which points.ts shifts an uncorrected report by its offset, ms (ingest.maxClockSkewMs). */
  maxClockSkewMs?: number;
}

export const DEFAULT_MAX_BACKLOG_MS = 30 * 86_400_000;
export const DEFAULT_FUTURE_GRACE_MS = 300_000;

export type WindowResult = { ok: true; reports: Report[]; corrected: number } | { ok: false; issues: Issue[]; message: string };

const iso = (ms: number) => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms));

/** Checks (and where the clock offset explains it, corrects) the collection times of a batch. */
export function applyTimeWindow(reports: readonly Report[], receivedAtMs: number, opts: TimeWindowOptions = {}): WindowResult {
  const from = receivedAtMs - (opts.maxBacklogMs ?? DEFAULT_MAX_BACKLOG_MS);
  const to = receivedAtMs + (opts.futureGraceMs ?? DEFAULT_FUTURE_GRACE_MS);
  const maxSkew = opts.maxClockSkewMs ?? DEFAULT_COLLECTOR_MAX_CLOCK_SKEW_MS;
  const inside = (t: number) => t >= from && t <= to;
  let out: Report[] | undefined;
  let corrected = 0;
  const issues: Issue[] = [];
  reports.forEach((r, i) => {
    const skew = receivedAtMs - r.sentAt;
    // Where points.ts would stamp it: an uncorrected report with a large skew is shifted there.
    const stamped = r.collectedAt + (!r.clockCorrected && Math.abs(skew) > maxSkew ? Math.round(skew / 1000) * 1000 : 0);
    if (inside(stamped)) return;
    const raw = r.collectedAt - (r.clockCorrected ? (r.clockOffsetMs ?? 0) : 0);
    const shift = Math.round(skew / 1000) * 1000;
    const fixed = raw + shift;
    // The offset explains it only when the report was sent after it was collected, by the same clock.
    if (inside(fixed) && r.sentAt >= raw) {
      out ??= [...reports];
      out[i] = { ...r, collectedAt: fixed, sentAt: r.sentAt + shift, clockCorrected: true, clockOffsetMs: fixed - raw };
      corrected++;
      return;
    }
    issues.push({
      path: `reports.${i}.collectedAt`,
      message: `collected at ${iso(stamped)}, outside the stored window ${iso(from)} … ${iso(to)} (ingest.maxBacklogMs, ingest.futureGraceMs), and the agent's clock offset (sentAt ${iso(r.sentAt)} received ${iso(receivedAtMs)}) does not explain it`,
    });
  });
  if (issues.length) {
    return { ok: false, issues, message: `collection time outside the stored window: ${issues.slice(0, 3).map((x) => `${x.path}: ${x.message}`).join('; ')}; nothing was written` };
  }
  return { ok: true, reports: out ?? (reports as Report[]), corrected };
}
