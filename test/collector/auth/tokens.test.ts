import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { TokenStore, issueToken, tokenFilePath } from '../../../collector/auth/tokens.js';

describe('collector/auth/tokens', () => {
  it('issueToken() stores only the hash of the token, and TokenStore.verify() finds its school', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-tokens-'));
    const { token, record } = issueToken({ stateDir: dir, school: '1640104001' });
    expect(readFileSync(tokenFilePath(dir), 'utf8')).not.to.contain(token.slice(5));
    expect(new TokenStore(dir).verify(token)).to.deep.equal(record);
  });

  it('TokenStore.verify() returns undefined for an unknown token and for a token of another state dir', () => {
    const a = mkdtempSync(join(tmpdir(), 'cl-tokens-'));
    const b = mkdtempSync(join(tmpdir(), 'cl-tokens-'));
    const { token } = issueToken({ stateDir: a, school: '1640104001' });
    expect(new TokenStore(b).verify(token)).to.equal(undefined);
    expect(new TokenStore(a).verify(token + 'x')).to.equal(undefined);
  });

  it('TokenStore sees a token issued after it was created, without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-tokens-'));
    issueToken({ stateDir: dir, school: '1640104001' });
    const store = new TokenStore(dir);
    await new Promise((r) => setTimeout(r, 20));
    const { token } = issueToken({ stateDir: dir, school: '1640104002' });
    expect(store.verify(token)?.school).to.equal('1640104002');
  });
});
