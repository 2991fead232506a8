/**
 * Viewer accounts for the read side: the coverage, compliance and device APIs and the console. Device
 * lists name the MAC and IP addresses of a school's equipment, so a collector reachable beyond the
 * operators' own network should not serve them to anyone.
 *
 * Accounts are issued with `campuslink-collector viewer add`, which prints a random password once;
 * only its SHA-256 is kept, in the `viewers` table of the state database (random 144-bit passwords
 * cannot be guessed, so no stretching is needed, as with agent tokens). With no account the read side
 * stays open, as before, and the collector says so at start. Browsers ask for HTTP Basic credentials
 * by themselves, so the console works unchanged behind it.
 *
 * Each account has a scope (a GB/T 2260 region code, `000000` the nation) and a role (viewer,
 * operator, admin); accounts made before scopes existed became nation-wide viewers (migration 2).
 * Every change is written to the audit log (audit.ts) in the same transaction.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { sendError } from '../http/errors.js';
import type { Migration, Sqlite, StateDb } from '../state/db.js';
import { withStateDb } from '../state/open.js';
import { migrateAudit, writeAudit } from './audit.js';
import { NATION, ROLES, type Principal, type Role } from './scope.js';
import { READ_TOKEN_PREFIX, type ReadTokenVerifier } from './scope-tokens.js';

/** One viewer account, as stored. */
export interface ViewerRecord {
  name: string;
  sha256: string;
  issuedAt: string;
  /** Region code the account sees (`000000`: the nation); absent in old files: the nation. */
  scope?: string;
  /** Absent in old files: viewer. */
  role?: Role;
}

/** What a viewer name may be: no colon (HTTP Basic splits there), no spaces. */
export const VIEWER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Schema of the `auth.viewers` module. */
export const VIEWER_MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'viewer accounts', up: 'CREATE TABLE viewers (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, issued_at TEXT NOT NULL)' },
  // Accounts from before scopes keep seeing what they saw: the whole nation, read-only.
  {
    version: 2,
    description: 'viewer scope (region code) and role; existing accounts become nation-wide viewers',
    up: `ALTER TABLE viewers ADD COLUMN scope TEXT NOT NULL DEFAULT '${NATION}'; ALTER TABLE viewers ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer';`,
  },
];

/** Creates or upgrades the viewer table. */
export function migrateViewers(state: StateDb): void {
  state.migrate('auth.viewers', VIEWER_MIGRATIONS);
  migrateAudit(state);
}

/** Stores accounts in the caller's transaction, replacing one of the same name. */
export function putViewers(db: Sqlite, records: Iterable<ViewerRecord>): number {
  const put = db.prepare(
    'INSERT INTO viewers (name, sha256, issued_at, scope, role) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, issued_at = excluded.issued_at, scope = excluded.scope, role = excluded.role',
  );
  let n = 0;
  for (const r of records) n += put.run(r.name, r.sha256, r.issuedAt, r.scope ?? NATION, r.role ?? 'viewer').changes;
  return n;
}

/** Where accounts are stored: an open state database, or the state directory of one. */
export type ViewerTarget = { state: StateDb } | { stateDir: string };

/** What `issueViewer` is given beyond the name: the account's scope and role, and who asks. */
export interface IssueViewerOptions {
  name: string;
  /** Region code (`000000` the nation); default the nation, or the existing account's. */
  scope?: string;
  /** Default viewer, or the existing account's. */
  role?: Role;
  /** Who makes the change, for the audit log (`cli:<user>`, `api:<account>`); default `cli:<OS user>`. */
  by?: string;
  now?: () => number;
}

/** Creates a viewer, or gives an existing one a new password (and scope/role when given); returns the password (shown once, never stored). */
export function issueViewer(opts: ViewerTarget & IssueViewerOptions): { password: string; record: ViewerRecord; replaced: boolean } {
  if (!VIEWER_NAME.test(opts.name)) throw new Error(`viewer name "${opts.name}" must be 1-64 characters of A-Z a-z 0-9 . _ @ -`);
  if (opts.scope !== undefined && !/^\d{6}$/.test(opts.scope)) throw new Error(`scope "${opts.scope}" must be a 6-digit GB/T 2260 region code (${NATION}: the nation)`);
  if (opts.role !== undefined && !ROLES.includes(opts.role)) throw new Error(`role "${opts.role}" must be one of ${ROLES.join(', ')}`);
  return withStateDb(opts, (state) => {
    migrateViewers(state);
    const password = randomBytes(18).toString('base64url');
    const issuedAt = new Date((opts.now ?? Date.now)()).toISOString();
    const { record, replaced } = state.transaction((db) => {
      const had = db.prepare('SELECT scope, role FROM viewers WHERE name = ?').get(opts.name) as { scope: string; role: Role } | undefined;
      const rec: ViewerRecord = { name: opts.name, sha256: sha256(password), issuedAt, scope: opts.scope ?? had?.scope ?? NATION, role: opts.role ?? had?.role ?? 'viewer' };
      putViewers(db, [rec]);
      writeAudit(db, { at: issuedAt, actor: opts.by ?? 'cli:unknown', action: had ? 'viewer.password' : 'viewer.add', subject: opts.name, detail: `scope ${rec.scope}, role ${rec.role}${had && (had.scope !== rec.scope || had.role !== rec.role) ? ` (was scope ${had.scope}, role ${had.role})` : ''}` });
      return { record: rec, replaced: had !== undefined };
    });
    localChange(state);
    return { password, record, replaced };
  });
}

