/**
 * One-time import of the JSON state files of older collectors into the state database, at start:
 * `tokens.json`, `viewers.json`, `dedupe.log`, `gaps/agents.json`, `gaps/lifelog.json` and
 * `inventory/<school>.json`. Big files are read as streams (a line or an entry at a time). Everything
 * found is written in one transaction, together with a row per file in `legacy_imports`; only after
 * that commit is each file renamed `<name>.migrated` (kept, for the operator to delete). A crash
 * between the commit and the renames imports nothing twice: a file already in `legacy_imports` is
 * only renamed. One log line, `COL_ERR_STATE_MIGRATED`, gives the counts.
 *
 * `liveness/liveness.json` belongs to the views module, which imports it itself.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { insertTokens, migrateTokens, type TokenRecord } from '../auth/tokens.js';
import { migrateViewers, putViewers, type ViewerRecord } from '../auth/viewers.js';
import type { AgentGapState } from '../gaps/detector.js';
import { putLifeLog, migrateLifeLog, type Downtime } from '../gaps/lifelog.js';
import { migrateGaps, putGapStates } from '../gaps/module.js';
import { addHeld, migrateDedupe, putHeld, type HeldSequences } from '../ingest/dedupe.js';
import { loadAll, migrateInventory, putAgentDevices, type SchoolDevices } from '../inventory/store.js';
import type { Migration, Sqlite, StateDb } from './db.js';
import { readLines, readObjectEntries } from './json-stream.js';

type MigrationLog = Pick<Logger, 'warn' | 'error'>;

const LEGACY_MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'files imported from older collectors', up: 'CREATE TABLE legacy_imports (file TEXT PRIMARY KEY, imported_at_ms INTEGER NOT NULL, items INTEGER NOT NULL)' },
];

/** One file's content, ready to write. */
interface Found {
  /** Path relative to the state directory. */
  file: string;
  /** What the counts in the log line call it. */
  kind: string;
  items: number;
  write: (db: Sqlite) => void;
}

/** The files of one kind under a state directory, with their content. */
type Reader = (stateDir: string, log: MigrationLog) => Promise<Found[]> | Found[];

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

const tokensReader: Reader = (dir) => {
  const path = join(dir, 'tokens.json');
  if (!existsSync(path)) return [];
  const f = readJson(path) as { version?: number; tokens?: TokenRecord[] };
  if (f?.version !== 1 || !Array.isArray(f.tokens)) throw new Error(`${path}: not a campuslink token file`);
  const tokens = f.tokens;
  return [{ file: 'tokens.json', kind: 'tokens', items: tokens.length, write: (db) => void insertTokens(db, tokens) }];
};

const viewersReader: Reader = (dir) => {
  const path = join(dir, 'viewers.json');
  if (!existsSync(path)) return [];
  const f = readJson(path) as { version?: number; viewers?: ViewerRecord[] };
  if (f?.version !== 1 || !Array.isArray(f.viewers)) throw new Error(`${path}: not a campuslink viewer file`);
  const viewers = f.viewers;
  return [{ file: 'viewers.json', kind: 'viewers', items: viewers.length, write: (db) => void putViewers(db, viewers) }];
};

const dedupeReader: Reader = async (dir) => {
  const path = join(dir, 'dedupe.log');
  if (!existsSync(path)) return [];
  const agents = new Map<string, { school: string; agent: string; held: HeldSequences }>();
  for await (const line of readLines(path)) {
    if (!line) continue;
    let e: { s?: unknown; a?: unknown; h?: unknown; q?: unknown };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue; // a line torn by a crash: its batch was not acknowledged, the agent sends it again
    }
    if (typeof e.s !== 'string' || typeof e.a !== 'string') continue;
    const k = `${e.s}/${e.a}`;
    let a = agents.get(k);
    if (!a) agents.set(k, (a = { school: e.s, agent: e.a, held: { hwm: 0, ranges: [] } }));
    const seqs = Array.isArray(e.q) ? e.q.filter((q): q is number => Number.isSafeInteger(q)) : [];
    addHeld(a.held, seqs, { hwm: typeof e.h === 'number' ? e.h : undefined, maxRanges: 64 });
  }
  return [{ file: 'dedupe.log', kind: 'dedupeAgents', items: agents.size, write: (db) => void putHeld(db, agents.values()) }];
};

