/**
 * The wire contract between agent and collector, protocol version 1.
 *
 * Both sides validate with these schemas: the agent before a report enters its spool,
 * the collector before anything is written. `docs/protocol.md` describes the same thing in prose.
 */
import { z } from 'zod';
import { deviceEventsSchema } from './devices.js';

/** The protocol version this build speaks. A report carries it in `v`. */
export const PROTOCOL_VERSION = 1 as const;

/** Largest number of reports in one POST. */
export const MAX_REPORTS_PER_BATCH = 500;
/** Largest number of measurements in one report. */
export const MAX_MEASUREMENTS_PER_REPORT = 5000;

/** 10-digit national school identification code (学校标识码). */
export const schoolId = z.string().regex(/^\d{10}$/, 'must be a 10-digit school identification code');
/** Agent id: chosen by the operator, unique within a school. */
export const agentId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');

/**
 * A wall-clock time stamped by an agent, ms since the Unix epoch: anything from 1970 on, because a gateway
 * without RTC boots at 1970 and must still report (the collector corrects such times, see docs/protocol.md,
 * "Time window", and collector/ingest/time-window.ts, which refuses what it cannot explain).
 */
const agentMs = z.number().int('must be an integer (milliseconds since the epoch)').min(0, 'must be milliseconds since the epoch').max(1e13 - 1, 'must be milliseconds since the epoch');

/** An agent state's epoch: random at the state's creation, so a reinstalled or cloned agent starts a new sequence space. */
export const epochId = z.string().regex(/^[0-9a-z]{8,32}$/, 'must be 8-32 characters of 0-9 a-z');

/** Milliseconds since the Unix epoch, between 2001-09-09 and 2286-11-20. */
const epochMs = z.number().int('must be an integer (milliseconds since the epoch)').min(1e12, 'must be milliseconds since the epoch').max(1e13 - 1, 'must be milliseconds since the epoch');
const tagValue = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .refine((s) => !/[\n\r\t]/.test(s), 'must not contain tabs or line breaks');
const count = z.number().int('must be an integer').min(0, 'must be >= 0');
const nonNeg = z.number().min(0, 'must be >= 0').finite();
const pct = z.number().min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100');
const flag = z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' });
const fieldName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be snake_case, at most 64 characters')
  // Lazily: TAG_KEYS is built from the measurement schemas below; the check runs at parse time.
  .refine((k) => !RESERVED_FIELD_NAMES.has(k), { error: (i) => `must not be a tag key or "time" (${String(i.input)} would shadow the tag of that name in every query)` });

/** Kinds of school uplink, as the registry records them and the `link` tag carries them. */
export const LINK_TYPES = ['fiber', 'dsl', 'cellular', 'microwave', 'sat-geo', 'sat-leo', 'other'] as const;
export type LinkType = (typeof LINK_TYPES)[number];

/**
 * Kinds of agent: `full` the Node agent on a school's own box (the default: a report without
 * `agentKind`), `tiny` the BusyBox agent on an OpenWrt router, `proxy` the county proxy that watches
 * many schools from the education network (its reports say what it saw of the school from outside).
 */
export const AGENT_KINDS = ['full', 'tiny', 'proxy'] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];

/** Roles of a ping target. */
export const PING_ROLES = ['gateway', 'isp', 'platform', 'peer', 'internet'] as const;
/** `sys.result_code` of an SNMP poll: 0 ok, 2 no response (timeout), 3 error. */
export const SNMP_RESULT = { ok: 0, timeout: 2, error: 3 } as const;

/** Roles of an interface. */
export const IFACE_ROLES = ['wan', 'lan', 'other'] as const;

/**
 * `ping.result_code`: 0 ok, 1 name not resolved, 2 no reply, 3 error (the ping command failed).
 */
export const PING_RESULT = { ok: 0, unresolved: 1, noReply: 2, error: 3 } as const;

const pingMeasurement = z.strictObject({
  name: z.literal('ping'),
  tags: z.strictObject({ target: tagValue, role: z.enum(PING_ROLES) }),
  fields: z.strictObject({
    rtt_min_ms: nonNeg.optional(),
    rtt_avg_ms: nonNeg.optional(),
    rtt_max_ms: nonNeg.optional(),
    jitter_ms: nonNeg.optional(),
    loss_pct: pct,
    sent: count,
    received: count,
    result_code: z.number().int().min(0).max(3),
  }),
});

