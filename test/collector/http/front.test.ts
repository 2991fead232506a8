/**
 * The collector's front on the real HAProxy (Debian's package): what reaches the collector behind it, what agents
 * get when the collector cannot answer, and that the collector keeps HAProxy running.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { CollectorPool } from '../../../agent/transport/pool.js';
import { controlSocketPath } from '../../../collector/http/front-control.js';
import { frontMaxConnections, frontSectionSchema, haproxyConfig, processRuns, startFront, type FrontHandle } from '../../../collector/http/front.js';
import { DEFAULT_LIMITS } from '../../../collector/http/limits.js';
import { findFreePort } from '../../../collector/sink/influxd.js';
import { repoPath, runCli, startCli, type CliProcess } from '../../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';
import { typicalReport } from '../../helpers/reports.js';

/** A backend that answers every request with what it saw. */
function echoBackend(): Promise<http.Server> {
  const s = http.createServer((q, r) => {
    let n = 0;
    q.on('data', (d: Buffer) => (n += d.length));
    q.on('end', () => {
      r.writeHead(200, { 'content-type': 'application/json' });
      r.end(JSON.stringify({ version: q.httpVersion, method: q.method, url: q.url, bytes: n, authorization: q.headers.authorization ?? null }));
    });
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}

function h2Post(url: string, headers: Record<string, string>, body: Buffer, on?: http2.ClientHttp2Session): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const session = on ?? http2.connect(url);
    if (!on) session.on('error', reject);
    const s = session.request({ ':method': 'POST', ':path': '/api/v1/reports', 'content-length': String(body.length), ...headers });
    let head: http2.IncomingHttpHeaders = {};
    let text = '';
    s.on('response', (h) => (head = h));
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('end', () => {
      if (!on) session.close();
      resolve({ status: Number(head[':status']), headers: head, body: text });
    });
    s.on('error', reject);
    s.end(body);
  });
}

const until = async (ok: () => boolean | Promise<boolean>, ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
};

