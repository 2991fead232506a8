/** The one-time import of an older collector's JSON state files, in today's formats. */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { TokenStore } from '../../../collector/auth/tokens.js';
import { ViewerStore } from '../../../collector/auth/viewers.js';
import { createGapsModule } from '../../../collector/gaps/module.js';
import { DedupeStore } from '../../../collector/ingest/dedupe.js';
import { createInventoryModule } from '../../../collector/inventory/index.js';
import { serializeSchool } from '../../../collector/inventory/store.js';
import { openStateDb } from '../../../collector/state/db.js';
import { readObjectEntries } from '../../../collector/state/json-stream.js';
import { importLegacyState } from '../../../collector/state/legacy.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { T0 } from '../../helpers/reports.js';

const S = '1640104001';
const MIN = 60_000;
const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

function captureLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  return { log, lines };
}

/** A state directory as a collector before the state database left it. */
function oldStateDir(): { dir: string; token: string; password: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cl-legacy-'));
  const token = 'clk1_' + 'A'.repeat(43);
  const password = 'old-viewer-password';
  writeFileSync(join(dir, 'tokens.json'), JSON.stringify({ version: 1, tokens: [{ id: sha(token).slice(0, 12), school: S, sha256: sha(token), issuedAt: '2026-11-01T00:00:00.000Z' }] }, null, 2));
  writeFileSync(join(dir, 'viewers.json'), JSON.stringify({ version: 1, viewers: [{ name: 'nx-edu', sha256: sha(password), issuedAt: '2026-11-01T00:00:00.000Z' }] }));
  // Compacted lines from the last start, appended batches since, and a line torn by a crash.
  writeFileSync(
    join(dir, 'dedupe.log'),
    [`{"s":"${S}","a":"gw-01","h":40,"q":[45]}`, `{"s":"${S}","a":"gw-01","q":[41,42]}`, `{"s":"${S}","a":"sw-01","h":3,"q":[]}`, `{"s":"${S}","a":"gw-01","q":[99`].join('\n'),
  );
  mkdirSync(join(dir, 'gaps'));
  const times = Array.from({ length: 3000 }, (_, i) => [i + 1, T0 + i * MIN]);
  writeFileSync(join(dir, 'gaps', 'agents.json'), JSON.stringify({ [`${S}/gw-01`]: { times, intervalMs: MIN, checkedSeq: 3000 } }));
  writeFileSync(join(dir, 'gaps', 'lifelog.json'), JSON.stringify({ downtimes: [{ fromMs: T0 - 10 * MIN, toMs: T0 - 5 * MIN }], aliveAtMs: T0 + 3000 * MIN, stopped: true }));
  mkdirSync(join(dir, 'inventory'));
  const devices = new Map([['00:00:00:00:00:01', { mac: '00:00:00:00:00:01', class: 'ap' as const, firstSeen: T0, lastSeen: T0 }]]);
  writeFileSync(join(dir, 'inventory', `${S}.json`), serializeSchool({ school: S, agents: new Map([['gw-01', { lastSeq: 7, updatedAtMs: T0, devices }]]) }));
  writeFileSync(join(dir, 'inventory', '1640104002.json'), '{"v":1,'); // damaged: left in place
  return { dir, token, password };
}

