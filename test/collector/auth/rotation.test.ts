import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { LastSeen } from '../../../collector/auth/last-seen.js';
import { listTokens, requestRotation, revokeTokens } from '../../../collector/auth/lifecycle.js';
import { Rotation } from '../../../collector/auth/rotation.js';
import { TOKEN_CHANGES_CHECK_MS, TokenStore, insertTokens, issueToken, newToken } from '../../../collector/auth/tokens.js';
import type { StateDb } from '../../../collector/state/db.js';
import { openStateDb } from '../../../collector/state/db.js';
import { repoPath, runCli } from '../../helpers/cli.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'cl-rotation-'));
const log = pino({ level: 'silent' });
const SCHOOL = '1640104001';

/** A token bound to an agent, as enrollment issues it. */
function boundToken(state: StateDb, agent: string, nowMs: number, expiresAtMs?: number) {
  const t = newToken(SCHOOL, new Date(nowMs).toISOString(), { agent, ...(expiresAtMs !== undefined && { expiresAtMs }) });
  state.transaction((db) => insertTokens(db, [t.record]));
  return t;
}

describe('collector/auth rotation, revocation, expiry, last seen', () => {
  it('TokenStore refuses a token revoked by another connection from the first verify TOKEN_CHANGES_CHECK_MS after the commit on (not before: data_version is not read per verify), and one past its expiry', async () => {
    const dir = tempDir();
    const state = openStateDb({ stateDir: dir });
    let now = Date.parse('2026-12-01T00:00:00Z');
    let clock = 1000;
    const store = new TokenStore({ state, now: () => now, clock: () => clock });
    const a = issueToken({ stateDir: dir, school: SCHOOL });
    const b = issueToken({ stateDir: dir, school: SCHOOL, expiresAtMs: now + 1000 });
    expect(store.verify(a.token)?.id).to.equal(a.record.id);
    expect(store.verify(b.token)?.id).to.equal(b.record.id);
    // The CLI's own connection, as `token revoke` uses it.
    const cli = openStateDb({ stateDir: dir });
    expect(revokeTokens(cli, { id: a.record.id }, now).revoked).to.equal(1);
    await cli.close();
    clock += TOKEN_CHANGES_CHECK_MS - 1;
    expect(store.verify(a.token)?.id, 'within the bound the change is not read yet').to.equal(a.record.id);
    clock += 1;
    expect(store.verify(a.token)).to.equal(undefined);
    now += 1000;
    expect(store.verify(b.token)).to.equal(undefined);
    await state.close();
  });

  it('TokenStore with changesCheckMs 0 refuses a token revoked by another connection from the very next verify', async () => {
    const dir = tempDir();
    const state = openStateDb({ stateDir: dir });
    const store = new TokenStore({ state, changesCheckMs: 0, clock: () => 0 });
    const a = issueToken({ stateDir: dir, school: SCHOOL });
    expect(store.verify(a.token)?.id).to.equal(a.record.id);
    const cli = openStateDb({ stateDir: dir });
    expect(revokeTokens(cli, { id: a.record.id }, Date.now()).revoked).to.equal(1);
    await cli.close();
    expect(store.verify(a.token)).to.equal(undefined);
    await state.close();
  });

  it('Rotation offers a successor once per reofferMs, starts the grace period on its first use, removes unused successors, and the old token then expires', async () => {
    const dir = tempDir();
    const state = openStateDb({ stateDir: dir });
    let now = Date.parse('2026-12-01T00:00:00Z');
    const store = new TokenStore({ state, now: () => now });
    const rotation = new Rotation({ state, tokens: store, graceMs: 60_000, reofferMs: 600_000, rotateBeforeExpiryMs: 0, now: () => now, log });
    const old = boundToken(state, 'ag-1', now);
    expect(await rotation.afterAccepted(store.verify(old.token)!, 'ag-1')).to.equal(undefined);
    expect(requestRotation(state, { school: SCHOOL }, now)).to.equal(1);
    store.reread(old.record.sha256);
    const first = await rotation.afterAccepted(store.verify(old.token)!, 'ag-1');
    expect(first?.token).to.match(/^clk1_/);
    // The ack was lost: within reofferMs nothing new; after it a new successor replaces the unused one.
    now += 1000;
    expect(await rotation.afterAccepted(store.verify(old.token)!, 'ag-1')).to.equal(undefined);
    now += 600_000;
    const second = await rotation.afterAccepted(store.verify(old.token)!, 'ag-1');
    expect(second?.token).to.match(/^clk1_/).and.not.equal(first?.token);
    expect(store.verify(first!.token)).to.equal(undefined);
    // The agent switches: its first batch with the new token starts the old one's grace.
    const next = store.verify(second!.token)!;
    expect(next.replaces).to.equal(old.record.sha256);
    expect(await rotation.afterAccepted(next, 'ag-1')).to.equal(undefined);
    expect(store.verify(old.token)?.rotatedAtMs).to.equal(now);
    expect(await rotation.afterAccepted(store.verify(old.token)!, 'ag-1'), 'no offer after the switch').to.equal(undefined);
    const states = () => [...listTokens(state, { school: SCHOOL }, now)].map((t) => t.state);
    expect(states()).to.deep.equal(['grace', 'active']);
    now += 60_000;
    expect(store.verify(old.token)).to.equal(undefined);
    expect(store.verify(second!.token)?.id).to.equal(next.id);
    expect(states()).to.deep.equal(['expired', 'active']);
    await state.close();
  });

  it('a shared legacy school token gives each agent its own successor and stays valid after they switched (no grace starts)', async () => {
    const dir = tempDir();
    const state = openStateDb({ stateDir: dir });
    let now = Date.parse('2026-12-01T00:00:00Z');
    const store = new TokenStore({ state, now: () => now });
    const rotation = new Rotation({ state, tokens: store, graceMs: 1000, reofferMs: 600_000, rotateBeforeExpiryMs: 0, now: () => now, log });
    const shared = issueToken({ state, school: SCHOOL });
    requestRotation(state, { id: shared.record.id }, now);
    store.reread(shared.record.sha256);
    const a = await rotation.afterAccepted(store.verify(shared.token)!, 'gw-a');
    const b = await rotation.afterAccepted(store.verify(shared.token)!, 'gw-b');
    expect(store.verify(a!.token)?.agent).to.equal('gw-a');
    expect(store.verify(b!.token)?.agent).to.equal('gw-b');
    await rotation.afterAccepted(store.verify(a!.token)!, 'gw-a');
    now += 5000;
    // gw-b has not switched yet: the shared token still works for it, and its own successor too.
    expect(store.verify(shared.token)?.id).to.equal(shared.record.id);
    expect(store.verify(b!.token)?.agent).to.equal('gw-b');
    await state.close();
  });

  it('a token near its expiry gets a successor by itself, with the same lifetime', async () => {
    const dir = tempDir();
    const state = openStateDb({ stateDir: dir });
    let now = Date.parse('2026-12-01T00:00:00Z');
    const store = new TokenStore({ state, now: () => now });
    const rotation = new Rotation({ state, tokens: store, graceMs: 1000, reofferMs: 1000, rotateBeforeExpiryMs: 7 * 86_400_000, now: () => now, log });
    const t = boundToken(state, 'ag-1', now, now + 30 * 86_400_000);
    expect(await rotation.afterAccepted(store.verify(t.token)!, 'ag-1')).to.equal(undefined);
    now += 24 * 86_400_000;
    const s = await rotation.afterAccepted(store.verify(t.token)!, 'ag-1');
    expect(s?.expiresAtMs).to.equal(now + 30 * 86_400_000);
    await state.close();
  });

  it('LastSeen writes a token\'s last use at most once per resolutionMs, and in batches of maxRowsPerFlush', async () => {
    const dir = tempDir();
    const state = openStateDb({ stateDir: dir });
    let now = Date.parse('2026-12-01T00:00:00Z');
    const store = new TokenStore({ state, now: () => now });
    const ts = Array.from({ length: 5 }, () => issueToken({ state, school: SCHOOL }));
    const seen = new LastSeen({ state, resolutionMs: 600_000, maxRowsPerFlush: 2, now: () => now, log });
    const lastSeen = () => [...listTokens(state, {}, now)].map((t) => t.lastSeen);
    for (const t of ts) seen.touch(store.verify(t.token)!.sha256);
    await seen.flush();
    expect(lastSeen().filter(Boolean)).to.have.length(2);
    await seen.flush();
    await seen.flush();
    expect(lastSeen().every((s) => s === new Date(now).toISOString())).to.equal(true);
    const t0 = now;
    const changes = () => (state.db.prepare('SELECT count(*) FROM tokens WHERE last_seen_ms = ?').pluck().get(t0) as number);
    now += 60_000;
    for (const t of ts) seen.touch(t.record.sha256);
    await seen.flush();
    expect(changes(), 'nothing rewritten within the resolution').to.equal(5);
    now += 600_000;
    seen.touch(ts[0]!.record.sha256);
    await seen.flush();
    expect(changes(), 'moved once the resolution passed').to.equal(4);
    await state.close();
  });
});

