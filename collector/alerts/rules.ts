/**
 * Alert rules: the YAML file's schema, the built-in defaults, and how a rule's parameters resolve
 * for one school (kind defaults < the rule's own values < built-in per-link-type defaults < the
 * rule's `links:` < its `regions:` for the province, then the city, then the county).
 *
 * The built-in per-link-type values win over a rule's base values on purpose: a rule written with
 * `aboveMs: 300` for fibre must not page for every GEO satellite school (≈ 600 ms by physics); set a
 * link type's value under `links:` to change it. docs/alerts.md lists every kind and default.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../protocol/config.js';
import { LINK_TYPES, toIssues, type Issue, type LinkType } from '../../protocol/index.js';

const id = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be 1-64 characters of a-z 0-9 _ - starting with a letter');
const minutes = z.number().positive('must be > 0 (minutes)').max(7 * 24 * 60, 'must be at most a week (10080 minutes)');
const regionCode = z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 code (province NN0000, city NNNN00 or county)');
const SEMVER = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/;

/** Parameters of each kind, with their defaults. */
const PARAMS = {
  school_offline: z.strictObject({
    /** Fires when no internet target answered for this long. */
    forMin: minutes.default(30),
    /** Only inside the school's hours (the school calendar); outside, the alert resolves. */
    schoolHoursOnly: z.boolean().default(true),
    /** Also fire for registered schools that never reported (off by default: a roll-out in progress is not an outage). */
    includeNeverSeen: z.boolean().default(false),
  }),
  link_loss: z.strictObject({ abovePct: z.number().min(0).max(100).default(5), forMin: minutes.default(10) }),
  link_rtt: z.strictObject({ aboveMs: z.number().positive().max(60_000).default(300), forMin: minutes.default(10) }),
  link_jitter: z.strictObject({ aboveMs: z.number().positive().max(60_000).default(30), forMin: minutes.default(10) }),
  spool_backlog: z.strictObject({
    /** Fires when the agent's spool holds at least this many reports… */
    minReports: z.number().int().min(1).default(30),
    /** …and has not shrunk for this long. */
    forMin: minutes.default(30),
  }),
  agent_version: z.strictObject({ minVersion: z.string().regex(SEMVER, 'must be a version like 0.2.0').default('0.0.0') }),
  modem_snr: z.strictObject({
    /** The modem field judged (the modem profile's name for it). */
    field: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a snake_case modem field').default('snr_db'),
    belowDb: z.number().min(-50).max(100).default(6),
    forMin: minutes.default(5),
  }),
  modem_lock: z.strictObject({ forMin: minutes.default(2) }),
  region_online: z.strictObject({
    level: z.enum(['province', 'city', 'county']).default('county'),
    belowPct: z.number().min(0).max(100).default(90),
    /** Regions with fewer schools (in school hours) than this are not judged: one school is not a share. */
    minSchools: z.number().int().min(1).default(5),
    forMin: minutes.default(15),
    schoolHoursOnly: z.boolean().default(true),
  }),
  compliance_failing: z.strictObject({
    /** The compliance profile (config/compliance/<id>.yaml). */
    profile: z.string().min(1).default('cn-moe'),
    /** Rule ids of the profile to watch; empty = every rule. */
    rules: z.array(z.string().min(1)).default([]),
  }),
} as const;

export type RuleKind = keyof typeof PARAMS;
export const RULE_KINDS = Object.keys(PARAMS) as RuleKind[];
export type ParamsOf<K extends RuleKind> = z.output<(typeof PARAMS)[K]>;

/**
 * Built-in per-link-type values (docs/alerts.md gives the sources): GEO ≈ 600 ms and up to 2 s in
 * rain fade, LEO ≈ 50 ms with 15 s reconfiguration swings, cellular queues; interactive-class limits
 * (loss ≤ 1 %, jitter ≤ 30 ms, RTT ≤ 300 ms) are for terrestrial links.
 */
export const LINK_DEFAULTS: { readonly [K in RuleKind]?: Partial<Record<LinkType, Partial<ParamsOf<K>>>> } = {
  link_rtt: { 'sat-geo': { aboveMs: 1500 }, 'sat-leo': { aboveMs: 200 }, cellular: { aboveMs: 400 }, microwave: { aboveMs: 300 } },
  link_jitter: { 'sat-geo': { aboveMs: 150 }, 'sat-leo': { aboveMs: 60 }, cellular: { aboveMs: 60 } },
  link_loss: { 'sat-geo': { abovePct: 10 }, 'sat-leo': { abovePct: 10 }, cellular: { abovePct: 10 } },
  school_offline: { 'sat-geo': { forMin: 60 } },
};

const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

function ruleSchema<K extends RuleKind>(kind: K) {
  const params = PARAMS[kind];
  // Overrides name only what they change: the kind's defaults must not fill them in.
  const shape = (params as unknown as z.ZodObject).shape as Record<string, z.ZodType>;
  const optional = Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, (v instanceof z.ZodDefault ? (v.unwrap() as z.ZodType) : v).optional()]));
  const partial = z.strictObject({ ...optional, enabled: z.boolean().optional() });
  return z
    .strictObject({
      id,
      kind: z.literal(kind),
      /** Alertmanager's `severity` label. */
      severity: z.enum(SEVERITIES).default(kind === 'school_offline' || kind === 'region_online' ? 'critical' : 'warning'),
      enabled: z.boolean().default(true),
      /** Overrides per link type. */
      links: z.partialRecord(z.enum(LINK_TYPES), partial).default({}),
      /** Overrides per region (province, city or county code); the most specific level wins. */
      regions: z.record(regionCode, partial).default({}),
    })
    .extend((params as unknown as z.ZodObject).shape);
}

