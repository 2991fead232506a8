/**
 * The agents of each school, bounded: a school has at most `maxAgentsPerSchool` agent ids (an
 * enrolled agent is counted when it enrolls; an agent sending with a legacy per-school token when its
 * first batch arrives). Before, one token could invent 2,000 agent ids in a minute, each one state
 * the collector keeps for ever.
 *
 * Kept in the `agents` table; the agents of a school are read once, on its first batch, then held in
 * memory (at most the limit per school, and only registered schools get here).
 */
import { AGENT_KINDS, type AgentKind } from '../../protocol/report.js';
import { preparedOnce, type Migration, type Sqlite, type StateDb } from '../state/db.js';

/** Schema of the `enroll.agents` module. */
export const ROSTER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'agents per school',
    up: 'CREATE TABLE agents (school TEXT NOT NULL, agent TEXT NOT NULL, first_seen_ms INTEGER NOT NULL, hostname TEXT, PRIMARY KEY (school, agent)) WITHOUT ROWID',
  },
  {
    version: 2,
    description: 'the kind of each agent (full, tiny, proxy) as its last batch said',
    up: 'ALTER TABLE agents ADD COLUMN kind TEXT; ALTER TABLE agents ADD COLUMN kind_ms INTEGER',
  },
];

/** Creates or upgrades the agents table. */
export function migrateRoster(state: StateDb): void {
  state.migrate('enroll.agents', ROSTER_MIGRATIONS);
}

/** Adds an agent in the caller's transaction (enrollment); an existing one is kept. */
export function insertAgent(db: Sqlite, row: { school: string; agent: string; atMs: number; hostname?: string }): void {
  preparedOnce(db, 'INSERT OR IGNORE INTO agents (school, agent, first_seen_ms, hostname) VALUES (?, ?, ?, ?)').run(row.school, row.agent, row.atMs, row.hostname ?? null);
}

/** Removes agents of a school in the caller's transaction (revocation of an agent's tokens frees its place). */
export function deleteAgent(db: Sqlite, school: string, agent: string): number {
  return db.prepare('DELETE FROM agents WHERE school = ? AND agent = ?').run(school, agent).changes;
}

/** One agent of a school and its kind (null: no batch of it since kinds are recorded: enrolled, not heard from). */
export interface AgentOfSchool {
  agent: string;
  kind: AgentKind | null;
  /** When the kind was last recorded (a change of kind), ms; null when never. */
  kindMs: number | null;
  firstSeenMs: number;
}

const KINDS = new Set<string>(AGENT_KINDS);
const kindOf = (v: unknown): AgentKind | null => (typeof v === 'string' && KINDS.has(v) ? (v as AgentKind) : null);

/**
 * A reader of the agents of one school with their kinds (one read through the primary key), in id
 * order; answers [] while the database cannot be read (a page shows no kinds rather than failing).
 */
export function agentsOfSchoolReader(db: Sqlite): (school: string) => AgentOfSchool[] {
  const stmt = db.prepare('SELECT agent, kind, kind_ms AS kindMs, first_seen_ms AS firstSeenMs FROM agents WHERE school = ? ORDER BY agent');
  return (school) => {
    try {
      const rows = stmt.all(school) as { agent: string; kind: unknown; kindMs: number | null; firstSeenMs: number }[];
      return rows.map((r) => ({ agent: r.agent, kind: kindOf(r.kind), kindMs: r.kindMs, firstSeenMs: r.firstSeenMs }));
    } catch {
      return [];
    }
  };
}

/** What `admit()` decided. */
export type Admission = { ok: true; added: boolean } | { ok: false; count: number };

export class AgentRoster {
  /** school → agent → its kind as recorded (null: none recorded). */
  private readonly bySchool = new Map<string, Map<string, AgentKind | null>>();
  private readonly read;

  constructor(
    private readonly opts: { state: StateDb; maxAgentsPerSchool: number },
  ) {
    migrateRoster(opts.state);
    this.read = opts.state.db.prepare('SELECT agent, kind FROM agents WHERE school = ?').raw();
  }

  /** The configured limit. */
  get limit(): number {
    return this.opts.maxAgentsPerSchool;
  }

  private agents(school: string): Map<string, AgentKind | null> {
    let set = this.bySchool.get(school);
    if (!set) {
      set = new Map((this.read.all(school) as [string, unknown][]).map(([a, k]) => [a, kindOf(k)]));
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
    set.set(agent, null);
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

  /**
   * Records the kind an admitted agent's batch says it is. Writes (through the group commit) only when
   * the kind changed, so once per agent and change; null (none recorded) means no batch came since.
   * Resolves once stored; a failed write is tried again on the agent's next batch.
   */
  noteKind(school: string, agent: string, kind: AgentKind, atMs: number): Promise<void> | undefined {
    const set = this.agents(school);
    const was = set.get(agent);
    if (was === kind || !set.has(agent)) return undefined;
    set.set(agent, kind);
    return this.opts.state
      .commit((db) => {
        preparedOnce(db, 'UPDATE agents SET kind = ?, kind_ms = ? WHERE school = ? AND agent = ?').run(kind, atMs, school, agent);
      })
      .catch((e: unknown) => {
        if (set.get(agent) === kind) set.set(agent, was ?? null);
        throw e;
      });
  }

  /** The kind recorded for an agent of a school (null: none; undefined: not an agent of it). */
  kindOf(school: string, agent: string): AgentKind | null | undefined {
    return this.agents(school).get(agent);
  }

  /** Forgets what is held for a school (another process revoked one of its agents): read again on its next batch. */
  invalidate(school: string): void {
    this.bySchool.delete(school);
  }
}
