/**
 * The gaps module: keeps the collector's start/stop log and, for every accepted batch, writes a `gap`
 * point per hole found in the agent's data (tags: registry tags, agent, cause; fields duration_s,
 * missing_reports; time: start of the hole). A county proxy's hole in a school's stream (it collected
 * nothing: it was down) is `proxy_down`; its reports that say the school's gateway did not answer are no
 * hole at all but data (the school is offline, link down, see views/liveness).
 *
 * Per agent, one detector state per epoch (at most `MAX_EPOCH_STREAMS`, the least recently updated
 * forgotten): a new epoch (the agent's state was lost) writes an `agent_reset` gap from the last report of
 * the epoch before it to its first; two epochs whose collection times overlap (one credential on two
 * boxes) write one `agent_clone` gap and log COL_ERR_AGENT_CLONED; both streams are kept.
 *
 * The per-agent detector state (small, fixed size) lives in the `gap_agents` table of the state
 * database and, once an agent reported since start, in memory (its row is read on its first batch:
 * start reads nothing). Only agents that changed are written, through the group commit, so they share
 * the transaction (and the fsync) of the batches accepted in the same tick; a failed write keeps them
 * marked and the next batch retries. Nothing is rewritten whole on a timer.
 */
import type { Logger } from 'pino';
import type { Report } from '../../protocol/index.js';
import type { RegistryTags } from '../ingest/points.js';
import type { CollectorModule } from '../module.js';
import type { Point, Sink } from '../sink/sink.js';
import { preparedOnce, type Migration, type Sqlite, type StateDb } from '../state/db.js';
import { WriteFailureLog } from '../state/failures.js';
import { emptyAgentGapState, observeBatch, type AgentGapState, type Gap } from './detector.js';
import { LifeLog } from './lifelog.js';

export interface GapsModuleOptions {
  state: StateDb;
  sink: Sink;
  /** Registry tags of a school (undefined: not registered, nothing written). */
  tagsFor: (school: string) => RegistryTags | undefined;
  /** Whether the collector holds a sequence of an epoch (the dedupe state; '' is the legacy epoch). */
  held: (school: string, agent: string, seq: number, epoch: string) => boolean;
  log: Logger;
  now: () => number;
  /** A report delivered later than this after collection marks a delivery hole, ms. Default 300000. */
  lateAfterMs?: number;
  /** Collector heartbeat interval for the start/stop log, ms. Default 2000. */
  heartbeatMs?: number;
  /**
   * Most agents written in one commit item; more wait for the next one. Default 200: one item is one piece of
   * the group commit's work, which can only be cut between items (2,000 agents held the loop ~80 ms).
   */
  maxAgentsPerCommit?: number;
  /**
   * An item takes no more agents once its writes ran this long, ms; the rest wait for the next item. Default 5:
   * after a start every agent's first write rewrites a row migrated from the old files (a week's pairs, ~1.5 kB),
   * and 200 of those in one item held the loop for 78 ms in the province soak.
   */
  maxCommitWorkMs?: number;
  /** Two epochs of one agent whose collection times overlap by more than this are a clone, ms. Default 300000. */
  cloneOverlapMs?: number;
}

/** Epoch streams remembered per agent. */
export const MAX_EPOCH_STREAMS = 4;

/** One epoch of one agent: its detector state and the span of its collection times. */
export interface EpochGapStream {
  epoch: string;
  state: AgentGapState;
  firstMs: number;
  lastMs: number;
  /** Receive time of its last batch (the least recent stream is forgotten first). */
  seenMs: number;
  /** Epochs it was found to overlap (each clone is written once). */
  clones?: string[];
  /**
   * The reset gap from the epoch before it, written at its next batch if that epoch has not reported since
   * (else the two run at once: a clone, not a reset).
   */
  pendingReset?: { after: string; gap: Gap };
}

/** What `gap_agents.state` holds per agent: its epoch streams. */
export interface AgentGapStreams {
  streams: EpochGapStream[];
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
  {
    version: 2,
    // A state is ~1.5 kB (a week's 60 pairs): over the ~1 kB a WITHOUT ROWID row keeps in its leaf, so every
    // row had overflow pages, each write dirtied two or three pages and the file was 2.3× the data.
    description: 'gap detector state in a rowid table (rows of a kilobyte and more fit their leaf page), unique per agent',
    up: [
      'CREATE TABLE gap_agents_rowid (school TEXT NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL);',
      'INSERT INTO gap_agents_rowid (school, agent, state) SELECT school, agent, state FROM gap_agents;',
      'DROP TABLE gap_agents;',
      'ALTER TABLE gap_agents_rowid RENAME TO gap_agents;',
      'CREATE UNIQUE INDEX gap_agents_key ON gap_agents (school, agent);',
    ].join(' '),
  },
];

