import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { TokenStore } from '../../../collector/auth/tokens.js';
import { issueCodes } from '../../../collector/enroll/codes.js';
import { AgentRoster } from '../../../collector/enroll/roster.js';
import { createEnrollment } from '../../../collector/enroll/service.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';

const SCHOOL = '1640104001';
const log = pino({ level: 'silent' });

function setup(max = 2, registered: (id: string) => boolean = (id) => id === SCHOOL) {
  const state = openStateDb({ stateDir: mkdtempSync(join(tmpdir(), 'cl-enroll-')) });
  const roster = new AgentRoster({ state, maxAgentsPerSchool: max });
  const e = createEnrollment({ state, roster, schools: { tagsFor: (id) => (registered(id) ? ({} as never) : undefined) }, retryAfterS: 7, now: Date.now, log });
  const code = (school = SCHOOL, uses = 5): string => {
    let c = '';
    issueCodes({ state, schools: [school], uses, expiresAtMs: Date.now() + 60_000, onIssued: (x) => (c = x) });
    return c;
  };
  return { state, roster, e, code };
}

const nonce = (i: number) => `nonce-${String(i).padStart(12, '0')}`;
type Body = { agent: string; token: string; error?: { code: string; message: string } };

describe('collector/enroll/service', () => {
  it('enroll() assigns distinct agent ids, binds each token to its agent, and refuses one over maxAgentsPerSchool with 403 COL_ERR_AGENT_LIMIT', async () => {
    const { state, e, code } = setup(2);
    const c = code();
    const a = await e.enroll({ v: 1, code: c, nonce: nonce(1), hostname: 'OpenWrt' });
    const b = await e.enroll({ v: 1, code: c, nonce: nonce(2), hostname: 'OpenWrt' });
    expect([a.status, b.status]).to.deep.equal([200, 200]);
    expect((a.body as Body).agent).not.to.equal((b.body as Body).agent);
    const store = new TokenStore({ state });
    expect(store.verify((a.body as Body).token)).to.include({ school: SCHOOL, agent: (a.body as Body).agent });
    const over = await e.enroll({ v: 1, code: c, nonce: nonce(3) });
    expect(over.status).to.equal(403);
    expect((over.body as Body).error).to.include({ code: 'COL_ERR_AGENT_LIMIT' });
    expect((over.body as Body).error?.message).to.include('auth.maxAgentsPerSchool = 2');
    // The refusal used nothing: 3 uses of 5 left.
    expect(state.db.prepare('SELECT uses_left FROM enroll_codes').pluck().get()).to.equal(3);
    await state.close();
  });

  it('enroll() answers 400 naming the field for a malformed request, 403 for an unregistered school, and 503 with Retry-After when the state database cannot record it', async () => {
    const { state, e, code } = setup(8, () => false);
    const bad = await e.enroll({ v: 1, code: 'nope', nonce: nonce(1) });
    expect(bad.status).to.equal(400);
    expect((bad.body as Body).error?.message).to.include('code');
    const unreg = await e.enroll({ v: 1, code: code(), nonce: nonce(2) });
    expect(unreg.status).to.equal(403);
    expect((unreg.body as Body).error?.code).to.equal('COL_ERR_SCHOOL_NOT_REGISTERED');
    const c = code();
    await (state as StateDb).close();
    const down = await e.enroll({ v: 1, code: c, nonce: nonce(3) });
    expect(down.status).to.equal(503);
    expect(down.headers).to.deep.equal({ 'retry-after': '7' });
  });
});
