/**
 * The collector's hot-path validation of `POST /api/v1/reports`: a hand-written check of exactly the
 * rules of `batchSchema` (report.ts) that allocates nothing. It is conservative: when it says yes,
 * the zod schema says yes too and its output equals the input (but for key order); when it says no,
 * or meets something it leaves to zod (a report with `devices`), `parseBatch` runs the zod schema,
 * which decides and words the error, so the answers and their messages are those of the schema.
 * test/protocol/batch-check.test.ts checks both agree on random valid and broken batches.
 */
import type { z } from 'zod';
import {
  AGENT_KINDS,
  IFACE_ROLES,
  MAX_MEASUREMENTS_PER_REPORT,
  MAX_REPORTS_PER_BATCH,
  PING_ROLES,
  PROTOCOL_VERSION,
  RESERVED_FIELD_NAMES,
  batchSchema,
  type Batch,
} from './report.js';

type Check = (v: unknown) => boolean;

const isFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const nonNeg: Check = (v) => isFinite(v) && v >= 0;
const pct: Check = (v) => isFinite(v) && v >= 0 && v <= 100;
const count: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const flag: Check = (v) => v === 0 || v === 1;
const resultCode: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 3;
const descr: Check = (v) => typeof v === 'string' && v.length <= 1024;
const epochMs: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 1e12 && (v as number) <= 1e13 - 1;

/** tagValue of report.ts: 1-256 characters, no tabs or line breaks. */
const tagValue: Check = (v) => {
  if (typeof v !== 'string' || v.length < 1 || v.length > 256) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 9 || c === 10 || c === 13) return false;
  }
  return true;
};
const oneOf = (values: readonly string[]): Check => {
  const set = new Set<unknown>(values);
  return (v) => set.has(v);
};

interface MeasurementSpec {
  tags: Map<string, Check>;
  /** Field checks and whether each is required; undefined for `modem` (any snake_case key, finite numbers). */
  fields?: Map<string, { check: Check; required: boolean }>;
}

const req = (check: Check) => ({ check, required: true });
const opt = (check: Check) => ({ check, required: false });
const spec = (tags: Record<string, Check>, fields?: Record<string, { check: Check; required: boolean }>): MeasurementSpec => ({
  tags: new Map(Object.entries(tags)),
  ...(fields && { fields: new Map(Object.entries(fields)) }),
});

