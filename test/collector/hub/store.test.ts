import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { HubRollupStore, parentOf } from '../../../collector/hub/store.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { rollupBatchSchema, rollupSchema } from '../../../protocol/rollup.js';
import { T0, makeRollup, region } from './fixtures.js';

describe('collector/hub/store', () => {
  let dir: string;
  let state: StateDb;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hub-store-'));
    state = openStateDb({ stateDir: dir, checkpointIntervalMs: 0 });
  });
  afterEach(async () => {
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the latest regions per province, with the tree (folded counties under the province)', async () => {
    const store = HubRollupStore.open({ state });
    const changed: string[] = [];
    store.onChange((p) => changed.push(p));
    await store.apply(makeRollup('32'), T0 + 100);
    await store.apply(makeRollup('11', { collector: 'prov-11b' }), T0 + 200);
    expect(changed).to.deep.equal(['32', '11']);
    expect(store.children('').map((r) => r.region)).to.deep.equal(['110000', '320000']);
    expect(store.children('320000').map((r) => r.region)).to.deep.equal(['320100', '329001']);
    expect(store.children('320100').map((r) => r.region)).to.deep.equal(['320102', '320103']);
    expect(store.children('320102')).to.deep.equal([]);
    const county = store.latest('320102');
    expect(county).to.include({ region: '320102', level: 'county', province: '32', asOf: T0, receivedAt: T0 + 100, registered: 4, online: 3, offline: 1, neverSeen: 0 });
    expect(county?.compliance).to.deep.equal({ 'cn-bb-02': { pass: 3, fail: 1, unknown: 0 } });
    expect(store.latest('330000')).to.equal(undefined);
    expect(store.feeds()).to.deep.equal([
      { province: '11', collector: 'prov-11b', asOf: T0, receivedAt: T0 + 200, consoleUrl: 'https://collector-11.example/console', lastSeq: 1 },
      { province: '32', collector: 'prov-32', asOf: T0, receivedAt: T0 + 100, consoleUrl: 'https://collector-32.example/console', lastSeq: 1 },
    ]);
  });

  it('a newer roll-up replaces the province set (a county gone disappears); an older one only moves the feed', async () => {
    const store = HubRollupStore.open({ state });
    await store.apply(makeRollup('32'), T0 + 100);
    const newer = makeRollup('32', { seq: 2, asOf: T0 + 60_000 }, [5, 2, 1]);
    newer.regions = newer.regions.filter((g) => g.region !== '320103');
    expect(await store.apply(newer, T0 + 60_100)).to.deep.equal({ replaced: true });
    expect(store.latest('320102')?.online).to.equal(5);
    expect(store.latest('320103')).to.equal(undefined);
    expect(store.children('320100').map((r) => r.region)).to.deep.equal(['320102']);
    expect(await store.apply(makeRollup('32', { seq: 3, asOf: T0 + 30_000 }, [9, 9, 9]), T0 + 70_000)).to.deep.equal({ replaced: false });
    expect(store.latest('320102')?.online).to.equal(5);
    expect(store.feeds()[0]).to.include({ asOf: T0 + 60_000, receivedAt: T0 + 70_000, lastSeq: 3 });
  });

  it('roll-ups of one batch applied together: the newest as-of wins in memory and in the row, whatever the order', async () => {
    const store = HubRollupStore.open({ state });
    await Promise.all([store.apply(makeRollup('32', { seq: 2, asOf: T0 + 60_000 }, [7, 1, 1]), T0 + 100), store.apply(makeRollup('32', { seq: 1, asOf: T0 }, [1, 1, 1]), T0 + 100)]);
    expect(store.latest('320102')?.online).to.equal(7);
    expect(store.feeds()[0]).to.include({ asOf: T0 + 60_000, lastSeq: 2 });
    await state.close();
    state = openStateDb({ stateDir: dir, checkpointIntervalMs: 0 });
    const again = HubRollupStore.open({ state });
    expect(again.latest('320102')?.online).to.equal(7);
    expect(again.feeds()[0]).to.include({ asOf: T0 + 60_000, lastSeq: 2 });
  });

  it('survives a restart from the state database, and skips a damaged row naming it', async () => {
    const store = HubRollupStore.open({ state });
    await store.apply(makeRollup('32', { seq: 7 }), T0 + 100);
    await store.apply(makeRollup('11'), T0 + 100);
    await state.close();
    state = openStateDb({ stateDir: dir, checkpointIntervalMs: 0 });
    state.db.prepare("UPDATE hub_provinces SET regions = '{oops' WHERE province = '11'").run();
    const problems: string[] = [];
    const again = HubRollupStore.open({ state, problems });
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^hub_provinces 11: /);
    expect(again.feeds().map((f) => [f.province, f.lastSeq])).to.deep.equal([['32', 7]]);
    expect(again.latest('329001')).to.include({ online: 1, offline: 1, receivedAt: T0 + 100 });
    expect(again.children('320000').map((r) => r.region)).to.deep.equal(['320100', '329001']);
  });

  it('a listener that throws does not stop the others or the apply', async () => {
    const errors: unknown[] = [];
    const store = HubRollupStore.open({ state, onListenerError: (e) => errors.push(e) });
    const seen: string[] = [];
    store.onChange(() => {
      throw new Error('boom');
    });
    const off = store.onChange((p) => seen.push(p));
    await store.apply(makeRollup('32'), T0);
    off();
    await store.apply(makeRollup('32', { seq: 2 }), T0);
    expect(seen).to.deep.equal(['32']);
    expect(errors).to.have.length(2);
  });

  it('parentOf: 东莞-style county that is its own city hangs under the province', () => {
    expect(parentOf('441900', 'county', () => true)).to.equal('440000');
    expect(parentOf('320102', 'county', (c) => c === '320100')).to.equal('320100');
    expect(parentOf('110101', 'county', () => false)).to.equal('110000');
    expect(parentOf('320100', 'city', () => true)).to.equal('320000');
    expect(parentOf('320000', 'province', () => true)).to.equal('');
  });
});

describe('protocol/rollup', () => {
  it('accepts a consistent roll-up', () => {
    expect(rollupSchema.safeParse(makeRollup('32')).success).to.equal(true);
  });

  it('says what is wrong: counts that do not add up, a region of another province, a duplicate, no province, a null rate without reason', () => {
    const r = makeRollup('32');
    r.regions[2] = { ...region('320102', 'county', 3, 1), registered: 5 };
    r.regions.push(region('330102', 'county', 1), region('320103', 'county', 1));
    r.regions[0] = { ...region('320000', 'city', 1), schoolHoursOnlinePct: null };
    const res = rollupSchema.safeParse(r);
    expect(res.success).to.equal(false);
    const msgs = res.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(msgs).to.include.members([
      'regions.2.registered: must equal online + offline + neverSeen (3 + 1 + 0)',
      'regions.5.region: 330102 is not in province 32',
      'regions.6.region: duplicate region 320103 (also regions.3)',
      'regions.0.region: 320000 is not a city-level code',
      'regions.0.schoolHoursUnknownReason: is required when schoolHoursOnlinePct is null',
      'regions: must hold exactly one province-level region, 320000',
    ]);
  });

  it('a batch holds roll-ups of one province collector', () => {
    const res = rollupBatchSchema.safeParse({ rollups: [makeRollup('32'), makeRollup('11')] });
    expect(res.success).to.equal(false);
    expect(res.error?.issues.map((i) => i.path.join('.'))).to.deep.equal(['rollups.1.collector']);
  });
});
