/**
 * Configuration of the ping probe: the schema of one target, and per-link-type defaults for the
 * fields a target may leave out (`count`, `intervalMs`, `timeoutMs`).
 *
 * The schema does not fill those defaults in, because they depend on the school's `linkType`,
 * which lives elsewhere in the agent config; `resolvePingTarget()` applies them.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { PING_ROLES, type PingRole } from '../../../protocol/index.js';

import { LINK_TYPES, type LinkType } from '../../../protocol/index.js';
export { LINK_TYPES, type LinkType };

/** How one target is pinged: echo requests per run, spacing, and how long each may wait for its reply. */
export interface PingTiming {
  /** Echo requests per run (the `sent` field). */
  count: number;
  /** Milliseconds between requests. */
  intervalMs: number;
  /** Milliseconds a request may wait for its reply; a later reply counts as lost. */
  timeoutMs: number;
}

/** Bounds of the timing fields. `intervalMs` >= 200 keeps within what iputils allows without flood mode. */
export const PING_LIMITS = {
  count: { min: 1, max: 50 },
  intervalMs: { min: 200, max: 10_000 },
  timeoutMs: { min: 100, max: 20_000 },
} as const;

/**
 * Defaults per link type. Terrestrial links answer in well under 100 ms, but a congested or
 * bufferbloated uplink can hold a reply for a second or more, so even they wait 2 s before calling
 * it lost. A geostationary satellite hop alone is ~550 ms (600+ ms end to end, up to ~2 s under
 * congestion): 4 s. LEO constellations are ~50 ms but spike at satellite hand-overs: 2 s. Cellular
 * links wake the radio and buffer deeply: 3 s. Unknown links get the cautious 3 s.
 */
const DEFAULTS: Readonly<Record<LinkType, Readonly<PingTiming>>> = {
  fiber: { count: 5, intervalMs: 1000, timeoutMs: 2000 },
  dsl: { count: 5, intervalMs: 1000, timeoutMs: 2000 },
  microwave: { count: 5, intervalMs: 1000, timeoutMs: 2000 },
  cellular: { count: 5, intervalMs: 1000, timeoutMs: 3000 },
  'sat-geo': { count: 5, intervalMs: 1000, timeoutMs: 4000 },
  'sat-leo': { count: 5, intervalMs: 1000, timeoutMs: 2000 },
  other: { count: 5, intervalMs: 1000, timeoutMs: 3000 },
};

/** The timing a target gets for the fields it leaves out, by the school's link type. */
export function pingDefaults(linkType: LinkType): PingTiming {
  return { ...DEFAULTS[linkType] };
}

const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

/** Whether `s` is a DNS name ping can be given: LDH labels (plus `_`), no leading `-`, not all-numeric. */
function isHostname(s: string): boolean {
  if (s.length > 254 || !HOSTNAME.test(s)) return false;
  const labels = s.replace(/\.$/, '').split('.');
  // "10.0.0.300" or "1.2.3" look like addresses, not names: refuse them (RFC 3696 §2).
  return !/^\d+$/.test(labels[labels.length - 1] ?? '');
}

/**
 * A ping host: a DNS name, an IPv4 address, or an IPv6 address (a `%zone` suffix is allowed for
 * link-local gateways). Never starts with `-`, so it cannot be taken for a ping option.
 */
export const pingHost = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(254, 'must be at most 254 characters')
  .refine((s) => isIP(s) !== 0 || isHostname(s), 'must be a host name, an IPv4 address or an IPv6 address (use the xn-- form for internationalised names)');

/** Value of the `target` tag: what the protocol allows for a tag. */
const tagName = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .refine((s) => !/[\n\r\t]/.test(s), 'must not contain tabs or line breaks');

const intIn = (b: { min: number; max: number }, unit = '') =>
  z
    .number()
    .int('must be an integer')
    .min(b.min, `must be at least ${b.min}${unit}`)
    .max(b.max, `must be at most ${b.max}${unit}`);