/** The rules of each measurement of report.ts, by name. */
export const MEASUREMENT_SPECS: ReadonlyMap<string, MeasurementSpec> = new Map([
  ['ping', spec({ target: tagValue, role: oneOf(PING_ROLES) }, {
    rtt_min_ms: opt(nonNeg), rtt_avg_ms: opt(nonNeg), rtt_max_ms: opt(nonNeg), jitter_ms: opt(nonNeg),
    loss_pct: req(pct), sent: req(count), received: req(count), result_code: req(resultCode),
  })],
  ['iface', spec({ device: tagValue, ifname: tagValue, role: oneOf(IFACE_ROLES) }, {
    in_bps: opt(nonNeg), out_bps: opt(nonNeg), speed_bps: opt(nonNeg), in_util_pct: opt(nonNeg), out_util_pct: opt(nonNeg),
    oper_up: req(flag), in_errors: opt(count), out_errors: opt(count), in_discards: opt(count), out_discards: opt(count),
    counter_reset: opt(flag),
  })],
  ['sys', spec({ device: tagValue }, { uptime_s: opt(nonNeg), descr: opt(descr), result_code: req(resultCode), errors: opt(count) })],
  ['inventory', spec({ class: tagValue }, { count: req(count) })],
  ['inventory_poll', spec({ device: tagValue }, { result_code: req(resultCode), errors: req(count), neighbours: req(count), poll_ms: req(nonNeg) })],
  ['modem', spec({ device: tagValue, profile: tagValue })],
  ['agent', spec({ version: tagValue }, {
    spool_reports: req(count), spool_bytes: req(count), dropped_reports: req(count), sent_bytes: req(count),
    cycle_ms: req(nonNeg), rss_bytes: req(count), uptime_s: req(nonNeg), clock_offset_ms: opt(isFinite),
  })],
  ['throughput', spec({ server: tagValue }, {
    down_mbps: opt(nonNeg), up_mbps: opt(nonNeg), bytes_used: req(count), duration_ms: req(nonNeg), rtt_ms: opt(nonNeg),
    retransmits: opt(count), capped: req(flag), result_code: req((v) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 4),
  })],
]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const SCHOOL_ID = /^\d{10}$/;
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const EPOCH_ID = /^[0-9a-z]{8,32}$/;
const FIELD_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** Exactly the keys of `allowed`, every one passing its check; none undefined. */
function checkStrict(o: unknown, allowed: Map<string, Check>): boolean {
  if (!isObject(o)) return false;
  let n = 0;
  for (const k in o) {
    const c = allowed.get(k);
    if (!c || !c(o[k])) return false;
    n++;
  }
  return n === allowed.size;
}

function checkFields(o: unknown, fields: MeasurementSpec['fields']): boolean {
  if (!isObject(o)) return false;
  let required = 0;
  for (const k in o) {
    const v = o[k];
    if (!fields) {
      if (!isFinite(v) || !FIELD_NAME.test(k) || RESERVED_FIELD_NAMES.has(k)) return false;
      continue;
    }
    const f = fields.get(k);
    if (!f || !f.check(v)) return false;
    if (f.required) required++;
  }
  if (!fields) return true;
  let want = 0;
  for (const f of fields.values()) if (f.required) want++;
  return required === want;
}

function checkMeasurement(m: unknown): boolean {
  if (!isObject(m)) return false;
  const s = typeof m.name === 'string' ? MEASUREMENT_SPECS.get(m.name) : undefined;
  if (!s) return false;
  let n = 0;
  for (const k in m) {
    if (k !== 'name' && k !== 'tags' && k !== 'fields') return false;
    n++;
  }
  return n === 3 && checkStrict(m.tags, s.tags) && checkFields(m.fields, s.fields);
}

const REPORT_KEYS = new Set(['v', 'school', 'agent', 'epoch', 'seq', 'collectedAt', 'sentAt', 'measurements', 'clockCorrected', 'clockOffsetMs', 'agentKind']);
const agentKind = oneOf(AGENT_KINDS);

function checkReport(r: unknown): boolean {
  if (!isObject(r)) return false;
  // `devices` (and anything unknown) is left to the schema.
  for (const k in r) if (!REPORT_KEYS.has(k) || r[k] === undefined) return false;
  if (r.v !== PROTOCOL_VERSION) return false;
  if (typeof r.school !== 'string' || !SCHOOL_ID.test(r.school)) return false;
  if (typeof r.agent !== 'string' || !AGENT_ID.test(r.agent)) return false;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) return false;
  if ('epoch' in r && (typeof r.epoch !== 'string' || !EPOCH_ID.test(r.epoch))) return false;
  if (!epochMs(r.collectedAt) || !epochMs(r.sentAt)) return false;
  if ('clockCorrected' in r && r.clockCorrected !== true) return false;
  if ('clockOffsetMs' in r && !Number.isSafeInteger(r.clockOffsetMs)) return false;
  if ('agentKind' in r && !agentKind(r.agentKind)) return false;
  const ms = r.measurements;
  if (!Array.isArray(ms) || ms.length > MAX_MEASUREMENTS_PER_REPORT) return false;
  for (let i = 0; i < ms.length; i++) if (!checkMeasurement(ms[i])) return false;
  return true;
}

/**
 * True when `body` is a batch `batchSchema` accepts as it is (no report with `devices`); false when
 * it is not, or when only the schema can tell. Allocates nothing.
 */
export function isPlainValidBatch(body: unknown): body is Batch {
  if (!isObject(body)) return false;
  for (const k in body) if (k !== 'reports') return false;
  const reports = body.reports;
  if (!Array.isArray(reports) || reports.length < 1 || reports.length > MAX_REPORTS_PER_BATCH) return false;
  const agent = isObject(reports[0]) ? reports[0].agent : undefined;
  for (let i = 0; i < reports.length; i++) {
    const r: unknown = reports[i];
    if (!checkReport(r) || (r as { agent: unknown }).agent !== agent) return false;
  }
  return true;
}

/** `batchSchema.safeParse`, answered without zod for a batch that plainly passes. */
export function parseBatch(body: unknown): z.ZodSafeParseResult<Batch> {
  if (isPlainValidBatch(body)) return { success: true, data: body };
  return batchSchema.safeParse(body);
}
