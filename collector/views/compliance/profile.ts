/**
 * Compliance profiles: YAML files `<id>.yaml` in the profiles directory. A profile lists rules; each
 * rule has dated versions (`validFrom`), so a judgement at time t uses the version in force at t.
 * A profile may `extends` another and `overrides` some of its rules' versions (a provincial threshold).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { LINK_TYPES } from '../../../protocol/index.js';
import { SCHOOL_TYPES } from '../../registry/schema.js';
import { METRIC_NAMES } from './metrics.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM');
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');

/** The window a rule is judged over, ending at the judgement time. */
export const windowSchema = z.union([
  z.strictObject({
    /** The last N calendar days, around the clock. */
    lastDays: z.number().positive().max(366),
  }),
  z.strictObject({
    /**
     * The last N school days of the school's province on the school calendar (collector/calendar:
     * holidays, make-up workdays, term breaks), each only between `from` and `to` China time.
     */
    schoolDays: z.number().int().min(1).max(60),
    from: hhmm,
    to: hhmm,
  }),
]);
export type RuleWindow = z.output<typeof windowSchema>;

const limits = z.record(z.string(), z.number().nonnegative());

const versionSchema = z.strictObject({
  /** From this day on (00:00 China time) this version applies. */
  validFrom: date,
  /** A number, or named limits for a metric with several (peer_path: loss_pct, jitter_ms, rtt_ms). */
  threshold: z.union([z.number(), limits]),
  /** Limits that replace the threshold's for schools on a link type (a GEO latency allowance). */
  allowances: z.partialRecord(z.enum(LINK_TYPES), limits).optional(),
  /** The threshold grows with the school: max(threshold, students × mbpsPerStudent) above `aboveStudents`. */
  studentScaling: z.strictObject({ mbpsPerStudent: z.number().positive(), aboveStudents: z.number().int().min(0) }).optional(),
});
export type RuleVersion = z.output<typeof versionSchema>;

const appliesToSchema = z.strictObject({
  schoolTypes: z.array(z.enum(SCHOOL_TYPES)).optional(),
  linkTypes: z.array(z.enum(LINK_TYPES)).optional(),
  /** Only schools with a hub school (hub_school_id). */
  hasHub: z.boolean().optional(),
  /** Either list matches (a school of one of the types OR on one of the links); default both must. */
  match: z.enum(['all', 'any']).default('all'),
});

/** A rule's texts in Chinese (the page language zh-CN); `description` and `source` above are the English ones. */
const ruleZhSchema = z.strictObject({ description: z.string().min(1), source: z.string().min(1) });

const ruleSchema = z.strictObject({
  /** Rule id from shared/reference/standards.md, e.g. CN-BB-02. */
  id: z.string().regex(/^[A-Z0-9]+(-[A-Z0-9]+)+$/, 'must look like CN-BB-02'),
  description: z.string().min(1),
  metric: z.enum(METRIC_NAMES),
  /** The device class, for inventory metrics. */
  class: z.string().optional(),
  comparison: z.enum(['>=', '>', '<=']),
  window: windowSchema,
  source: z.string().min(1),
  zh: ruleZhSchema.optional(),
  appliesTo: appliesToSchema.optional(),
  versions: z.array(versionSchema).min(1),
});
export type RuleSpec = z.output<typeof ruleSchema>;

const overrideSchema = z.strictObject({
  /** The inherited rule whose versions this adds to. */
  rule: z.string(),
  /** The standards id of the override itself (CN-BB-04 for provincial overrides). */
  as: z.string().optional(),
  source: z.string().min(1),
  description: z.string().optional(),
  /** The override's source (and description) in Chinese. */
  zh: z.strictObject({ source: z.string().min(1), description: z.string().min(1).optional() }).optional(),
  versions: z.array(versionSchema).min(1),
});

export const profileFileSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/, 'must be lower-case letters, digits and -'),
  name: z.string().min(1),
  description: z.string().optional(),
  /** Name and description in Chinese; `name` and `description` above are shown on English pages. */
  zh: z.strictObject({ name: z.string().min(1), description: z.string().min(1).optional() }).optional(),
  extends: z.string().optional(),
  /** GB/T 2260 code of the region the profile is meant for (informational). */
  region: z.string().regex(/^\d{6}$/).optional(),
  rules: z.array(ruleSchema).default([]),
  overrides: z.array(overrideSchema).default([]),
});
export type ProfileFile = z.output<typeof profileFileSchema>;

/** A rule after inheritance: versions sorted by validFrom, with who set each. */
export interface Rule extends RuleSpec {
  /** Overrides applied (e.g. `CN-BB-04` with its source). */
  overriddenBy: { as: string | undefined; source: string; from: string; zh?: { source: string } }[];
}

/** A profile after `extends` and `overrides` are resolved. */
export interface Profile {
  id: string;
  name: string;
  description?: string;
  /** Name and description in Chinese. */
  zh?: { name: string; description?: string };
  region?: string;
  /** The chain of profiles it was built from, itself first. */
  lineage: string[];
  rules: Rule[];
}

/** China time (UTC+8, no daylight saving) midnight of `YYYY-MM-DD`, ms. */
export function dayStartMs(day: string): number {
  return Date.parse(`${day}T00:00:00+08:00`);
}

