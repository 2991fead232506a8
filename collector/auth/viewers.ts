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
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { sendError } from '../http/errors.js';
import type { Migration, Sqlite, StateDb } from '../state/db.js';
import { withStateDb } from '../state/open.js';

/** One viewer account, as stored. */
export interface ViewerRecord {
  name: string;
  sha256: string;
  issuedAt: string;
}

/** What a viewer name may be: no colon (HTTP Basic splits there), no spaces. */
export const VIEWER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Schema of the `auth.viewers` module. */
export const VIEWER_MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'viewer accounts', up: 'CREATE TABLE viewers (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, issued_at TEXT NOT NULL)' },
];

/** Creates or upgrades the viewer table. */
export function migrateViewers(state: StateDb): void {
  state.migrate('auth.viewers', VIEWER_MIGRATIONS);
}

/** Stores accounts in the caller's transaction, replacing one of the same name. */
export function putViewers(db: Sqlite, records: Iterable<ViewerRecord>): number {
  const put = db.prepare('INSERT INTO viewers (name, sha256, issued_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, issued_at = excluded.issued_at');
  let n = 0;
  for (const r of records) n += put.run(r.name, r.sha256, r.issuedAt).changes;
  return n;
}

/** Where accounts are stored: an open state database, or the state directory of one. */
export type ViewerTarget = { state: StateDb } | { stateDir: string };

/** Creates a viewer, or gives an existing one a new password; returns the password (shown once, never stored). */
export function issueViewer(opts: ViewerTarget & { name: string; now?: () => number }): { password: string; record: ViewerRecord; replaced: boolean } {
  if (!VIEWER_NAME.test(opts.name)) throw new Error(`viewer name "${opts.name}" must be 1-64 characters of A-Z a-z 0-9 . _ @ -`);
  return withStateDb(opts, (state) => {
    migrateViewers(state);
    const password = randomBytes(18).toString('base64url');
    const record: ViewerRecord = { name: opts.name, sha256: sha256(password), issuedAt: new Date((opts.now ?? Date.now)()).toISOString() };
    const replaced = state.transaction((db) => {
      const had = db.prepare('SELECT 1 FROM viewers WHERE name = ?').get(opts.name) !== undefined;
      putViewers(db, [record]);
      return had;
    });
    localChange(state);
    return { password, record, replaced };
  });
}

/** Removes a viewer; false when there was none of that name. */
export function removeViewer(opts: ViewerTarget & { name: string }): boolean {
  return withStateDb(opts, (state) => {
    migrateViewers(state);
    const removed = state.transaction((db) => db.prepare('DELETE FROM viewers WHERE name = ?').run(opts.name).changes) > 0;
    localChange(state);
    return removed;
  });
}

// Changes made through the same connection do not move PRAGMA data_version; they bump this instead.
const localVersions = new WeakMap<StateDb, number>();
const localChange = (state: StateDb): void => void localVersions.set(state, (localVersions.get(state) ?? 0) + 1);

/** What the app needs to check viewers. */
export interface ViewerVerifier {
  /** Number of accounts; 0 leaves the read side open. */
  readonly size: number;
  verify(name: string, password: string): boolean;
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
    this.all = state.db.prepare('SELECT name, sha256, issued_at AS issuedAt FROM viewers');
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
}

/** Express middleware: lets a request through when there are no viewers or its Basic credentials are a viewer's. */
export function requireViewer(viewers: ViewerVerifier): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    if (viewers.size === 0) return next();
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.get('authorization') ?? '');
    const decoded = m?.[1] ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon > 0 && viewers.verify(decoded.slice(0, colon), decoded.slice(colon + 1))) return next();
    res.set('WWW-Authenticate', 'Basic realm="campuslink", charset="UTF-8"');
    sendError(res, 'COL_ERR_VIEWER_UNAUTHENTICATED', m ? 'unknown viewer or wrong password' : 'this collector needs a viewer account (HTTP Basic); ask its operator for one');
  };
}
