/**
 * The agents of each school, bounded: a school has at most `maxAgentsPerSchool` agent ids (an
 * enrolled agent is counted when it enrolls; an agent sending with a legacy per-school token when its
 * first batch arrives). Before, one token could invent 2,000 agent ids in a minute, each one state
 * the collector keeps for ever.
 *
 * Kept in the `agents` table; the agents of a school are read once, on its first batch, then held in
 * memory (at most the limit per school, and only registered schools get here).
 */
import type { Migration, Sqlite, StateDb } from '../state/db.js';

/** Schema of the `enroll.agents` module. */
export const ROSTER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'agents per school',
    up: 'CREATE TABLE agents (school TEXT NOT NULL, agent TEXT NOT NULL, first_seen_ms INTEGER NOT NULL, hostname TEXT, PRIMARY KEY (school, agent)) WITHOUT ROWID',
  },
];

/** Creates or upgrades the agents table. */
export function migrateRoster(state: StateDb): void {
  state.migrate('enroll.agents', ROSTER_MIGRATIONS);
}

/** Adds an agent in the caller's transaction (enrollment); an existing one is kept. */
export function insertAgent(db: Sqlite, row: { school: string; agent: string; atMs: number; hostname?: string }): void {
  db.prepare('INSERT OR IGNORE INTO agents (school, agent, first_seen_ms, hostname) VALUES (?, ?, ?, ?)').run(row.school, row.agent, row.atMs, row.hostname ?? null);
}

/** Removes agents of a school in the caller's transaction (revocation of an agent's tokens frees its place). */
export function deleteAgent(db: Sqlite, school: string, agent: string): number {
  return db.prepare('DELETE FROM agents WHERE school = ? AND agent = ?').run(school, agent).changes;
}

/** What `admit()` decided. */
export type Admission = { ok: true; added: boolean } | { ok: false; count: number };

export class AgentRoster {
  private readonly bySchool = new Map<string, Set<string>>();
  private readonly read;

  constructor(
    private readonly opts: { state: StateDb; maxAgentsPerSchool: number },
  ) {
    migrateRoster(opts.state);
    this.read = opts.state.db.prepare('SELECT agent FROM agents WHERE school = ?').pluck();
  }

  /** The configured limit. */
  get limit(): number {
    return this.opts.maxAgentsPerSchool;
  }

  private agents(school: string): Set<string> {
    let set = this.bySchool.get(school);
    if (!set) {
      set = new Set(this.read.all(school) as string[]);
      this.bySchool.set(school, set);
    }
    return set;
  }

  /**
   * Takes a place for (school, agent) synchronously, so two new agents at once cannot both take the
   * last one; `added` says it is new (the caller persists it, or calls `release()` when it could not).
   */
  admit(school: string, agent: string): Admission {
    const set = this.agents(school);
    if (set.has(agent)) return { ok: true, added: false };
    if (set.size >= this.opts.maxAgentsPerSchool) return { ok: false, count: set.size };
    set.add(agent);
    return { ok: true, added: true };
  }

  /** Gives back a place taken by `admit()` that could not be stored. */
  release(school: string, agent: string): void {
    this.bySchool.get(school)?.delete(agent);
  }

  /** Stores a newly admitted agent through the group commit. */
  persist(school: string, agent: string, atMs: number): Promise<void> {
    return this.opts.state.commit((db) => insertAgent(db, { school, agent, atMs }));
  }

  /** Forgets what is held for a school (another process revoked one of its agents): read again on its next batch. */
  invalidate(school: string): void {
    this.bySchool.delete(school);
  }
}
