import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { LiveRegistry, RegistryError, bundledDivisions, watchRegistry, type Registry, type RegistryChange } from '../../../collector/registry/index.js';
import { realRegistryCsv } from '../../../bench/registry-divisions.bench.js';
import { toCsv, school } from './fixtures.js';

describe('collector/registry/live', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'campuslink-reg-'));
    path = join(dir, 'schools.csv');
    writeFileSync(path, toCsv([school(1), school(2)]));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reload() of the same file changes nothing, not even the registry object', () => {
    const live = new LiveRegistry({ path });
    const first = live.current();
    expect(live.reload()).to.deep.equal({ status: 'unchanged' });
    writeFileSync(path, toCsv([school(2), school(1)]));
    expect(live.reload()).to.deep.equal({ status: 'unchanged' });
    expect(live.current()).to.equal(first);
  });

  it('reload() of a changed file replaces the registry and emits change with what changed', () => {
    const live = new LiveRegistry({ path });
    const changes: RegistryChange[] = [];
    live.on('change', (c) => changes.push(c));
    writeFileSync(path, toCsv([school(1, { contracted_mbps: '500' }), school(3)]));
    expect(live.reload()).to.deep.equal({ status: 'reloaded', schools: 2, added: 1, removed: 1, changed: 1 });
    expect(changes).to.have.length(1);
    expect(live.tagsFor('1640104003')).to.include({ county: '640104' });
    expect(live.get('1640104002')).to.equal(undefined);
  });

  it('a bad new file keeps the registry in force and logs every problem with line and column', () => {
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (s: string) => void lines.push(s) });
    const live = new LiveRegistry({ path, log });
    writeFileSync(path, toCsv([school(1, { contracted_mbps: 'abc' }), school(2, { lat: '1' })]));
    const out = live.reload();
    expect(out.status).to.equal('rejected');
    expect((out as { error: RegistryError }).error.total).to.equal(2);
    expect(live.get('1640104002')).to.not.equal(undefined);
    const logged = JSON.parse(lines[0] as string) as { problems: string[]; code: string };
    expect(logged.code).to.equal('COL_ERR_REGISTRY_INVALID');
    expect(logged.problems).to.have.length(2);
    expect(logged.problems[0]).to.match(/schools\.csv:2 column contracted_mbps/);
  });

  it('watchRegistry() picks up a file replaced by rename without a restart', async function () {
    this.timeout(10_000);
    const w = watchRegistry({ path, pollIntervalMs: 50 });
    try {
      const changed = new Promise<RegistryChange>((res) => w.registry.once('change', res));
      const tmp = join(dir, 'new.csv');
      writeFileSync(tmp, toCsv([school(1), school(2), school(4)]));
      const { renameSync } = await import('node:fs');
      renameSync(tmp, path);
      const c = await changed;
      expect(c.added).to.equal(1);
      expect(w.registry.current().schools.size).to.equal(3);
    } finally {
      w.close();
    }
  });

  it('refresh() parses a large file off the event loop: an interval keeps ticking, and readers see the old or the new registry, never a mix', async function () {
    this.timeout(60_000);
    const big = realRegistryCsv(60_000);
    writeFileSync(path, big);
    const divisions = bundledDivisions();
    const live = new LiveRegistry({ path, load: { divisions } });
    const old = live.current();
    // The new file: one school more, one school gone, one with another bandwidth.
    const lines = big.split('\n');
    const gone = lines[1]!.split(',')[0]!;
    const added = `${lines[2]!.slice(0, 7)}999${lines[2]!.slice(10)}`;
    const changedId = lines[3]!.split(',')[0]!;
    lines[3] = lines[3]!.replace(',fiber,100,', ',fiber,300,');
    writeFileSync(path, [lines[0], ...lines.slice(2), added].join('\n'));
    const addedId = added.split(',')[0]!;
    const seen = new Set<Registry>();
    let ticks = 0;
    let mixed = 0;
    const timer = setInterval(() => {
      ticks++;
      const reg = live.current();
      seen.add(reg);
      // A whole registry: the school added is there exactly when the school removed is not.
      if ((reg.get(addedId) === undefined) !== (reg.get(gone) !== undefined)) mixed++;
      if ((reg.get(changedId)?.contractedMbps === 300) !== (reg.get(addedId) !== undefined)) mixed++;
    }, 1);
    let outcome;
    try {
      outcome = await live.refresh();
    } finally {
      clearInterval(timer);
    }
    expect(outcome).to.deep.equal({ status: 'reloaded', schools: 60_000, added: 1, removed: 1, changed: 1 });
    // A synchronous parse of 60,000 rows would let no tick run until it is done.
    expect(ticks).to.be.greaterThan(20);
    expect(mixed).to.equal(0);
    seen.add(live.current());
    expect([...seen]).to.have.members([old, live.current()]);
    expect(live.current().get(addedId)?.hubSchoolId).to.equal(null);
    expect(live.current().extra.edition).to.equal(divisions.edition);
  });

  it('refresh() of a bad file keeps the registry in force and logs every problem, as reload() does', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (s: string) => void lines.push(s) });
    const live = new LiveRegistry({ path, log });
    const rejected: RegistryError[] = [];
    live.on('rejected', (e) => rejected.push(e));
    const before = live.current();
    writeFileSync(path, toCsv([school(1, { contracted_mbps: 'abc' }), school(2, { lat: '1' })]));
    const out = await live.refresh();
    expect(out.status).to.equal('rejected');
    expect((out as { error: RegistryError }).error).to.be.instanceOf(RegistryError);
    expect((out as { error: RegistryError }).error.total).to.equal(2);
    expect(rejected).to.have.length(1);
    expect(live.current()).to.equal(before);
    const logged = JSON.parse(lines[0] as string) as { problems: string[]; code: string; msg: string };
    expect(logged).to.include({ code: 'COL_ERR_REGISTRY_INVALID', msg: 'registry file changed but is invalid; keeping the registry in force' });
    expect(logged.problems).to.have.length(2);
    expect(logged.problems[0]).to.match(/schools\.csv:2 column contracted_mbps/);
    expect(logged.problems[1]).to.match(/schools\.csv:3 column lat/);
  });

  it('refresh() of the same bytes changes nothing; of a reordered file keeps the registry object; an unreadable file is refused', async () => {
    const live = new LiveRegistry({ path });
    const first = live.current();
    expect(await live.refresh()).to.deep.equal({ status: 'unchanged' });
    writeFileSync(path, toCsv([school(2), school(1)]));
    expect(await live.refresh()).to.deep.equal({ status: 'unchanged' });
    expect(live.current()).to.equal(first);
    rmSync(path);
    const out = await live.refresh();
    expect(out.status).to.equal('rejected');
    expect((out as { error: RegistryError }).error.message).to.match(/cannot read the file/);
    expect(live.current()).to.equal(first);
  });

  it('refresh() while one runs is coalesced into one more run that sees the latest file', async () => {
    const live = new LiveRegistry({ path });
    writeFileSync(path, toCsv([school(1), school(2), school(3)]));
    const a = live.refresh();
    writeFileSync(path, toCsv([school(1), school(2), school(3), school(4)]));
    const b = live.refresh();
    const c = live.refresh();
    expect(b).to.equal(c);
    expect(b).to.not.equal(a);
    // The first run may have read either file; the second starts after it and reads the last one.
    expect(await a).to.include({ status: 'reloaded' });
    await b;
    expect(live.current().schools.size).to.equal(4);
  });

  it('close() stops a refresh in progress: the registry in force stays', async () => {
    writeFileSync(path, realRegistryCsv(30_000));
    const live = new LiveRegistry({ path });
    const before = live.current();
    writeFileSync(path, realRegistryCsv(30_001));
    const out = live.refresh();
    live.close();
    expect(await out).to.deep.equal({ status: 'unchanged' });
    expect(live.current()).to.equal(before);
    expect(await live.refresh()).to.deep.equal({ status: 'unchanged' });
  });

  it('refresh() gives the registry reload() gives: the built-in code changes refuse a retired county in both', async () => {
    const a = new LiveRegistry({ path });
    const b = new LiveRegistry({ path });
    const retired = school(9, { province_code: '410000', province_name: '河南省', city_code: '410300', city_name: '洛阳市', county_code: '410381', county_name: '偃师市', school_id: '1410381009' });
    writeFileSync(path, toCsv([school(1), school(3, { hub_school_id: '1640104001' }), retired]));
    expect(a.reload()).to.include({ status: 'reloaded' });
    expect(await b.refresh()).to.include({ status: 'reloaded' });
    expect(b.current().extra.refusedRows).to.equal(1);
    expect(b.current().extra.problems[0]?.message).to.match(/410381 \(偃师市\) was abolished on 2021-03-01/);
    expect(b.current()).to.deep.equal(a.current());
  });
});
