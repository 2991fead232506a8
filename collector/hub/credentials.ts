/**
 * Province credentials on the national hub: a bearer token per enrolled province collector, bound to its
 * province and collector id, only its SHA-256 stored (`hub_credentials`), every one in memory for
 * `verify()` (a few per province). Enrollment reuses the collector's enrollment codes (enroll/codes.ts):
 * on a hub a code's subject is a 2-digit province code instead of a school id.
 */
import { randomBytes } from 'node:crypto';
import { hashToken } from '../auth/tokens.js';
import type { Migration, Sqlite, StateDb } from '../state/db.js';

/** Prefix of a province credential, so it is never taken for an agent token (clk1_) or a code (clke_). */
export const HUB_TOKEN_PREFIX = 'clkp_';

/** One province collector's credential, as stored. */
export interface ProvinceCredential {
  /** Short public id (first 12 hex digits of the hash). */
  id: string;
  sha256: string;
  /** 2-digit province code the credential may send roll-ups for. */
  province: string;
  /** Collector id assigned at enrollment; every roll-up of it carries it. */
  collector: string;
  issuedAtMs: number;
  revokedAtMs?: number;
}

/** Schema of the `hub.credentials` module. */
export const HUB_CREDENTIAL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'province collector credentials',
    up: 'CREATE TABLE hub_credentials (sha256 TEXT PRIMARY KEY, id TEXT NOT NULL, province TEXT NOT NULL, collector TEXT NOT NULL, issued_at_ms INTEGER NOT NULL, revoked_at_ms INTEGER) WITHOUT ROWID',
  },
];

/** A new credential and its record (stored by `put` in the caller's transaction). */
export function newProvinceCredential(province: string, collector: string, atMs: number): { token: string; record: ProvinceCredential } {
  const token = HUB_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const sha256 = hashToken(token);
  return { token, record: { id: sha256.slice(0, 12), sha256, province, collector, issuedAtMs: atMs } };
}

/** A new collector id for a province: `p<code>-<8 hex>`. */
export function newCollectorId(province: string): string {
  return `p${province}-${randomBytes(4).toString('hex')}`;
}

/** The credentials of a hub's province collectors. */
export class ProvinceCredentials {
  private readonly bySha = new Map<string, ProvinceCredential>();

  constructor(state: StateDb) {
    state.migrate('hub.credentials', HUB_CREDENTIAL_MIGRATIONS);
    const rows = state.db.prepare('SELECT sha256, id, province, collector, issued_at_ms AS issuedAtMs, revoked_at_ms AS revokedAtMs FROM hub_credentials WHERE revoked_at_ms IS NULL').all() as ProvinceCredential[];
    for (const r of rows) {
      if (r.revokedAtMs === null) delete r.revokedAtMs;
      this.bySha.set(r.sha256, r);
    }
  }

  /** The credential of a presented token, unless unknown or revoked. */
  verify(token: string): ProvinceCredential | undefined {
    if (!token.startsWith(HUB_TOKEN_PREFIX)) return undefined;
    return this.bySha.get(hashToken(token));
  }

  /** Stores a credential in the caller's transaction; call `remember` once it is committed. */
  put(db: Sqlite, c: ProvinceCredential): void {
    db.prepare('INSERT INTO hub_credentials (sha256, id, province, collector, issued_at_ms) VALUES (?, ?, ?, ?, ?)').run(c.sha256, c.id, c.province, c.collector, c.issuedAtMs);
  }

  /** Makes a committed credential usable. */
  remember(c: ProvinceCredential): void {
    this.bySha.set(c.sha256, c);
  }

  /** Revokes every credential of a collector id in the caller's transaction (a re-enrollment of the same nonce replaces the token). */
  revokeCollector(db: Sqlite, collector: string, atMs: number): void {
    db.prepare('UPDATE hub_credentials SET revoked_at_ms = ? WHERE collector = ? AND revoked_at_ms IS NULL').run(atMs, collector);
    for (const [k, c] of this.bySha) if (c.collector === collector) this.bySha.delete(k);
  }

  /** Active credentials, for the operator's list. */
  list(): ProvinceCredential[] {
    return [...this.bySha.values()].sort((a, b) => a.province.localeCompare(b.province) || a.issuedAtMs - b.issuedAtMs);
  }
}