const anyRule = z.discriminatedUnion(
  'kind',
  RULE_KINDS.map((k) => ruleSchema(k)) as unknown as [ReturnType<typeof ruleSchema<'school_offline'>>],
  { error: (i) => (i.code === 'invalid_union' ? `kind must be one of ${RULE_KINDS.join(', ')}` : undefined) },
);

/** The rules file: `rules:`, a list. */
export const alertRulesFileSchema = z
  .strictObject({ rules: z.array(anyRule).max(200, 'at most 200 rules') })
  .superRefine((f, ctx) => {
    const seen = new Map<string, number>();
    (f.rules as { id: string }[]).forEach((r, i) => {
      const first = seen.get(r.id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id ${r.id} (also rules.${first})` });
      else seen.set(r.id, i);
    });
  });

/** One rule as validated: its kind's parameters plus `links` and `regions` overrides. */
export interface AlertRule {
  readonly id: string;
  readonly kind: RuleKind;
  readonly severity: Severity;
  readonly enabled: boolean;
  readonly links: Readonly<Partial<Record<LinkType, Readonly<Record<string, unknown>>>>>;
  readonly regions: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly [param: string]: unknown;
}

/** The rules used when the config names no file (config/alerts.example.yaml holds the same). */
export const DEFAULT_RULES_YAML = `# campuslink alert rules (docs/alerts.md)
rules:
  - id: school-offline
    kind: school_offline
    forMin: 30
  - id: link-loss
    kind: link_loss
    abovePct: 5
    forMin: 10
  - id: link-rtt
    kind: link_rtt
    aboveMs: 300
    forMin: 10
  - id: link-jitter
    kind: link_jitter
    aboveMs: 30
    forMin: 10
  - id: spool-backlog
    kind: spool_backlog
    minReports: 30
    forMin: 30
  - id: modem-snr
    kind: modem_snr
    belowDb: 6
    forMin: 5
  - id: modem-lock
    kind: modem_lock
    forMin: 2
  - id: county-online
    kind: region_online
    level: county
    belowPct: 90
    forMin: 15
  - id: compliance-failing
    kind: compliance_failing
    profile: cn-moe
`;

/** Problems of a rules document (parsed YAML), as config issues under `prefix`. */
export function alertRulesIssues(data: unknown, prefix = ''): Issue[] {
  const r = alertRulesFileSchema.safeParse(data);
  return r.success ? [] : toIssues(r.error).map((i) => ({ path: [prefix, i.path].filter(Boolean).join('.'), message: i.message }));
}

/** Parses rules YAML text; throws ConfigError (COL_ERR_CONFIG_INVALID) listing every problem. */
export function parseAlertRules(text: string, source: string): AlertRule[] {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new ConfigError('COL_ERR_CONFIG_INVALID', source, doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message}` })));
  const r = alertRulesFileSchema.safeParse(doc.toJS());
  if (!r.success) throw new ConfigError('COL_ERR_CONFIG_INVALID', source, toIssues(r.error));
  return r.data.rules as unknown as AlertRule[];
}

/** Reads the rules file, or the built-in rules for an empty path; throws ConfigError. */
export function loadAlertRules(file: string): AlertRule[] {
  if (!file) return parseAlertRules(DEFAULT_RULES_YAML, '(built-in alert rules)');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('COL_ERR_CONFIG_INVALID', file, [{ path: '', message: `cannot read alert rules: ${(e as Error).message}` }]);
  }
  return parseAlertRules(text, file);
}

/** The kind defaults of a rule's parameters (the schema's defaults). */
function kindDefaults(kind: RuleKind): Record<string, unknown> {
  return PARAMS[kind].parse({}) as Record<string, unknown>;
}

/** Where a school sits: what the resolution looks at. */
export interface Placement {
  link: LinkType;
  province: string;
  city: string;
  county: string;
}

/** The parameters a rule has for one place (link type + regions), `enabled` included. */
export function resolveParams(rule: AlertRule, at: Placement): Record<string, unknown> & { enabled: boolean } {
  const base: Record<string, unknown> = { ...kindDefaults(rule.kind) };
  for (const k of Object.keys(base)) if (rule[k] !== undefined) base[k] = rule[k];
  const linkDefaults = (LINK_DEFAULTS[rule.kind] as Record<string, Record<string, unknown>> | undefined)?.[at.link];
  return {
    ...base,
    ...linkDefaults,
    ...rule.links[at.link],
    ...rule.regions[at.province],
    ...rule.regions[at.city],
    ...rule.regions[at.county],
    enabled: rule.enabled && (rule.regions[at.county]?.enabled ?? rule.regions[at.city]?.enabled ?? rule.regions[at.province]?.enabled ?? rule.links[at.link]?.enabled ?? true) === true,
  } as Record<string, unknown> & { enabled: boolean };
}

/** The cache key of a placement for one rule: places with equal keys resolve equally. */
export function placementKey(rule: AlertRule, at: Placement): string {
  const r = (c: string) => (rule.regions[c] ? c : '');
  return `${at.link}|${r(at.province)}|${r(at.city)}|${r(at.county)}`;
}

/** Compares two versions `a.b.c[-pre]`: negative when a < b. A pre-release sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [core, pre] = v.split(/[-+]/, 2) as [string, string | undefined];
    return { nums: core.split('.').map((n) => Number(n) || 0), pre: v.includes('-') ? (pre ?? '') : undefined };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}