/** Creates or upgrades the gap state table. */
export function migrateGaps(state: StateDb): void {
  state.migrate('gaps.agents', GAP_MIGRATIONS);
}

/** Upserts agents' detector state (one legacy-epoch state, or epoch streams) in the caller's transaction. */
export function putGapStates(db: Sqlite, rows: Iterable<{ school: string; agent: string; state: AgentGapState | AgentGapStreams }>): number {
  const put = preparedOnce(db, 'INSERT INTO gap_agents (school, agent, state) VALUES (?, ?, ?) ON CONFLICT (school, agent) DO UPDATE SET state = excluded.state');
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

/**
 * Parses a stored row: epoch streams, or the single state of a collector older than epochs (the legacy
 * epoch); undefined when damaged.
 */
export function parseGapStreams(text: string): AgentGapStreams | undefined {
  try {
    const v = JSON.parse(text) as Partial<AgentGapStreams> & Partial<AgentGapState>;
    if (Array.isArray(v.streams)) return { streams: v.streams.filter((x) => x && typeof x.epoch === 'string' && Array.isArray(x.state?.recent)).slice(-MAX_EPOCH_STREAMS) };
  } catch {
    return undefined;
  }
  const legacy = parseGapState(text);
  if (!legacy) return undefined;
  const times = legacy.recent.filter((_, i) => i % 2 === 1);
  return { streams: [{ epoch: '', state: legacy, firstMs: times.length ? Math.min(...times) : 0, lastMs: times.length ? Math.max(...times) : 0, seenMs: 0 }] };
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
function createGapStateWriter(opts: GapsModuleOptions, states: Map<string, AgentGapStreams>) {
  const dirty = new Set<string>();
  let queued: Promise<void> | undefined;
  const failures = new WriteFailureLog({ log: opts.log, what: 'gap detector state', now: opts.now });
  const max = opts.maxAgentsPerCommit ?? 200;
  const maxMs = opts.maxCommitWorkMs ?? 5;
  /** Dirty agents' rows, each taken (unmarked) as it is written, until `max` or the time is over. */
  function* take(taken: string[]): Generator<{ school: string; agent: string; state: AgentGapStreams }> {
    const t0 = performance.now();
    for (const k of dirty) {
      if (taken.length >= max || (taken.length && performance.now() - t0 >= maxMs)) return;
      taken.push(k);
      dirty.delete(k);
      const slash = k.indexOf('/');
      yield { school: k.slice(0, slash), agent: k.slice(slash + 1), state: states.get(k) as AgentGapStreams };
    }
  }
  const flush = (): Promise<void> => {
    if (queued || !dirty.size) return queued ?? Promise.resolve();
    let taken: string[] = [];
    queued = opts.state
      // The work runs when the group commits, so it takes every agent marked until then.
      .commit((db) => {
        taken = [];
        putGapStates(db, take(taken));
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

/** The gap between an epoch's predecessor (the stream whose reports end before it starts) and it, if any. */
function resetGap(others: readonly EpochGapStream[], firstMs: number): EpochGapStream['pendingReset'] {
  const before = others.filter((o) => o.lastMs < firstMs).sort((x, y) => y.lastMs - x.lastMs)[0];
  if (!before) return undefined;
  const interval = before.state.intervalMs ?? 60_000;
  const span = Math.max(0, firstMs - before.lastMs - interval);
  return { after: before.epoch, gap: { cause: 'agent_reset', startMs: before.lastMs + interval, durationS: span / 1000, missingReports: Math.max(0, Math.round((firstMs - before.lastMs) / interval) - 1) } };
}

/** The pending reset gap of a stream, once its predecessor has stayed silent since the stream began. */
function settleReset(s: EpochGapStream, all: readonly EpochGapStream[]): Gap | undefined {
  const p = s.pendingReset;
  if (!p) return undefined;
  s.pendingReset = undefined;
  const before = all.find((o) => o.epoch === p.after);
  return !before || before.lastMs < s.firstMs ? p.gap : undefined;
}

/** Clones: other streams whose collection times overlap this one's by more than `minMs`, each once. */
function cloneGaps(s: EpochGapStream, others: readonly EpochGapStream[], minMs: number): { gap: Gap; other: EpochGapStream }[] {
  const out: { gap: Gap; other: EpochGapStream }[] = [];
  for (const o of others) {
    if (s.clones?.includes(o.epoch) || o.clones?.includes(s.epoch)) continue;
    const from = Math.max(s.firstMs, o.firstMs);
    const overlap = Math.min(s.lastMs, o.lastMs) - from;
    if (overlap <= minMs) continue;
    (s.clones ??= []).push(o.epoch);
    (o.clones ??= []).push(s.epoch);
    out.push({ gap: { cause: 'agent_clone', startMs: from, durationS: overlap / 1000, missingReports: 0 }, other: o });
  }
  return out;
}

/** Reports grouped by epoch ('' for legacy), in their order of first appearance. */
function byEpoch(reports: readonly Report[]): Map<string, Report[]> {
  const out = new Map<string, Report[]>();
  for (const r of reports) {
    const e = r.epoch ?? '';
    const list = out.get(e);
    if (list) list.push(r);
    else out.set(e, [r]);
  }
  return out;
}

export function createGapsModule(opts: GapsModuleOptions): GapsModule {
  migrateGaps(opts.state);
  const lifelog = new LifeLog({ state: opts.state, log: opts.log, now: opts.now, heartbeatMs: opts.heartbeatMs });
  const states = new Map<string, AgentGapStreams>();
  const writer = createGapStateWriter(opts, states);
  const row = opts.state.db.prepare('SELECT state FROM gap_agents WHERE school = ? AND agent = ?').pluck();
  /** An agent's streams: in memory, else its row, else none. */
  const streamsOf = (school: string, agent: string, key: string): AgentGapStreams => {
    let s = states.get(key);
    if (!s) {
      const text = row.get(school, agent) as string | undefined;
      states.set(key, (s = (text !== undefined ? parseGapStreams(text) : undefined) ?? { streams: [] }));
    }
    return s;
  };
  /** Observes one epoch's reports of a batch; returns the gaps and clones they reveal. */
  const observeEpoch = (school: string, agent: string, all: AgentGapStreams, epoch: string, reports: readonly Report[], receivedAtMs: number): Gap[] => {
    const gaps: Gap[] = [];
    let firstMs = Infinity;
    let lastMs = -Infinity;
    for (const r of reports) {
      firstMs = Math.min(firstMs, r.collectedAt);
      lastMs = Math.max(lastMs, r.collectedAt);
    }
    let s = all.streams.find((x) => x.epoch === epoch);
    const others = all.streams.filter((x) => x !== s);
    if (s) {
      const reset = settleReset(s, all.streams);
      if (reset) gaps.push(reset);
    } else {
      // Sequences below the first one seen in a new epoch are not "missing": the epoch began there.
      const st = emptyAgentGapState();
      if (others.length) st.checkedSeq = Math.min(...reports.map((r) => r.seq)) - 1;
      s = { epoch, state: st, firstMs, lastMs, seenMs: receivedAtMs, pendingReset: resetGap(others, firstMs) };
      all.streams.push(s);
      if (all.streams.length > MAX_EPOCH_STREAMS) {
        all.streams.sort((x, y) => x.seenMs - y.seenMs);
        all.streams.splice(0, all.streams.length - MAX_EPOCH_STREAMS);
      }
    }
    s.firstMs = Math.min(s.firstMs, firstMs);
    s.lastMs = Math.max(s.lastMs, lastMs);
    s.seenMs = Math.max(s.seenMs, receivedAtMs);
    gaps.push(
      ...observeBatch({
        state: s.state,
        reports,
        receivedAtMs,
        held: (seq) => opts.held(school, agent, seq, epoch),
        lateAfterMs: opts.lateAfterMs ?? 300_000,
        downWithin: (a, b) => lifelog.downWithin(a, b),
      }),
    );
    for (const c of cloneGaps(s, others, opts.cloneOverlapMs ?? 300_000)) {
      opts.log.warn({ code: 'COL_ERR_AGENT_CLONED', school, agent, epochs: [c.other.epoch || 'legacy', epoch || 'legacy'], overlapS: c.gap.durationS }, 'one agent id reports from two installs at once (a cloned SD card, two boxes with one id or one credential): both streams are kept');
      gaps.push(c.gap);
    }
    return gaps;
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
      const all = streamsOf(batch.school, first.agent, key);
      const gaps: Gap[] = [];
      for (const [epoch, reports] of byEpoch(batch.reports)) gaps.push(...observeEpoch(batch.school, first.agent, all, epoch, reports, batch.receivedAtMs));
      // A proxy's hole is the proxy's, not the school's: it collected nothing (agent), or could not deliver
      // until later (link: the proxy's own uplink, the reports arrived and missing_reports is 0).
      if (first.agentKind === 'proxy') for (const g of gaps) if (g.cause === 'agent' || g.cause === 'link') g.cause = 'proxy_down';
      const saved = writer.mark(key);
      if (gaps.length) {
        opts.log.info({ school: batch.school, agent: first.agent, gaps }, 'gaps found');
        await opts.sink.write(gapPoints(gaps, tags, first.agent));
      }
      await saved;
    },
  };
}
