/**
 * The audit log of account and token changes: who (the OS user or `--by` on the CLI, the account on
 * the API) did what to which account or token, when. Kept in the `audit_log` table of the state
 * database, written in the same transaction as the change itself, and bounded: beyond
 * `AUDIT_MAX_ROWS` entries the oldest go.
 */
import { userInfo } from 'node:os';
import type { Migration, Sqlite, StateDb } from '../state/db.js';

/** Most entries kept; the oldest beyond it are deleted as new ones are written. */
export const AUDIT_MAX_ROWS = 10_000;

/** One entry of the audit log. */
export interface AuditEntry {
  /** ISO time of the change. */
  at: string;
  /** Who made it: `cli:<os user>` (or the `--by` given), `api:<account>`. */
  actor: string;
  /** e.g. `viewer.add`, `viewer.remove`, `viewer.password`, `read_token.issue`, `read_token.revoke`. */
  action: string;
  /** The account name or token id changed. */
  subject: string;
  /** What changed, in words (scope, role, label); never a secret. */
  detail: string;
}

/** Schema of the `auth.audit` module. */
export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'audit log of account and token changes',
    up: 'CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL)',
  },
];

/** Creates or upgrades the audit table. */
export function migrateAudit(state: StateDb): void {
  state.migrate('auth.audit', AUDIT_MIGRATIONS);
}

/** Who runs this CLI: `--by` when given, else the OS user. */
export function cliActor(by?: string): string {
  if (by) return `cli:${by}`;
  let user = process.env.SUDO_USER || process.env.USER || '';
  try {
    user ||= userInfo().username;
  } catch {
    user ||= `uid ${process.getuid?.() ?? '?'}`;
  }
  return `cli:${user}`;
}

/** Appends an entry in the caller's transaction and trims the log to its bound. */
export function writeAudit(db: Sqlite, e: AuditEntry): void {
  const id = db.prepare('INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)').run(e.at, e.actor, e.action, e.subject, e.detail).lastInsertRowid;
  db.prepare('DELETE FROM audit_log WHERE id <= ?').run(Number(id) - AUDIT_MAX_ROWS);
}

/** The newest `limit` entries, newest first; `subject` narrows to one account or token. */
export function listAudit(state: StateDb, opts: { limit?: number; subject?: string } = {}): AuditEntry[] {
  migrateAudit(state);
  const limit = Math.min(AUDIT_MAX_ROWS, Math.max(1, opts.limit ?? 100));
  const sql = `SELECT at, actor, action, subject, detail FROM audit_log ${opts.subject ? 'WHERE subject = ?' : ''} ORDER BY id DESC LIMIT ?`;
  const args = opts.subject ? [opts.subject, limit] : [limit];
  return state.db.prepare(sql).all(...args) as AuditEntry[];
}

/** Appends an entry in a transaction of its own (a change made elsewhere, e.g. agent tokens by the CLI). */
export function recordAudit(state: StateDb, e: Omit<AuditEntry, 'at'> & { at?: string }): void {
  migrateAudit(state);
  state.transaction((db) => writeAudit(db, { at: e.at ?? new Date().toISOString(), actor: e.actor, action: e.action, subject: e.subject, detail: e.detail }));
}

/** What an agent-token selection on the CLI names, for the audit subject: `--id`, `--school[/--agent]`, `--region`, `--all`. */
export function selectionSubject(o: { id?: string; school?: string; agent?: string; region?: string; proxy?: string; all?: boolean }): string {
  if (o.id) return o.id;
  if (o.proxy) return `proxy-${o.proxy}`;
  if (o.school) return o.agent ? `${o.school}/${o.agent}` : o.school;
  return o.region ?? (o.all ? 'all' : '');
}
