/** Token lifecycle for the CLI: list, revoke, ask for rotation; each change goes into the change feed at once. */
import { deleteAgent, migrateRoster } from '../enroll/roster.js';
import { toStateDbError, type Sqlite, type StateDb } from '../state/db.js';
import { PROXY_SCHOOL, describeScope, migrateProxies, proxyAgentId, readProxy } from './proxies.js';
import { migrateTokens, noteTokenChanges } from './tokens.js';

/**
 * Runs `work` in an IMMEDIATE transaction: it reads, then writes, and a deferred one would fail at
 * once with "database is locked" when a serving collector commits in between (no busy wait applies).
 */
function immediate<T>(state: StateDb, work: (db: Sqlite) => T): T {
  try {
    return state.db.transaction(() => work(state.db)).immediate();
  } catch (e) {
    throw toStateDbError(e);
  }
}

/** Which tokens a command is about: one by id, a school's (optionally one agent's), a county proxy's, or all. */
export interface TokenSelection {
  id?: string;
  school?: string;
  agent?: string;
  /** A county proxy's name (its tokens: school `proxy`, agent `proxy-<name>`). */
  proxy?: string;
  all?: boolean;
}

/** One line of `token list`. */
export interface TokenListing {
  id: string;
  school: string;
  /** Empty for a legacy per-school token. */
  agent: string;
  created: string;
  /** ISO time, or empty. */
  expires: string;
  /** ISO time to within `auth.lastSeenResolutionMs`, or empty when never seen. */
  lastSeen: string;
  /** active, revoked, expired, grace (rotated, old token still valid), rotating (successor offered or asked for). */
  state: string;
  /** A proxy token's scope (`region:640104`, `schools:12`, `none`); empty for a school's token. */
  scope: string;
}

function where(sel: TokenSelection): { sql: string; args: string[] } {
  if (sel.proxy !== undefined) return { sql: 'school = ? AND agent = ?', args: [PROXY_SCHOOL, proxyAgentId(sel.proxy)] };
  if (sel.id !== undefined) return { sql: 'id = ?', args: [sel.id] };
  if (sel.school !== undefined && sel.agent !== undefined) return { sql: 'school = ? AND agent = ?', args: [sel.school, sel.agent] };
  if (sel.school !== undefined) return { sql: 'school = ?', args: [sel.school] };
  if (sel.all) return { sql: '1', args: [] };
  throw new Error('give --id ID, --school ID [--agent ID], --proxy NAME or --all');
}

const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString());

/** Lists tokens of the selection (all without one), oldest first, without holding them all in memory. */
export function* listTokens(state: StateDb, sel: TokenSelection, nowMs: number): Generator<TokenListing> {
  migrateTokens(state);
  migrateProxies(state);
  const w = sel.id === undefined && sel.school === undefined && sel.proxy === undefined ? { sql: '1', args: [] } : where(sel);
  const scopes = new Map<string, string>();
  const scopeOf = (agent: string): string => {
    let d = scopes.get(agent);
    if (d === undefined) {
      const p = readProxy(state.db, agent);
      scopes.set(agent, (d = p ? describeScope(p) : 'none'));
    }
    return d;
  };
  const rows = state.db.prepare(`SELECT id, school, agent, issued_at, expires_at_ms, last_seen_ms, revoked_at, rotate, rotated_at_ms, offered_at_ms FROM tokens WHERE ${w.sql} ORDER BY n`).raw();
  for (const r of rows.iterate(...w.args) as IterableIterator<[string, string, string | null, string, number | null, number | null, string | null, number, number | null, number | null]>) {
    const [id, school, agent, created, expires, lastSeen, revoked, rotate, rotatedAt, offeredAt] = r;
    const s = revoked !== null ? 'revoked' : expires !== null && expires <= nowMs ? 'expired' : rotatedAt !== null ? 'grace' : rotate || offeredAt !== null ? 'rotating' : 'active';
    yield { id, school, agent: agent ?? '', created, expires: iso(expires), lastSeen: iso(lastSeen), state: s, scope: school === PROXY_SCHOOL && agent !== null ? scopeOf(agent) : '' };
  }
}

