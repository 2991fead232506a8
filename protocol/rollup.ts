/**
 * Roll-ups: what a provincial collector sends the national hub (`POST /api/v1/rollups`). A roll-up is the
 * aggregates of every region of one province (the province, its cities, its counties) at one as-of time;
 * no school-level data leaves the province. Delivery works as for agents: each roll-up carries the
 * province collector's epoch and a sequence number, the hub acknowledges, dedupes and records gaps per
 * (province collector, epoch). `docs/protocol.md`, "Roll-ups (province → hub)", describes it in prose.
 */
import { z } from 'zod';
import { PROTOCOL_VERSION, agentId, epochId } from './report.js';

/** Path of the hub's roll-up endpoint. */
export const ROLLUPS_PATH = '/api/v1/rollups';
/** Path where a province collector exchanges an enrollment code for its credential on the hub. */
export const HUB_ENROLL_PATH = '/api/v1/hub/enroll';

/**
 * Most roll-ups in one POST (a backlog after an outage is sent in batches of at most this many). The hub
 * validates them one at a time, yielding between two (a province roll-up takes a few ms to check).
 */
export const MAX_ROLLUPS_PER_BATCH = 20;
/** Most regions in one roll-up: the largest province has ~21 cities and ~185 counties; room for 10× that. */
export const MAX_REGIONS_PER_ROLLUP = 2000;
/** Most keys in one of a region's maps (tiers, links, compliance rules, alert rules). */
export const MAX_KEYS_PER_MAP = 200;

/** Levels of a region in a roll-up. */
export const ROLLUP_LEVELS = ['province', 'city', 'county'] as const;
export type RollupLevel = (typeof ROLLUP_LEVELS)[number];

/** 2-digit province code (the first two digits of GB/T 2260), e.g. `32` for 江苏省. */
export const provinceCode = z.string().regex(/^\d{2}$/, 'must be a 2-digit province code');
/** 6-digit division code: province `NN0000`, city `NNNN00`, county `NNNNNN`. */
export const divisionCode = z.string().regex(/^\d{6}$/, 'must be a 6-digit division code');
/**
 * A rule, tier or link id as a key of a region's maps (`CN-BB-02`, `100`, `sat-geo`): it becomes part of an
 * InfluxDB field name (`compliance_cn_bb_02_pass`, see `fieldKey`), so two keys of one map must not
 * differ only in case or in `-` / `.` / `_`.
 */
export const rollupKey = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');