const ifaceMeasurement = z.strictObject({
  name: z.literal('iface'),
  tags: z.strictObject({ device: tagValue, ifname: tagValue, role: z.enum(IFACE_ROLES) }),
  fields: z.strictObject({
    in_bps: nonNeg.optional(),
    out_bps: nonNeg.optional(),
    speed_bps: nonNeg.optional(),
    in_util_pct: nonNeg.optional(),
    out_util_pct: nonNeg.optional(),
    oper_up: flag,
    in_errors: count.optional(),
    out_errors: count.optional(),
    in_discards: count.optional(),
    out_discards: count.optional(),
    counter_reset: flag.optional(),
  }),
});

const sysMeasurement = z.strictObject({
  name: z.literal('sys'),
  tags: z.strictObject({ device: tagValue }),
  fields: z.strictObject({
    uptime_s: nonNeg.optional(),
    descr: z.string().max(1024).optional(),
    /** 0 ok, 2 no response (timeout), 3 error; see SNMP_RESULT. */
    result_code: z.number().int().min(0).max(3),
    /** Failed SNMP requests during this poll. */
    errors: count.optional(),
  }),
});

const inventoryMeasurement = z.strictObject({
  name: z.literal('inventory'),
  tags: z.strictObject({ class: tagValue }),
  fields: z.strictObject({ count }),
});

/** One inventory poll of one source device: the inventory probe's failures recorded as data. */
const inventoryPollMeasurement = z.strictObject({
  name: z.literal('inventory_poll'),
  tags: z.strictObject({ device: tagValue }),
  fields: z.strictObject({
    /** 0 ok, 2 no response (timeout), 3 error; see SNMP_RESULT. */
    result_code: z.number().int().min(0).max(3),
    /** Failed table walks in this poll. */
    errors: count,
    /** Neighbour (ARP) entries read from this source. */
    neighbours: count,
    poll_ms: nonNeg,
  }),
});

const modemMeasurement = z.strictObject({
  name: z.literal('modem'),
  tags: z.strictObject({ device: tagValue, profile: tagValue }),
  fields: z.record(fieldName, z.number().finite()),
});

/**
 * `throughput.result_code`: 0 ok (both directions measured), 1 every server busy, 2 no connection
 * (name not resolved, refused, timed out), 3 error (iperf3 missing or failed, output unreadable),
 * 4 skipped: the test would exceed the day's byte budget.
 */
export const THROUGHPUT_RESULT = { ok: 0, busy: 1, unreachable: 2, error: 3, budget: 4 } as const;

/** One iperf3 test (download then upload) against a server the province runs. */
const throughputMeasurement = z.strictObject({
  name: z.literal('throughput'),
  tags: z.strictObject({ server: tagValue }),
  fields: z.strictObject({
    /** Received rate server → school, Mbit/s (absent when the download failed or was skipped). */
    down_mbps: nonNeg.optional(),
    /** Received rate school → server, Mbit/s. */
    up_mbps: nonNeg.optional(),
    /** Bytes the test moved over the link, both directions, warm-up included. */
    bytes_used: count,
    /** Wall time of the test, ms. */
    duration_ms: nonNeg,
    /** Mean TCP RTT seen by the sender during the upload, ms. */
    rtt_ms: nonNeg.optional(),
    /** TCP retransmissions during the upload. */
    retransmits: count.optional(),
    /** 1 when a rate reached the cap the byte budget sets: it is a lower bound of the link's capacity. */
    capped: flag,
    result_code: z.number().int().min(0).max(4),
  }),
});

const agentMeasurement = z.strictObject({
  name: z.literal('agent'),
  tags: z.strictObject({ version: tagValue }),
  fields: z.strictObject({
    spool_reports: count,
    spool_bytes: count,
    dropped_reports: count,
    sent_bytes: count,
    cycle_ms: nonNeg,
    rss_bytes: count,
    uptime_s: nonNeg,
    /** Collector time minus agent time from the last ack, ms (absent before the first ack). */
    clock_offset_ms: z.number().finite().optional(),
  }),
});

/** One measurement: a name, its tags and its fields, timestamped by the report's `collectedAt`. */
export const measurementSchema = z.discriminatedUnion('name', [
  pingMeasurement,
  ifaceMeasurement,
  sysMeasurement,
  inventoryMeasurement,
  inventoryPollMeasurement,
  modemMeasurement,
  agentMeasurement,
  throughputMeasurement,
]);

/** Tags the collector adds to every point: the registry's hierarchy and the agent id. */
export const COLLECTOR_TAG_KEYS = ['school', 'province', 'city', 'county', 'link', 'agent'] as const;

/** Every tag key a point can carry: the collector's and each measurement's own. */
export const TAG_KEYS: ReadonlySet<string> = new Set<string>([
  ...COLLECTOR_TAG_KEYS,
  ...measurementSchema.options.flatMap((o) => Object.keys(o.shape.tags.shape)),
]);

/**
 * Names no field may have: a tag key (a field `school` shadows the tag in InfluxQL's answers, hiding
 * every school's data) and `time` (InfluxDB refuses it).
 */
