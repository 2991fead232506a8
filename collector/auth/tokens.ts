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
 * request.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Migration, Sqlite, StateDb } from '../state/db.js';
import { withStateDb } from '../state/open.js';

/** One issued token, as stored. */
export interface TokenRecord {
  /** Short public id (first 12 hex digits of the hash) for logs and revocation. */
  id: string;
  school: string;
  sha256: string;
  issuedAt: string;
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
];

/** Creates or upgrades the token table. */
export function migrateTokens(state: StateDb): void {
  state.migrate('auth.tokens', TOKEN_MIGRATIONS);
}

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new token and its record (not stored yet). */
function newToken(school: string, issuedAt: string): { token: string; record: TokenRecord } {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const sha256 = hashToken(token);
  return { token, record: { id: sha256.slice(0, 12), school, sha256, issuedAt } };
}

/** Stores records in the caller's transaction; an existing hash is kept (import of old files). */
export function insertTokens(db: Sqlite, records: Iterable<TokenRecord>): number {
  const ins = db.prepare('INSERT OR IGNORE INTO tokens (sha256, id, school, issued_at) VALUES (?, ?, ?, ?)');
  let n = 0;
  for (const r of records) n += ins.run(r.sha256, r.id, r.school, r.issuedAt).changes;
  return n;
}

/** Where tokens are stored: an open state database, or the state directory of one (opened and closed here). */
export type TokenTarget = { state: StateDb } | { stateDir: string };

/** Creates a token for a school, stores its hash durably, and returns the token (shown once, never stored). */
export function issueToken(opts: TokenTarget & { school: string; now?: () => number }): { token: string; record: TokenRecord } {
  return withStateDb(opts, (state) => {
    migrateTokens(state);
    const issued = newToken(opts.school, new Date((opts.now ?? Date.now)()).toISOString());
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

/** Schools that have at least one token. */
export function schoolsWithTokens(state: StateDb): Set<string> {
  migrateTokens(state);
  const out = new Set<string>();
  for (const school of state.db.prepare('SELECT DISTINCT school FROM tokens').pluck().iterate() as IterableIterator<string>) out.add(school);
  return out;
}

interface TokenRow {
  sha256: string;
  id: string;
  school: string;
  issued_at: string;
}

const toRecord = (r: TokenRow): TokenRecord => ({ id: r.id, school: r.school, sha256: r.sha256, issuedAt: r.issued_at });

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
}

/** Looks tokens up by hash, from memory; sees tokens issued by another process without a restart. */
export class TokenStore {
  private readonly byHash = new Map<string, TokenRecord>();
  private readonly unknown = new Map<string, number>();
  private readonly lookup;
  private readonly count;
  private readonly now: () => number;

  constructor(private readonly opts: TokenStoreOptions) {
    migrateTokens(opts.state);
    this.now = opts.now ?? Date.now;
    const db = opts.state.db;
    this.lookup = db.prepare('SELECT sha256, id, school, issued_at FROM tokens WHERE sha256 = ?');
    this.count = db.prepare('SELECT count(*) FROM tokens').pluck();
    this.loaded = opts.background ? this.fillInChunks(opts.chunkRows ?? 5000) : Promise.resolve(this.fill(0, Infinity)).then(() => undefined);
  }

  /** Settles when every row stored at start is in the map (at once without `background`). Never rejects. */
  readonly loaded: Promise<void>;

  /** Adds up to `limit` rows after rowid `after` to the map; returns the last rowid read, or undefined at the end. */
  private fill(after: number, limit: number): number | undefined {
    const rows = this.opts.state.db.prepare('SELECT n, sha256, id, school, issued_at FROM tokens WHERE n > ? ORDER BY n LIMIT ?').raw();
    let last: number | undefined;
    // Arrays, not row objects: 250,000 rows load in a fraction of the time.
    for (const [n, sha256, id, school, issuedAt] of rows.iterate(after, limit === Infinity ? -1 : limit) as IterableIterator<[number, string, string, string, string]>) {
      if (!this.byHash.has(sha256)) this.byHash.set(sha256, { id, school, sha256, issuedAt });
      last = n;
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

  /** Number of tokens stored (a count over the table's index; not for the request path). */
  get size(): number {
    return this.count.get() as number;
  }

  /** The record of a presented token, or undefined when unknown. */
  verify(token: string): TokenRecord | undefined {
    // Looking up the hash (not the token) keeps timing independent of how much of a guess matches.
    const h = hashToken(token);
    return this.byHash.get(h) ?? this.miss(h);
  }

  private miss(h: string): TokenRecord | undefined {
    const now = this.now();
    const until = this.unknown.get(h);
    if (until !== undefined && until > now) return undefined;
    const row = this.lookup.get(h) as TokenRow | undefined;
    if (row) {
      this.unknown.delete(h);
      const rec = toRecord(row);
      this.byHash.set(h, rec);
      return rec;
    }
    if (this.unknown.size >= (this.opts.maxNegative ?? 1024)) this.unknown.delete(this.unknown.keys().next().value as string);
    this.unknown.delete(h);
    this.unknown.set(h, now + (this.opts.negativeTtlMs ?? 1000));
    return undefined;
  }
}
