/**
 * The last known cause of a school's trouble, read from InfluxDB for a page of schools at most: the
 * newest `gap` (with its cause), when a satellite modem lost lock, and when the internet (or, for a
 * school watched by a county proxy, its gateway) last answered. Every read is bounded by school
 * list, time window and LIMIT.
 */
import type { InfluxDB } from 'influx';
import { lit, ms, runStatements } from '../../views/influxql.js';

/** What the console can say about why a school went dark. */
export interface SchoolEvidence {
  /** The newest hole in the school's data within the window. */
  lastGap: { at: string; cause: string; durationS: number } | null;
  /** The modem is unlocked now: since when (the first unlocked sample after the last locked one). */
  modemUnlockedSince: string | null;
  /** The newest modem sample, if any. */
  modemLocked: boolean | null;
  /** The newest internet answer with loss below 100 % within the window (of the school's own agents). */
  internetOkAt: string | null;
  /** The newest answer of the school's gateway to a county proxy with loss below 100 % within the window. */
  gatewayOkAt: string | null;
}

export interface EvidenceOptions {
  influx: InfluxDB;
  schools: readonly string[];
  nowMs: number;
  /** How far back to look, ms. */
  windowMs: number;
  timeoutMs: number;
}

/** `("school" = 'a' OR "school" = 'b')`: ids are 10 digits, quoted anyway. */
export function schoolIn(ids: readonly string[]): string {
  return `(${ids.map((id) => `"school" = ${lit(id)}`).join(' OR ')})`;
}

const iso = (t: unknown): string | null => (typeof t === 'number' ? new Date(t).toISOString() : null);

/** Evidence per school id (every id present, with nulls when nothing is known). */
export async function evidenceFor(opts: EvidenceOptions): Promise<Map<string, SchoolEvidence>> {
  const out = new Map<string, SchoolEvidence>(opts.schools.map((id) => [id, { lastGap: null, modemUnlockedSince: null, modemLocked: null, internetOkAt: null, gatewayOkAt: null }]));
  if (opts.schools.length === 0) return out;
  const where = `${schoolIn(opts.schools)} AND time > ${ms(opts.nowMs - opts.windowMs)} AND time <= ${ms(opts.nowMs)}`;
  const [gaps = [], lastLock = [], lastLocked = [], internetOk = [], gatewayOk = []] = await runStatements(
    opts.influx,
    [
      `SELECT "duration_s", "cause" FROM "gap" WHERE ${where} GROUP BY "school" ORDER BY time DESC LIMIT 1`,
      `SELECT last("locked") FROM "modem" WHERE ${where} GROUP BY "school"`,
      `SELECT last("locked") FROM "modem" WHERE "locked" = 1 AND ${where} GROUP BY "school"`,
      `SELECT last("loss_pct") FROM "ping" WHERE "role" = 'internet' AND "agent" !~ /^proxy-/ AND "loss_pct" < 100 AND ${where} GROUP BY "school"`,
      // County proxies (agent ids `proxy-<name>`): the school's gateway answering the proxy.
      `SELECT last("loss_pct") FROM "ping" WHERE "role" = 'gateway' AND "agent" =~ /^proxy-/ AND "loss_pct" < 100 AND ${where} GROUP BY "school"`,
    ],
    opts.timeoutMs,
  );
  for (const s of gaps) {
    const e = out.get(s.tags.school ?? '');
    const row = s.values[0];
    if (!e || !row) continue;
    const col = (c: string) => row[s.columns.indexOf(c)];
    e.lastGap = { at: iso(col('time')) ?? '', cause: String(col('cause') ?? 'unknown'), durationS: Number(col('duration_s') ?? 0) };
  }
  for (const s of internetOk) {
    const e = out.get(s.tags.school ?? '');
    if (e) e.internetOkAt = iso(s.values[0]?.[0]);
  }
  for (const s of gatewayOk) {
    const e = out.get(s.tags.school ?? '');
    if (e) e.gatewayOkAt = iso(s.values[0]?.[0]);
  }
  const lockedAt = new Map<string, number>();
  for (const s of lastLocked) {
    const t = s.values[0]?.[0];
    if (typeof t === 'number') lockedAt.set(s.tags.school ?? '', t);
  }
  const unlocked: string[] = [];
  for (const s of lastLock) {
    const e = out.get(s.tags.school ?? '');
    const v = s.values[0]?.[1];
    if (!e || typeof v !== 'number') continue;
    e.modemLocked = v >= 1;
    if (!e.modemLocked) unlocked.push(s.tags.school as string);
  }
  if (unlocked.length) {
    // One small statement per unlocked school: the first unlocked sample after its own last locked one.
    const since = await runStatements(
      opts.influx,
      unlocked.map((id) => `SELECT first("locked") FROM "modem" WHERE "school" = ${lit(id)} AND "locked" < 1 AND time > ${ms(lockedAt.get(id) ?? opts.nowMs - opts.windowMs)} AND time <= ${ms(opts.nowMs)}`),
      opts.timeoutMs,
    );
    unlocked.forEach((id, k) => {
      const e = out.get(id);
      if (e) e.modemUnlockedSince = iso(since[k]?.[0]?.values[0]?.[0]);
    });
  }
  return out;
}
