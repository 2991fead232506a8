/** The liveness store's flat columns fold facts exactly as mergeLiveness() does, and hand out copies. */
import { expect } from 'chai';
import { LivenessStore, mergeLiveness, type Liveness } from '../../../../collector/views/liveness/store.js';

const T = 1_780_000_000_000;

/** A small deterministic generator (tests must not depend on Math.random). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random facts with every field sometimes null, times out of order, and a proxy now and then. */
function facts(r: () => number): Liveness {
  const at = T + Math.floor(r() * 50) * 60_000;
  const pick = <V>(v: V): V | null => (r() < 0.35 ? null : v);
  const internetAtMs = pick(at - Math.floor(r() * 3) * 60_000);
  const wanAtMs = pick(at);
  const throughputAtMs = r() < 0.5 ? undefined : pick(at - 120_000);
  return {
    lastReportMs: at,
    internetAtMs,
    internetLossPct: internetAtMs === null ? null : Math.floor(r() * 101),
    wanSpeedBps: wanAtMs === null ? null : 1e8 * Math.ceil(r() * 10),
    wanAtMs,
    ...(throughputAtMs !== undefined && { throughputAtMs, throughputMbps: throughputAtMs === null ? null : Math.round(r() * 1000) / 10 }),
    ...(internetAtMs !== null && r() < 0.2 && { via: `proxy-${Math.floor(r() * 3)}` }),
  };
}

/** What the store must answer: mergeLiveness() folded, with absent throughput as null. */
const normal = (l: Liveness): Liveness => {
  const { via, ...rest } = l;
  return { ...rest, throughputMbps: l.throughputMbps ?? null, throughputAtMs: l.throughputAtMs ?? null, ...(via && { via }) };
};

describe('collector/views/liveness: the store in flat columns', () => {
  it('folds 20,000 random facts over 300 schools into what mergeLiveness() gives, field by field', () => {
    const r = rng(11);
    const store = new LivenessStore();
    const ref = new Map<string, Liveness>();
    for (let k = 0; k < 20_000; k++) {
      const school = `64010${String(Math.floor(r() * 300)).padStart(5, '0')}`;
      const f = facts(r);
      store.apply(school, f);
      ref.set(school, mergeLiveness(ref.get(school), f));
    }
    expect(store.size).to.equal(ref.size);
    for (const [school, l] of ref) expect(store.get(school), school).to.deep.equal(normal(l));
    expect(new Map(store.entries())).to.deep.equal(new Map([...ref].map(([s, l]) => [s, normal(l)])));
  });

  it('restore() puts a saved liveness back as it was, nulls included, without marking it changed', () => {
    const store = new LivenessStore();
    const saved: Liveness = { lastReportMs: T, internetAtMs: null, internetLossPct: null, wanSpeedBps: 1e9, wanAtMs: T, throughputMbps: null, throughputAtMs: null };
    store.restore('1640104001', saved);
    expect(store.get('1640104001')).to.deep.equal(saved);
    expect(store.isDirty).to.equal(false);
    expect(store.get('1640104002')).to.equal(undefined);
  });

  it('get() hands out a copy: changing it does not change the store', () => {
    const store = new LivenessStore();
    store.apply('1640104001', { lastReportMs: T, internetAtMs: T, internetLossPct: 0, wanSpeedBps: null, wanAtMs: null });
    const got = store.get('1640104001') as Liveness;
    got.internetLossPct = 100;
    got.lastReportMs = 0;
    expect(store.get('1640104001')).to.include({ internetLossPct: 0, lastReportMs: T });
  });

  it('takeDirty() names each changed school once, forgets them, and markDirty() brings back only known schools', () => {
    const store = new LivenessStore();
    for (let i = 0; i < 2000; i++) store.apply(`s${i % 1500}`, { lastReportMs: T + i, internetAtMs: null, internetLossPct: null, wanSpeedBps: null, wanAtMs: null });
    const d = store.takeDirty();
    expect(d.size).to.equal(1500);
    expect(d.has('s0') && d.has('s1499')).to.equal(true);
    expect(store.isDirty).to.equal(false);
    expect(store.takeDirty().size).to.equal(0);
    store.markDirty(['s3', 'nope', 's3']);
    expect([...store.takeDirty()]).to.deep.equal(['s3']);
    expect(store.get('s499')?.lastReportMs).to.equal(T + 1999);
  });
});