/** An old detector state (`times`: thousands of pairs) cut to the compact one. */
export function compactLegacyGapState(old: { times?: [number, number][]; intervalMs?: number; hole?: { startMs: number; endMs: number }; checkedSeq?: number }, maxPairs = 16): AgentGapState {
  const times = (Array.isArray(old.times) ? old.times : []).filter((p) => Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number');
  const top = times.sort((a, b) => a[0] - b[0]).slice(-maxPairs);
  // Times and sequences are whole numbers in the tables; an old file written by hand or by a tool may hold
  // fractions, which would make the whole import fail.
  return {
    recent: top.flat().map(Math.round),
    ...(typeof old.intervalMs === 'number' && { intervalMs: Math.round(old.intervalMs) }),
    ...(old.hole && typeof old.hole.startMs === 'number' && typeof old.hole.endMs === 'number' && { hole: { startMs: Math.round(old.hole.startMs), endMs: Math.round(old.hole.endMs) } }),
    checkedSeq: typeof old.checkedSeq === 'number' ? Math.round(old.checkedSeq) : 0,
  };
}

const gapsReader: Reader = async (dir) => {
  const out: Found[] = [];
  const agentsPath = join(dir, 'gaps', 'agents.json');
  if (existsSync(agentsPath)) {
    const rows: { school: string; agent: string; state: AgentGapState }[] = [];
    for await (const [k, v] of readObjectEntries(agentsPath)) {
      const slash = k.indexOf('/');
      if (slash < 1 || typeof v !== 'object' || v === null) continue;
      rows.push({ school: k.slice(0, slash), agent: k.slice(slash + 1), state: compactLegacyGapState(v as Parameters<typeof compactLegacyGapState>[0]) });
    }
    out.push({ file: join('gaps', 'agents.json'), kind: 'gapAgents', items: rows.length, write: (db) => void putGapStates(db, rows) });
  }
  const lifePath = join(dir, 'gaps', 'lifelog.json');
  if (existsSync(lifePath)) {
    const f = readJson(lifePath) as { downtimes?: Downtime[]; aliveAtMs?: number; stopped?: boolean };
    const downtimes = (Array.isArray(f.downtimes) ? f.downtimes : []).filter((d) => typeof d?.fromMs === 'number' && typeof d?.toMs === 'number').map((d) => ({ fromMs: Math.round(d.fromMs), toMs: Math.round(d.toMs) }));
    out.push({
      file: join('gaps', 'lifelog.json'),
      kind: 'downtimes',
      items: downtimes.length,
      write: (db) => putLifeLog(db, { aliveAtMs: typeof f.aliveAtMs === 'number' ? Math.round(f.aliveAtMs) : undefined, stopped: f.stopped === true, downtimes, maxDowntimes: 1000 }),
    });
  }
  return out;
};

const inventoryReader: Reader = async (dir, log) => {
  const loaded = await loadAll(join(dir, 'inventory'));
  for (const p of loaded.problems) log.error({ problem: p }, 'device list file unreadable; left in place and not imported');
  return loaded.files.map((path) => {
    const school = (path.split('/').pop() as string).slice(0, 10);
    const s = loaded.schools.get(school) as SchoolDevices;
    return { file: join('inventory', `${school}.json`), kind: 'inventorySchools', items: 1, write: (db: Sqlite) => void putAgentDevices(db, s, s.agents.keys()) };
  });
};

function migrateSchemas(state: StateDb): void {
  state.migrate('state.legacy', LEGACY_MIGRATIONS);
  migrateTokens(state);
  migrateViewers(state);
  migrateDedupe(state);
  migrateGaps(state);
  migrateLifeLog(state);
  migrateInventory(state);
}

function importFiles(opts: { state: StateDb; stateDir: string; log: MigrationLog; found: Found[] }): Record<string, number> {
  const { state, stateDir, found } = opts;
  const counts: Record<string, number> = {};
  if (!found.length) return counts;
  const already = state.db.prepare('SELECT 1 FROM legacy_imports WHERE file = ?');
  const mark = state.db.prepare('INSERT INTO legacy_imports (file, imported_at_ms, items) VALUES (?, ?, ?)');
  const fresh = found.filter((f) => already.get(f.file) === undefined);
  state.transaction((db) => {
    for (const f of fresh) {
      f.write(db);
      mark.run(f.file, Date.now(), f.items);
      counts[f.kind] = (counts[f.kind] ?? 0) + f.items;
    }
  });
  // Only after the commit: until then the old files are the state.
  for (const f of found) renameSync(join(stateDir, f.file), join(stateDir, `${f.file}.migrated`));
  if (fresh.length) opts.log.warn({ code: 'COL_ERR_STATE_MIGRATED', files: fresh.length, ...counts, db: state.path }, 'state files of an older collector migrated into the state database; the old files are kept as *.migrated');
  return counts;
}

/** Imports every old state file found under `stateDir`; returns the counts (empty when there were none). */
export async function importLegacyState(opts: { state: StateDb; stateDir: string; log: MigrationLog }): Promise<Record<string, number>> {
  migrateSchemas(opts.state);
  const found: Found[] = [];
  for (const read of [tokensReader, viewersReader, dedupeReader, gapsReader, inventoryReader]) found.push(...(await read(opts.stateDir, opts.log)));
  return importFiles({ ...opts, found });
}

/** Imports only `tokens.json` and `viewers.json`, synchronously (the CLI's token and viewer commands). */
export function importLegacyAuth(opts: { state: StateDb; stateDir: string; log: MigrationLog }): void {
  migrateSchemas(opts.state);
  const found = [...(tokensReader(opts.stateDir, opts.log) as Found[]), ...(viewersReader(opts.stateDir, opts.log) as Found[])];
  importFiles({ ...opts, found });
}
