/**
 * Config conventions shared by agent and collector: a YAML file, overridden key by key by
 * `CAMPUSLINK_*` environment variables, validated once with zod, then frozen.
 *
 * Every leaf key has a variable named `CAMPUSLINK_` + its path in UPPER_SNAKE_CASE
 * (`influx.url` → `CAMPUSLINK_INFLUX_URL`, `stateDir` → `CAMPUSLINK_STATE_DIR`); some keys also
 * have a shorter alias (`CAMPUSLINK_TOKEN`). String keys take the variable verbatim; other keys
 * parse it as YAML, so `CAMPUSLINK_TARGETS='[{host: 127.0.0.1, role: gateway}]'` works.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import type { Issue } from './report.js';

/** A config that failed validation; `issues` lists every problem with its path. */
export class ConfigError extends Error {
  constructor(
    readonly code: string,
    readonly source: string,
    readonly issues: Issue[],
  ) {
    super(`${code}: invalid config ${source}:\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** One environment variable that overrides one config key. */
export interface EnvKey {
  /** Variable name, e.g. `CAMPUSLINK_INFLUX_URL`. */
  name: string;
  /** Config path, e.g. `['influx', 'url']`. */
  path: string[];
  /** Whether the value is taken verbatim (string keys) rather than parsed as YAML. */
  verbatim: boolean;
}

const PREFIX = 'CAMPUSLINK_';

function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; in?: z.ZodType };
function defOf(s: z.ZodType): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

/** Lists the environment variable of every leaf key of an object schema, plus aliases. */
export function envKeys(schema: z.ZodType, aliases: Record<string, string[]> = {}): EnvKey[] {
  const out: EnvKey[] = [];
  const walk = (s: z.ZodType, path: string[]): void => {
    const def = defOf(s);
    if (def.type === 'optional' || def.type === 'default' || def.type === 'prefault' || def.type === 'nullable' || def.type === 'readonly') {
      return walk(def.innerType as z.ZodType, path);
    }
    if (def.type === 'pipe') return walk(def.in as z.ZodType, path);
    if (def.type === 'object' && def.shape && path.length < 3) {
      for (const [k, v] of Object.entries(def.shape)) walk(v, [...path, k]);
      return;
    }
    const verbatim = def.type === 'string' || def.type === 'enum' || def.type === 'literal';
    const name = PREFIX + path.map(snake).join('_');
    out.push({ name, path, verbatim });
    for (const alias of aliases[path.join('.')] ?? []) out.push({ name: alias, path, verbatim });
  };
  walk(schema, []);
  return out;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1] as string] = value;
}

function deepFreeze<T>(o: T): Readonly<T> {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

export interface LoadConfigOptions<S extends z.ZodType> {
  /** The schema; its output is the config. */
  schema: S;
  /** Path of the YAML file; omit to build the config from the environment and defaults alone. */
  file?: string;
  /** The environment to read overrides from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Extra variable names per dotted config path. */
  aliases?: Record<string, string[]>;
  /** Error code for the thrown ConfigError, e.g. `AGT_ERR_CONFIG_INVALID`. */
  errorCode: string;
}

/**
 * Reads the YAML file, applies environment overrides, validates, and returns a deeply frozen config.
 * Throws a ConfigError listing every problem (YAML syntax errors included) at once.
 */
export function loadConfig<S extends z.ZodType>(opts: LoadConfigOptions<S>): Readonly<z.output<S>> {
  const env = opts.env ?? process.env;
  const source = opts.file ?? '(environment)';
  const issues: Issue[] = [];
  let raw: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new ConfigError(opts.errorCode, source, [{ path: '', message: `cannot read file: ${(e as Error).message}` }]);
    }
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    for (const err of doc.errors) issues.push({ path: '', message: `YAML: ${err.message}` });
    const parsed: unknown = doc.errors.length ? {} : doc.toJS();
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) issues.push({ path: '', message: 'must be a YAML mapping' });
      else raw = parsed as Record<string, unknown>;
    }
  }
  /** Which variable set which dotted path, so an error names the variable the operator typed. */
  const fromEnv = new Map<string, string>();
  for (const key of envKeys(opts.schema, opts.aliases)) {
    const value = env[key.name];
    if (value === undefined || value === '') continue;
    let parsed: unknown = value;
    if (!key.verbatim) {
      try {
        parsed = YAML.parse(value);
      } catch (e) {
        issues.push({ path: key.path.join('.'), message: `${key.name}: not valid YAML: ${(e as Error).message}` });
        continue;
      }
    }
    setPath(raw, key.path, parsed);
    fromEnv.set(key.path.join('.'), key.name);
  }
  const result = opts.schema.safeParse(raw);
  if (!result.success) issues.push(...explainIssues({ error: result.error, raw, fromEnv }));
  if (issues.length || !result.success) throw new ConfigError(opts.errorCode, source, issues);
  return deepFreeze(result.data);
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/**
 * Zod issues as `{ path, message }`, worded for an operator: an issue under a key set by an
 * environment variable names the variable, and a number where a string is expected (a YAML scalar
 * such as `school: 1640104001`) says to quote it.
 */
export function explainIssues(opts: { error: z.ZodError; raw: unknown; fromEnv: ReadonlyMap<string, string> }): Issue[] {
  return opts.error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    let message = i.message;
    const value = valueAt(opts.raw, i.path);
    if (i.code === 'invalid_type' && i.expected === 'string' && typeof value === 'number') {
      message += ` (${String(value)}): quote it, e.g. "0123456789", so YAML keeps it as text, leading zeros included`;
    }
    let variable: string | undefined;
    for (let n = i.path.length; n > 0 && !variable; n--) variable = opts.fromEnv.get(i.path.slice(0, n).map(String).join('.'));
    return { path, message: variable ? `${variable}: ${message}` : message };
  });
}

/** Whether `s` is a TCP/UDP port an agent or collector can use: an integer 1–65535 in decimal. */
export function isPort(s: string): boolean {
  return /^\d{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535;
}

/**
 * `host` or `host:port` (IPv6 in brackets), the port 1–65535; for device addresses whose port has a
 * default (SNMP's 161).
 */
export const hostOptionalPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d+)?$/, 'must be host or host:port, e.g. 192.168.1.1 or 127.0.0.1:16100')
  .refine((s) => {
    const m = /:(\d+)$/.exec(s.startsWith('[') ? s.slice(s.indexOf(']')) : s);
    return !m || isPort(m[1] as string);
  }, 'port must be 1-65535');
