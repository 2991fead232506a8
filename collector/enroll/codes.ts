/**
 * Enrollment codes: one-time (or few-times) secrets an operator hands to a school's installer. Each
 * belongs to one school, expires, and may be used `uses` times; only its SHA-256 is stored, in the
 * `enroll_codes` table. Codes carry 120 random bits, so a plain hash is enough, as for tokens.
 *
 * An enrollment is recorded by the agent's nonce in `enrollments`: a repeated request (the answer was
 * lost on the way) gets the same agent id and a new token, without using the code again.
 */
import { randomBytes } from 'node:crypto';
import { ENROLL_CODE_PREFIX } from '../../protocol/enroll.js';
import { PROXY_SCHOOL, migrateProxies, putProxy, type ProxyScope } from '../auth/proxies.js';
import { hashToken } from '../auth/tokens.js';
import type { Migration, Sqlite, StateDb } from '../state/db.js';
import { withStateDb } from '../state/open.js';

/** One enrollment code, as stored. */
export interface CodeRecord {
  /** Short public id (first 12 hex digits of the hash). */
  id: string;
  school: string;
  sha256: string;
  createdAt: string;
  expiresAtMs: number;
  /** Enrollments left. */
  usesLeft: number;
  /** The agent id a code is for, set for a county proxy's code (its school is `proxy`); absent: the collector picks one. */
  agent?: string;
}

/** Schema of the `enroll.codes` module. */
export const CODE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'enrollment codes and enrollments',
    up: `CREATE TABLE enroll_codes (n INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, id TEXT NOT NULL, school TEXT NOT NULL, created_at TEXT NOT NULL, expires_at_ms INTEGER NOT NULL, uses_left INTEGER NOT NULL);
CREATE INDEX enroll_codes_school ON enroll_codes (school);
CREATE TABLE enrollments (nonce TEXT PRIMARY KEY, code_id TEXT NOT NULL, school TEXT NOT NULL, agent TEXT NOT NULL, at_ms INTEGER NOT NULL) WITHOUT ROWID;`,
  },
  { version: 2, description: 'codes for a given agent id (county proxies)', up: 'ALTER TABLE enroll_codes ADD COLUMN agent TEXT' },
];

/** Creates or upgrades the code tables. */
export function migrateCodes(state: StateDb): void {
  state.migrate('enroll.codes', CODE_MIGRATIONS);
}

function newCode(school: string, createdAt: string, expiresAtMs: number, uses: number): { code: string; record: CodeRecord } {
  const code = ENROLL_CODE_PREFIX + randomBytes(15).toString('base64url');
  const sha256 = hashToken(code);
  return { code, record: { id: sha256.slice(0, 12), school, sha256, createdAt, expiresAtMs, usesLeft: uses } };
}

export interface IssueCodesOptions {
  schools: Iterable<string>;
  /** Enrollments each code allows. */
  uses: number;
  expiresAtMs: number;
  now?: () => number;
  /** Codes per transaction (one fsync each): a collector serving on the same database waits for the lock. Default 10,000. */
  chunkSize?: number;
  /** Gets every code after all are committed, in order. */
  onIssued: (code: string, record: CodeRecord) => void;
}

/** Issues one code per school; nothing is handed out before every code is committed. Returns how many. */
export function issueCodes(opts: ({ state: StateDb } | { stateDir: string }) & IssueCodesOptions): number {
  return withStateDb(opts, (state) => {
    migrateCodes(state);
    const createdAt = new Date((opts.now ?? Date.now)()).toISOString();
    const chunk = opts.chunkSize ?? 10_000;
    const codes: string[] = [];
    const records: CodeRecord[] = [];
    for (const school of opts.schools) {
      const c = newCode(school, createdAt, opts.expiresAtMs, opts.uses);
      codes.push(c.code);
      records.push(c.record);
    }
    for (let i = 0; i < records.length; i += chunk) {
      state.transaction((db) => {
        const ins = db.prepare('INSERT INTO enroll_codes (sha256, id, school, created_at, expires_at_ms, uses_left) VALUES (?, ?, ?, ?, ?, ?)');
        for (const r of records.slice(i, i + chunk)) ins.run(r.sha256, r.id, r.school, r.createdAt, r.expiresAtMs, r.usesLeft);
      });
    }
    records.forEach((r, i) => opts.onIssued(codes[i] as string, r));
    return records.length;
  });
}

/**
 * Issues the enrollment code of a county proxy and records its scope, in one transaction (a code is
 * never handed out for a scope that was not stored). Issuing again for the same proxy replaces its scope.
 */
export function issueProxyCode(opts: ({ state: StateDb } | { stateDir: string }) & { scope: ProxyScope; uses: number; expiresAtMs: number; now?: () => number }): { code: string; record: CodeRecord } {
  return withStateDb(opts, (state) => {
    migrateCodes(state);
    migrateProxies(state);
    const nowMs = (opts.now ?? Date.now)();
    const c = newCode(PROXY_SCHOOL, new Date(nowMs).toISOString(), opts.expiresAtMs, opts.uses);
    c.record.agent = opts.scope.agent;
    state.transaction((db) => {
      putProxy(db, opts.scope, nowMs);
      db.prepare('INSERT INTO enroll_codes (sha256, id, school, created_at, expires_at_ms, uses_left, agent) VALUES (?, ?, ?, ?, ?, ?, ?)').run(c.record.sha256, c.record.id, c.record.school, c.record.createdAt, c.record.expiresAtMs, c.record.usesLeft, c.record.agent);
    });
    return c;
  });
}

/** What a code allows, read in the caller's transaction. */
export type CodeCheck =
  | { ok: true; record: CodeRecord; repeat?: { agent: string } }
  | { ok: false; why: string };

/** Looks a code up for an enrollment with this nonce, in the caller's transaction. */
export function checkCode(db: Sqlite, code: string, nonce: string, nowMs: number): CodeCheck {
  const sha256 = hashToken(code);
  const row = db.prepare('SELECT id, school, created_at AS createdAt, expires_at_ms AS expiresAtMs, uses_left AS usesLeft, agent FROM enroll_codes WHERE sha256 = ?').get(sha256) as (Omit<CodeRecord, 'sha256' | 'agent'> & { agent: string | null }) | undefined;
  if (!row) return { ok: false, why: 'unknown enrollment code' };
  const { agent, ...rest } = row;
  const record: CodeRecord = { ...rest, sha256, ...(agent !== null && { agent }) };
  const done = db.prepare('SELECT code_id AS codeId, agent FROM enrollments WHERE nonce = ?').get(nonce) as { codeId: string; agent: string } | undefined;
  if (done && done.codeId === row.id) return { ok: true, record, repeat: { agent: done.agent } };
  if (row.expiresAtMs <= nowMs) return { ok: false, why: `enrollment code ${row.id} expired at ${new Date(row.expiresAtMs).toISOString()}` };
  if (row.usesLeft <= 0) return { ok: false, why: `enrollment code ${row.id} is used up` };
  return { ok: true, record };
}

/** Uses the code once and records the enrollment, in the caller's transaction. */
export function useCode(db: Sqlite, record: CodeRecord, enrollment: { nonce: string; agent: string; atMs: number }): void {
  db.prepare('UPDATE enroll_codes SET uses_left = uses_left - 1 WHERE sha256 = ?').run(record.sha256);
  db.prepare('INSERT INTO enrollments (nonce, code_id, school, agent, at_ms) VALUES (?, ?, ?, ?, ?)').run(enrollment.nonce, record.id, record.school, enrollment.agent, enrollment.atMs);
}
