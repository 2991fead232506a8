/**
 * Read-only API tokens for scripts and Grafana: `Authorization: Bearer clr1_…`, scoped to a region like
 * a viewer account, role always viewer. Only the SHA-256 is kept (`read_tokens` table); a token is
 * found by its id (the first characters after the prefix) and compared in constant time. They are a
 * table apart from agent tokens, so ingest never knows them (401 there) and the read side refuses
 * agent tokens (COL_ERR_TOKEN_NOT_FOR_READS). Issue and revoke are written to the audit log.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Migration, StateDb } from '../state/db.js';
import { withStateDb } from '../state/open.js';
import { migrateAudit, writeAudit } from './audit.js';
import { NATION, type Principal } from './scope.js';

/** Every read token starts with this; agent tokens start with `clk1_`. */
export const READ_TOKEN_PREFIX = 'clr1_';

/** Most read tokens that may exist (revoked ones included until purged); a script per county is a few thousand. */
export const MAX_READ_TOKENS = 20_000;

/** A stored read token (never the secret). */
export interface ReadTokenRecord {
  id: string;
  label: string;
  scope: string;
  issuedAt: string;
  issuedBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export const READ_TOKEN_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'read-only API tokens (hashed), scoped to a region',
    up: 'CREATE TABLE read_tokens (id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, label TEXT NOT NULL, scope TEXT NOT NULL, issued_at TEXT NOT NULL, issued_by TEXT NOT NULL, expires_at TEXT, revoked_at TEXT)',
  },
];

export function migrateReadTokens(state: StateDb): void {
  state.migrate('auth.read_tokens', READ_TOKEN_MIGRATIONS);
  migrateAudit(state);
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
type Target = { state: StateDb } | { stateDir: string };

/** Issues a token; returns it (shown once) and its record. */
export function issueReadToken(opts: Target & { label: string; scope?: string; by: string; expiresAtMs?: number; now?: () => number }): { token: string; record: ReadTokenRecord } {
  const scope = opts.scope ?? NATION;
  if (!/^\d{6}$/.test(scope)) throw new Error(`scope "${scope}" must be a 6-digit GB/T 2260 region code (${NATION}: the nation)`);
  if (!/^[\p{L}\p{N} ._@:/-]{1,100}$/u.test(opts.label)) throw new Error('label must be 1-100 letters, digits, spaces or . _ @ : / -');
  return withStateDb(opts, (state) => {
    migrateReadTokens(state);
    const id = randomBytes(6).toString('hex');
    const token = `${READ_TOKEN_PREFIX}${id}_${randomBytes(24).toString('base64url')}`;
    const at = new Date((opts.now ?? Date.now)()).toISOString();
    const record: ReadTokenRecord = { id, label: opts.label, scope, issuedAt: at, issuedBy: opts.by, expiresAt: opts.expiresAtMs !== undefined ? new Date(opts.expiresAtMs).toISOString() : null, revokedAt: null };
    state.transaction((db) => {
      const n = (db.prepare('SELECT count(*) AS n FROM read_tokens').get() as { n: number }).n;
      if (n >= MAX_READ_TOKENS) throw new Error(`there are already ${n} read tokens (at most ${MAX_READ_TOKENS}); revoke unused ones first`);
      db.prepare('INSERT INTO read_tokens (id, sha256, label, scope, issued_at, issued_by, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)').run(id, sha256(token), record.label, scope, at, opts.by, record.expiresAt);
      writeAudit(db, { at, actor: opts.by, action: 'read_token.issue', subject: id, detail: `label "${record.label}", scope ${scope}${record.expiresAt ? `, expires ${record.expiresAt}` : ''}` });
    });
    return { token, record };
  });
}

/** Revokes a token by id; false when there is no such unrevoked token. */
export function revokeReadToken(opts: Target & { id: string; by: string; now?: () => number }): boolean {
  return withStateDb(opts, (state) => {
    migrateReadTokens(state);
    const at = new Date((opts.now ?? Date.now)()).toISOString();
    return state.transaction((db) => {
      const n = db.prepare('UPDATE read_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, opts.id).changes;
      if (n > 0) writeAudit(db, { at, actor: opts.by, action: 'read_token.revoke', subject: opts.id, detail: '' });
      return n > 0;
    });
  });
}

/** Every token, newest first (no secrets). */
export function listReadTokens(state: StateDb): ReadTokenRecord[] {
  migrateReadTokens(state);
  return state.db
    .prepare('SELECT id, label, scope, issued_at AS issuedAt, issued_by AS issuedBy, expires_at AS expiresAt, revoked_at AS revokedAt FROM read_tokens ORDER BY issued_at DESC')
    .all() as ReadTokenRecord[];
}

/** What the read side needs of read tokens. */
export interface ReadTokenVerifier {
  /** Tokens in force; with any, the read side needs credentials even without viewer accounts. */
  readonly size: number;
  authenticate(token: string): Principal | undefined;
}

/** Checks read tokens against the state database: an indexed lookup by id per request, the count cached per data version. */
export class ReadTokenStore implements ReadTokenVerifier {
  private readonly byId;
  private readonly count;
  private readonly dataVersion;
  private cached = { version: -1, size: 0, atMs: 0 };

  constructor(state: StateDb, private readonly now: () => number = Date.now) {
    migrateReadTokens(state);
    this.byId = state.db.prepare('SELECT sha256, label, scope, expires_at AS expiresAt, revoked_at AS revokedAt FROM read_tokens WHERE id = ?');
    this.count = state.db.prepare('SELECT count(*) AS n FROM read_tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)');
    this.dataVersion = state.db.prepare('PRAGMA data_version').pluck();
  }

  get size(): number {
    const v = this.dataVersion.get() as number;
    // Re-counted when another process changed the database, and once a minute (expiries, changes made through this connection).
    if (v !== this.cached.version || this.now() - this.cached.atMs > 60_000) {
      this.cached = { version: v, size: (this.count.get(new Date(this.now()).toISOString()) as { n: number }).n, atMs: this.now() };
    }
    return this.cached.size;
  }

  authenticate(token: string): Principal | undefined {
    const m = /^clr1_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$/.exec(token);
    if (!m) return undefined;
    const row = this.byId.get(m[1]) as { sha256: string; label: string; scope: string; expiresAt: string | null; revokedAt: string | null } | undefined;
    const presented = Buffer.from(sha256(token), 'hex');
    if (!row || !timingSafeEqual(presented, Buffer.from(row.sha256, 'hex'))) return undefined;
    if (row.revokedAt !== null || (row.expiresAt !== null && Date.parse(row.expiresAt) <= this.now())) return undefined;
    return { kind: 'token', name: `token:${m[1]} (${row.label})`, scope: row.scope, role: 'viewer' };
  }
}