/** The version of `rule` in force at `atMs`, or undefined before its first version. */
export function versionAt(rule: Rule, atMs: number): RuleVersion | undefined {
  let found: RuleVersion | undefined;
  for (const v of rule.versions) if (dayStartMs(v.validFrom) <= atMs) found = v;
  return found;
}

/** A profile problem, with the file it is in. */
export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

function sortVersions(vs: RuleVersion[]): RuleVersion[] {
  return [...vs].sort((a, b) => (a.validFrom < b.validFrom ? -1 : a.validFrom > b.validFrom ? 1 : 0));
}

/** Validates parsed profile files and resolves inheritance. Throws ProfileError listing every problem. */
export function resolveProfiles(files: readonly { file: string; data: unknown }[]): Map<string, Profile> {
  const problems: string[] = [];
  const raw = new Map<string, { file: string; p: ProfileFile }>();
  for (const { file, data } of files) {
    const r = profileFileSchema.safeParse(data);
    if (!r.success) {
      for (const i of r.error.issues) problems.push(`${file}: ${i.path.join('.') || '(file)'}: ${i.message}`);
      continue;
    }
    if (raw.has(r.data.id)) problems.push(`${file}: profile id ${r.data.id} is also used by ${raw.get(r.data.id)?.file}`);
    raw.set(r.data.id, { file, p: r.data });
    const ids = new Set<string>();
    r.data.rules.forEach((rule, k) => {
      if (ids.has(rule.id)) problems.push(`${file}: rules.${k}.id: ${rule.id} appears twice`);
      ids.add(rule.id);
      const days = rule.versions.map((v) => v.validFrom);
      if (new Set(days).size !== days.length) problems.push(`${file}: rules.${k}.versions: two versions with the same validFrom`);
      if (rule.metric === 'peer_path') {
        rule.versions.forEach((v, j) => {
          if (typeof v.threshold === 'number') problems.push(`${file}: rules.${k}.versions.${j}.threshold: peer_path needs named limits (loss_pct, jitter_ms, rtt_ms)`);
        });
      } else {
        rule.versions.forEach((v, j) => {
          if (typeof v.threshold !== 'number') problems.push(`${file}: rules.${k}.versions.${j}.threshold: must be a number for metric ${rule.metric}`);
        });
      }
    });
  }
  const resolved = new Map<string, Profile>();
  const resolve = (id: string, seen: string[]): Profile | undefined => {
    const done = resolved.get(id);
    if (done) return done;
    const entry = raw.get(id);
    if (!entry) return undefined;
    if (seen.includes(id)) {
      problems.push(`${entry.file}: extends forms a cycle: ${[...seen, id].join(' → ')}`);
      return undefined;
    }
    const { file, p } = entry;
    let rules: Rule[] = [];
    let lineage = [p.id];
    if (p.extends !== undefined) {
      const parent = resolve(p.extends, [...seen, id]);
      if (!parent) {
        if (!raw.has(p.extends)) problems.push(`${file}: extends: no profile ${p.extends}`);
        return undefined;
      }
      rules = parent.rules.map((r) => ({ ...r, versions: [...r.versions], overriddenBy: [...r.overriddenBy] }));
      lineage = [p.id, ...parent.lineage];
    }
    for (const r of p.rules) {
      if (rules.some((x) => x.id === r.id)) problems.push(`${file}: rule ${r.id} is inherited; change it with overrides`);
      else rules.push({ ...r, versions: sortVersions(r.versions), overriddenBy: [] });
    }
    for (const o of p.overrides) {
      const target = rules.find((x) => x.id === o.rule);
      if (!target) {
        problems.push(`${file}: overrides: no rule ${o.rule} to override`);
        continue;
      }
      const days = new Set(o.versions.map((v) => v.validFrom));
      target.versions = sortVersions([...target.versions.filter((v) => !days.has(v.validFrom)), ...o.versions]);
      target.overriddenBy.push({ as: o.as, source: o.source, from: sortVersions(o.versions)[0]?.validFrom ?? '', ...(o.zh && { zh: { source: o.zh.source } }) });
      if (o.description) target.description = o.description;
      if (o.zh?.description && target.zh) target.zh = { ...target.zh, description: o.zh.description };
    }
    const profile: Profile = { id: p.id, name: p.name, description: p.description, ...(p.zh && { zh: p.zh }), region: p.region, lineage, rules };
    resolved.set(id, profile);
    return profile;
  };
  for (const id of raw.keys()) resolve(id, []);
  if (problems.length > 0) throw new ProfileError(`invalid compliance profiles (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`);
  return resolved;
}

/** Reads every `*.yaml` in `dir` and resolves the profiles. Throws ProfileError listing every problem. */
export function loadProfiles(dir: string): Map<string, Profile> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort();
  } catch (e) {
    throw new ProfileError(`cannot read the compliance profiles directory ${dir}: ${(e as Error).message}`);
  }
  const files: { file: string; data: unknown }[] = [];
  const problems: string[] = [];
  for (const n of names) {
    const file = join(dir, n);
    try {
      files.push({ file, data: parseYaml(readFileSync(file, 'utf8')) });
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ProfileError(`invalid compliance profiles:\n  ${problems.join('\n  ')}`);
  return resolveProfiles(files);
}
