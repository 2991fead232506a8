import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { AlertStore } from '../../../collector/alerts/store.js';
import { openStateDb } from '../../../collector/state/db.js';
import { engineFor, internet, MIN, report, rules, seededRegistry } from './fixtures.js';

describe('alerts/store', () => {
  const { registry, schools } = seededRegistry(36);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cl-alert-store-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('flush() keeps firing alerts across a restart with their start time, and deletes them once resolved', async () => {
    const T = Date.parse('2026-11-23T09:00:00+08:00');
    const clock = { now: T };
    const rs = rules('rules:\n  - { id: off, kind: school_offline, forMin: 30, schoolHoursOnly: false }\n');
    const s = schools[0]!;
    let state = openStateDb({ stateDir: dir });
    let store = new AlertStore(state);
    const e = engineFor(registry, rs, clock);
    e.onReport(s.id, report(s.id, T, [internet(100)]), T);
    clock.now = T + 40 * MIN;
    const r = await e.sweep();
    store.note(r.fired, r.resolved);
    expect(await store.flush()).to.equal(1);
    await state.close();

    state = openStateDb({ stateDir: dir });
    store = new AlertStore(state);
    const saved = store.load();
    expect(saved.map((a) => [a.key, a.startsAtMs, a.labels.school])).to.deep.equal([[`off|${s.id}`, T + 40 * MIN, s.id]]);
    const again = engineFor(registry, rs, clock);
    again.restore(saved);
    again.onReport(s.id, report(s.id, T + 41 * MIN, [internet(0)]), T + 41 * MIN);
    clock.now = T + 42 * MIN;
    const back = await again.sweep();
    expect(back.resolved.map((a) => a.startsAtMs)).to.deep.equal([T + 40 * MIN]);
    store.note(back.fired, back.resolved);
    await store.flush();
    expect(store.load()).to.have.length(0);
    await state.close();
  });

  it('the engine raises at most maxActive alerts and counts the rest as dropped', async () => {
    const clock = { now: Date.now() };
    const e = engineFor(registry, rules('rules:\n  - { id: off, kind: school_offline, includeNeverSeen: true, schoolHoursOnly: false }\n'), clock, { maxActive: 5 });
    const r = await e.sweep();
    expect(r.fired).to.have.length(5);
    expect(r.dropped).to.equal(31);
    expect(e.active.size).to.equal(5);
  });
});