describe('campuslink-collector viewer list and token list', () => {
  it('viewer list prints name,created for every account and no password; token list prints no secret', async () => {
    const dir = tempDir();
    const env = { CAMPUSLINK_STATE_DIR: dir, CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv') };
    const { issueViewer } = await import('../../../collector/auth/viewers.js');
    const a = issueViewer({ stateDir: dir, name: 'ops@county' });
    issueViewer({ stateDir: dir, name: 'auditor' });
    const t = issueToken({ stateDir: dir, school: SCHOOL });
    const v = await runCli('collector', ['viewer', 'list'], env);
    expect(v.code, v.stderr).to.equal(0);
    expect(v.stdout.trim().split('\n').map((l) => l.split(',')[0])).to.deep.equal(['name', 'auditor', 'ops@county']);
    expect(v.stdout).not.to.include(a.password);
    const l = await runCli('collector', ['token', 'list'], env);
    expect(l.code, l.stderr).to.equal(0);
    expect(l.stdout).to.match(new RegExp(`^${t.record.id},${SCHOOL},,\\S+,,,active,$`, 'm'));
    expect(l.stdout).not.to.include(t.token);
  });
});

describe('collector/auth token pruning', () => {
  it('LastSeen prunes tokens revoked or expired longer than tokensKeepMs ago and tells the store; recent ones stay for token list', async () => {
    const dir = tempDir();
    const state = openStateDb({ stateDir: dir });
    let now = Date.parse('2026-12-01T00:00:00Z');
    const store = new TokenStore({ state, now: () => now });
    const old = issueToken({ state, school: SCHOOL, expiresAtMs: now + 1000 });
    const revoked = issueToken({ state, school: SCHOOL });
    const live = issueToken({ state, school: SCHOOL });
    revokeTokens(state, { id: revoked.record.id }, now);
    const forgotten: string[] = [];
    const seen = new LastSeen({ state, tokensKeepMs: 86_400_000, now: () => now, log, onPruned: (g) => forgotten.push(...g) });
    await seen.flush();
    expect([...listTokens(state, {}, now)]).to.have.length(3);
    now += 2 * 86_400_000;
    for (let i = 0; i < 12; i++) await seen.flush();
    expect([...listTokens(state, {}, now)].map((t) => t.id)).to.deep.equal([live.record.id]);
    expect(forgotten.sort()).to.deep.equal([old.record.sha256, revoked.record.sha256].sort());
    expect(store.verify(live.token)?.id).to.equal(live.record.id);
    await state.close();
  });
  it('LastSeen writes a large flush as group-commit items of at most 250 rows, every row written', async () => {
    const state = openStateDb({ stateDir: tempDir() });
    const now = Date.parse('2026-12-01T00:00:00Z');
    new TokenStore({ state });
    const rows = Array.from({ length: 600 }, (_, i) => newToken(String(1640104000 + i), new Date(now).toISOString()).record);
    state.transaction((db) => insertTokens(db, rows));
    const seen = new LastSeen({ state, now: () => now, log });
    for (const r of rows) seen.touch(r.sha256);
    const before = state.health().items;
    await seen.flush();
    expect(state.health().items - before).to.equal(1 + 3); // the first flush's housekeeping, then 250 + 250 + 100
    expect(state.db.prepare('SELECT count(*) FROM tokens WHERE last_seen_ms = ?').pluck().get(now)).to.equal(600);
    await state.close();
  });
});