/** Removes a viewer; false when there was none of that name. */
export function removeViewer(opts: ViewerTarget & { name: string; by?: string; now?: () => number }): boolean {
  return withStateDb(opts, (state) => {
    migrateViewers(state);
    const removed = state.transaction((db) => {
      const n = db.prepare('DELETE FROM viewers WHERE name = ?').run(opts.name).changes;
      if (n > 0) writeAudit(db, { at: new Date((opts.now ?? Date.now)()).toISOString(), actor: opts.by ?? 'cli:unknown', action: 'viewer.remove', subject: opts.name, detail: '' });
      return n;
    }) > 0;
    localChange(state);
    return removed;
  });
}

// Changes made through the same connection do not move PRAGMA data_version; they bump this instead.
const localVersions = new WeakMap<StateDb, number>();
const localChange = (state: StateDb): void => void localVersions.set(state, (localVersions.get(state) ?? 0) + 1);

/** What the app needs to check viewers. */
export interface ViewerVerifier {
  /** Number of accounts; 0 leaves the read side open (unless there are read tokens). */
  readonly size: number;
  verify(name: string, password: string): boolean;
  /** The account's scope and role when the password is right; default: nation-wide viewer. */
  authenticate?(name: string, password: string): Principal | undefined;
}

/** Lists the accounts with scope and role (no hashes), for `viewer roles`. */
export function viewerRoles(state: StateDb): { name: string; scope: string; role: Role; issuedAt: string }[] {
  migrateViewers(state);
  return state.db.prepare('SELECT name, scope, role, issued_at AS issuedAt FROM viewers ORDER BY name').all() as { name: string; scope: string; role: Role; issuedAt: string }[];
}

/**
 * Looks viewers up by name, from memory. The few rows are read again only when the database changed
 * (`PRAGMA data_version`: another process, e.g. `viewer add`, committed), so accounts added or removed
 * while serving apply at once.
 */
export class ViewerStore implements ViewerVerifier {
  private byName = new Map<string, ViewerRecord>();
  private version = '';
  private readonly dataVersion;
  private readonly all;

  constructor(private readonly state: StateDb) {
    migrateViewers(state);
    this.dataVersion = state.db.prepare('PRAGMA data_version').pluck();
    this.all = state.db.prepare('SELECT name, sha256, issued_at AS issuedAt, scope, role FROM viewers');
  }

  private get current(): Map<string, ViewerRecord> {
    const v = `${this.dataVersion.get() as number}/${localVersions.get(this.state) ?? 0}`;
    if (v !== this.version) {
      this.byName = new Map((this.all.all() as ViewerRecord[]).map((r) => [r.name, r]));
      this.version = v;
    }
    return this.byName;
  }

  get size(): number {
    return this.current.size;
  }

  verify(name: string, password: string): boolean {
    const rec = this.current.get(name);
    // Compare digests in constant time; an unknown name costs the same hash as a known one.
    const presented = Buffer.from(sha256(password), 'hex');
    return rec !== undefined && timingSafeEqual(presented, Buffer.from(rec.sha256, 'hex'));
  }

  authenticate(name: string, password: string): Principal | undefined {
    if (!this.verify(name, password)) return undefined;
    const rec = this.current.get(name) as ViewerRecord;
    return { kind: 'account', name, scope: rec.scope ?? NATION, role: rec.role ?? 'viewer' };
  }
}

/** Express middleware: lets a request through when there are no viewers or read tokens, or its credentials are a viewer's (HTTP Basic) or a read token's (Bearer); the principal goes to `res.locals.principal`. */
export function requireViewer(viewers: ViewerVerifier, readTokens?: ReadTokenVerifier): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const auth = req.get('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
    if (bearer !== undefined) {
      const p = bearer.startsWith(READ_TOKEN_PREFIX) ? readTokens?.authenticate(bearer) : undefined;
      if (p) {
        res.locals.principal = p;
        return next();
      }
      if (!bearer.startsWith(READ_TOKEN_PREFIX)) return sendError(res, 'COL_ERR_TOKEN_NOT_FOR_READS', 'this is not a read token (agent tokens only send reports); use a viewer account or a read-only token from `campuslink-collector viewer token issue`');
      return sendError(res, 'COL_ERR_VIEWER_UNAUTHENTICATED', 'unknown, expired or revoked read token');
    }
    if (viewers.size === 0 && (readTokens?.size ?? 0) === 0) return next();
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth);
    const decoded = m?.[1] ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      const name = decoded.slice(0, colon);
      const pw = decoded.slice(colon + 1);
      const p = viewers.authenticate ? viewers.authenticate(name, pw) : viewers.verify(name, pw) ? { kind: 'account' as const, name, scope: NATION, role: 'viewer' as const } : undefined;
      if (p) {
        res.locals.principal = p;
        return next();
      }
    }
    res.set('WWW-Authenticate', 'Basic realm="campuslink", charset="UTF-8"');
    sendError(res, 'COL_ERR_VIEWER_UNAUTHENTICATED', m ? 'unknown viewer or wrong password' : 'this collector needs a viewer account (HTTP Basic); ask its operator for one');
  };
}
