import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createApp } from '../../../collector/http/app.js';
import { createInventoryModule, type InventoryModule } from '../../../collector/inventory/index.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import type { Device, DeviceEvents, Report } from '../../../protocol/index.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { T0, makeReport } from '../../helpers/reports.js';

const SCHOOL = '1640104001';
const OTHER = '1640104002';
const log = pino({ level: 'silent' });
const dev = (mac: string, cls: Device['class'], over: Partial<Device> = {}): Device => ({ mac, class: cls, firstSeen: T0, lastSeen: T0, ...over });

describe('collector/inventory', () => {
  let dir: string;
  let server: Server | undefined;
  let base: string;
  let mod: InventoryModule;
  let state: StateDb;

  const start = async (): Promise<void> => {
    state = openStateDb({ stateDir: dir });
    mod = createInventoryModule({ state, log, now: () => T0, registry: { get: (id: string) => (id === SCHOOL || id === OTHER ? { id } : undefined) } });
    await mod.start?.();
    const app = createApp({
      sink: new MemorySink(),
      tokens: { verify: (t) => (t === 'good' ? { id: 'aaa', school: SCHOOL, sha256: 'x', issuedAt: '' } : undefined) },
      schools: { tagsFor: (id) => (id === SCHOOL ? { school: id, province: '640000', city: '640100', county: '640104', link: 'fiber' } : undefined) },
      log,
      now: () => T0 + 5000,
      maxBodyBytes: 1 << 20,
      retryAfterS: 1,
      modules: [mod],
    });
    server = await new Promise((res) => {
      const s = app.listen(0, '127.0.0.1', () => res(s));
    });
    base = `http://127.0.0.1:${(server?.address() as AddressInfo).port}`;
  };
  const stop = async (): Promise<void> => {
    await mod.stop?.();
    await state.close();
    await new Promise((r) => server?.close(r));
  };
  const post = (reports: Report[]) =>
    fetch(`${base}/api/v1/reports`, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, body: JSON.stringify({ reports }) });
  const report = (seq: number, devices: Partial<DeviceEvents>, agent = 'gw-01'): Report => makeReport({ seq, agent, devices: { full: false, added: [], removed: [], ...devices } });
  const list = async (q = '') => (await fetch(`${base}/api/v1/schools/${SCHOOL}/devices${q}`)).json() as Promise<{ school: string; updatedAt: number | null; count: number; devices: (Device & { agent: string })[] }>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'collector-inventory-'));
    await start();
  });
  afterEach(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('devices reported by a gateway whose clock is at 1970 are kept, with their times on the corrected clock', async () => {
    const r = { ...report(1, { full: true, added: [dev('00:1a:2b:3c:4d:5e', 'pc', { firstSeen: 30_000, lastSeen: 60_000 })] }), collectedAt: 60_000, sentAt: 65_000 };
    expect((await post([r])).status).to.equal(200);
    const shift = Math.round((T0 + 5000 - 65_000) / 1000) * 1000;
    const l = await list();
    expect(l.devices.map((d) => [d.mac, d.firstSeen, d.lastSeen])).to.deep.equal([['00:1a:2b:3c:4d:5e', 30_000 + shift, 60_000 + shift]]);
  });

  it('a full list replaces, and later added/removed events change it, in seq order within a batch', async () => {
    const r = await post([
      report(2, { added: [dev('00:00:00:00:00:03', 'pc')], removed: ['00:00:00:00:00:01'] }),
      report(1, { full: true, added: [dev('00:00:00:00:00:01', 'ap'), dev('00:00:00:00:00:02', 'camera')] }),
    ]);
    expect(r.status).to.equal(200);
    const body = await list();
    expect(body).to.deep.include({ school: SCHOOL, updatedAt: T0 + 5000, count: 2 });
    expect(body.devices.map((d) => [d.mac, d.class, d.agent])).to.deep.equal([
      ['00:00:00:00:00:02', 'camera', 'gw-01'],
      ['00:00:00:00:00:03', 'pc', 'gw-01'],
    ]);
  });

  it('a replayed older batch does not undo later changes, but a full list always applies', async () => {
    await post([report(1, { full: true, added: [dev('00:00:00:00:00:01', 'ap')] })]);
    await post([report(2, { removed: ['00:00:00:00:00:01'] })]);
    await post([report(1, { added: [dev('00:00:00:00:00:09', 'pc')] })]);
    expect((await list()).count).to.equal(0);
    // A reinstalled agent starts its sequence again, with a full list.
    await post([report(1, { full: true, added: [dev('00:00:00:00:00:05', 'printer')] })]);
    expect((await list()).devices.map((d) => d.mac)).to.deep.equal(['00:00:00:00:00:05']);
  });

  it('lists of two agents of one school are merged, the latest sighting of a MAC winning', async () => {
    await post([report(1, { full: true, added: [dev('00:00:00:00:00:01', 'unknown'), dev('00:00:00:00:00:02', 'pc')] }, 'gw-01')]);
    await post([report(1, { full: true, added: [dev('00:00:00:00:00:01', 'ap', { lastSeen: T0 + 1 })] }, 'sw-core')]);
    const body = await list();
    expect(body.devices.map((d) => [d.mac, d.class, d.agent])).to.deep.equal([
      ['00:00:00:00:00:01', 'ap', 'sw-core'],
      ['00:00:00:00:00:02', 'pc', 'gw-01'],
    ]);
  });

  it('GET …/devices?class= filters, and refuses an unknown class with 400', async () => {
    await post([report(1, { full: true, added: [dev('00:00:00:00:00:01', 'ap'), dev('00:00:00:00:00:02', 'camera')] })]);
    expect((await list('?class=ap')).devices.map((d) => d.mac)).to.deep.equal(['00:00:00:00:00:01']);
    const bad = await fetch(`${base}/api/v1/schools/${SCHOOL}/devices?class=toaster`);
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).to.equal('COL_ERR_INVALID_QUERY');
  });

  it('GET …/devices answers 404 in the catalogue shape for an unregistered school, and an empty list for a silent one', async () => {
    const r = await fetch(`${base}/api/v1/schools/9999999999/devices`);
    expect(r.status).to.equal(404);
    expect(((await r.json()) as { error: { code: string } }).error.code).to.equal('COL_ERR_NOT_FOUND');
    const silent = (await (await fetch(`${base}/api/v1/schools/${OTHER}/devices`)).json()) as object;
    expect(silent).to.deep.equal({ school: OTHER, updatedAt: null, count: 0, devices: [] });
  });

  it('the list survives a restart: a new module on the same stateDir serves the same devices', async () => {
    await post([report(1, { full: true, added: [dev('00:00:00:00:00:01', 'ap'), dev('00:00:00:00:00:02', 'display')] })]);
    const before = await list();
    await stop();
    const peek = openStateDb({ stateDir: dir });
    const rows = peek.db.prepare('SELECT school, agent, last_seq FROM inventory_agents').all();
    await peek.close();
    expect(rows).to.deep.equal([{ school: SCHOOL, agent: 'gw-01', last_seq: 1 }]);
    await start();
    expect(await list()).to.deep.equal(before);
    // And it keeps applying after the restart, honouring the saved sequence.
    await post([report(1, { removed: ['00:00:00:00:00:01'] })]);
    expect((await list()).count).to.equal(2);
  });
});

