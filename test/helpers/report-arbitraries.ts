/**
 * fast-check arbitraries of valid protocol objects, with the awkward parts real agents and hostile
 * ones send: tag values with spaces, commas, `=`, backslashes, quotes, NUL and non-ASCII; optional
 * fields present or not; keys in any order; registry tags that are empty.
 */
import fc from 'fast-check';
import { IFACE_ROLES, PING_ROLES, PROTOCOL_VERSION, RESERVED_FIELD_NAMES, type Measurement, type Report } from '../../protocol/index.js';
import type { RegistryTags } from '../../collector/ingest/points.js';

/** A string of 1-12 awkward characters (never a tab or line break, which the schema refuses). */
export const awkward = (minLength = 1): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', ',', '=', '\\', '"', 'é', '学', '.', '-', '\u0000', '/'), minLength, maxLength: 12 });

const nonNeg = fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true });
const pct = fc.double({ min: 0, max: 100, noNaN: true });
const count = fc.nat({ max: 2 ** 40 });
const flag = fc.constantFrom(0 as const, 1 as const);
const code = fc.integer({ min: 0, max: 3 });

const ping = fc.record({
  name: fc.constant('ping' as const),
  tags: fc.record({ target: awkward(), role: fc.constantFrom(...PING_ROLES) }),
  fields: fc.record(
    { rtt_min_ms: nonNeg, rtt_avg_ms: nonNeg, rtt_max_ms: nonNeg, jitter_ms: nonNeg, loss_pct: pct, sent: count, received: count, result_code: code },
    { requiredKeys: ['loss_pct', 'sent', 'received', 'result_code'] },
  ),
});
const iface = fc.record({
  name: fc.constant('iface' as const),
  tags: fc.record({ device: awkward(), ifname: awkward(), role: fc.constantFrom(...IFACE_ROLES) }),
  fields: fc.record(
    { in_bps: nonNeg, out_bps: nonNeg, speed_bps: nonNeg, in_util_pct: nonNeg, out_util_pct: nonNeg, oper_up: flag, in_errors: count, out_errors: count, in_discards: count, out_discards: count, counter_reset: flag },
    { requiredKeys: ['oper_up'] },
  ),
});
const sys = fc.record({
  name: fc.constant('sys' as const),
  tags: fc.record({ device: awkward() }),
  fields: fc.record({ uptime_s: nonNeg, descr: fc.string({ maxLength: 40 }), result_code: code, errors: count }, { requiredKeys: ['result_code'] }),
});
const inventory = fc.record({ name: fc.constant('inventory' as const), tags: fc.record({ class: awkward() }), fields: fc.record({ count }) });
const inventoryPoll = fc.record({
  name: fc.constant('inventory_poll' as const),
  tags: fc.record({ device: awkward() }),
  fields: fc.record({ result_code: code, errors: count, neighbours: count, poll_ms: nonNeg }),
});
const modem = fc.record({
  name: fc.constant('modem' as const),
  tags: fc.record({ device: awkward(), profile: awkward() }),
  fields: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/).filter((k) => !RESERVED_FIELD_NAMES.has(k)), fc.double({ noNaN: true, noDefaultInfinity: true }), { maxKeys: 5 }),
});
const agentM = fc.record({
  name: fc.constant('agent' as const),
  tags: fc.record({ version: awkward() }),
  fields: fc.record(
    { spool_reports: count, spool_bytes: count, dropped_reports: count, sent_bytes: count, cycle_ms: nonNeg, rss_bytes: count, uptime_s: nonNeg, clock_offset_ms: fc.double({ noNaN: true, noDefaultInfinity: true }) },
    { requiredKeys: ['spool_reports', 'spool_bytes', 'dropped_reports', 'sent_bytes', 'cycle_ms', 'rss_bytes', 'uptime_s'] },
  ),
});
const throughput = fc.record({
  name: fc.constant('throughput' as const),
  tags: fc.record({ server: awkward() }),
  fields: fc.record(
    { down_mbps: nonNeg, up_mbps: nonNeg, bytes_used: count, duration_ms: nonNeg, rtt_ms: nonNeg, retransmits: count, capped: flag, result_code: fc.integer({ min: 0, max: 4 }) },
    { requiredKeys: ['bytes_used', 'duration_ms', 'capped', 'result_code'] },
  ),
});

/** One valid measurement of any kind. */
export const measurement: fc.Arbitrary<Measurement> = fc.oneof(ping, iface, sys, inventory, inventoryPoll, modem, agentM, throughput) as fc.Arbitrary<Measurement>;

const epoch = fc.integer({ min: 1e12, max: 1e13 - 1 });

/** One valid report (no `devices`) of the given agent. */
export const report = (agent = 'gw-01'): fc.Arbitrary<Report> =>
  fc
    .record(
      {
        v: fc.constant(PROTOCOL_VERSION),
        school: fc.constant('1640104001'),
        agent: fc.constant(agent),
        seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        collectedAt: epoch,
        sentAt: epoch,
        measurements: fc.array(measurement, { maxLength: 8 }),
        clockCorrected: fc.constant(true as const),
        clockOffsetMs: fc.integer({ min: -1e9, max: 1e9 }),
        agentKind: fc.constantFrom('full' as const, 'tiny' as const, 'proxy' as const),
      },
      { requiredKeys: ['v', 'school', 'agent', 'seq', 'collectedAt', 'sentAt', 'measurements'] },
    )
    .map((r) => r as Report);

/** Registry tags, some of them empty. */
export const registryTags: fc.Arbitrary<RegistryTags> = fc.record({
  school: fc.constant('1640104001'),
  province: fc.oneof(fc.constant('640000'), awkward(0)),
  city: fc.oneof(fc.constant('640100'), awkward(0)),
  county: fc.oneof(fc.constant('640104'), awkward(0)),
  link: fc.constantFrom('fiber', 'sat-geo', ''),
});

/** A copy of a JSON value with every object's keys in an order drawn from `seed` (what another encoder may send). */
export function reorderKeys<T>(value: T, seed: number): T {
  let s = seed >>> 0 || 1;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v !== 'object' || v === null) return v;
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [keys[i], keys[j]] = [keys[j] as string, keys[i] as string];
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = walk((v as Record<string, unknown>)[k]);
    return out;
  };
  return walk(value) as T;
}
