/**
 * Roles by region: who a request is (a viewer account or a read token: its scope and role), and the
 * one middleware that keeps every read inside the scope. A county official's account sees that
 * county only, a city official's the city; the nation's (`000000`) sees everything.
 *
 * The middleware knows where each read route names its region or school (path or query) and:
 * - lets a request inside the scope through;
 * - narrows a request for a region that contains the scope (the national coverage, the province's
 *   offline list) to the scope itself, and says so in `X-Campuslink-Scope`;
 * - answers 403 COL_ERR_SCOPE_FORBIDDEN naming the scope for a school or region outside it, and for a
 *   read route it does not know how to filter (nothing unfiltered leaks to a scoped account).
 * Roles: viewer (and every read token) reads; operator also writes the operator endpoints
 * (acknowledge alerts, maintenance windows); admin also the account endpoints.
 */
import type { NextFunction, Request, Response } from 'express';
import { sendError } from '../http/errors.js';
import type { Registry } from '../registry/index.js';

/** The nation's code: an account with this scope sees everything. */
export const NATION = '000000';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who made a request. */
export interface Principal {
  kind: 'account' | 'token';
  /** Account name, or `token:<id> (<label>)`. */
  name: string;
  /** Region code the principal sees. */
  scope: string;
  role: Role;
}

/** The principal the auth middleware found, or undefined on an open collector (no accounts, no read tokens). */
export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** True when `role` is at least `min`. */
export function hasRole(role: Role, min: Role): boolean {
  return RANK[role] >= RANK[min];
}

/** The code of `code` in force (a recoded region leads to its new code), or undefined when unknown. */
function current(reg: Registry, code: string): string | undefined {
  if (code === NATION || reg.region(code)) return code;
  const r = reg.resolve(code);
  return reg.region(r) ? r : undefined;
}

/** `code` and every region above it, up to (not including) the nation. */
function chain(reg: Registry, code: string): string[] {
  const out: string[] = [];
  let cur = reg.region(code);
  while (cur) {
    out.push(cur.code);
    cur = cur.parent ? reg.region(cur.parent) : undefined;
  }
  return out;
}

/** Where a region code lies relative to a scope. */
export type Placement = 'inside' | 'contains' | 'outside' | 'unknown';

/** `inside`: the scope covers `code`; `contains`: `code` is above the scope (narrow it); `outside`; `unknown`: no such region. */
export function placeRegion(reg: Registry, scope: string, code: string): Placement {
  if (scope === NATION) return 'inside';
  const c = current(reg, code);
  const s = current(reg, scope);
  if (c === undefined) return 'unknown';
  if (s === undefined) return 'outside';
  if (c === NATION) return 'contains';
  if (chain(reg, c).includes(s)) return 'inside';
  return chain(reg, s).includes(c) ? 'contains' : 'outside';
}

/** True when the school is inside the scope; undefined when the registry does not know the school. */
export function schoolInScope(reg: Registry, scope: string, id: string): boolean | undefined {
  const s = reg.get(id);
  if (!s) return undefined;
  if (scope === NATION) return true;
  const sc = current(reg, scope);
  return sc !== undefined && [s.countyCode, s.cityCode, s.provinceCode].includes(sc);
}

/** The level of a scope code (for narrowing a `level=&code=` query). */
function scopeLevel(reg: Registry, scope: string): string | undefined {
  const s = current(reg, scope);
  return s === undefined ? undefined : s === NATION ? 'national' : reg.region(s)?.level;
}

/** How a read route names what it reads. */
type Locator =
  | { kind: 'region-param' }
  | { kind: 'region-query'; key: string }
  | { kind: 'level-code' }
  | { kind: 'school-param' }
  | { kind: 'regions-root' }
  | { kind: 'open' };

/** Every read route a scoped principal may use, and where its region or school is. Anything else under /api/ is refused to a scoped principal. */
const ROUTES: readonly { re: RegExp; loc: Locator }[] = [
  { re: /^\/api\/v1\/regions\/?$/, loc: { kind: 'regions-root' } },
  { re: /^\/api\/v1\/regions\/([^/]+)$/, loc: { kind: 'region-param' } },
  { re: /^\/api\/v1\/(coverage|compliance)$/, loc: { kind: 'level-code' } },
  { re: /^\/api\/v1\/schools\/([^/]+)(\/[^/]+)?$/, loc: { kind: 'school-param' } },
  { re: /^\/api\/v1\/console\/trail\/([^/]+)$/, loc: { kind: 'region-param' } },
  { re: /^\/api\/v1\/console\/schools\/([^/]+)(\/series)?$/, loc: { kind: 'school-param' } },
  { re: /^\/api\/v1\/ingest\/budgets\/([^/]+)$/, loc: { kind: 'school-param' } },
  { re: /^\/api\/v1\/console\/(schools|offline|history|map|compliance\/schools)$/, loc: { kind: 'region-query', key: 'region' } },
  { re: /^\/api\/v1\/alerts(\/board)?$/, loc: { kind: 'region-query', key: 'region' } },
  // These answer per principal themselves (maintenance windows, acknowledgements, who am I) or hold no school data.
  { re: /^\/api\/v1\/(me|console\/meta|alerts\/rules|alerts\/ack|maintenance(\/[^/]+)?|read-tokens(\/[^/]+)?)$/, loc: { kind: 'open' } },
];

