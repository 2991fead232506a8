/**
 * Agent tokens. Each token belongs to exactly one school; only its SHA-256 hash is stored, in the
 * `tokens` table of the state database. Tokens are 256 random bits, so a plain hash is enough (no
 * password stretching is needed for secrets that cannot be guessed).
 *
 * `TokenStore` answers `verify()` from memory: a map by hash filled at start by iterating the rows
 * (at once, or with `background: true` in chunks that yield to the event loop, so `serve` listens
 * without waiting for 250,000 rows). A token it does not know (not loaded yet, or issued by the CLI in
 * another process while the collector serves) is looked up once by its hash through the table's index,
 * and a small negative cache keeps an agent retrying a mistyped token from costing a lookup per
 * request. Revocations and other changes by another process are seen by the first verify at least
 * `TOKEN_CHANGES_CHECK_MS` after their commit (`token revoke` waits that long before it returns, so a
 * running collector still refuses the token from the next request on).
 */
import * as crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Migration, Sqlite, StateDb } from '../state/db.js';
import { withStateDb } from '../state/open.js';

/** One issued token, as stored. */
export interface TokenRecord {
  /** Short public id (first 12 hex digits of the hash) for logs and revocation. */
  id: string;
  school: string;
  sha256: string;
  issuedAt: string;
  /** The agent an enrolled token is bound to; absent on a legacy per-school token. */
  agent?: string;
  /** When the token stops being accepted, ms since the epoch; absent: never. */
  expiresAtMs?: number;
  /** Id of the token this one replaces (rotation). */
  replaces?: string;
  /** The operator asked for a new token (`token rotate`): it is handed to the agent in its next ack. */
  rotate?: boolean;
  /** When this token's successor was first used: the grace period has begun, no new successor is offered. */
  rotatedAtMs?: number;
  /** When a successor was last offered in an ack, ms. */
  offeredAtMs?: number;
  /** When the token was first presented (durable at once for successors, else with last seen). */
  firstUsedMs?: number;
}

/** Prefix of every campuslink agent token, so leaked tokens are recognisable. */
export const TOKEN_PREFIX = 'clk1_';

/** Schema of the `auth.tokens` module. */
export const TOKEN_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'agent tokens by hash',
    up: 'CREATE TABLE tokens (n INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, id TEXT NOT NULL, school TEXT NOT NULL, issued_at TEXT NOT NULL); CREATE INDEX tokens_school ON tokens (school);',
  },
  {
    version: 2,
    description: 'tokens bound to agents, expiry, revocation, rotation, last seen; change feed for running collectors',
    up: `ALTER TABLE tokens ADD COLUMN agent TEXT;
ALTER TABLE tokens ADD COLUMN expires_at_ms INTEGER;
ALTER TABLE tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE tokens ADD COLUMN replaces TEXT;
ALTER TABLE tokens ADD COLUMN rotate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN rotated_at_ms INTEGER;
ALTER TABLE tokens ADD COLUMN offered_at_ms INTEGER;
ALTER TABLE tokens ADD COLUMN first_used_ms INTEGER;
ALTER TABLE tokens ADD COLUMN last_seen_ms INTEGER;
CREATE INDEX tokens_id ON tokens (id);
CREATE INDEX tokens_replaces ON tokens (replaces) WHERE replaces IS NOT NULL;
CREATE TABLE token_changes (n INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, school TEXT NOT NULL, at_ms INTEGER NOT NULL);`,
  },
];

/** Columns of a token row as the store reads them, in TokenRow order. */
export const TOKEN_COLUMNS = 'sha256, id, school, issued_at, agent, expires_at_ms, revoked_at, replaces, rotate, rotated_at_ms, offered_at_ms, first_used_ms';

/** Creates or upgrades the token table. */
export function migrateTokens(state: StateDb): void {
  state.migrate('auth.tokens', TOKEN_MIGRATIONS);
}