/** One ping target as written in the agent config. */
export const pingTargetSchema = z
  .strictObject({
    /** Name, IPv4 or IPv6 address to ping. */
    host: pingHost,
    /** What the target stands for on the school's path: gateway, isp, platform, peer or internet. */
    role: z.enum(PING_ROLES),
    /** Value of the `target` tag; default `host`. Needed when one host is pinged twice (IPv4 and IPv6). */
    name: tagName.optional(),
    /** Echo requests per run; default by link type. */
    count: intIn(PING_LIMITS.count).optional(),
    /** Milliseconds between requests; default by link type. */
    intervalMs: intIn(PING_LIMITS.intervalMs, ' ms').optional(),
    /** Milliseconds each request may wait for its reply; default by link type. */
    timeoutMs: intIn(PING_LIMITS.timeoutMs, ' ms').optional(),
    /**
     * Ping over IPv6 (`ping -6`). Default: true for an IPv6 address, false otherwise, in which
     * case names are pinged over IPv4 (`ping -4`). Set it on a name to measure its IPv6 path.
     */
    ipv6: z.boolean().optional(),
  })
  .superRefine((t, ctx) => {
    if (t.ipv6 === false && isIPv6(t.host)) {
      ctx.addIssue({ code: 'custom', path: ['ipv6'], message: 'cannot be false for an IPv6 address' });
    }
    if (t.ipv6 === true && isIPv4(t.host)) {
      ctx.addIssue({ code: 'custom', path: ['ipv6'], message: 'cannot be true for an IPv4 address' });
    }
  });

/** Most targets one agent pings. */
export const MAX_PING_TARGETS = 64;

/**
 * The list of targets. Two targets may not share a `target` tag (their points would overwrite each
 * other in the database): ping one host over both IPv4 and IPv6 by giving one of them a `name`.
 */
export const pingTargetsSchema = z
  .array(pingTargetSchema)
  .max(MAX_PING_TARGETS, `must list at most ${MAX_PING_TARGETS} targets`)
  .superRefine((targets, ctx) => {
    const seen = new Map<string, number>();
    targets.forEach((t, i) => {
      const tag = pingTag(t);
      const first = seen.get(tag);
      if (first === undefined) seen.set(tag, i);
      else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `target tag "${tag}" is already used by targets.${first}; give this target a distinct name` });
    });
  });

/** The ping part of the agent config (what `sample.yaml` holds). */
export const pingSectionSchema = z.strictObject({
  linkType: z.enum(LINK_TYPES),
  targets: pingTargetsSchema,
});

/** A target as written in the config. */
export type PingTargetInput = z.input<typeof pingTargetSchema>;
/** A validated target. */
export type PingTarget = z.output<typeof pingTargetSchema>;

/** A target with every default applied: what one run of ping needs. */
export interface ResolvedPingTarget extends PingTiming {
  host: string;
  role: PingRole;
  /** Value of the `target` tag. */
  tag: string;
  /** Whether to ping over IPv6 (`-6`) rather than IPv4 (`-4`). */
  ipv6: boolean;
}

/** The `target` tag of a target: its `name`, else its `host`. */
export function pingTag(target: Pick<PingTarget, 'host' | 'name'>): string {
  return target.name ?? target.host;
}

/** Applies the link type's defaults and the IPv6 rule to a validated target. */
export function resolvePingTarget(target: PingTarget, linkType: LinkType): ResolvedPingTarget {
  const d = DEFAULTS[linkType];
  return {
    host: target.host,
    role: target.role,
    tag: pingTag(target),
    count: target.count ?? d.count,
    intervalMs: target.intervalMs ?? d.intervalMs,
    timeoutMs: target.timeoutMs ?? d.timeoutMs,
    ipv6: target.ipv6 ?? isIPv6(target.host),
  };
}
