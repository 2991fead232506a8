import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { AlertBoard } from '../../../collector/alerts/board.js';
import { MaintenanceStore } from '../../../collector/alerts/maintenance.js';
import { openStateDb } from '../../../collector/state/db.js';
import { engineFor, internet, MIN, report, rules, seededRegistry } from './fixtures.js';

const T = Date.parse('2026-11-23T09:00:00+08:00');

describe('alerts/maintenance', () => {
  const { registry, schools } = seededRegistry(36);
  const [a, b] = schools.filter((s) => s.county === schools[0]!.county);
  const elsewhere = schools.find((s) => s.county !== schools[0]!.county)!;
  const offlineRule = rules('rules:\n  - { id: off, kind: school_offline, forMin: 30 }\n');

  const setup = () => {
    const clock = { now: T };
    const state = openStateDb({ stateDir: mkdtempSync(join(tmpdir(), 'cl-maint-')) });
    const store = new MaintenanceStore(state, () => clock.now);
    const e = engineFor(registry, offlineRule, clock, { maintenance: store });
    for (const s of [a!, b!, elsewhere]) {
      e.onReport(s.id, report(s.id, T, [internet(0)]), T);
      e.onReport(s.id, report(s.id, T + MIN, [internet(100)]), T + MIN);
    }
    return { clock, state, store, e };
  };

  it('sweep() raises no alert for a school inside a maintenance window of its county, raises it once the window ended, and alerts other counties as usual', async () => {
    const { clock, store, e } = setup();
    store.add({ target: a!.county, startsMs: T, endsMs: T + 60 * MIN, reason: 'fibre works', createdBy: 'api:noc' });
    clock.now = T + 31 * MIN;
    const during = await e.sweep();
    expect(during.fired.map((x) => x.labels.school)).to.deep.equal([elsewhere.id]);
    clock.now = T + 61 * MIN;
    const after = await e.sweep();
    expect(after.fired.map((x) => x.labels.school).sort()).to.deep.equal([a!.id, b!.id].sort());
  });

  it('a window for one school silences only that school, and end() lifts it at once', async () => {
    const { clock, store, e } = setup();
    const w = store.add({ target: a!.id, startsMs: T, endsMs: T + 600 * MIN, reason: 'router swap', createdBy: 'api:noc' });
    clock.now = T + 31 * MIN;
    expect((await e.sweep()).fired.map((x) => x.labels.school).sort()).to.deep.equal([b!.id, elsewhere.id].sort());
    expect(store.end(w.id)).to.equal(true);
    clock.now = T + 32 * MIN;
    expect((await e.sweep()).fired.map((x) => x.labels.school)).to.deep.equal([a!.id]);
  });

  it('windows survive a restart (state database) and ended ones stop silencing', async () => {
    const { clock, state, store } = setup();
    store.add({ target: '000000', startsMs: T, endsMs: T + 10 * MIN, reason: 'national upgrade', createdBy: 'cli:root' });
    const again = new MaintenanceStore(state, () => clock.now);
    expect(again.isInMaintenance({ school: a!.id, county: a!.county }, T + 5 * MIN)).to.equal(true);
    expect(again.isInMaintenance({ school: a!.id, county: a!.county }, T + 10 * MIN)).to.equal(false);
  });

  it('AlertBoard keeps an acknowledgement with the firing alert and moves both to the resolved history when it resolves', async () => {
    const { clock, state, e } = setup();
    const board = new AlertBoard(state, () => e.active, () => clock.now);
    clock.now = T + 31 * MIN;
    await e.sweep();
    const key = [...e.active.keys()].find((k) => k.includes(a!.id))!;
    expect(await board.acknowledge(key, 'xingqing-noc')).to.not.equal(undefined);
    const firing = await board.items({ region: '000000', state: 'acknowledged', limit: 100, scope: '000000' });
    expect(firing.items.map((i) => [i.key, i.state, i.ack?.by])).to.deep.equal([[key, 'firing', 'xingqing-noc']]);
    e.onReport(a!.id, report(a!.id, T + 32 * MIN, [internet(0)]), T + 32 * MIN);
    clock.now = T + 33 * MIN;
    const r = await e.sweep();
    board.note(r.fired, r.resolved);
    await board.flushed();
    const resolved = await new AlertBoard(state, () => e.active, () => clock.now).items({ region: a!.county, state: 'resolved', limit: 100, scope: '000000' });
    expect(resolved.items.map((i) => [i.key, i.state, i.ack?.by, i.endsAt])).to.deep.equal([[key, 'resolved', 'xingqing-noc', new Date(T + 33 * MIN).toISOString()]]);
  });
});
