/** The gaps module's state in the state database: compact, written per changed agent, continued after a restart. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { emptyAgentGapState, observeBatch } from '../../../collector/gaps/detector.js';
import { GAP_MIGRATIONS, createGapsModule, migrateGaps, putGapStates, type GapsModule } from '../../../collector/gaps/module.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import type { Report } from '../../../protocol/index.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { T0, makeReport } from '../../helpers/reports.js';

const MIN = 60_000;
const S = '1640104001';
const tags = { school: S, province: '640000', city: '640100', county: '640104', link: 'fiber' as const };
const rep = (seq: number, at: number, agent = 'gw-01', epoch?: string): Report => makeReport({ seq, collectedAt: at, agent, ...(epoch ? { epoch } : {}) });

describe('collector/gaps/module', () => {
  let dir: string;
  let state: StateDb;
  let sink: MemorySink;
  let now: number;
  const held = new Set<string>();
  const make = (): GapsModule =>
    createGapsModule({ state, sink, tagsFor: (id) => (id === S ? tags : undefined), held: (s, a, q, e) => held.has(`${s}/${a}/${e}/${q}`), log: pino({ level: 'silent' }), now: () => now, heartbeatMs: 60_000 });
  const accept = async (m: GapsModule, reports: Report[]) => {
    for (const r of reports) held.add(`${S}/${r.agent}/${r.epoch ?? ''}/${r.seq}`);
    await m.onAccepted?.({ school: S, reports, receivedAtMs: now });
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cl-gaps-'));
    state = openStateDb({ stateDir: dir });
    sink = new MemorySink();
    now = T0;
    held.clear();
  });
  afterEach(() => state.close());

  it('writes only the agents a batch changed, and a module started again on the same database continues their state', async () => {
    let m = make();
    await m.start?.();
    await accept(m, [rep(1, T0, 'gw-01'), rep(2, T0 + MIN, 'gw-01')]);
    await accept(m, [rep(1, T0, 'sw-01')]);
    const written = state.db.prepare('SELECT agent FROM gap_agents ORDER BY agent').pluck().all();
    expect(written).to.deep.equal(['gw-01', 'sw-01']);
    const sw = state.db.prepare("SELECT state FROM gap_agents WHERE agent = 'sw-01'").pluck().get();
    await accept(m, [rep(3, T0 + 2 * MIN, 'gw-01')]);
    expect(state.db.prepare("SELECT state FROM gap_agents WHERE agent = 'sw-01'").pluck().get()).to.equal(sw);
    await m.stop?.();
    m = make();
    await m.start?.();
    expect(m.agents).to.equal(0); // nothing read at start
    // The usual interval and the last report come back from the row on the agent's first batch: a jump after seq 3 is an agent gap.
    now = T0 + 14 * MIN;
    await accept(m, [rep(4, T0 + 13 * MIN, 'gw-01'), rep(5, T0 + 14 * MIN, 'gw-01')]);
    expect(m.agents).to.equal(1);
    expect(sink.points.map((p) => [p.tags.cause, p.timestampMs, p.fields.missing_reports])).to.deep.equal([['agent', T0 + 3 * MIN, 10]]);
    await m.stop?.();
  });

  it('keeps at most 16 (seq, time) pairs per agent however many reports it saw', () => {
    const st = emptyAgentGapState();
    for (let i = 0; i < 200; i++) {
      const reports = Array.from({ length: 50 }, (_, k) => rep(i * 50 + k + 1, T0 + (i * 50 + k) * MIN));
      observeBatch({ state: st, reports, receivedAtMs: T0 + (i * 50 + 50) * MIN, held: () => true, lateAfterMs: 5 * MIN, downWithin: () => 0 });
    }
    expect(st.recent.length).to.be.at.most(32);
    expect(JSON.stringify(st).length).to.be.below(1000);
    expect(st.recent.slice(-2)).to.deep.equal([10_000, T0 + 9999 * MIN]);
  });

  it('a backlog drained oldest first while live reports keep coming still finds an agent gap at a batch boundary', () => {
    const st = emptyAgentGapState();
    const obs = (reports: Report[], at: number) => observeBatch({ state: st, reports, receivedAtMs: at, held: () => true, lateAfterMs: 5 * MIN, downWithin: () => 0 });
    obs([rep(1, T0), rep(2, T0 + MIN)], T0 + MIN);
    // Link down for 100 min; the agent stopped collecting between seq 30 and 31 for 20 minutes.
    const at = (q: number) => T0 + (q - 1) * MIN + (q > 30 ? 20 * MIN : 0);
    for (let q = 81; q <= 100; q++) obs([rep(q, at(q))], at(q)); // live reports after the link came back
    obs(Array.from({ length: 28 }, (_, i) => rep(3 + i, at(3 + i))), at(100) + 1000);
    const gaps = obs(Array.from({ length: 50 }, (_, i) => rep(31 + i, at(31 + i))), at(100) + 2000);
    expect(gaps.filter((g) => g.cause === 'agent')).to.deep.equal([{ cause: 'agent', startMs: at(30) + MIN, durationS: 20 * 60, missingReports: 20 }]);
  });

  it('a new epoch after the old one stopped is one agent_reset gap, and sequences below its first are not missing', async () => {
    const m = make();
    await m.start?.();
    await accept(m, [1, 2, 3].map((q) => rep(q, T0 + (q - 1) * MIN, 'gw-01', 'aaaaaaaaaaaaaaaa')));
    now = T0 + 20 * MIN;
    const agentM = { name: 'agent' as const, tags: { version: '0.1.0' }, fields: { spool_reports: 0, spool_bytes: 0, dropped_reports: 0, sent_bytes: 0, cycle_ms: 1, rss_bytes: 1, uptime_s: 1 } };
    await accept(m, [makeReport({ seq: 40, collectedAt: T0 + 20 * MIN, agent: 'gw-01', epoch: 'bbbbbbbbbbbbbbbb', measurements: [agentM] })]);
    // Written once the old epoch has stayed silent while the new one goes on (else it would be a clone).
    expect(sink.points).to.deep.equal([]);
    now = T0 + 21 * MIN;
    await accept(m, [makeReport({ seq: 41, collectedAt: T0 + 21 * MIN, agent: 'gw-01', epoch: 'bbbbbbbbbbbbbbbb', measurements: [agentM] })]);
    expect(sink.points.map((p) => [p.tags.cause, p.timestampMs, p.fields.missing_reports])).to.deep.equal([['agent_reset', T0 + 3 * MIN, 17]]);
    await m.stop?.();
  });

  it('two epochs of one agent reporting over the same time are one agent_clone gap, written once, with both streams kept', async () => {
    const m = make();
    await m.start?.();
    for (let i = 0; i < 20; i++) {
      now = T0 + i * MIN;
      await accept(m, [rep(i + 1, now, 'OpenWrt', 'aaaaaaaaaaaaaaaa')]);
      await accept(m, [rep(i + 1, now + 1000, 'OpenWrt', 'bbbbbbbbbbbbbbbb')]);
    }
    expect(sink.points.map((p) => p.tags.cause)).to.deep.equal(['agent_clone']);
    await m.stop?.();
  });

  it('a gap state row of the collector before epochs is read as the legacy epoch and goes on', async () => {
    const m = make();
    state.transaction((db) => db.prepare("INSERT INTO gap_agents (school, agent, state) VALUES (?, 'gw-01', ?)").run(S, JSON.stringify({ recent: [1, T0, 2, T0 + MIN], intervalMs: MIN, checkedSeq: 2 })));
    await m.start?.();
    now = T0 + 12 * MIN;
    await accept(m, [rep(3, T0 + 11 * MIN), rep(4, T0 + 12 * MIN)]);
    expect(sink.points.map((p) => [p.tags.cause, p.fields.missing_reports])).to.deep.equal([['agent', 9]]);
    await m.stop?.();
  });
  it('migrates a WITHOUT ROWID gap_agents table of an older collector into a rowid table with its rows, one row per agent after', async () => {
    const old = openStateDb({ stateDir: join(dir, 'old') });
    old.migrate('gaps.agents', GAP_MIGRATIONS.slice(0, 1));
    const big = JSON.stringify({ recent: Array.from({ length: 120 }, (_, i) => (i % 2 ? T0 + i * MIN : i)), intervalMs: MIN, checkedSeq: 2 });
    old.transaction((db) => putGapStates(db, [{ school: S, agent: 'gw-01', state: JSON.parse(big) }]));
    expect(old.db.prepare("SELECT wr FROM pragma_table_list WHERE name = 'gap_agents'").pluck().get()).to.equal(1);
    migrateGaps(old);
    expect(old.db.prepare("SELECT wr FROM pragma_table_list WHERE name = 'gap_agents'").pluck().get()).to.equal(0);
    expect(old.db.prepare("SELECT state FROM gap_agents WHERE school = ? AND agent = 'gw-01'").pluck().get(S)).to.equal(big);
    // The upsert still finds the agent's row through the unique index: two writes leave one row.
    old.transaction((db) => putGapStates(db, [{ school: S, agent: 'gw-01', state: { recent: [], checkedSeq: 3 } }]));
    expect(old.db.prepare('SELECT state FROM gap_agents').pluck().all()).to.deep.equal([JSON.stringify({ recent: [], checkedSeq: 3 })]);
    await old.close();
  });
  it('an item of the state writer takes no more agents once its writes ran maxCommitWorkMs: the rest go in the next items, all written', async () => {
    const run = async (maxCommitWorkMs: number | undefined): Promise<number> => {
      const m = createGapsModule({ state, sink, tagsFor: () => tags, held: () => false, log: pino({ level: 'silent' }), now: () => now, heartbeatMs: 60_000, ...(maxCommitWorkMs !== undefined && { maxCommitWorkMs }) });
      const before = state.health().items;
      const agents = ['a1', 'a2', 'a3', 'a4'].map((a) => `${a}-${maxCommitWorkMs}`);
      await Promise.all(agents.map((a) => m.onAccepted?.({ school: S, reports: [rep(1, T0, a)], receivedAtMs: now })));
      await m.stop?.();
      expect(state.db.prepare('SELECT count(*) FROM gap_agents WHERE agent IN (?, ?, ?, ?)').pluck().get(...agents)).to.equal(4);
      return state.health().items - before;
    };
    // Besides the start/stop log's own items: one item for the four agents, against one per agent.
    const whole = await run(undefined);
    expect((await run(0)) - whole).to.equal(3);
  });
});
