import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { AUDIT_MAX_ROWS, listAudit, migrateAudit, writeAudit } from '../../../collector/auth/audit.js';
import { VIEWER_MIGRATIONS, ViewerStore } from '../../../collector/auth/viewers.js';
import { openStateDb } from '../../../collector/state/db.js';
import { repoPath, runCli } from '../../helpers/cli.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'cl-audit-'));

describe('collector/auth/audit and scoped accounts', () => {
  it('an account made before scopes existed migrates to a nation-wide viewer and keeps its password', async () => {
    const state = openStateDb({ stateDir: tempDir() });
    state.migrate('auth.viewers', VIEWER_MIGRATIONS.slice(0, 1));
    // The SHA-256 of "secret", as version 1 stored it.
    state.db.prepare('INSERT INTO viewers (name, sha256, issued_at) VALUES (?, ?, ?)').run('old', '2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b', '2026-01-01T00:00:00.000Z');
    const store = new ViewerStore(state);
    expect(store.authenticate('old', 'secret')).to.deep.equal({ kind: 'account', name: 'old', scope: '000000', role: 'viewer' });
    await state.close();
  });

  it('writeAudit() keeps the newest AUDIT_MAX_ROWS entries and drops the oldest', async () => {
    const state = openStateDb({ stateDir: tempDir() });
    migrateAudit(state);
    state.transaction((db) => {
      for (let i = 0; i < AUDIT_MAX_ROWS + 5; i++) writeAudit(db, { at: new Date(i * 1000).toISOString(), actor: 'cli:t', action: 'viewer.add', subject: `v${i}`, detail: '' });
    });
    expect(state.db.prepare('SELECT count(*) FROM audit_log').pluck().get()).to.equal(AUDIT_MAX_ROWS);
    const newest = listAudit(state, { limit: AUDIT_MAX_ROWS });
    expect(newest[0]!.subject).to.equal(`v${AUDIT_MAX_ROWS + 4}`);
    expect(newest.at(-1)!.subject).to.equal('v5');
    await state.close();
  });

  describe('campuslink-collector viewer add --scope/--role, viewer token, audit list', function () {
    this.timeout(60_000);
    const env = (dir: string) => ({ CAMPUSLINK_STATE_DIR: dir, CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv'), CAMPUSLINK_LOG_LEVEL: 'warn' });

    it('scopes an account to a county of the registry, refuses an unknown code or role, issues and revokes a read token, and lists who did each (and agent token changes) in the audit log', async () => {
      const dir = tempDir();
      const add = await runCli('collector', ['viewer', 'add', '--name', 'xingqing', '--scope', '640104', '--role', 'operator', '--by', 'alice'], env(dir));
      expect(add.code, add.stderr).to.equal(0);
      expect(add.stdout.trim()).to.match(/^[A-Za-z0-9_-]{24}$/);
      const unknown = await runCli('collector', ['viewer', 'add', '--name', 'x', '--scope', '990100'], env(dir));
      expect(unknown.code).to.not.equal(0);
      expect(unknown.stderr).to.contain('990100');
      const badRole = await runCli('collector', ['viewer', 'add', '--name', 'x', '--role', 'root'], env(dir));
      expect(badRole.code).to.not.equal(0);
      expect(badRole.stderr).to.contain('viewer, operator, admin');
      const roles = await runCli('collector', ['viewer', 'roles'], env(dir));
      expect(roles.stdout).to.match(/^xingqing\t640104\toperator\t/);

      const issued = await runCli('collector', ['viewer', 'token', 'issue', '--label', 'grafana 640104', '--scope', '640104', '--by', 'bob'], env(dir));
      expect(issued.code, issued.stderr).to.equal(0);
      const token = issued.stdout.trim();
      expect(token).to.match(/^clr1_[0-9a-f]{12}_/);
      const id = token.slice(5, 17);
      const list = await runCli('collector', ['viewer', 'token', 'list'], env(dir));
      expect(list.stdout).to.contain(`${id}\t640104\tgrafana 640104\t`).and.not.contain(token);
      const revoke = await runCli('collector', ['viewer', 'token', 'revoke', '--id', id, '--by', 'carol'], env(dir));
      expect(revoke.code, revoke.stderr).to.equal(0);

      expect((await runCli('collector', ['token', 'issue', '--school', '1640104001'], { ...env(dir), USER: 'dave', SUDO_USER: '' })).code).to.equal(0);
      expect((await runCli('collector', ['token', 'revoke', '--school', '1640104001'], { ...env(dir), USER: 'dave', SUDO_USER: '' })).code).to.equal(0);

      const audit = await runCli('collector', ['audit', 'list'], env(dir));
      const lines = audit.stdout.trim().split('\n').map((l) => l.split('\t').slice(1, 4).join(' '));
      expect(lines).to.deep.equal([
        'cli:dave token.revoke 1640104001',
        'cli:dave token.issue 1640104001',
        `cli:carol read_token.revoke ${id}`,
        `cli:bob read_token.issue ${id}`,
        'cli:alice viewer.add xingqing',
      ]);
    });
  });
});
