/** County proxies' scopes and the identity layer's per-batch check, without a server. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createIdentity, type IdentityRefusal } from '../../../collector/auth/identity.js';
import { ProxyScopes, inScope, putProxy, PROXY_SCHOOL } from '../../../collector/auth/proxies.js';
import { authSettingsSchema } from '../../../collector/auth/settings.js';
import { TokenStore, insertTokens, newToken, type TokenRecord } from '../../../collector/auth/tokens.js';
import { issueProxyCode } from '../../../collector/enroll/codes.js';
import { createEnrollment } from '../../../collector/enroll/service.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { anyEnrollAnswerSchema } from '../../../protocol/enroll.js';
import type { Report } from '../../../protocol/index.js';
import { makeReport } from '../../helpers/reports.js';

const place = (county: string) => ({ province: `${county.slice(0, 2)}0000`, city: `${county.slice(0, 4)}00`, county });
const PLACES: Record<string, ReturnType<typeof place>> = { '1640104001': place('640104'), '1640104002': place('640104'), '1640121003': place('640121'), '1632722001': place('632722') };
const log = pino({ level: 'silent' });

describe('collector/auth/proxies', () => {
  let state: StateDb;
  let now: number;
  beforeEach(() => {
    state = openStateDb({ stateDir: mkdtempSync(join(tmpdir(), 'cl-proxy-')) });
    now = 1_800_000_000_000;
  });
  afterEach(() => state.close());

  it('inScope(): a province, city or county code, or an explicit list; an unregistered school is in no scope', () => {
    const expected: Record<string, string[]> = {
      '640000': ['1640104001', '1640104002', '1640121003'],
      '640100': ['1640104001', '1640104002', '1640121003'],
      '640104': ['1640104001', '1640104002'],
      '632722': ['1632722001'],
    };
    for (const [region, inside] of Object.entries(expected)) {
      expect(Object.keys(PLACES).filter((id) => inScope({ agent: 'proxy-a', name: 'a', region }, id, PLACES[id])), region).to.deep.equal(inside);
    }
    const list = { agent: 'proxy-b', name: 'b', schools: new Set(['1632722001']) };
    expect(inScope(list, '1632722001', PLACES['1632722001'])).to.equal(true);
    expect(inScope(list, '1640104001', PLACES['1640104001'])).to.equal(false);
    expect(inScope(list, '1632722001', undefined)).to.equal(false);
  });

  it('ProxyScopes reads a scope on first use and again after refreshMs, so a re-issued scope applies without a restart', () => {
    const scopes = new ProxyScopes({ state, now: () => now, refreshMs: 10_000 });
    expect(scopes.get('proxy-a')).to.equal(undefined);
    state.transaction((db) => putProxy(db, { agent: 'proxy-a', name: 'a', region: '640104' }, now));
    now += 10_000;
    expect(scopes.get('proxy-a')).to.deep.equal({ agent: 'proxy-a', name: 'a', region: '640104' });
    state.transaction((db) => putProxy(db, { agent: 'proxy-a', name: 'a', schools: new Set(['1632722001']) }, now));
    now += 5_000;
    expect(scopes.get('proxy-a')?.region).to.equal('640104');
    now += 5_000;
    expect(scopes.get('proxy-a')).to.deep.equal({ agent: 'proxy-a', name: 'a', schools: new Set(['1632722001']) });
  });

  it('identity: a proxy token becomes a token of the batch\'s school inside its scope, takes a place there, and its kind is recorded once', async () => {
    const tokens = new TokenStore({ state });
    const identity = createIdentity({ state, tokens, settings: authSettingsSchema.parse({ maxAgentsPerSchool: 1 }), retryAfterS: 3, schools: { tagsFor: (id) => PLACES[id] }, now: () => now, log });
    const t = newToken(PROXY_SCHOOL, new Date(now).toISOString(), { agent: 'proxy-a' });
    state.transaction((db) => {
      insertTokens(db, [t.record]);
      putProxy(db, { agent: 'proxy-a', name: 'a', region: '640104' }, now);
    });
    const proxyToken = tokens.verify(t.token) as TokenRecord;
    const batch = (school: string): Report[] => [makeReport({ school, agent: 'proxy-a', seq: 1 })];
    const ok = identity.scope?.(proxyToken, batch('1640104001')) as TokenRecord;
    expect(ok).to.include({ school: '1640104001', agent: 'proxy-a', sha256: proxyToken.sha256 });
    const reports = batch('1640104002');
    const ok2 = identity.scope?.(proxyToken, reports) as TokenRecord;
    expect(reports[0]?.agentKind).to.equal('proxy');
    expect(await identity.admit(ok2, 'proxy-a', reports)).to.equal(undefined);
    await new Promise((r) => setTimeout(r, 50));
    expect(state.db.prepare("SELECT agent, kind FROM agents WHERE school = '1640104002'").all()).to.deep.equal([{ agent: 'proxy-a', kind: 'proxy' }]);
    // The school's one place is the proxy's now: a second agent of it is refused.
    const school = newToken('1640104002', new Date(now).toISOString());
    const refused = (await identity.admit(school.record, 'gw-01')) as IdentityRefusal;
    expect((refused.body as { error: { code: string } }).error.code).to.equal('COL_ERR_AGENT_LIMIT');
    // `token rotate --proxy a`: the successor, offered in the ack of a batch for any school, is the proxy's again.
    state.db.prepare('UPDATE tokens SET rotate = 1 WHERE sha256 = ?').run(proxyToken.sha256);
    tokens.reread(proxyToken.sha256);
    const view = identity.scope?.(tokens.verify(t.token) as TokenRecord, batch('1640104001')) as TokenRecord;
    const { newToken: successor } = await identity.ackFields(view, 'proxy-a');
    expect(tokens.verify(successor?.token as string)).to.include({ school: PROXY_SCHOOL, agent: 'proxy-a', replaces: proxyToken.sha256 });
    const out = identity.scope?.(proxyToken, batch('1640121003')) as IdentityRefusal;
    expect(out.status).to.equal(403);
    expect((out.body as { error: { code: string } }).error.code).to.equal('COL_ERR_PROXY_SCOPE');
    expect(((identity.scope?.(proxyToken, batch('9999999999')) as IdentityRefusal).body as { error: { message: string } }).error.message).to.include('not in the registry');
    await identity.stop();
  });

  it('enrollment: a proxy code gives one token for the proxy\'s agent id and the scope\'s schools; a repeat gets a fresh token without using the code again', async () => {
    const { code } = issueProxyCode({ state, scope: { agent: 'proxy-b', name: 'b', schools: new Set(['1632722001', '1640104001']) }, uses: 1, expiresAtMs: now + 60_000, now: () => now });
    const e = createEnrollment({ state, roster: createIdentity({ state, tokens: new TokenStore({ state }), settings: authSettingsSchema.parse({}), retryAfterS: 3, now: () => now, log }).roster, schools: { tagsFor: (id) => (PLACES[id] ? ({ school: id, ...PLACES[id], link: 'fiber' } as const) : undefined) }, retryAfterS: 3, now: () => now, log });
    const a = await e.enroll({ v: 1, code, nonce: 'nonce-proxy-0000001' });
    expect(a.status).to.equal(200);
    const answer = anyEnrollAnswerSchema.parse(a.body);
    expect(answer).to.deep.include({ kind: 'proxy', agent: 'proxy-b', schools: ['1632722001', '1640104001'] });
    expect(new TokenStore({ state }).verify(answer.token)).to.include({ school: PROXY_SCHOOL, agent: 'proxy-b' });
    const again = await e.enroll({ v: 1, code, nonce: 'nonce-proxy-0000001' });
    expect(again.status).to.equal(200);
    expect((again.body as { token: string }).token).to.not.equal(answer.token);
    expect(new TokenStore({ state }).verify(answer.token)).to.equal(undefined);
    const other = await e.enroll({ v: 1, code, nonce: 'nonce-proxy-0000002' });
    expect(other.status).to.equal(403);
  });
});
