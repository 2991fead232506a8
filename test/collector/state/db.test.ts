import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { StateDbError, openStateDb, type StateDb } from '../../../collector/state/db.js';

describe('collector/state/db', () => {
  let dir: string;
  let db: StateDb;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'clk-statedb-'));
    db = openStateDb({ stateDir: dir, recoverAfterMs: 0 });
    db.migrate('t', [{ version: 1, description: 'kv', up: 'CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)' }]);
  });
  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commit() groups work queued in one tick into one transaction and resolves each with its result', async () => {
    const ins = db.db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
    const results = await Promise.all([1, 2, 3].map((i) => db.commit(() => ins.run(`k${i}`, i).changes)));
    expect(results).to.deep.equal([1, 1, 1]);
    expect(db.health()).to.include({ commits: 1, items: 3, writable: true });
  });

  it('commit() ends a group once its work ran maxGroupWorkMs; the rest commit in the next groups, in order, each resolved', async () => {
    await db.close();
    db = openStateDb({ stateDir: dir, recoverAfterMs: 0, maxGroupWorkMs: 5 });
    const ins = db.db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
    const order: number[] = [];
    const slow = (i: number) => () => {
      const until = performance.now() + 2;
      while (performance.now() < until);
      order.push(i);
      return ins.run(`s${String(i).padStart(2, '0')}`, i).changes;
    };
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => db.commit(slow(i))));
    expect(results).to.deep.equal(Array(12).fill(1));
    expect(order).to.deep.equal([...Array(12).keys()]);
    // 2 ms an item, 5 ms a group: about three items a group (more groups when the box is loaded), never one for all.
    expect(db.health().commits).to.be.within(3, 12);
    expect(db.health().items).to.equal(12);
    expect(db.db.prepare('SELECT count(*) AS n FROM kv').get()).to.deep.equal({ n: 12 });
  });

  it('commit() tells at most maxSettlePerTurn callers a turn that their item is durable, in commit order', async () => {
    await db.close();
    db = openStateDb({ stateDir: dir, recoverAfterMs: 0, maxSettlePerTurn: 10 });
    const seen = await commitCountingTurns(db, 35);
    expect(db.health().commits).to.equal(1);
    expect(seen.map((x) => x.i)).to.deep.equal([...Array(35).keys()]);
    const perTurn = settledPerTurn(seen);
    expect(Math.max(...perTurn.values())).to.be.at.most(10);
    expect(perTurn.size).to.be.at.least(4);
  });

  it('commit() keeps to maxSettlePerTurn a turn also when one WAL sync completes many small groups', async () => {
    await db.close();
    db = openStateDb({ stateDir: dir, recoverAfterMs: 0, maxSettlePerTurn: 10, maxGroupItems: 5 });
    const seen = await commitCountingTurns(db, 120);
    expect(db.health().commits).to.be.at.least(24);
    expect(Math.max(...settledPerTurn(seen).values())).to.be.at.most(10);
  });

  it('commit() rejects only the item that broke a constraint; the rest of its group is committed', async () => {
    const ins = db.db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
    const settled = await Promise.allSettled([db.commit(() => ins.run('a', 1)), db.commit(() => ins.run('a', 2)), db.commit(() => ins.run('b', 3))]);
    expect(settled.map((s) => s.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).to.be.instanceOf(StateDbError).with.property('retryable', false);
    expect(db.db.prepare('SELECT k, v FROM kv ORDER BY k').all()).to.deep.equal([{ k: 'a', v: 1 }, { k: 'b', v: 3 }]);
  });

  it('commit() resolves only after the WAL was fdatasync\'ed off the event loop, shares one sync among the groups committed meanwhile, and rejects as retryable when the sync fails', async () => {
    const fs = (await import('node:fs')).default;
    const { syncBuiltinESMExports } = await import('node:module');
    const real = fs.fdatasync;
    const calls: ((e: NodeJS.ErrnoException | null) => void)[] = [];
    fs.fdatasync = ((_fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => void calls.push(cb)) as typeof fs.fdatasync;
    syncBuiltinESMExports();
    try {
      const ins = db.db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
      let resolved = false;
      const first = db.commit(() => ins.run('a', 1)).then(() => (resolved = true));
      await new Promise((r) => setTimeout(r, 30));
      // Committed in SQLite, not yet acknowledged: the sync has not answered.
      expect([calls.length, resolved, db.db.prepare('SELECT count(*) AS n FROM kv').get()]).to.deep.equal([1, false, { n: 1 }]);
      const second = db.commit(() => ins.run('b', 2));
      const third = db.commit(() => ins.run('c', 3));
      await new Promise((r) => setTimeout(r, 30));
      expect(calls.length, 'no second sync while one is in flight').to.equal(1);
      calls.shift()?.(null);
      await first;
      await new Promise((r) => setTimeout(r, 10));
      expect(calls.length, 'one sync for both groups committed meanwhile').to.equal(1);
      calls.shift()?.(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      const errs = await Promise.all([second, third].map((p) => p.then(() => undefined, (e: unknown) => e)));
      for (const e of errs) expect(e).to.be.instanceOf(StateDbError).with.property('retryable', true);
      expect(db.health().writable).to.equal(false);
      // Other writes of the connection keep fsyncing in SQLite itself.
      expect(db.db.pragma('synchronous', { simple: true })).to.equal(2);
      const fourth = db.commit(() => ins.run('d', 4));
      await new Promise((r) => setTimeout(r, 30));
      calls.shift()?.(null);
      await fourth;
      expect(db.health().writable).to.equal(true);
    } finally {
      fs.fdatasync = real;
      syncBuiltinESMExports();
    }
  });

  it('WAL checkpoints run on a worker thread: commits checkpoint nothing themselves, and the worker copies the WAL into the database', async () => {
    const { statSync } = await import('node:fs');
    const { Checkpointer } = await import('../../../collector/state/checkpointer.js');
    await db.close();
    // The timer never fires during the test: the checkpoint is asked for below.
    db = openStateDb({ stateDir: dir, checkpointIntervalMs: 600_000 });
    expect([db.backgroundCheckpoints, db.db.pragma('wal_autocheckpoint', { simple: true })]).to.deep.equal([true, 0]);
    const blob = 'x'.repeat(3000);
    for (let g = 0; g < 30; g++) await Promise.all(Array.from({ length: 100 }, (_, i) => db.commit((d) => d.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run(`${blob}${g}-${i}`, i))));
    // SQLite checkpointing on commit would have kept the WAL near its 1,000 pages (4 MiB).
    expect(statSync(`${db.path}-wal`).size).to.be.greaterThan(2000 * 4096);
    const cp = new Checkpointer({ path: db.path, intervalMs: 600_000, onFailed: (r) => expect.fail(r) });
    const r = await cp.checkpoint();
    await cp.close();
    expect(r?.log).to.be.greaterThan(2000);
    expect(r?.checkpointed).to.equal(r?.log);
    expect(db.health().checkpointer).to.include({ running: true, failures: 0 });
    await db.close();
    expect(db.health().checkpointer?.running).to.equal(false);
    db = openStateDb({ stateDir: dir, checkpointIntervalMs: 0 });
    expect([db.backgroundCheckpoints, db.db.pragma('wal_autocheckpoint', { simple: true }), (db.db.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n]).to.deep.equal([false, 1000, 3000]);
  });

  it('runs a group\'s transaction at synchronous=NORMAL (the WAL is synced once after it) and leaves the connection at FULL', async () => {
    const during = await db.commit((d) => d.pragma('synchronous', { simple: true }));
    expect([during, db.db.pragma('synchronous', { simple: true })]).to.deep.equal([1, 2]);
  });

  it('gives its connection a page cache of cacheMiB (default 64 MiB), not SQLite\'s 2 MiB', async () => {
    expect(db.db.pragma('cache_size', { simple: true })).to.equal(-64 * 1024);
    await db.close();
    db = openStateDb({ stateDir: dir, cacheMiB: 8 });
    expect(db.db.pragma('cache_size', { simple: true })).to.equal(-8 * 1024);
  });

  it('transaction() takes the write lock before its work reads, so a second process committing meanwhile waits instead of making it fail with "database is locked"', () => {
    db.transaction((d) => d.prepare("INSERT INTO kv (k, v) VALUES ('n', 0)").run());
    // A second connection stands for a CLI command (or a serving collector) in another process.
    const other = openStateDb({ stateDir: dir, busyTimeoutMs: 50, checkpointIntervalMs: 0 });
    let otherErr: unknown;
    try {
      const v = db.transaction((d) => {
        const n = (d.prepare("SELECT v FROM kv WHERE k = 'n'").get() as { v: number }).v;
        try {
          other.transaction((o) => o.prepare("UPDATE kv SET v = 100 WHERE k = 'n'").run());
        } catch (e) {
          otherErr = e;
        }
        d.prepare("UPDATE kv SET v = ? WHERE k = 'n'").run(n + 1);
        return n + 1;
      });
      expect(v).to.equal(1);
      expect((otherErr as StateDbError).retryable, 'the other writer waited its busy timeout and failed retryable').to.equal(true);
      expect(db.db.prepare("SELECT v FROM kv WHERE k = 'n'").get()).to.deep.equal({ v: 1 });
    } finally {
      void other.close();
    }
  });

  it('migrate() applies each version once per module, across reopen', async () => {
    db.migrate('t', [{ version: 1, description: 'kv', up: 'CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)' }, { version: 2, description: 'index', up: 'CREATE INDEX kv_v ON kv (v)' }]);
    await db.close();
    db = openStateDb({ stateDir: dir });
    db.migrate('t', [{ version: 1, description: 'kv', up: 'CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)' }, { version: 2, description: 'index', up: 'CREATE INDEX kv_v ON kv (v)' }]);
    expect(db.db.prepare("SELECT module, version FROM schema_migrations ORDER BY version").all()).to.deep.equal([{ module: 't', version: 1 }, { module: 't', version: 2 }]);
  });
});

describe('campuslink-collector state backup', function () {
  this.timeout(60_000);
  it('copies a live WAL database into a new file that opens with the same rows, and refuses an existing file', async () => {
    const { runCli } = await import('../../helpers/cli.js');
    const { existsSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'clk-statedb-'));
    const live = openStateDb({ stateDir: dir });
    live.migrate('t', [{ version: 1, description: 'kv', up: 'CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)' }]);
    await live.commit((d) => d.prepare("INSERT INTO kv (k, v) VALUES ('a', 1)").run());
    const to = join(dir, 'backup.db');
    const r = await runCli('collector', ['state', 'backup', '--to', to], { CAMPUSLINK_STATE_DIR: dir });
    expect(r.code, r.stderr).to.equal(0);
    await live.close();
    const copy = openStateDb({ stateDir: dir, path: to });
    expect(copy.db.prepare('SELECT k, v FROM kv').all()).to.deep.equal([{ k: 'a', v: 1 }]);
    await copy.close();
    const again = await runCli('collector', ['state', 'backup', '--to', to], { CAMPUSLINK_STATE_DIR: dir });
    expect([again.code, existsSync(to)]).to.deep.equal([1, true]);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('collector/state/db on a full disk', () => {
  it('opens an existing database on a full disk (exclusive locking), reads it, rejects commits as retryable, and commits again once space is back', async function () {
    const { mountTmpfs } = await import('../../helpers/tmpfs.js');
    const fs = mountTmpfs(1024);
    if (!fs) throw new Error('needs root to mount a tmpfs (CI runs as root)');
    try {
      let db = openStateDb({ stateDir: fs.dir });
      db.migrate('t', [{ version: 1, description: 'kv', up: 'CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)' }]);
      await db.commit((d) => d.prepare("INSERT INTO kv (k, v) VALUES ('a', 1)").run());
      await db.close();
      fs.fill();
      db = openStateDb({ stateDir: fs.dir, recoverAfterMs: 0 });
      db.migrate('t', [{ version: 1, description: 'kv', up: 'CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)' }]);
      expect([db.exclusive, db.db.prepare('SELECT k, v FROM kv').all()]).to.deep.equal([true, [{ k: 'a', v: 1 }]]);
      const err = await db.commit((d) => d.prepare("INSERT INTO kv (k, v) VALUES ('b', 2)").run()).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(StateDbError).with.property('retryable', true);
      expect(db.health()).to.include({ writable: false });
      fs.free();
      await db.commit((d) => d.prepare("INSERT INTO kv (k, v) VALUES ('b', 2)").run());
      expect(db.health()).to.include({ writable: true });
      expect(db.db.prepare('SELECT count(*) FROM kv').pluck().get()).to.equal(2);
      await db.close();
    } finally {
      fs.unmount();
    }
  });

  it('health().writable stays false after a failed commit until a commit succeeds recoverAfterMs later, so a full disk does not flap it', async () => {
    const { mountTmpfs } = await import('../../helpers/tmpfs.js');
    const fs = mountTmpfs(1024);
    if (!fs) throw new Error('needs root to mount a tmpfs (CI runs as root)');
    try {
      const db = openStateDb({ stateDir: fs.dir, recoverAfterMs: 60_000 });
      db.migrate('t', [{ version: 1, description: 'kv', up: 'CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)' }]);
      await db.commit((d) => d.prepare("INSERT INTO kv (k, v) VALUES ('a', 'x')").run());
      fs.fill();
      const big = 'x'.repeat(256 * 1024);
      const err = await db.commit((d) => d.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run('b', big)).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(StateDbError).with.property('retryable', true);
      expect(db.health()).to.include({ writable: false });
      fs.free();
      await db.commit((d) => d.prepare("INSERT INTO kv (k, v) VALUES ('c', 'y')").run());
      expect(db.health()).to.include({ writable: false });
      await db.close();
    } finally {
      fs.unmount();
    }
  });
});

describe('collector/state/db file', () => {
  it('creates state.db and its WAL readable by the owner only', async () => {
    const { statSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'clk-statedb-'));
    const db = openStateDb({ stateDir: dir });
    db.migrate('t', [{ version: 1, description: 'kv', up: 'CREATE TABLE kv (k TEXT PRIMARY KEY)' }]);
    expect([statSync(join(dir, 'state.db')).mode & 0o777, statSync(join(dir, 'state.db-wal')).mode & 0o777]).to.deep.equal([0o600, 0o600]);
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

/** Commits `n` inserts at once and records, for each, the event-loop turn (counted by setImmediate) it was told in. */
async function commitCountingTurns(db: StateDb, n: number): Promise<{ i: number; turn: number }[]> {
  const ins = db.db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
  let turn = 0;
  let counting = true;
  const tick = () => {
    turn++;
    if (counting) setImmediate(tick);
  };
  const seen: { i: number; turn: number }[] = [];
  const all = Array.from({ length: n }, (_, i) => db.commit(() => ins.run(`t${i}`, i)).then(() => seen.push({ i, turn })));
  setImmediate(tick);
  await Promise.all(all);
  counting = false;
  return seen;
}

/** How many callers were told in each turn. */
function settledPerTurn(seen: readonly { turn: number }[]): Map<number, number> {
  const perTurn = new Map<number, number>();
  for (const x of seen) perTurn.set(x.turn, (perTurn.get(x.turn) ?? 0) + 1);
  return perTurn;
}
