/**
 * The gaps module: keeps the collector's start/stop log and, for every accepted batch, writes a `gap`
 * point per hole found in the agent's data (tags: registry tags, agent, cause; fields duration_s,
 * missing_reports; time: start of the hole).
 *
 * The per-agent detector state (small, fixed size) lives in the `gap_agents` table of the state
 * database and, once an agent reported since start, in memory (its row is read on its first batch:
 * start reads nothing). Only agents that changed are written, through the group commit, so they share
 * the transaction (and the fsync) of the batches accepted in the same tick; a failed write keeps them
 * marked and the next batch retries. Nothing is rewritten whole on a timer.
 */
import type { Logger } from 'pino';
import type { RegistryTags } from '../ingest/points.js';
import type { CollectorModule } from '../module.js';
import type { Point, Sink } from '../sink/sink.js';
import type { Migration, Sqlite, StateDb } from '../state/db.js';
import { WriteFailureLog } from '../state/failures.js';
import { emptyAgentGapState, observeBatch, type AgentGapState, type Gap } from './detector.js';
import { LifeLog } from './lifelog.js';

export interface GapsModuleOptions {
  state: StateDb;
  sink: Sink;
  /** Registry tags of a school (undefined: not registered, nothing written). */
  tagsFor: (school: string) => RegistryTags | undefined;
  /** Whether the collector holds a sequence (the dedupe state). */
  held: (school: string, agent: string, seq: number) => boolean;
  log: Logger;
  now: () => number;
  /** A report delivered later than this after collection marks a delivery hole, ms. Default 300000. */
  lateAfterMs?: number;
  /** Collector heartbeat interval for the start/stop log, ms. Default 2000. */
  heartbeatMs?: number;
  /** Most agents written in one commit; more wait for the next one. Default 2000. */
  maxAgentsPerCommit?: number;
}

/** The gaps module plus its start/stop log (exposed for tests). */
export interface GapsModule extends CollectorModule {
  readonly lifelog: LifeLog;
  /** Agents whose state is in memory (reported since start). */
  readonly agents: number;
}

/** Schema of the `gaps.agents` module. */
export const GAP_MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'gap detector state per agent', up: 'CREATE TABLE gap_agents (school TEXT NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (school, agent)) WITHOUT ROWID' },
];

/** Creates or upgrades the gap state table. */
export function migrateGaps(state: StateDb): void {
  state.migrate('gaps.agents', GAP_MIGRATIONS);
}

/** Upserts agents' detector state in the caller's transaction. */
export function putGapStates(db: Sqlite, rows: Iterable<{ school: string; agent: string; state: AgentGapState }>): number {
  const put = db.prepare('INSERT INTO gap_agents (school, agent, state) VALUES (?, ?, ?) ON CONFLICT (school, agent) DO UPDATE SET state = excluded.state');
  let n = 0;
  for (const r of rows) n += put.run(r.school, r.agent, JSON.stringify(r.state)).changes;
  return n;
}

/** Parses a stored state; undefined when damaged (the agent starts over, which only re-derives holes). */
export function parseGapState(text: string): AgentGapState | undefined {
  try {
    const s = JSON.parse(text) as AgentGapState;
    return Array.isArray(s.recent) && typeof s.checkedSeq === 'number' ? s : undefined;
  } catch {
    return undefined;
  }
}

export function gapPoints(gaps: readonly Gap[], tags: RegistryTags, agent: string): Point[] {
  return gaps.map((g) => ({
    measurement: 'gap',
    tags: { ...tags, agent, cause: g.cause },
    fields: { duration_s: g.durationS, missing_reports: g.missingReports },
    timestampMs: Math.round(g.startMs),
  }));
}

/** Keys of agents changed since they were last written, written through the group commit. */
function createGapStateWriter(opts: GapsModuleOptions, states: Map<string, AgentGapState>) {
  const dirty = new Set<string>();
  let queued: Promise<void> | undefined;
  const failures = new WriteFailureLog({ log: opts.log, what: 'gap detector state', now: opts.now });
  const max = opts.maxAgentsPerCommit ?? 2000;
  const flush = (): Promise<void> => {
    if (queued || !dirty.size) return queued ?? Promise.resolve();
    let taken: string[] = [];
    queued = opts.state
      // The work runs when the group commits, so it takes every agent marked until then.
      .commit((db) => {
        taken = [];
        for (const k of dirty) {
          if (taken.length >= max) break;
          taken.push(k);
        }
        for (const k of taken) dirty.delete(k);
        putGapStates(
          db,
          taken.map((k) => {
            const slash = k.indexOf('/');
            return { school: k.slice(0, slash), agent: k.slice(slash + 1), state: states.get(k) as AgentGapState };
          }),
        );
      })
      .then(
        () => failures.succeeded(),
        (e: unknown) => {
          for (const k of taken) dirty.add(k);
          failures.failed(e);
        },
      )
      .finally(() => {
        queued = undefined;
        if (dirty.size && !failures.failing) void flush();
      });
    return queued;
  };
  return {
    mark(k: string): Promise<void> {
      dirty.add(k);
      return flush();
    },
    async drain(): Promise<void> {
      while (queued || (dirty.size && !failures.failing)) await flush();
      if (dirty.size) await flush();
    },
  };
}

export function createGapsModule(opts: GapsModuleOptions): GapsModule {
  migrateGaps(opts.state);
  const lifelog = new LifeLog({ state: opts.state, log: opts.log, now: opts.now, heartbeatMs: opts.heartbeatMs });
  const states = new Map<string, AgentGapState>();
  const writer = createGapStateWriter(opts, states);
  const row = opts.state.db.prepare('SELECT state FROM gap_agents WHERE school = ? AND agent = ?').pluck();
  /** An agent's state: in memory, else its row, else a new one. */
  const stateOf = (school: string, agent: string, key: string): AgentGapState => {
    let s = states.get(key);
    if (!s) {
      const text = row.get(school, agent) as string | undefined;
      states.set(key, (s = (text !== undefined ? parseGapState(text) : undefined) ?? emptyAgentGapState()));
    }
    return s;
  };
  return {
    name: 'gaps',
    lifelog,
    get agents() {
      return states.size;
    },
    async start() {
      lifelog.start();
    },
    async stop() {
      await writer.drain();
      await lifelog.stop();
    },
    async onAccepted(batch) {
      const tags = opts.tagsFor(batch.school);
      const first = batch.reports[0];
      if (!tags || !first) return;
      const key = `${batch.school}/${first.agent}`;
      const state = stateOf(batch.school, first.agent, key);
      const gaps = observeBatch({
        state,
        reports: batch.reports,
        receivedAtMs: batch.receivedAtMs,
        held: (seq) => opts.held(batch.school, first.agent, seq),
        lateAfterMs: opts.lateAfterMs ?? 300_000,
        downWithin: (a, b) => lifelog.downWithin(a, b),
      });
      const saved = writer.mark(key);
      if (gaps.length) {
        opts.log.info({ school: batch.school, agent: first.agent, gaps }, 'gaps found');
        await opts.sink.write(gapPoints(gaps, tags, first.agent));
      }
      await saved;
    },
  };
}