describe('collector/http/front', function () {
  this.timeout(60_000);
  const settings = frontSectionSchema.parse({ kind: 'haproxy', queueTimeoutMs: 500 });
  const limits = { ...DEFAULT_LIMITS, retryAfterS: 7 };

  it('haproxyConfig() carries the collector limits: connections within the descriptors, streams, idle and request timeouts, the backend pool', () => {
    const cfg = haproxyConfig({ settings, host: '0.0.0.0', port: 8470, backendPort: 9000, limits: { ...limits, maxConnections: 80_000 }, dir: '/d', nofile: 20_000, controlSocket: '/d/admin.sock' });
    expect(frontMaxConnections({ maxConnections: 80_000 }, settings, 20_000)).to.equal(20_000 - 1000 - 64 - 64);
    expect(cfg).to.include('maxconn 18872');
    expect(cfg).to.include(`tune.h2.max-concurrent-streams ${DEFAULT_LIMITS.maxConcurrentStreams}`);
    expect(cfg).to.include(`timeout client ${DEFAULT_LIMITS.firstByteTimeoutMs}`);
    expect(cfg).to.include(`timeout http-keep-alive ${DEFAULT_LIMITS.sessionIdleTimeoutMs}`);
    expect(cfg).to.include(`timeout http-request ${Math.min(DEFAULT_LIMITS.headersTimeoutMs, DEFAULT_LIMITS.firstByteTimeoutMs)}`);
    expect(cfg).to.include('noreuseport');
    expect(cfg).to.include('stats socket /d/admin.sock mode 600 level admin');
    expect(cfg).to.not.include('ssl crt');
    expect(cfg).to.include('timeout queue 500');
    expect(cfg).to.include('bind 0.0.0.0:8470');
    expect(cfg).to.include('server collector 127.0.0.1:9000 maxconn 1000');
  });

  it('processRuns() is false for a zombie: a killed orphan that nobody reaps holds no port and must not be waited for', async () => {
    // bash execs into sleep, which never reaps the child bash left: that child becomes a zombie at once.
    const parent = spawn('bash', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((r) => parent.stdout.once('data', (d: Buffer) => r(d.toString().trim()))));
      expect(await until(() => readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '), 3000), 'a zombie').to.equal(true);
      expect(processRuns(pid)).to.equal(false);
      expect(processRuns(parent.pid as number)).to.equal(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('controlSocketPath() keeps the runtime socket in the front\'s folder, or in a private temporary one when that path is too long for a Unix socket', () => {
    expect(controlSocketPath('/var/lib/campuslink/front')).to.equal('/var/lib/campuslink/front/admin.sock');
    const long = controlSocketPath(`/srv/${'d'.repeat(120)}/front`);
    expect(long).to.match(/campuslink-front-[^/]+\/admin\.sock$/);
    expect(statSync(dirname(long)).mode & 0o777).to.equal(0o700);
    rmSync(dirname(long), { recursive: true });
  });

  describe('on a real HAProxy', () => {
    let backend: http.Server;
    let front: FrontHandle;
    let url: string;
    const lines: { code?: string; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const dir = mkdtempSync(join(tmpdir(), 'cl-front-'));

    before(async () => {
      backend = await echoBackend();
      const port = await findFreePort();
      front = await startFront({ settings, host: '127.0.0.1', port, backendPort: (backend.address() as AddressInfo).port, limits, dir, log });
      url = `http://127.0.0.1:${port}`;
    });
    after(async () => {
      await front?.stop();
      backend?.close();
    });

    it('an HTTP/2 upload (prior knowledge) and an HTTP/1.1 request on the one port both reach the collector as whole HTTP/1.1 requests', async () => {
      const body = Buffer.alloc(3000, 1);
      const h2 = await h2Post(url, { authorization: 'Bearer t1', 'content-type': 'application/json' }, body);
      expect(h2.status).to.equal(200);
      expect(JSON.parse(h2.body)).to.deep.equal({ version: '1.1', method: 'POST', url: '/api/v1/reports', bytes: 3000, authorization: 'Bearer t1' });
      const h1 = (await (await fetch(`${url}/healthz`)).json()) as { version: string; method: string };
      expect(h1).to.include({ version: '1.1', method: 'GET' });
    });

    it('when the collector does not answer, the agent gets 503 COL_ERR_OVERLOADED with Retry-After in the catalogue shape, and keeps its HTTP/2 session', async () => {
      const port = (backend.address() as AddressInfo).port;
      await new Promise((r) => backend.close(r));
      try {
        const session = http2.connect(url);
        let goaway = false;
        session.on('goaway', () => (goaway = true));
        for (let i = 0; i < 2; i++) {
          const res = await h2Post(url, { authorization: 'Bearer t1' }, Buffer.from('{}'), session);
          expect(res.status).to.be.oneOf([502, 503]);
          expect(res.headers['retry-after']).to.equal('7');
          expect(JSON.parse(res.body).error.code).to.equal(res.status === 503 ? 'COL_ERR_OVERLOADED' : 'COL_ERR_FRONT_UPSTREAM');
        }
        // The refusal keeps the agent's session: a refused fleet must not reconnect all at once.
        expect({ goaway, closed: session.closed }).to.deep.equal({ goaway: false, closed: false });
        session.close();
      } finally {
        backend = await new Promise((r) => {
          const s = http.createServer((q, rs) => {
            q.resume();
            q.on('end', () => rs.end('{"again":true}'));
          });
          s.listen(port, '127.0.0.1', () => r(s));
        });
      }
    });

    it('with every upload connection busy and uploads queued, /healthz and the views still answer through the front', async () => {
      const held: http.ServerResponse[] = [];
      let holding = true;
      const slow = http.createServer((q, r) => {
        q.resume();
        if (q.method === 'POST' && holding) held.push(r);
        else r.end('{"status":"ok"}');
      });
      await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
      const port = await findFreePort();
      const f = await startFront({ settings: { ...settings, backendConnections: 2, queueTimeoutMs: 3000 }, host: '127.0.0.1', port, backendPort: (slow.address() as AddressInfo).port, limits, dir: mkdtempSync(join(tmpdir(), 'cl-front-busy-')), log });
      try {
        const base = `http://127.0.0.1:${port}`;
        const uploads = [1, 2, 3, 4].map(() => fetch(`${base}/api/v1/reports`, { method: 'POST', body: 'x' }).then((r) => r.status));
        expect(await until(() => held.length === 2, 5000), 'two uploads reach the collector').to.equal(true);
        const t0 = performance.now();
        expect((await fetch(`${base}/healthz`)).status).to.equal(200);
        expect(performance.now() - t0, 'not queued behind the uploads').to.be.below(1500);
        holding = false;
        for (const r of held) r.end('{}');
        expect(await Promise.all(uploads)).to.include(200);
      } finally {
        await f.stop();
        slow.close();
      }
    });

    it("an agent's idle HTTP/2 session outlives firstByteTimeoutMs (kept for sessionIdleTimeoutMs); an idle HTTP/1.1 connection outlives keepAliveTimeoutMs (kept for firstByteTimeoutMs)", async () => {
      const port = await findFreePort();
      const short = { ...limits, keepAliveTimeoutMs: 300, firstByteTimeoutMs: 1000, sessionIdleTimeoutMs: 60_000 };
      const f = await startFront({ settings, host: '127.0.0.1', port, backendPort: (backend.address() as AddressInfo).port, limits: short, dir: mkdtempSync(join(tmpdir(), 'cl-front-idle-')), log });
      const session = http2.connect(`http://127.0.0.1:${port}`);
      let goaway = false;
      session.on('goaway', () => (goaway = true));
      try {
        expect((await h2Post('', { authorization: 'Bearer t1' }, Buffer.from('{}'), session)).status).to.equal(200);
        await new Promise((r) => setTimeout(r, 1500));
        expect((await h2Post('', { authorization: 'Bearer t1' }, Buffer.from('{}'), session)).status).to.equal(200);
        expect({ goaway, closed: session.closed }).to.deep.equal({ goaway: false, closed: false });
        // HTTP/1.1 keep-alive: the second request goes on the first one's connection.
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const sockets = new Set<unknown>();
        const get = () => new Promise<number>((resolve, reject) => {
          const q = http.get({ host: '127.0.0.1', port, path: '/healthz', agent }, (r) => (r.resume(), r.on('end', () => resolve(r.statusCode ?? 0))));
          q.on('socket', (s) => sockets.add(s));
          q.on('error', reject);
        });
        expect(await get()).to.equal(200);
        await new Promise((r) => setTimeout(r, 600));
        expect(await get()).to.equal(200);
        expect(sockets.size, 'one connection for both requests').to.equal(1);
        agent.destroy();
      } finally {
        session.close();
        await f.stop();
      }
    });

    it('HAProxy killed while serving is logged COL_ERR_FRONT_EXITED and started again, and serves', async () => {
      const pid = front.pid() as number;
      process.kill(pid, 'SIGKILL');
      expect(await until(() => front.restarts === 1 && front.pid() !== pid, 10_000), 'restarted').to.equal(true);
      expect(await until(async () => (await fetch(`${url}/x`).catch(() => undefined))?.status === 200, 10_000), 'serves again').to.equal(true);
      expect(lines.some((l) => l.code === 'COL_ERR_FRONT_EXITED')).to.equal(true);
    });

    it('a HAProxy left running by a killed collector (pid file) is stopped before a new front binds the port', async () => {
      const leftoverDir = mkdtempSync(join(tmpdir(), 'cl-front-left-'));
      const port = await findFreePort();
      const backendPort = (backend.address() as AddressInfo).port;
      const cfg = join(leftoverDir, 'haproxy.cfg');
      // What an earlier collector wrote, with its HAProxy still holding the port.
      writeFileSync(join(leftoverDir, '502.http'), 'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
      writeFileSync(join(leftoverDir, '503.http'), 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
      writeFileSync(join(leftoverDir, '504.http'), 'HTTP/1.1 504 Gateway Timeout\r\ncontent-length: 0\r\n\r\n');
      writeFileSync(cfg, haproxyConfig({ settings, host: '127.0.0.1', port, backendPort, limits, dir: leftoverDir, nofile: 4096, controlSocket: join(leftoverDir, 'admin.sock') }));
      const old = spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' });
      writeFileSync(join(leftoverDir, 'haproxy.pid'), `${old.pid}\n`);
      const oldGone = new Promise((r) => old.once('exit', r));
      expect(await until(async () => (await fetch(`http://127.0.0.1:${port}/x`).catch(() => undefined)) !== undefined, 10_000)).to.equal(true);
      const next = await startFront({ settings, host: '127.0.0.1', port, backendPort, limits, dir: leftoverDir, log });
      try {
        await oldGone;
        expect(next.pid()).to.not.equal(old.pid);
        expect(readFileSync(join(leftoverDir, 'haproxy.pid'), 'utf8').trim()).to.equal(String(next.pid()));
        expect((await fetch(`http://127.0.0.1:${port}/x`)).status).to.equal(200);
      } finally {
        await next.stop();
      }
    });

    it('startFront() throws COL_ERR_FRONT_START when another program holds the port (never shares it, never mistakes it for its own)', async () => {
      const squatter = http.createServer((_q, r) => r.end('not haproxy'));
      await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
      try {
        const port = (squatter.address() as AddressInfo).port;
        const err = await startFront({ settings, host: '127.0.0.1', port, backendPort: (backend.address() as AddressInfo).port, limits, dir: mkdtempSync(join(tmpdir(), 'cl-front-squat-')), log, startTimeoutMs: 3000 }).catch((e: unknown) => e);
        expect(err).to.have.property('code', 'COL_ERR_FRONT_START');
        expect((await (await fetch(`http://127.0.0.1:${port}/`)).text())).to.equal('not haproxy');
      } finally {
        squatter.close();
      }
    });

    it('startFront() throws COL_ERR_FRONT_START naming the binary when HAProxy is not installed', async () => {
      const err = await startFront({ settings: { ...settings, binary: '/nonexistent/haproxy' }, host: '127.0.0.1', port: 1, backendPort: 2, limits, dir, log }).catch((e: unknown) => e);
      expect(err).to.have.property('code', 'COL_ERR_FRONT_START');
      expect((err as Error).message).to.include('/nonexistent/haproxy');
    });
  });

  describe('campuslink-collector serve with front.kind haproxy', () => {
    let influx: TestInfluxd;
    let collector: CliProcess;
    let url: string;
    const dir = mkdtempSync(join(tmpdir(), 'cl-front-serve-'));

    before(async () => {
      influx = await startTestInfluxd();
      collector = await startCli('collector', ['serve'], {
        env: { CAMPUSLINK_STATE_DIR: dir, CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv'), CAMPUSLINK_INFLUX_URL: influx.url, CAMPUSLINK_LISTEN: '127.0.0.1:0', CAMPUSLINK_LOG_LEVEL: 'info', CAMPUSLINK_FRONT_KIND: 'haproxy' },
        ready: /listening on (http\S+)/,
      });
      url = /listening on (http\S+)/.exec(collector.readyLine)?.[1] as string;
    });
    after(async () => {
      await collector?.stop();
      await influx?.cleanup();
    });

    it("an agent's HTTP/2 uploads through the front are acknowledged and written; the collector holds no HTTP/2 session", async () => {
      const issued = await runCli('collector', ['token', 'issue', '--school', '1640104001'], { CAMPUSLINK_STATE_DIR: dir, CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv'), CAMPUSLINK_INFLUX_URL: influx.url });
      expect(issued.code, issued.stderr).to.equal(0);
      const token = issued.stdout.trim().split('\n').pop() as string;
      const pool = new CollectorPool({ urls: [url], token, timeoutMs: 5000, gzip: true, dictionary: true, http2: true, version: '0.1.0', now: Date.now });
      try {
        for (let seq = 1; seq <= 3; seq++) expect((await pool.send([typicalReport({ seq, school: '1640104001', collectedAt: Date.now() - (10 - seq) * 60_000 })])).ack.accepted).to.deep.equal([seq]);
      } finally {
        pool.close();
      }
      // The agent's session ends in the front: the collector sees HTTP/1.1 connections from it, no HTTP/2 session.
      const health = (await (await fetch(`${url}/healthz`)).json()) as { connections: { http1: number; http2Sessions: number } };
      expect(health.connections.http2Sessions).to.equal(0);
      expect(health.connections.http1).to.be.greaterThan(0);
      const rows = await influx.query('SELECT count("rtt_avg_ms") FROM "ping" WHERE "school" = \'1640104001\'');
      expect(rows.length).to.be.greaterThan(0);
      expect(collector.stderr()).to.not.include('COL_ERR_FRONT');
    });
  });

  it('a collector started after its predecessor was SIGKILLed stops the HAProxy that was left holding the port, and serves on it', async () => {
    const influx = await startTestInfluxd();
    const dir = mkdtempSync(join(tmpdir(), 'cl-front-killed-'));
    const port = await findFreePort();
    const env = { CAMPUSLINK_STATE_DIR: dir, CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv'), CAMPUSLINK_INFLUX_URL: influx.url, CAMPUSLINK_LISTEN: `127.0.0.1:${port}`, CAMPUSLINK_LOG_LEVEL: 'info', CAMPUSLINK_FRONT_KIND: 'haproxy' };
    let second: CliProcess | undefined;
    try {
      const first = await startCli('collector', ['serve'], { env, ready: /listening on (http\S+)/ });
      const leftover = Number(readFileSync(join(dir, 'front', 'haproxy.pid'), 'utf8').trim());
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));
      // SIGKILL reaches no child: the old HAProxy still owns the port.
      expect(processRuns(leftover), 'the orphaned HAProxy still runs').to.equal(true);
      second = await startCli('collector', ['serve'], { env, ready: /listening on (http\S+)/ });
      expect(processRuns(leftover)).to.equal(false);
      expect(second.stderr()).to.include('left by an earlier collector still runs: stopping it');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).to.equal(200);
    } finally {
      await second?.stop();
      await influx.cleanup();
    }
  });
});