/** Tokens of the selection still in force, for the change feed. */
function selected(db: Sqlite, sel: TokenSelection): { sha256: string; school: string; agent: string | null }[] {
  const w = where(sel);
  return db.prepare(`SELECT sha256, school, agent FROM tokens WHERE ${w.sql} AND revoked_at IS NULL`).all(...w.args) as { sha256: string; school: string; agent: string | null }[];
}

/**
 * Revokes the selected tokens; a running collector refuses them from its next request on. Agents
 * left without a token in force lose their place in the school's roster. Returns what it did.
 */
export function revokeTokens(state: StateDb, sel: TokenSelection, nowMs: number): { revoked: number; agentsFreed: number } {
  if (sel.all) throw new Error('token revoke needs --id ID, --school ID [--agent ID] or --proxy NAME; revoking every token is not offered');
  migrateTokens(state);
  migrateRoster(state);
  return immediate(state, (db) => {
    const rows = selected(db, sel);
    const w = where(sel);
    db.prepare(`UPDATE tokens SET revoked_at = ? WHERE ${w.sql} AND revoked_at IS NULL`).run(new Date(nowMs).toISOString(), ...w.args);
    noteTokenChanges(db, rows, nowMs);
    let agentsFreed = 0;
    const live = db.prepare('SELECT 1 FROM tokens WHERE school = ? AND agent = ? AND revoked_at IS NULL');
    const agentsOf = (school: string): string[] => (sel.agent !== undefined ? [sel.agent] : sel.id !== undefined ? rows.filter((r) => r.agent !== null).map((r) => r.agent as string) : (db.prepare('SELECT agent FROM agents WHERE school = ?').pluck().all(school) as string[]));
    for (const school of new Set(rows.map((r) => r.school).concat(sel.school ? [sel.school] : []))) {
      for (const agent of agentsOf(school)) if (!live.get(school, agent)) agentsFreed += deleteAgent(db, school, agent);
      // An agent of a legacy token has no row of its own: an empty hash tells running collectors to read the school's agents again.
      if (agentsFreed) noteTokenChanges(db, [{ sha256: '', school }], nowMs);
    }
    agentsFreed += freeProxyPlaces(db, rows, nowMs);
    return { revoked: rows.length, agentsFreed };
  });
}

/**
 * A proxy left without a token in force gives back its place at every school it reported for; running
 * collectors read those schools' agents again. Returns the places freed.
 */
function freeProxyPlaces(db: Sqlite, rows: readonly { school: string; agent: string | null }[], nowMs: number): number {
  const live = db.prepare('SELECT 1 FROM tokens WHERE school = ? AND agent = ? AND revoked_at IS NULL');
  let freed = 0;
  for (const agent of new Set(rows.filter((r) => r.school === PROXY_SCHOOL && r.agent !== null).map((r) => r.agent as string))) {
    if (live.get(PROXY_SCHOOL, agent)) continue;
    const schools = db.prepare('SELECT school FROM agents WHERE agent = ?').pluck().all(agent) as string[];
    for (const school of schools) freed += deleteAgent(db, school, agent);
    noteTokenChanges(db, schools.map((school) => ({ sha256: '', school })), nowMs);
  }
  return freed;
}

/** Marks the selected tokens for rotation: each agent gets a new token in its next ack. Returns how many. */
export function requestRotation(state: StateDb, sel: TokenSelection, nowMs: number): number {
  migrateTokens(state);
  const w = where(sel);
  let n = 0;
  // Chunks of 10,000 rows: a serving collector waits for this process's lock synchronously.
  for (;;) {
    const done = immediate(state, (db) => {
      const rows = db.prepare(`SELECT sha256, school FROM tokens WHERE ${w.sql} AND revoked_at IS NULL AND rotate = 0 AND rotated_at_ms IS NULL LIMIT 10000`).all(...w.args) as { sha256: string; school: string }[];
      const upd = db.prepare('UPDATE tokens SET rotate = 1, offered_at_ms = NULL WHERE sha256 = ?');
      for (const r of rows) upd.run(r.sha256);
      noteTokenChanges(db, rows, nowMs);
      return rows.length;
    });
    n += done;
    if (done < 10_000) return n;
  }
}

/** Viewer accounts, by name. */
export function listViewers(state: StateDb): { name: string; created: string }[] {
  return state.db.prepare('SELECT name, issued_at AS created FROM viewers ORDER BY name').all() as { name: string; created: string }[];
}
