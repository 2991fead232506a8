/**
 * County proxies: one agent at the county data centre that reports for many schools under one
 * credential. A proxy's token is stored like any enrolled token, with the school `proxy` (never a
 * 10-digit id, so code that compares a token's school with a report's refuses it unless it went through
 * `ProxyScopes`) and the agent `proxy-<name>`. Its scope, in the `proxies` table, is a GB/T 2260 region
 * of the registry (province, city or county) or an explicit list of schools; it is checked on every
 * batch against the registry in force, so a school added to the county's registry rows is in scope
 * without re-enrolment. The per-school budgets and the per-school agent limit apply to each school.
 */
import type { Migration, Sqlite, StateDb } from '../state/db.js';

/** The `school` of every proxy token and enrollment code. */
export const PROXY_SCHOOL = 'proxy';

/** Prefix of a proxy's agent id. */
export const PROXY_AGENT_PREFIX = 'proxy-';

/** A proxy name: lower-case letters, digits and `-`, so `proxy-<name>` is an agent id (≤ 64 characters). */
export const PROXY_NAME = /^[a-z0-9][a-z0-9-]{0,57}$/;

/** Largest explicit list of schools one proxy may have. */
export const MAX_PROXY_SCHOOLS = 100_000;

/** The agent id of the proxy called `name`. */
export const proxyAgentId = (name: string): string => `${PROXY_AGENT_PREFIX}${name}`;

/** Whether a token record is a proxy's. */
export const isProxyToken = (t: { school: string }): boolean => t.school === PROXY_SCHOOL;

/** What a proxy may report for: a region code, or an explicit list of schools. */
export interface ProxyScope {
  agent: string;
  name: string;
  /** GB/T 2260 code of a province, city or county of the registry. */
  region?: string;
  /** Explicit schools (when there is no region). */
  schools?: ReadonlySet<string>;
}

/** The codes of a school that a region scope compares with (the registry's point tags have them). */
export interface SchoolPlace {
  province: string;
  city: string;
  county: string;
}

/** Schema of the `auth.proxies` module. */
export const PROXY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'county proxies and their scope',
    up: 'CREATE TABLE proxies (agent TEXT PRIMARY KEY, name TEXT NOT NULL, region TEXT, schools TEXT, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL) WITHOUT ROWID',
  },
];

/** Creates or upgrades the proxies table. */
export function migrateProxies(state: StateDb): void {
  state.migrate('auth.proxies', PROXY_MIGRATIONS);
}

/** Creates or replaces a proxy's scope, in the caller's transaction (`enroll issue --proxy` again changes it). */
export function putProxy(db: Sqlite, scope: ProxyScope, nowMs: number): void {
  const schools = scope.region === undefined ? [...(scope.schools ?? [])].join(',') : null;
  db.prepare(
    'INSERT INTO proxies (agent, name, region, schools, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (agent) DO UPDATE SET region = excluded.region, schools = excluded.schools, updated_ms = excluded.updated_ms',
  ).run(scope.agent, scope.name, scope.region ?? null, schools, nowMs, nowMs);
}

type ProxyRow = { agent: string; name: string; region: string | null; schools: string | null };

function rowToScope(r: ProxyRow): ProxyScope {
  if (r.region !== null) return { agent: r.agent, name: r.name, region: r.region };
  return { agent: r.agent, name: r.name, schools: new Set(r.schools ? r.schools.split(',') : []) };
}

/** A proxy's scope as stored, or undefined. */
export function readProxy(db: Sqlite, agent: string): ProxyScope | undefined {
  const r = db.prepare('SELECT agent, name, region, schools FROM proxies WHERE agent = ?').get(agent) as ProxyRow | undefined;
  return r && rowToScope(r);
}

/** Every proxy, by agent id. */
export function listProxies(db: Sqlite): ProxyScope[] {
  return (db.prepare('SELECT agent, name, region, schools FROM proxies ORDER BY agent').all() as ProxyRow[]).map(rowToScope);
}

/** Whether a school (with these registry codes; undefined: not registered) is inside a scope. A Set lookup or three compares. */
export function inScope(scope: ProxyScope, school: string, place: SchoolPlace | undefined): boolean {
  if (!place) return false;
  const r = scope.region;
  if (r === undefined) return scope.schools?.has(school) ?? false;
  return place.county === r || place.city === r || place.province === r;
}

/** The scope in words, for `token list` and logs: `region:640104` or `schools:12`. */
export function describeScope(scope: ProxyScope): string {
  return scope.region !== undefined ? `region:${scope.region}` : `schools:${scope.schools?.size ?? 0}`;
}

export interface ProxyScopesOptions {
  state: StateDb;
  now: () => number;
  /** How long a scope read from the database is used before it is read again, ms (another process may change it). Default 10000. */
  refreshMs?: number;
}

/**
 * The scopes of the proxies that report, from memory: each is read from the database on its proxy's
 * first batch and again at most every `refreshMs` (a re-issued scope applies within that), so a batch
 * costs a Map lookup and a Set lookup or three string compares. Holds only proxies that report.
 */
export class ProxyScopes {
  private readonly cache = new Map<string, { scope: ProxyScope | undefined; readMs: number }>();
  private readonly read;

  constructor(private readonly opts: ProxyScopesOptions) {
    migrateProxies(opts.state);
    this.read = opts.state.db.prepare('SELECT agent, name, region, schools FROM proxies WHERE agent = ?');
  }

  /** The scope of proxy `agent`; undefined when it has none (then it may report for no school). */
  get(agent: string): ProxyScope | undefined {
    const nowMs = this.opts.now();
    const hit = this.cache.get(agent);
    if (hit && nowMs - hit.readMs < (this.opts.refreshMs ?? 10_000)) return hit.scope;
    let scope = hit?.scope;
    try {
      const r = this.read.get(agent) as ProxyRow | undefined;
      scope = r && rowToScope(r);
    } catch {
      // The database cannot be read just now: the scope read before stays in force.
    }
    this.cache.set(agent, { scope, readMs: nowMs });
    return scope;
  }
}