/** A rule, tier or link id as part of an InfluxDB field name: `[a-z0-9_]` (`sat-geo` → `sat_geo`, `CN-BB-02` → `cn_bb_02`). */
export function fieldKey(id: string): string {
  return id.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

const epochMs = z.number().int('must be an integer (milliseconds since the epoch)').min(1e12, 'must be milliseconds since the epoch').max(1e13 - 1, 'must be milliseconds since the epoch');
const count = z.number().int('must be an integer').min(0, 'must be >= 0').max(Number.MAX_SAFE_INTEGER);
const keyed = <T extends z.ZodTypeAny>(value: T) =>
  z.record(rollupKey, value).superRefine((m, ctx) => {
    const keys = Object.keys(m);
    if (keys.length > MAX_KEYS_PER_MAP) ctx.addIssue({ code: 'custom', message: `must have at most ${MAX_KEYS_PER_MAP} keys` });
    const byField = new Map<string, string>();
    for (const k of keys) {
      const f = fieldKey(k);
      const other = byField.get(f);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} and ${other} would be one InfluxDB field (${f})` });
      else byField.set(f, k);
    }
  });

/** One region's aggregates in a roll-up. Counts are of schools in the province's registry. */
export const regionAggregateSchema = z
  .strictObject({
    region: divisionCode,
    level: z.enum(ROLLUP_LEVELS),
    name: z.string().min(1).max(64).optional(),
    registered: count,
    online: count,
    offline: count,
    neverSeen: count,
    /** Online school hours over school hours of the region's schools, %; null when unknown (then a reason). */
    schoolHoursOnlinePct: z.number().min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100').nullable(),
    schoolHoursUnknownReason: z.string().min(1).max(256).optional(),
    /**
     * The hours the rate is computed from, so a higher level sums them instead of averaging rates: online
     * school hours and school hours of the region's schools over the last `days` days.
     */
    schoolHours: z.strictObject({ days: z.number().int().min(1).max(366), onlineHours: z.number().min(0).finite(), schoolHours: z.number().min(0).finite() }).optional(),
    /** Schools per bandwidth tier, by where the tier came from (a fresh measurement, or the contracted bandwidth). */
    tiers: keyed(z.strictObject({ measured: count, contracted: count })),
    /** Schools with neither a fresh measurement nor a contracted bandwidth. */
    tierUnknown: count,
    /** Schools per uplink type (`fiber`, `sat-geo`, …). */
    links: keyed(count),
    /** Schools per compliance rule and outcome. */
    compliance: keyed(z.strictObject({ pass: count, fail: count, unknown: count })),
    /** Firing alerts per alert rule. */
    alertsFiring: keyed(count),
  })
  .superRefine((r, ctx) => {
    if (r.online + r.offline + r.neverSeen !== r.registered) {
      ctx.addIssue({ code: 'custom', path: ['registered'], message: `must equal online + offline + neverSeen (${r.online} + ${r.offline} + ${r.neverSeen})` });
    }
    const shape = r.level === 'province' ? /^\d{2}0000$/ : r.level === 'city' ? /^\d{4}00$/ : /^\d{6}$/;
    if (!shape.test(r.region) || (r.level !== 'province' && r.region.endsWith('0000'))) {
      ctx.addIssue({ code: 'custom', path: ['region'], message: `${r.region} is not a ${r.level}-level code` });
    }
    if (r.schoolHours && r.schoolHours.onlineHours > r.schoolHours.schoolHours) {
      ctx.addIssue({ code: 'custom', path: ['schoolHours', 'onlineHours'], message: `must be at most schoolHours (${r.schoolHours.schoolHours})` });
    }
    if (r.schoolHoursOnlinePct === null && r.schoolHoursUnknownReason === undefined) {
      ctx.addIssue({ code: 'custom', path: ['schoolHoursUnknownReason'], message: 'is required when schoolHoursOnlinePct is null' });
    }
  });

/** One roll-up: every region of one province at one as-of time. */
export const rollupSchema = z
  .strictObject({
    v: z.literal(PROTOCOL_VERSION),
    province: provinceCode,
    /** The province collector's id (assigned by the hub at enrollment). */
    collector: agentId,
    /** The province collector's roll-up spool epoch; `seq` counts within it. */
    epoch: epochId,
    seq: z.number().int('must be an integer').min(1, 'must be >= 1').max(Number.MAX_SAFE_INTEGER),
    /** When the aggregated data was current, ms since the epoch (the InfluxDB time of the `rollup` points). */
    asOf: epochMs,
    /** When the province collector sent this roll-up (first attempt), ms. */
    sentAt: epochMs,
    /** The province's console: school lists stay there. */
    consoleUrl: z.url({ protocol: /^https?$/ }).max(512),
    regions: z.array(regionAggregateSchema).min(1, 'must hold at least the province').max(MAX_REGIONS_PER_ROLLUP),
  })
  .superRefine((r, ctx) => {
    const seen = new Map<string, number>();
    let provinces = 0;
    r.regions.forEach((g, i) => {
      if (!g.region.startsWith(r.province)) ctx.addIssue({ code: 'custom', path: ['regions', i, 'region'], message: `${g.region} is not in province ${r.province}` });
      const first = seen.get(g.region);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['regions', i, 'region'], message: `duplicate region ${g.region} (also regions.${first})` });
      else seen.set(g.region, i);
      if (g.level === 'province') provinces++;
    });
    if (provinces !== 1 || !seen.has(`${r.province}0000`)) {
      ctx.addIssue({ code: 'custom', path: ['regions'], message: `must hold exactly one province-level region, ${r.province}0000` });
    }
  });

/** The body of `POST /api/v1/rollups`: roll-ups of one province collector, in sequence order. */
export const rollupBatchSchema = z
  .strictObject({ rollups: z.array(rollupSchema).min(1, 'must hold at least one roll-up').max(MAX_ROLLUPS_PER_BATCH) })
  .superRefine((b, ctx) => {
    const first = b.rollups[0];
    b.rollups.forEach((r, i) => {
      if (first && (r.collector !== first.collector || r.province !== first.province)) {
        ctx.addIssue({ code: 'custom', path: ['rollups', i, 'collector'], message: 'all roll-ups of a batch must come from one province collector' });
      }
    });
  });

/** The envelope of a batch, checked before each roll-up is validated on its own (see MAX_ROLLUPS_PER_BATCH). */
export const rollupEnvelopeSchema = z.strictObject({ rollups: z.array(z.unknown()).min(1, 'must hold at least one roll-up').max(MAX_ROLLUPS_PER_BATCH) });

/** The hub's answer to an accepted batch (read tolerantly: the hub may add keys within version 1). */
export const rollupAckSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  /** Sequences of the batch the hub now holds: written now, or already held (a repeat). */
  accepted: z.array(z.number().int()),
  /** Of `accepted`, those it already held and did not write again. */
  duplicates: z.array(z.number().int()).optional(),
  /** The hub holds every sequence of this collector (in `epoch`) up to and including this one. */
  heldThrough: z.number().int().min(0).optional(),
  epoch: epochId.optional(),
  /** The hub's clock, ms. */
  serverTime: epochMs,
});

/** What a province collector sends to enroll with the hub. */
export const hubEnrollRequestSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  code: z.string().regex(/^clke_[A-Za-z0-9_-]{16,64}$/, 'must be an enrollment code (clke_…)'),
  nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be 16-64 characters of A-Z a-z 0-9 _ -'),
  /** The province the collector serves; must be the code's. */
  province: provinceCode,
  hostname: z.string().max(128).optional(),
});

/** The hub's answer to an accepted enrollment. */
export const hubEnrollAnswerSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  province: provinceCode,
  /** The collector id the hub assigned; every roll-up carries it. */
  collector: agentId,
  token: z.string().min(1),
  tokenId: z.string().min(1),
});

export type RegionAggregate = z.infer<typeof regionAggregateSchema>;
export type Rollup = z.infer<typeof rollupSchema>;
export type RollupBatch = z.infer<typeof rollupBatchSchema>;
export type RollupAck = z.infer<typeof rollupAckSchema>;
export type HubEnrollRequest = z.infer<typeof hubEnrollRequestSchema>;
export type HubEnrollAnswer = z.infer<typeof hubEnrollAnswerSchema>;

