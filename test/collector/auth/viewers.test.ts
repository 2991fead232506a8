import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Router } from 'express';
import { pino } from 'pino';
import { ViewerStore, issueViewer, removeViewer } from '../../../collector/auth/viewers.js';
import { createApp } from '../../../collector/http/app.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { makeReport } from '../../helpers/reports.js';
import { storedStateText } from '../../helpers/state-files.js';

const SCHOOL = '1640104001';
const basic = (name: string, password: string) => `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

describe('collector/auth/viewers', () => {
  it('issueViewer() stores only the hash of the password, and ViewerStore.verify() accepts exactly that pair', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-viewers-'));
    const { password } = issueViewer({ stateDir: dir, name: 'nx-edu' });
    expect(storedStateText(dir)).to.contain('nx-edu').and.not.contain(password);
    const store = new ViewerStore(openStateDb({ stateDir: dir }));
    expect(store.verify('nx-edu', password)).to.equal(true);
    expect(store.verify('nx-edu', `${password}x`)).to.equal(false);
    expect(store.verify('someone', password)).to.equal(false);
  });

  it('issueViewer() for an existing name replaces its password; removeViewer() removes it; the store sees both without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-viewers-'));
    const first = issueViewer({ stateDir: dir, name: 'ops' });
    const store = new ViewerStore(openStateDb({ stateDir: dir }));
    const second = issueViewer({ stateDir: dir, name: 'ops' });
    expect(second.replaced).to.equal(true);
    expect([store.verify('ops', first.password), store.verify('ops', second.password), store.size]).to.deep.equal([false, true, 1]);
    expect(removeViewer({ stateDir: dir, name: 'ops' })).to.equal(true);
    expect(removeViewer({ stateDir: dir, name: 'ops' })).to.equal(false);
    expect(store.size).to.equal(0);
  });

  it('a store sees accounts added and removed through its own connection too', () => {
    const state = openStateDb({ stateDir: mkdtempSync(join(tmpdir(), 'cl-viewers-')) });
    const store = new ViewerStore(state);
    expect(store.size).to.equal(0);
    const { password } = issueViewer({ state, name: 'ops' });
    expect([store.size, store.verify('ops', password)]).to.deep.equal([1, true]);
    removeViewer({ state, name: 'ops' });
    expect(store.size).to.equal(0);
    void state.close();
  });

  it('issueViewer() refuses a name HTTP Basic cannot carry', () => {
    expect(() => issueViewer({ stateDir: mkdtempSync(join(tmpdir(), 'cl-viewers-')), name: 'a:b' })).to.throw(/must be 1-64 characters/);
  });

  describe('the app with viewer accounts', () => {
    let server: Server;
    let base: string;
    let password: string;
    let dir: string;
    let state: StateDb;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cl-viewers-'));
      state = openStateDb({ stateDir: dir });
      const router = Router();
      router.get('/api/v1/schools/:id/devices', (_req, res) => void res.json({ devices: [] }));
      router.get('/', (_req, res) => void res.type('html').send('<h1>console</h1>'));
      const app = createApp({
        sink: new MemorySink(),
        tokens: { verify: (t) => (t === 'agent-token' ? { id: 'a', school: SCHOOL, sha256: '', issuedAt: '' } : undefined) },
        schools: { tagsFor: (id) => ({ school: id, province: '640000', city: '640100', county: '640104', link: 'fiber' }) },
        log: pino({ level: 'silent' }),
        maxBodyBytes: 64 * 1024,
        retryAfterS: 5,
        viewers: new ViewerStore(state),
        modules: [{ name: 'read', router }],
      });
      server = await new Promise((r) => {
        const s = app.listen(0, '127.0.0.1', () => r(s));
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.close();
      await state.close();
    });

    it('with no account the read side is open, as before', async () => {
      expect((await fetch(`${base}/api/v1/schools/${SCHOOL}/devices`)).status).to.equal(200);
    });

    it('with an account, the read APIs and the console answer 401 with a Basic challenge unless its credentials come along', async () => {
      password = issueViewer({ stateDir: dir, name: 'nx-edu' }).password;
      const anon = await fetch(`${base}/api/v1/schools/${SCHOOL}/devices`);
      expect(anon.status).to.equal(401);
      expect(anon.headers.get('www-authenticate')).to.equal('Basic realm="campuslink", charset="UTF-8"');
      expect(((await anon.json()) as { error: { code: string } }).error.code).to.equal('COL_ERR_VIEWER_UNAUTHENTICATED');
      expect((await fetch(`${base}/`)).status).to.equal(401);
      expect((await fetch(`${base}/api/v1/schools/${SCHOOL}/devices`, { headers: { authorization: basic('nx-edu', 'wrong') } })).status).to.equal(401);
      const ok = await fetch(`${base}/api/v1/schools/${SCHOOL}/devices`, { headers: { authorization: basic('nx-edu', password) } });
      expect(ok.status).to.equal(200);
      expect((await fetch(`${base}/`, { headers: { authorization: basic('nx-edu', password) } })).status).to.equal(200);
    });

    it('health stays open and agents still upload with their bearer token alone', async () => {
      expect((await fetch(`${base}/healthz`)).status).to.equal(200);
      const up = await fetch(`${base}/api/v1/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer agent-token' },
        body: JSON.stringify({ reports: [makeReport({ seq: 1 })] }),
      });
      expect(up.status).to.equal(200);
    });
  });
});
