import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { Evidence, evidenceLayout } from '../../../collector/views/compliance/evidence.js';
import { loadProfiles } from '../../../collector/views/compliance/profile.js';
import { LiveCompliance } from '../../../collector/views/compliance/live.js';
import { LivenessStore } from '../../../collector/views/liveness/store.js';
import { ViewsState } from '../../../collector/views/state.js';
import { NOW, inventory, ping, throughput, wan } from './harness.js';
import { PROTOCOL_VERSION, type Report } from '../../../protocol/index.js';

const report = (school: string, atMs: number): Report => ({
  v: PROTOCOL_VERSION, school, agent: 'gw', seq: 1, collectedAt: atMs, sentAt: atMs,
  measurements: [ping('internet', 0), ping('peer', 0, { rtt: 50 }), wan(1e9, 2e7), throughput(100), inventory('pc', 12)],
});

describe('collector/views state in the state database', () => {
  let dir: string;
  let db: StateDb;
  const log = pino({ level: 'silent' });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'campuslink-views-state-'));
    db = openStateDb({ stateDir: dir });
  });
  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('flushLiveness() upserts only the schools changed since the last flush, and loadLiveness() reads them back', async () => {
    const st = new ViewsState({ state: db, log, chunkRows: 64 });
    const store = new LivenessStore();
    for (let i = 0; i < 1000; i++) store.apply(`1640104${String(i).padStart(3, '0')}`, { lastReportMs: NOW - i, internetAtMs: NOW - i, internetLossPct: i % 3 ? 0 : 100, wanSpeedBps: i % 2 ? 1e8 : null, wanAtMs: i % 2 ? NOW - i : null, throughputMbps: i % 5 ? null : 9.5, throughputAtMs: i % 5 ? null : NOW - i });
    expect(await st.flushLiveness(store)).to.equal(1000);
    expect(await st.flushLiveness(store)).to.equal(0);
    store.apply('1640104007', { lastReportMs: NOW + 60_000, internetAtMs: NOW + 60_000, internetLossPct: 0, wanSpeedBps: 2e8, wanAtMs: NOW + 60_000 });
    expect(await st.flushLiveness(store)).to.equal(1);
    const back = new LivenessStore();
    expect(await new ViewsState({ state: db, log, chunkRows: 64 }).loadLiveness(back)).to.equal(1000);
    expect([...back.entries()]).to.deep.equal([...store.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    expect(back.isDirty).to.equal(false);
    st.close();
  });

  it('flushEvidence() saves each changed school as one blob; a layout of other profiles refuses the blobs', async () => {
    const profiles = loadProfiles('config/compliance');
    const st = new ViewsState({ state: db, log });
    const ev = new Evidence(evidenceLayout(profiles.values()));
    for (let i = 0; i < 300; i++) ev.apply(`1640104${String(i).padStart(3, '0')}`, report('x', NOW - i * 1_800_000), NOW - i * 1_800_000, NOW, '640000');
    expect(await st.flushEvidence(ev)).to.equal(300);
    ev.apply('1640104001', report('x', NOW), NOW, NOW);
    expect(await st.flushEvidence(ev)).to.equal(1);
    const back = new Evidence(evidenceLayout(profiles.values()));
    expect(await st.loadEvidence(back)).to.equal(300);
    const a = ev.source(NOW);
    const b = back.source(NOW);
    for (const w of [{ lastDays: 7 }, { schoolDays: 7, from: '08:00', to: '17:00' }]) {
      const span = ev.windows.span(w, NOW, '640000');
      expect(b('1640104001', 'ping_peer', w, span)).to.deep.equal(a('1640104001', 'ping_peer', w, span));
      expect(b('1640104001', 'inventory', w, span)).to.deep.equal(a('1640104001', 'inventory', w, span));
    }
    const week = { lastDays: 7 };
    expect(a('1640104001', 'throughput_down', week, ev.windows.span(week, NOW, '640000'))?.get('')).to.deep.equal({ v: 100 });
    const other = new Evidence(evidenceLayout([...profiles.values()].filter((p) => p.id === 'itu-2030')));
    expect(await st.loadEvidence(other)).to.equal(0);
    st.close();
  });

  it('LiveCompliance.saveDue() saves the changed evidence only every evidenceSaveIntervalMs; close() saves it always and marks it complete', async () => {
    let now = NOW;
    const st = new ViewsState({ state: db, log });
    const live = new LiveCompliance({ profiles: loadProfiles('config/compliance'), registry: () => ({ get: () => undefined }) as never, influx: {} as never, state: st, log, now: () => now, queryTimeoutMs: 1000, evidenceSaveIntervalMs: 600_000 });
    const rows = () => (db.db.prepare('SELECT count(*) AS n FROM views_evidence').get() as { n: number }).n;
    for (let i = 0; i < 5; i++) live.onReport(`1640106${i}`, report('x', now), now);
    expect(await live.saveDue()).to.equal(0);
    expect(rows()).to.equal(0);
    now += 600_000;
    expect(await live.saveDue()).to.equal(5);
    live.onReport('16401060', report('x', now), now);
    now += 60_000;
    expect(await live.saveDue()).to.equal(0);
    expect(await live.close(), 'the one school changed since the save').to.equal(1);
    expect(rows()).to.equal(5);
    expect(st.meta('evidence.complete')).to.equal('1');
    st.close();
  });

  it('flushLiveness() gives the event loop back after every chunk of chunkMs, and a flush after hurry() returns only once the earlier paced one wrote everything', async () => {
    // chunkMs 0: one row a chunk, whatever the machine's speed.
    const st = new ViewsState({ state: db, log, chunkMs: 0, loopShare: 0.01 });
    const store = new LivenessStore();
    const id = (i: number) => `1640105${String(i).padStart(3, '0')}`;
    for (let i = 0; i < 30; i++) store.apply(id(i), { lastReportMs: NOW, internetAtMs: NOW, internetLossPct: 0, wanSpeedBps: null, wanAtMs: null });
    let turns = 0;
    let running = true;
    const tick = () => {
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const paced = st.flushLiveness(store);
    await new Promise((r) => setTimeout(r, 5));
    store.apply(id(99), { lastReportMs: NOW, internetAtMs: NOW, internetLossPct: 0, wanSpeedBps: null, wanAtMs: null });
    st.hurry();
    const after = await st.flushLiveness(store);
    running = false;
    const count = (db.db.prepare('SELECT count(*) AS n FROM views_liveness').get() as { n: number }).n;
    expect([await paced, after, count]).to.deep.equal([30, 1, 31]);
    expect(turns).to.be.greaterThan(29);
    st.close();
  });
  it('flushLiveness() shrinks the next chunk when a chunk ran over chunkMs with its commit, and still writes every row', async () => {
    const st = new ViewsState({ state: db, log, chunkRows: 100, chunkMs: 5 });
    const store = new LivenessStore();
    for (let i = 0; i < 300; i++) store.apply(`1640106${String(i).padStart(3, '0')}`, { lastReportMs: NOW, internetAtMs: NOW, internetLossPct: 0, wanSpeedBps: null, wanAtMs: null });
    // A commit that takes 20 ms (a loaded disk): the rows' time bound alone does not see it.
    const inner = st as unknown as { write(work: () => void): void };
    const write = inner.write.bind(st);
    const sizes: number[] = [];
    const count = () => (db.db.prepare('SELECT count(*) AS n FROM views_liveness').get() as { n: number }).n;
    inner.write = (work) => {
      const before = count();
      write(work);
      const until = performance.now() + 20;
      while (performance.now() < until);
      sizes.push(count() - before);
    };
    expect(await st.flushLiveness(store, { paced: false })).to.equal(300);
    expect(count()).to.equal(300);
    expect(sizes.reduce((a, b) => a + b, 0)).to.equal(300);
    // Over 20 ms instead of 5: the next chunk takes at most a quarter of the rows, and never none (a loaded box can
    // make the first chunk itself only a few rows long).
    expect(sizes[1]).to.be.at.most(Math.max(1, Math.floor((sizes[0] as number) / 4)));
    st.close();
  });
});