/** Reads only admins may make (the admin API, scope-admin.ts). */
const ADMIN_READS = /^\/api\/v1\/(read-tokens(\/[^/]+)?|audit)$/;

/** Routes that change something, and the least role each needs; every other write on the read side needs admin. */
const WRITES: readonly { re: RegExp; role: Role }[] = [
  { re: /^\/api\/v1\/alerts\/ack$/, role: 'operator' },
  { re: /^\/api\/v1\/maintenance(\/[^/]+)?$/, role: 'operator' },
];

function forbid(res: Response, p: Principal, what: string): void {
  sendError(res, 'COL_ERR_SCOPE_FORBIDDEN', `${what} is outside the scope ${p.scope} of ${p.name}`);
}

/** Replaces query parameters (Express 5 reads `req.query` from the URL). */
function rewriteQuery(req: Request, set: Record<string, string>): void {
  const u = new URL(req.url, 'http://x');
  for (const [k, v] of Object.entries(set)) u.searchParams.set(k, v);
  req.url = `${u.pathname}${u.search}`;
}

/** The path as Express routes see it: case ignored, parameters decoded (or /API/… and %31… would slip by); undefined when it does not decode. */
function routedPath(req: Request): string | undefined {
  try {
    return decodeURIComponent(req.path).toLowerCase();
  } catch {
    return undefined;
  }
}

/** Checks one read request of a scoped principal; true when it may go on (possibly narrowed). */
function checkRead(reg: Registry, p: Principal, path: string, req: Request, res: Response): boolean {
  const route = ROUTES.find((r) => r.re.test(path));
  if (!route) {
    if (!path.includes('/api')) return true; // the console's static pages: their data comes through the API
    forbid(res, p, `${req.path} (not filtered by region)`);
    return false;
  }
  const m = route.re.exec(path) as RegExpExecArray;
  const narrowed = (): true => {
    res.set('X-Campuslink-Scope', p.scope);
    return true;
  };
  const region = (code: string, onContains: () => void): boolean => {
    const at = placeRegion(reg, p.scope, code);
    if (at === 'inside' || at === 'unknown') return true; // unknown: the route answers 404 with its own message
    if (at === 'contains') {
      onContains();
      return narrowed();
    }
    forbid(res, p, `region ${code}`);
    return false;
  };
  const q = req.query as Record<string, unknown>;
  switch (route.loc.kind) {
    case 'open':
      return true;
    case 'regions-root':
      req.url = `/api/v1/regions/${current(reg, p.scope) ?? p.scope}`;
      return narrowed();
    case 'region-param':
      return region(m[1] as string, () => void (req.url = `${req.path.replace(/[^/]+$/, current(reg, p.scope) ?? p.scope)}${req.url.slice(req.path.length)}`));
    case 'region-query': {
      const key = route.loc.key;
      const code = typeof q[key] === 'string' ? (q[key] as string) : NATION;
      return region(code, () => rewriteQuery(req, { [key]: current(reg, p.scope) ?? p.scope }));
    }
    case 'level-code': {
      const code = q.level === 'national' || q.code === undefined ? NATION : String(q.code);
      return region(code, () => rewriteQuery(req, { level: scopeLevel(reg, p.scope) ?? 'county', code: current(reg, p.scope) ?? p.scope }));
    }
    case 'school-param': {
      const inside = schoolInScope(reg, p.scope, m[1] as string);
      if (inside !== false) return true;
      forbid(res, p, `school ${m[1]}`);
      return false;
    }
  }
}

/**
 * The scope and role middleware, mounted after the viewer check on the whole read side. On an open
 * collector (no principal) reads pass and writes need an account.
 */
export function scopeGuard(registry: () => Registry): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const p = principalOf(res);
    const path = routedPath(req);
    if (path === undefined) return sendError(res, 'COL_ERR_NOT_FOUND', 'the path does not decode (bad %-escape)');
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (write || ADMIN_READS.test(path)) {
      const need = write ? (WRITES.find((w) => w.re.test(path))?.role ?? 'admin') : 'admin';
      if (!p) return sendError(res, 'COL_ERR_VIEWER_UNAUTHENTICATED', `${req.method} ${req.path} needs an account with role ${need} or above (campuslink-collector viewer add --role ${need})`);
      if (p.kind === 'token' || !hasRole(p.role, need)) return sendError(res, 'COL_ERR_ROLE_FORBIDDEN', `${req.method} ${req.path} needs role ${need}; ${p.name} is ${p.kind === 'token' ? 'a read-only token' : `a ${p.role}`}`);
    }
    if (!p || p.scope === NATION) return next();
    if (checkRead(registry(), p, path, req, res)) next();
  };
}

/** `GET /api/v1/me`: who the console is talking to (name, kind, scope, role), for its pages. */
export function whoAmI(req: Request, res: Response): void {
  const p = principalOf(res);
  res.json(p ? { name: p.name, kind: p.kind, scope: p.scope, role: p.role, authenticated: true } : { name: null, kind: null, scope: NATION, role: 'viewer', authenticated: false });
}
