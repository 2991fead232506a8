/** The collector's start/stop log in the state database, also on a full disk. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { LifeLog } from '../../../collector/gaps/lifelog.js';
import { openStateDb } from '../../../collector/state/db.js';
import { mountTmpfs } from '../../helpers/tmpfs.js';

function captureLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  return { log, lines };
}

describe('collector/gaps/lifelog', () => {
  it('a start after a crash counts the time since the last heartbeat as down, and the downtime survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-lifelog-'));
    let now = 1_000_000;
    let state = openStateDb({ stateDir: dir });
    const first = new LifeLog({ state, log: pino({ level: 'silent' }), now: () => now, heartbeatMs: 60_000 });
    first.start();
    await new Promise((r) => setTimeout(r, 20));
    await state.close(); // a crash: no stop()
    now += 30_000;
    state = openStateDb({ stateDir: dir });
    const second = new LifeLog({ state, log: pino({ level: 'silent' }), now: () => now, heartbeatMs: 60_000 });
    second.start();
    expect(second.downtimes()).to.deep.equal([{ fromMs: 1_000_000, toMs: 1_030_000 }]);
    await second.stop();
    await state.close();
    state = openStateDb({ stateDir: dir });
    expect(new LifeLog({ state, log: pino({ level: 'silent' }), now: () => now }).downtimes()).to.deep.equal([{ fromMs: 1_000_000, toMs: 1_030_000 }]);
    expect(new LifeLog({ state, log: pino({ level: 'silent' }), now: () => now }).downWithin(1_010_000, 1_100_000)).to.equal(20_000);
    await state.close();
  });

  it('on a full disk heartbeats fail without throwing, logged once with COL_ERR_RESOURCE_EXHAUSTED; the downtime is written when space is back', async function () {
    const fs = mountTmpfs(1024);
    if (!fs) throw new Error('needs root to mount a tmpfs (CI runs as root)');
    try {
      let now = 5_000_000;
      let state = openStateDb({ stateDir: fs.dir });
      const quiet = pino({ level: 'silent' });
      new LifeLog({ state, log: quiet, now: () => now }).start();
      await new Promise((r) => setTimeout(r, 20));
      await state.close(); // crashed; then the disk filled up
      state = openStateDb({ stateDir: fs.dir });
      fs.fill();
      now += 60_000;
      const { log, lines } = captureLog();
      const life = new LifeLog({ state, log, now: () => now, heartbeatMs: 5 });
      life.start();
      await new Promise((r) => setTimeout(r, 200));
      const failed = lines.filter((l) => l.code === 'COL_ERR_RESOURCE_EXHAUSTED');
      expect(failed, JSON.stringify(lines)).to.have.length(1);
      expect(failed[0]).to.include({ msg: 'collector heartbeat not saved; retrying, the collector keeps serving' });
      expect(life.downtimes()).to.deep.equal([{ fromMs: 5_000_000, toMs: 5_060_000 }]);
      fs.free();
      await new Promise((r) => setTimeout(r, 100));
      expect(lines.some((l) => l.msg === 'collector heartbeat saved again')).to.equal(true);
      expect(state.db.prepare('SELECT from_ms AS fromMs, to_ms AS toMs FROM lifelog_downtimes').all()).to.deep.equal([{ fromMs: 5_000_000, toMs: 5_060_000 }]);
      await life.stop();
      await state.close();
    } finally {
      fs.unmount();
    }
  });
});