describe('collector/state/legacy', () => {
  it('imports every old file once in one transaction, logs COL_ERR_STATE_MIGRATED with counts, and keeps the files as *.migrated', async () => {
    const { dir, token, password } = oldStateDir();
    const state = openStateDb({ stateDir: dir });
    const { log, lines } = captureLog();
    const counts = await importLegacyState({ state, stateDir: dir, log });
    expect(counts).to.deep.equal({ tokens: 1, viewers: 1, dedupeAgents: 2, gapAgents: 1, downtimes: 1, inventorySchools: 1 });
    const migrated = lines.filter((l) => l.code === 'COL_ERR_STATE_MIGRATED');
    expect(migrated).to.have.length(1);
    expect(migrated[0]).to.include({ tokens: 1, dedupeAgents: 2, files: 6 });
    expect(readdirSync(dir).sort()).to.include.members(['tokens.json.migrated', 'viewers.json.migrated', 'dedupe.log.migrated']);
    expect(existsSync(join(dir, 'tokens.json'))).to.equal(false);
    expect(readdirSync(join(dir, 'gaps')).sort()).to.deep.equal(['agents.json.migrated', 'lifelog.json.migrated']);
    expect(readdirSync(join(dir, 'inventory')).sort()).to.deep.equal([`${S}.json.migrated`, '1640104002.json']);

    expect(new TokenStore({ state }).verify(token)?.school).to.equal(S);
    expect(new ViewerStore(state).verify('nx-edu', password)).to.equal(true);
    const dedupe = new DedupeStore({ state });
    expect([dedupe.heldThrough(S, 'gw-01'), dedupe.has(S, 'gw-01', 45), dedupe.has(S, 'gw-01', 43), dedupe.has(S, 'gw-01', 99), dedupe.heldThrough(S, 'sw-01')]).to.deep.equal([42, true, false, false, 3]);
    const gaps = createGapsModule({ state, sink: new MemorySink(), tagsFor: () => undefined, held: () => true, log: pino({ level: 'silent' }), now: () => T0 + 3001 * MIN });
    await gaps.start?.();
    const gapState = JSON.parse(state.db.prepare('SELECT state FROM gap_agents').pluck().get() as string);
    expect(gapState).to.deep.include({ intervalMs: MIN, checkedSeq: 3000 });
    expect(gapState.recent).to.have.length(32);
    expect(gapState.recent.slice(-2)).to.deep.equal([3000, T0 + 2999 * MIN]);
    expect(gaps.lifelog.downtimes()).to.deep.equal([{ fromMs: T0 - 10 * MIN, toMs: T0 - 5 * MIN }, { fromMs: T0 + 3000 * MIN, toMs: T0 + 3001 * MIN }]);
    await gaps.stop?.();
    const inv = createInventoryModule({ state, log: pino({ level: 'silent' }), now: () => T0, registry: { get: () => ({}) } });
    await inv.start?.();
    expect(inv.devices(S)?.map((d) => d.mac)).to.deep.equal(['00:00:00:00:00:01']);

    // A second start finds nothing to do.
    const again = captureLog();
    expect(await importLegacyState({ state, stateDir: dir, log: again.log })).to.deep.equal({});
    expect(again.lines.filter((l) => l.code === 'COL_ERR_STATE_MIGRATED')).to.deep.equal([]);
    await state.close();
  });

  it('a file already imported (a crash before its rename) is renamed, not imported twice', async () => {
    const { dir } = oldStateDir();
    const state = openStateDb({ stateDir: dir });
    await importLegacyState({ state, stateDir: dir, log: pino({ level: 'silent' }) });
    copyFileSync(join(dir, 'dedupe.log.migrated'), join(dir, 'dedupe.log'));
    state.transaction((db) => db.prepare("UPDATE dedupe_agents SET hwm = 1000, ranges = '' WHERE agent = 'gw-01'").run());
    const { log, lines } = captureLog();
    expect(await importLegacyState({ state, stateDir: dir, log })).to.deep.equal({});
    expect(lines.filter((l) => l.code === 'COL_ERR_STATE_MIGRATED')).to.deep.equal([]);
    expect(existsSync(join(dir, 'dedupe.log'))).to.equal(false);
    expect(new DedupeStore({ state }).heldThrough(S, 'gw-01')).to.equal(1000);
    await state.close();
  });

  it('imports gap state and downtimes with fractional times (rounded), instead of failing the whole import', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-legacy-frac-'));
    mkdirSync(join(dir, 'gaps'));
    writeFileSync(join(dir, 'gaps', 'agents.json'), JSON.stringify({ [`${S}/gw-01`]: { times: [[1, T0 + 0.4], [2, T0 + MIN + 0.6]], intervalMs: MIN + 0.5, hole: { startMs: T0 + 0.5, endMs: T0 + MIN + 0.5 }, checkedSeq: 2 } }));
    writeFileSync(join(dir, 'gaps', 'lifelog.json'), JSON.stringify({ downtimes: [{ fromMs: T0 - 10.5, toMs: T0 - 4.5 }], aliveAtMs: T0 + 0.25, stopped: true }));
    const state = openStateDb({ stateDir: dir });
    const { log, lines } = captureLog();
    await importLegacyState({ state, stateDir: dir, log });
    expect(lines.filter((l) => l.code === 'COL_ERR_STATE_MIGRATED')).to.have.length(1);
    expect(readdirSync(join(dir, 'gaps')).sort()).to.deep.equal(['agents.json.migrated', 'lifelog.json.migrated']);
    await state.close();
  });

  it('readObjectEntries() yields the entries of a big object one by one, across read chunks and with braces, commas and quotes in keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-legacy-'));
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < 300; i++) obj[`${S}/gw-{,"${i}"}`] = { times: Array.from({ length: 400 }, (_, k) => [k, T0 + k]), hole: { startMs: i, endMs: i + 1 }, checkedSeq: i };
    const path = join(dir, 'agents.json');
    writeFileSync(path, JSON.stringify(obj));
    const seen: [string, unknown][] = [];
    for await (const e of readObjectEntries(path)) seen.push(e);
    expect(seen.length).to.equal(300);
    expect(Object.fromEntries(seen)).to.deep.equal(obj);
    writeFileSync(path, '{"a":1,"b":');
    const err = await (async () => {
      for await (const _ of readObjectEntries(path)) void _;
    })().then(() => undefined, (e: unknown) => e);
    expect(String(err)).to.match(/not one complete JSON object|JSON/);
  });
});