export const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set([...TAG_KEYS, 'time']);

/**
 * Field keys of each measurement in the order the schema's output holds them (a strict object's
 * output follows its shape, not the input); undefined where any snake_case key is allowed (`modem`:
 * the output keeps the input's order).
 */
export const MEASUREMENT_FIELD_ORDER: ReadonlyMap<string, readonly string[] | undefined> = new Map(
  measurementSchema.options.map((o) => [o.shape.name.value as string, 'shape' in o.shape.fields ? Object.keys(o.shape.fields.shape) : undefined]),
);

/** One collection cycle of one agent. */
export const reportSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION, { error: `unsupported protocol version; this collector speaks v${PROTOCOL_VERSION}` }),
  school: schoolId,
  agent: agentId,
  /**
   * The agent state's epoch; `seq` counts within it. Absent: the legacy epoch of agents older than epochs
   * (one sequence space per agent id).
   */
  epoch: epochId.optional(),
  seq: z.number().int('must be an integer').min(1, 'must be >= 1').max(Number.MAX_SAFE_INTEGER),
  collectedAt: agentMs,
  sentAt: agentMs,
  measurements: z.array(measurementSchema).max(MAX_MEASUREMENTS_PER_REPORT),
  /** Device list changes, present only when the list changed (see protocol/devices.ts). */
  devices: deviceEventsSchema.optional(),
  /** Which kind of agent sent the report; absent: `full` (see AGENT_KINDS). */
  agentKind: z.enum(AGENT_KINDS).optional(),
  /** Present (true) when the agent's clock was badly wrong and `collectedAt`/`sentAt` were shifted by `clockOffsetMs`. */
  clockCorrected: z.literal(true).optional(),
  /** The correction applied, ms (collector time minus agent time). */
  clockOffsetMs: z.number().int().optional(),
});

/** The body of `POST /api/v1/reports`: one or more reports of one agent. */
export const batchSchema = z
  .strictObject({
    reports: z.array(reportSchema).min(1, 'must hold at least one report').max(MAX_REPORTS_PER_BATCH),
  })
  .superRefine((batch, ctx) => {
    const first = batch.reports[0];
    batch.reports.forEach((r, i) => {
      // A report for another school is the collector's 403 to give (the token decides), not a schema error.
      if (first && r.agent !== first.agent) {
        ctx.addIssue({ code: 'custom', path: ['reports', i, 'agent'], message: 'all reports of a batch must come from one agent' });
      }
    });
  });

/**
 * The collector's answer to an accepted batch. Agents read it tolerantly (unknown keys are ignored),
 * so the collector may add keys within version 1.
 */
export const ackSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  /** Sequence numbers of the batch the collector now holds: written now, or already held (a repeat). */
  accepted: z.array(z.number().int()),
  /** Of `accepted`, those it already held and did not write again. */
  duplicates: z.array(z.number().int()).optional(),
  /** The collector holds every sequence of this agent (in `epoch`) up to and including this one. */
  heldThrough: z.number().int().min(0).optional(),
  /** The epoch `heldThrough` counts in: the batch's last report's (absent: the legacy epoch). */
  epoch: epochId.optional(),
  /** The collector's clock, ms since the epoch, so agents can measure their offset. */
  serverTime: epochMs,
  /**
   * Token rotation: a new token for this agent. The agent stores it durably and uses it from the next
   * request on; the old token stays valid for the collector's grace period after the new one is first used.
   */
  newToken: z.object({ token: z.string().min(1), id: z.string().min(1), expiresAtMs: z.number().int().optional() }).optional(),
  /** Points of the accepted reports left out, by reason (a budget, a tag line protocol cannot hold, a type conflict); the rest is stored. */
  dropped_points: z.record(z.string(), z.number().int().min(0)).optional(),
  /** Fields left out of otherwise stored points, by reason. */
  dropped_fields: z.record(z.string(), z.number().int().min(0)).optional(),
});

export type Measurement = z.infer<typeof measurementSchema>;
export type MeasurementName = Measurement['name'];
export type Report = z.infer<typeof reportSchema>;
export type Batch = z.infer<typeof batchSchema>;
export type Ack = z.infer<typeof ackSchema>;
export type PingRole = (typeof PING_ROLES)[number];
export type IfaceRole = (typeof IFACE_ROLES)[number];

/** One problem found in a payload or a config: where, and what is wrong. */
export interface Issue {
  /** Dotted path, e.g. `reports.0.measurements.3.fields.loss_pct`; empty for the root. */
  path: string;
  message: string;
}

/** Turns zod issues into `{ path, message }` pairs with dotted paths. */
export function toIssues(error: z.ZodError): Issue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