/** node's one-shot `crypto.hash` (20.12 and later): the same digest without a Hash object per call. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** SHA-256 of a secret as stored (tokens, enrollment codes). */
export function hashToken(token: string): string {
  // A string is hashed as UTF-8 by both.
  return oneShot ? oneShot('sha256', token, 'hex') : crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new token and its record (not stored yet); `extra` binds it to an agent, gives it an expiry or a predecessor. */
export function newToken(school: string, issuedAt: string, extra: Pick<TokenRecord, 'agent' | 'expiresAtMs' | 'replaces'> = {}): { token: string; record: TokenRecord } {
  const token = TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
  const sha256 = hashToken(token);
  const record: TokenRecord = { id: sha256.slice(0, 12), school, sha256, issuedAt };
  if (extra.agent !== undefined) record.agent = extra.agent;
  if (extra.expiresAtMs !== undefined) record.expiresAtMs = extra.expiresAtMs;
  if (extra.replaces !== undefined) record.replaces = extra.replaces;
  return { token, record };
}

/** Stores records in the caller's transaction; an existing hash is kept (import of old files). */
export function insertTokens(db: Sqlite, records: Iterable<TokenRecord>): number {
  const ins = db.prepare('INSERT OR IGNORE INTO tokens (sha256, id, school, issued_at, agent, expires_at_ms, replaces) VALUES (?, ?, ?, ?, ?, ?, ?)');
  let n = 0;
  for (const r of records) n += ins.run(r.sha256, r.id, r.school, r.issuedAt, r.agent ?? null, r.expiresAtMs ?? null, r.replaces ?? null).changes;
  return n;
}

/** Records in the change feed that these token rows changed, so running collectors re-read them (caller's transaction). */
export function noteTokenChanges(db: Sqlite, rows: Iterable<{ sha256: string; school: string }>, nowMs: number): void {
  const ins = db.prepare('INSERT INTO token_changes (sha256, school, at_ms) VALUES (?, ?, ?)');
  for (const r of rows) ins.run(r.sha256, r.school, nowMs);
}

/** Where tokens are stored: an open state database, or the state directory of one (opened and closed here). */
export type TokenTarget = { state: StateDb } | { stateDir: string };

/** Creates a token for a school, stores its hash durably, and returns the token (shown once, never stored). */
export function issueToken(opts: TokenTarget & { school: string; now?: () => number; expiresAtMs?: number }): { token: string; record: TokenRecord } {
  return withStateDb(opts, (state) => {
    migrateTokens(state);
    const issued = newToken(opts.school, new Date((opts.now ?? Date.now)()).toISOString(), opts.expiresAtMs === undefined ? {} : { expiresAtMs: opts.expiresAtMs });
    // Durable (committed with synchronous=FULL) before the token is printed: a token shown but lost
    // in a power cut would lock its agent out.
    state.transaction((db) => insertTokens(db, [issued.record]));
    return issued;
  });
}

/**
 * Issues one new token per school, then hands each to `onIssued` in order; nothing is handed out
 * before every token is committed. Stored in transactions of `chunkSize` tokens (one fsync each): a
 * collector serving on the same database waits for this process's write lock synchronously, so one
 * 250,000-row transaction would stall its event loop for the whole insert. A run that fails midway
 * leaves tokens nobody has seen, which is harmless.
 */
export function issueTokens(opts: TokenTarget & { schools: Iterable<string>; now?: () => number; chunkSize?: number; onIssued: (token: string, record: TokenRecord) => void }): number {
  return withStateDb(opts, (state) => {
    migrateTokens(state);
    const issuedAt = new Date((opts.now ?? Date.now)()).toISOString();
    const chunk = opts.chunkSize ?? 10_000;
    const tokens: string[] = [];
    const records: TokenRecord[] = [];
    for (const school of opts.schools) {
      const t = newToken(school, issuedAt);
      tokens.push(t.token);
      records.push(t.record);
    }
    for (let i = 0; i < records.length; i += chunk) state.transaction((db) => insertTokens(db, records.slice(i, i + chunk)));
    records.forEach((r, i) => opts.onIssued(tokens[i] as string, r));
    return records.length;
  });
}

/**
 * Deletes up to `limit` tokens revoked or expired before `beforeMs` (rotation leaves one expired row
 * per rotation behind) in the caller's transaction; returns their hashes.
 */
export function pruneTokens(db: Sqlite, beforeMs: number, limit = 2000): string[] {
  const gone = db.prepare('SELECT sha256 FROM tokens WHERE expires_at_ms < ? OR revoked_at < ? LIMIT ?').pluck().all(beforeMs, new Date(beforeMs).toISOString(), limit) as string[];
  const del = db.prepare('DELETE FROM tokens WHERE sha256 = ?');
  for (const sha of gone) del.run(sha);
  return gone;
}

/** Schools that have at least one token. */
export function schoolsWithTokens(state: StateDb): Set<string> {
  migrateTokens(state);
  const out = new Set<string>();
  for (const school of state.db.prepare('SELECT DISTINCT school FROM tokens WHERE revoked_at IS NULL').pluck().iterate() as IterableIterator<string>) out.add(school);
  return out;
}

/** A token row in TOKEN_COLUMNS order, as `raw()` statements return it. */
export type TokenRow = [string, string, string, string, string | null, number | null, string | null, string | null, number, number | null, number | null, number | null];

/** The record of a row, or undefined for a revoked token. */
export function rowToRecord(r: TokenRow): TokenRecord | undefined {
  const [sha256, id, school, issuedAt, agent, expiresAtMs, revokedAt, replaces, rotate, rotatedAtMs, offeredAtMs, firstUsedMs] = r;
  if (revokedAt !== null) return undefined;
  const rec: TokenRecord = { id, school, sha256, issuedAt };
  if (agent !== null) rec.agent = agent;
  if (expiresAtMs !== null) rec.expiresAtMs = expiresAtMs;
  if (replaces !== null) rec.replaces = replaces;
  if (rotate) rec.rotate = true;
  if (rotatedAtMs !== null) rec.rotatedAtMs = rotatedAtMs;
  if (offeredAtMs !== null) rec.offeredAtMs = offeredAtMs;
  if (firstUsedMs !== null) rec.firstUsedMs = firstUsedMs;
  return rec;
}

export interface TokenStoreOptions {
  state: StateDb;
  /** How long an unknown hash is remembered as unknown, ms. Default 1000. */
  negativeTtlMs?: number;
  /** Most unknown hashes remembered. Default 1024. */
  maxNegative?: number;
  /** Fill the map in chunks after the constructor returns (see `loaded`) instead of before. */
  background?: boolean;
  /** Rows per chunk of a background fill. Default 5000. */
  chunkRows?: number;
  now?: () => number;
  /**
   * Most ms between two reads of `PRAGMA data_version` (whether another process committed). Default
   * TOKEN_CHANGES_CHECK_MS; 0: on every verify.
   */
  changesCheckMs?: number;
  /** Monotonic ms for `changesCheckMs`. Default `performance.now`. */
  clock?: () => number;
}

/**
 * How late, at most, a running collector sees a token change committed by another process (the CLI):
 * the first verify this long after the commit reads it. `token revoke` waits this long before it
 * returns. Reading `PRAGMA data_version` on every upload cost ~12 µs of the main thread per report at
 * 60,000 schools; every 100 ms it costs nothing measurable.
 */
export const TOKEN_CHANGES_CHECK_MS = 100;

/** Change-feed rows a verify reads at most (a few ms of lookups). */
const CHANGES_PER_VERIFY = 1000;

/**
 * Looks tokens up by hash, from memory; sees tokens issued, revoked or rotated by another process
 * without a restart: `PRAGMA data_version` (read by a verify at most every `changesCheckMs`) tells that
 * another connection committed, and the `token_changes` feed says which rows to read again.
 */
export class TokenStore {
  private readonly byHash = new Map<string, TokenRecord>();
  private readonly unknown = new Map<string, number>();
  private readonly lookup;
  private readonly count;
  private readonly dataVersion;
  private readonly changesAfter;
  private readonly lastChange;
  private version: number;
  private changeMark: number;
  /** `clock()` just before the last read of data_version. */
  private checkedAt: number;
  private readonly clock: () => number;
  private readonly checkMs: number;
  /** The last read of the change feed was a full chunk: more to read on the next verify. */
  private behind = false;
  private readonly now: () => number;
  private readonly listeners: ((school: string) => void)[] = [];

  constructor(private readonly opts: TokenStoreOptions) {
    migrateTokens(opts.state);
    this.now = opts.now ?? Date.now;
    this.clock = opts.clock ?? (() => performance.now());
    this.checkMs = opts.changesCheckMs ?? TOKEN_CHANGES_CHECK_MS;
    const db = opts.state.db;
    this.lookup = db.prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE sha256 = ?`).raw();
    this.count = db.prepare('SELECT count(*) FROM tokens WHERE revoked_at IS NULL').pluck();
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.changesAfter = db.prepare(`SELECT n, sha256, school FROM token_changes WHERE n > ? ORDER BY n LIMIT ${CHANGES_PER_VERIFY}`).raw();
    this.lastChange = db.prepare('SELECT coalesce(max(n), 0) FROM token_changes').pluck();
    this.checkedAt = this.clock();
    this.version = this.dataVersion.get() as number;
    this.changeMark = this.lastChange.get() as number;
    this.loaded = opts.background ? this.fillInChunks(opts.chunkRows ?? 5000) : Promise.resolve(this.fill(0, Infinity)).then(() => undefined);
  }

  /** Settles when every row stored at start is in the map (at once without `background`). Never rejects. */
  readonly loaded: Promise<void>;

  /** Calls `cb` with the school of every token row another process changed (the roster follows revocations). */
  onChange(cb: (school: string) => void): void {
    this.listeners.push(cb);
  }

  /** Adds up to `limit` rows after rowid `after` to the map; returns the last rowid read, or undefined at the end. */
  private fill(after: number, limit: number): number | undefined {
    const rows = this.opts.state.db.prepare(`SELECT n, ${TOKEN_COLUMNS} FROM tokens WHERE n > ? ORDER BY n LIMIT ?`).raw();
    let last: number | undefined;
    // Arrays, not row objects: 250,000 rows load in a fraction of the time.
    for (const row of rows.iterate(after, limit === Infinity ? -1 : limit) as IterableIterator<[number, ...TokenRow]>) {
      last = row[0];
      const sha256 = row[1];
      if (this.byHash.has(sha256)) continue;
      const rec = rowToRecord(row.slice(1) as TokenRow);
      // Expired tokens stay on disk for `token list` (until pruned) but cost no memory.
      if (rec && !(rec.expiresAtMs !== undefined && rec.expiresAtMs <= this.now())) this.byHash.set(sha256, rec);
    }
    return last;
  }

  private async fillInChunks(chunk: number): Promise<void> {
    let after = 0;
    try {
      for (;;) {
        const last = this.fill(after, chunk);
        if (last === undefined) return;
        after = last;
        await new Promise((r) => setImmediate(r));
      }
    } catch {
      // The database went away (closed, failed): misses keep using the indexed lookup.
    }
  }

  /** Number of tokens in force (a count over the table; not for the request path). */
  get size(): number {
    return this.count.get() as number;
  }

  /** The record of a presented token, or undefined when unknown, revoked or expired. */
  verify(token: string): TokenRecord | undefined {
    this.followChanges();
    // Looking up the hash (not the token) keeps timing independent of how much of a guess matches.
    const h = hashToken(token);
    const rec = this.byHash.get(h) ?? this.miss(h);
    if (rec?.expiresAtMs !== undefined && rec.expiresAtMs <= this.now()) return undefined;
    return rec;
  }

  /** The record by hash as this store holds it (rotation reads the predecessor). */
  byId(sha256: string): TokenRecord | undefined {
    return this.byHash.get(sha256) ?? this.miss(sha256);
  }

  /** After this connection changed a row (data_version does not move for its own commits): read it again. */
  reread(sha256: string): void {
    this.unknown.delete(sha256);
    const row = this.lookup.get(sha256) as TokenRow | undefined;
    const rec = row && rowToRecord(row);
    if (rec) this.byHash.set(sha256, rec);
    else this.byHash.delete(sha256);
  }

  private followChanges(): void {
    try {
      this.readChanges();
    } catch {
      // The database is closed or failing: tokens are answered from memory meanwhile, changes read when it is back.
    }
  }

  private readChanges(): void {
    if (!this.behind) {
      const t = this.clock();
      // A clock that went back (an injected one) counts as due.
      if (t - this.checkedAt < this.checkMs && t >= this.checkedAt) return;
      // Taken before the read: a commit after this moment is seen by the first verify checkMs later.
      this.checkedAt = t;
    }
    const v = this.dataVersion.get() as number;
    if (v === this.version && !this.behind) return;
    this.version = v;
    // One chunk per verify: `token rotate --all` changes 250,000 rows, which must not stall one request.
    const rows = this.changesAfter.all(this.changeMark) as [number, string, string][];
    this.behind = rows.length === CHANGES_PER_VERIFY;
    const schools = new Set<string>();
    for (const [n, sha256, school] of rows) {
      this.changeMark = n;
      this.reread(sha256);
      schools.add(school);
    }
    for (const s of schools) for (const cb of this.listeners) cb(s);
  }

  private miss(h: string): TokenRecord | undefined {
    const now = this.now();
    const until = this.unknown.get(h);
    if (until !== undefined && until > now) return undefined;
    const row = this.lookup.get(h) as TokenRow | undefined;
    const rec = row && rowToRecord(row);
    if (rec) {
      this.unknown.delete(h);
      this.byHash.set(h, rec);
      return rec;
    }
    if (this.unknown.size >= (this.opts.maxNegative ?? 1024)) this.unknown.delete(this.unknown.keys().next().value as string);
    this.unknown.delete(h);
    this.unknown.set(h, now + (this.opts.negativeTtlMs ?? 1000));
    return undefined;
  }
}
