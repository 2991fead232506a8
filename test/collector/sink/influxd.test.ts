import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { findFreePort, influxdConfig, InfluxdError, startInfluxd, type InfluxdHandle } from '../../../collector/sink/influxd.js';

const influxdModule = fileURLToPath(new URL('../../../collector/sink/influxd.ts', import.meta.url));

/** Alive = exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

async function pingStatus(url: string): Promise<number | string> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2000) });
    return res.status;
  } catch (e) {
    return (e as { cause?: { code?: string } }).cause?.code ?? String(e);
  }
}

async function caught(p: Promise<unknown>): Promise<InfluxdError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(InfluxdError);
    return e as InfluxdError;
  }
  throw new Error('expected an InfluxdError');
}

describe('startInfluxd', function () {
  const dirs: string[] = [];
  const handles: InfluxdHandle[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'campuslink-influxd-test-'));
    dirs.push(d);
    return d;
  };
  const start = async (dataDir = tempDir()) => {
    const h = await startInfluxd({ dataDir });
    handles.push(h);
    return h;
  };

  after(async function () {
    await Promise.all(handles.map((h) => h.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('starts a real influxd on a free loopback port with everything under dataDir, and stop() ends the process', async function () {
    const dataDir = tempDir();
    const t0 = Date.now();
    const h = await start(dataDir);
    const startMs = Date.now() - t0;
    expect(h.url).to.equal(`http://127.0.0.1:${h.port}`);
    expect(h.port).to.not.equal(8086);
    expect(h.rpcPort).to.not.equal(8088);
    expect(h.rpcPort).to.not.equal(h.port);
    expect(h.running).to.equal(true);
    expect(isAlive(h.pid)).to.equal(true);
    expect(await pingStatus(h.url)).to.equal(204);
    expect(startMs, 'start-up time').to.be.below(10_000);

    const conf = readFileSync(h.configPath, 'utf8');
    expect(h.configPath).to.equal(join(dataDir, 'influxd.conf'));
    expect(conf).to.include(`bind-address = "127.0.0.1:${h.rpcPort}"`);
    expect(conf).to.include(`bind-address = "127.0.0.1:${h.port}"`);
    expect(conf).to.match(/reporting-enabled = false/);
    expect(conf).to.match(/\[monitor\]\s+store-enabled = false/);
    expect(conf).to.match(/query-log-enabled = false/);
    expect(conf).to.match(/\[http\][^[]*log-enabled = false/);
    expect(conf).to.match(/level = "warn"/);
    for (const sub of ['meta', 'data', 'wal']) expect(existsSync(join(dataDir, sub)), sub).to.equal(true);

    const pid = h.pid;
    await h.stop();
    expect(h.running).to.equal(false);
    expect(await waitUntil(() => !isAlive(pid), 2000), 'influxd process gone').to.equal(true);
    expect(await pingStatus(h.url)).to.equal('ECONNREFUSED');
    await h.stop(); // idempotent
  });

  it('fails with COL_ERR_INFLUXD_MISSING and the install hint when the binary does not exist', async function () {
    for (const binary of ['/nonexistent/bin/influxd', 'influxd-not-installed-anywhere']) {
      const e = await caught(startInfluxd({ dataDir: tempDir(), binary }));
      expect(e.code).to.equal('COL_ERR_INFLUXD_MISSING');
      expect(e.message).to.match(/^COL_ERR_INFLUXD_MISSING: /);
      expect(e.message).to.include('apt-get install influxdb');
      expect(e.message).to.include('CAMPUSLINK_INFLUX_URL');
      expect(e.message).to.include('influx.url');
    }
  });

  it('fails with COL_ERR_INFLUXD_START and the tail of its output when influxd exits before it is ready', async function () {
    const dir = tempDir();
    const fake = join(dir, 'fake-influxd');
    writeFileSync(fake, '#!/bin/sh\necho "starting up" >&2\necho "run: open server: boom, disk on fire" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    const e = await caught(startInfluxd({ dataDir: join(dir, 'data'), binary: fake }));
    expect(e.code).to.equal('COL_ERR_INFLUXD_START');
    expect(e.message).to.include('exited with code 3');
    expect(e.message).to.include('boom, disk on fire');
  });

  it('fails with COL_ERR_INFLUXD_START when the port is taken, naming the bind error', async function () {
    const first = await start();
    const e = await caught(startInfluxd({ dataDir: tempDir(), port: first.port }));
    expect(e.code).to.equal('COL_ERR_INFLUXD_START');
    expect(e.message).to.match(/address already in use/);
    expect(await pingStatus(first.url)).to.equal(204);
  });

  it('settings replace a generated key or add one to its section, and the real influxd runs with them', async function () {
    const dataDir = tempDir();
    const h = await startInfluxd({ dataDir, settings: { 'data.max-concurrent-compactions': '2', 'data.max-index-log-file-size': '"2m"', 'http.pprof-enabled': 'true' }, env: { GOGC: '150' } });
    handles.push(h);
    const conf = readFileSync(h.configPath, 'utf8');
    expect(conf.match(/max-concurrent-compactions = .*/g)).to.deep.equal(['max-concurrent-compactions = 2']);
    const data = conf.slice(conf.indexOf('[data]'), conf.indexOf('[monitor]'));
    expect(data).to.include('  max-index-log-file-size = "2m"\n');
    expect(conf.slice(conf.indexOf('[http]'))).to.match(/^ {2}pprof-enabled = true$/m);
    // pprof-enabled = true is what makes influxd serve its profiles: the setting took effect.
    expect((await fetch(`${h.url}/debug/pprof/cmdline`)).status).to.equal(200);
    expect(readFileSync(`/proc/${h.pid}/environ`, 'utf8').split('\0')).to.include('GOGC=150');
  });

  it('influxdConfig refuses a setting of an unknown section or with a malformed value, naming it', function () {
    const base = { dataDir: '/d', host: '127.0.0.1', port: 1, rpcPort: 2 };
    expect(() => influxdConfig({ ...base, settings: { 'nosuch.key': '1' } })).to.throw(TypeError, /nosuch\.key.*no \[nosuch\] section/);
    expect(() => influxdConfig({ ...base, settings: { 'data.max-index-log-file-size': '8m' } })).to.throw(TypeError, /max-index-log-file-size = "8m".*TOML string/);
    expect(() => influxdConfig({ ...base, settings: { nodot: '1' } })).to.throw(TypeError, /section\.key/);
  });

  it('refuses INFLUXDB_* variables in env, which would override the generated config', async function () {
    let err: unknown;
    await startInfluxd({ dataDir: tempDir(), env: { INFLUXDB_DATA_INDEX_VERSION: 'inmem' } }).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(TypeError);
    expect(String(err)).to.include('INFLUXDB_DATA_INDEX_VERSION');
  });

  it('runs two instances side by side on different ports', async function () {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a.port).to.not.equal(b.port);
    expect(a.rpcPort).to.not.equal(b.rpcPort);
    expect(await pingStatus(a.url)).to.equal(204);
    expect(await pingStatus(b.url)).to.equal(204);
    await a.stop();
    expect(await pingStatus(b.url)).to.equal(204);
  });

  it('restart() brings it back on the same port with the same data', async function () {
    const h = await start();
    const q = (body: string) =>
      fetch(`${h.url}/query`, { method: 'POST', body: new URLSearchParams({ q: body, db: 'r', epoch: 'ms' }) }).then((r) => r.json());
    await q('CREATE DATABASE r');
    const w = await fetch(`${h.url}/write?db=r&precision=ms`, { method: 'POST', body: 'm f=1.5 1700000000123' });
    expect(w.status).to.equal(204);
    const { port, pid } = h;

    await h.restart();
    expect(h.port).to.equal(port);
    expect(h.pid).to.not.equal(pid);
    expect(isAlive(pid)).to.equal(false);
    expect(await q('SELECT f FROM m')).to.deep.equal({
      results: [{ statement_id: 0, series: [{ name: 'm', columns: ['time', 'f'], values: [[1700000000123, 1.5]] }] }],
    });

    await h.stop();
    await h.restart(); // from stopped, too
    expect(await pingStatus(h.url)).to.equal(204);
  });

  it('kills influxd when the parent process exits without stopping it', async function () {
    const dataDir = tempDir();
    const script = `
      import { startInfluxd } from ${JSON.stringify(influxdModule)};
      const h = await startInfluxd({ dataDir: ${JSON.stringify(dataDir)} });
      console.log(h.pid);
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).to.equal(0);
    const pid = Number(out.trim());
    expect(pid).to.be.greaterThan(0);
    expect(await waitUntil(() => !isAlive(pid), 3000), `influxd ${pid} still alive`).to.equal(true);
  });

  it('findFreePort returns a port that can be bound', async function () {
    const port = await findFreePort('127.0.0.1');
    expect(port).to.be.within(1024, 65535);
  });
});