describe('collector/inventory: lists read per school', () => {
  it('reads a school from the state database when needed, also after it left the bounded cache, and loses no change of it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'collector-inventory-'));
    const state = openStateDb({ stateDir: dir });
    const ctx = { state, log, now: () => T0, registry: { get: () => ({}) } };
    const a = createInventoryModule(ctx, { maxCachedSchools: 2 });
    const ids = ['1640104001', '1640104002', '1640104003', '1640104004'];
    for (const [i, school] of ids.entries()) {
      await a.onAccepted?.({ school, reports: [makeReport({ school, seq: 1, devices: { full: true, added: [dev(`00:00:00:00:00:0${i}`, 'pc')], removed: [] } })], receivedAtMs: T0 });
    }
    // The first school left the cache; a change to it reads it back first and keeps its earlier device.
    await a.onAccepted?.({ school: ids[0] as string, reports: [makeReport({ school: ids[0] as string, seq: 2, devices: { full: false, added: [dev('00:00:00:00:00:09', 'ap')], removed: [] } })], receivedAtMs: T0 });
    expect(a.devices(ids[0] as string)?.map((d) => d.mac)).to.deep.equal(['00:00:00:00:00:00', '00:00:00:00:00:09']);
    await a.stop?.();
    // A new module reads nothing at start and finds every list when asked.
    state.db.prepare("INSERT INTO inventory_agents (school, agent, last_seq, updated_at_ms, devices) VALUES ('1640104005', 'gw-01', 1, 0, 'not json')").run();
    const b = createInventoryModule(ctx);
    await b.start?.();
    expect(ids.map((id) => b.devices(id)?.length)).to.deep.equal([2, 1, 1, 1]);
    expect(b.devices('1640104005')).to.deep.equal([]);
    expect(b.devices('1640104006')).to.equal(undefined);
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
