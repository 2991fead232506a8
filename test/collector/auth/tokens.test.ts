import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { TokenStore, hashToken, issueToken, issueTokens, type TokenRecord } from '../../../collector/auth/tokens.js';
import { openStateDb } from '../../../collector/state/db.js';
import { repoPath, runCli } from '../../helpers/cli.js';
import { storedStateText } from '../../helpers/state-files.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'cl-tokens-'));

describe('collector/auth/tokens', () => {
  it('hashToken() is the hex SHA-256 of the UTF-8 text, as stored since version 1 (ASCII, non-ASCII, empty)', () => {
    for (const t of ['clk1_abcDEF-_0123456789', 'clke_código-学校', '', 'x'.repeat(10_000)]) expect(hashToken(t)).to.equal(createHash('sha256').update(Buffer.from(t, 'utf8')).digest('hex'));
    expect(hashToken('abc')).to.equal('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('issueToken() stores only the hash of the token, and TokenStore.verify() finds its school', async () => {
    const dir = tempDir();
    const { token, record } = issueToken({ stateDir: dir, school: '1640104001' });
    expect(storedStateText(dir)).to.contain(record.sha256).and.not.contain(token.slice(5));
    const state = openStateDb({ stateDir: dir });
    expect(new TokenStore({ state }).verify(token)).to.deep.equal(record);
    await state.close();
  });

  it('TokenStore.verify() returns undefined for an unknown token and for a token of another state dir', async () => {
    const a = openStateDb({ stateDir: tempDir() });
    const b = openStateDb({ stateDir: tempDir() });
    const { token } = issueToken({ state: a, school: '1640104001' });
    expect(new TokenStore({ state: b }).verify(token)).to.equal(undefined);
    expect(new TokenStore({ state: a }).verify(token + 'x')).to.equal(undefined);
    await Promise.all([a.close(), b.close()]);
  });

  it('TokenStore sees a token issued by another connection after it was created, without a restart', async () => {
    const dir = tempDir();
    issueToken({ stateDir: dir, school: '1640104001' });
    const state = openStateDb({ stateDir: dir });
    const store = new TokenStore({ state });
    const { token } = issueToken({ stateDir: dir, school: '1640104002' });
    expect(store.verify(token)?.school).to.equal('1640104002');
    expect(store.size).to.equal(2);
    await state.close();
  });

  it('TokenStore remembers an unknown token as unknown only for negativeTtlMs', async () => {
    const dir = tempDir();
    const state = openStateDb({ stateDir: dir });
    let now = 1000;
    const store = new TokenStore({ state, now: () => now, negativeTtlMs: 500 });
    // A token row written behind the store's back (as another process would), verified once before.
    const { token, record } = issueToken({ stateDir: tempDir(), school: '1640104001' });
    expect(store.verify(token)).to.equal(undefined);
    state.transaction((db) => db.prepare('INSERT INTO tokens (sha256, id, school, issued_at) VALUES (?, ?, ?, ?)').run(record.sha256, record.id, record.school, record.issuedAt));
    expect(store.verify(token)).to.equal(undefined);
    now += 501;
    expect(store.verify(token)).to.deep.equal(record);
    await state.close();
  });

  it('issueTokens() issues one token per school, in transactions of chunkSize, and hands them out in order after the last commit', async () => {
    const state = openStateDb({ stateDir: tempDir() });
    const schools = Array.from({ length: 500 }, (_, i) => String(1640104000 + i));
    const out: [string, TokenRecord][] = [];
    let storedWhenFirstHandedOut = -1;
    const n = issueTokens({
      state,
      schools,
      chunkSize: 128,
      onIssued: (t, r) => {
        if (!out.length) storedWhenFirstHandedOut = state.db.prepare('SELECT count(*) FROM tokens').pluck().get() as number;
        out.push([t, r]);
      },
    });
    expect(storedWhenFirstHandedOut).to.equal(500);
    expect(n).to.equal(500);
    expect(out.map(([, r]) => r.school)).to.deep.equal(schools);
    expect(state.db.prepare('SELECT count(*) FROM tokens').pluck().get()).to.equal(500);
    const store = new TokenStore({ state });
    expect(out.every(([t, r]) => store.verify(t)?.id === r.id)).to.equal(true);
    await state.close();
  });

  describe('campuslink-collector token issue', function () {
    this.timeout(60_000);
    const env = (dir: string) => ({ CAMPUSLINK_STATE_DIR: dir, CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv'), CAMPUSLINK_LOG_LEVEL: 'warn' });

    it('--region writes CSV school,token_id,token for every school of the region to a new 0600 file; the tokens verify', async () => {
      const dir = tempDir();
      const out = join(dir, 'tokens.csv');
      const r = await runCli('collector', ['token', 'issue', '--region', '630000', '--out', out], env(dir));
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('');
      expect(statSync(out).mode & 0o777).to.equal(0o600);
      const [head, ...rows] = readFileSync(out, 'utf8').trim().split('\n');
      expect(head).to.equal('school,token_id,token');
      expect(rows).to.have.length(22);
      expect(rows.every((l) => /^\d{10},[0-9a-f]{12},clk1_[A-Za-z0-9_-]{43}$/.test(l))).to.equal(true);
      const state = openStateDb({ stateDir: dir });
      const store = new TokenStore({ state });
      for (const l of rows) {
        const [school, id, token] = l.split(',') as [string, string, string];
        expect(store.verify(token)).to.include({ school, id });
      }
      await state.close();
      // An existing file is refused before any token is issued.
      const again = await runCli('collector', ['token', 'issue', '--all', '--out', out], env(dir));
      expect(again.code).to.equal(1);
      expect(again.stderr).to.contain('EEXIST');
    });

    it('--all --missing to stdout issues only for schools without a token; an unknown region and a missing mode are refused', async () => {
      const dir = tempDir();
      const one = await runCli('collector', ['token', 'issue', '--school', '1640104001'], env(dir));
      expect(one.code, one.stderr).to.equal(0);
      const all = await runCli('collector', ['token', 'issue', '--all', '--missing'], env(dir));
      expect(all.code, all.stderr).to.equal(0);
      const rows = all.stdout.trim().split('\n').slice(1);
      expect(rows).to.have.length(55);
      expect(rows.some((l) => l.startsWith('1640104001,'))).to.equal(false);
      const bad = await runCli('collector', ['token', 'issue', '--region', '990000'], env(dir));
      expect([bad.code, bad.stderr]).to.deep.equal([1, 'COL_ERR_SCHOOL_NOT_REGISTERED: no school of the registry is under region 990000\n']);
      expect((await runCli('collector', ['token', 'issue'], env(dir))).stderr).to.contain('exactly one of');
    });
  });
});
