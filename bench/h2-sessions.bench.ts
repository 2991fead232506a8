/**
 * What one idle agent connection costs the collector: N long-lived HTTP/2 sessions (each authenticated by
 * one answered request, then idle, as an agent between uploads) against N idle raw TCP connections (the
 * peer: the least a connection can cost), each on a fresh collector CLI process, interleaved and repeated.
 * Reports collector RSS and descriptors per connection and the projection to 60,000 schools.
 * Goal: 60,000 idle sessions fit in 2 GiB of collector RSS.
 *
 * Two more questions, each run directly (issue 11, session 9):
 *
 *   npx tsx bench/h2-sessions.bench.ts --churn 2000 [--base main] [--rounds 3]
 *     Sessions opened (one upload answered), then closed by the client (half GOAWAY, half reset): how many of
 *     the server's `ServerHttp2Session` objects are still reachable after a full GC (a FinalizationRegistry
 *     counts them), for this tree's listener.ts and the one of `--base` (git show <base>:collector/http/listener.ts,
 *     placed beside it), interleaved.
 *   npx tsx bench/h2-sessions.bench.ts --candidates 5000 [--rounds 2]
 *     RSS and JS heap per idle answered session of a bare HTTP/2 server, after a full GC, for candidate server
 *     options (settings, HPACK table sizes, maxSessionMemory …): which of them shrink nghttp2's memory.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../collector/auth/tokens.js';
import { startInfluxd } from '../collector/sink/influxd.js';
import { repoPath, startCli } from '../test/helpers/cli.js';
import type { BenchResult } from './snmp-poll.bench.js';

const N = Number(process.env.BENCH_SESSIONS ?? 8000);
const REPEAT = 3;
const SCHOOL = '1640104001';

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** One session that has had one request answered (400: an empty batch), then stays idle. */
async function agentSession(url: string, token: string): Promise<http2.ClientHttp2Session> {
  const s = http2.connect(url);
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const req = s.request({ ':method': 'POST', ':path': '/api/v1/reports', authorization: `Bearer ${token}`, 'content-type': 'application/json' });
    req.on('response', () => undefined);
    req.resume();
    req.on('end', () => resolve());
    req.on('error', reject);
    req.end('{"reports":[]}');
  });
  return s;
}

async function rawConnection(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  return s;
}

/** Opens N connections of `kind` to a fresh collector; returns the RSS and descriptor growth per connection. */
async function measure(kind: 'h2' | 'tcp', influxUrl: string): Promise<{ rssPer: number; fdsPer: number }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'cl-bench-h2-'));
  const token = issueToken({ stateDir, school: SCHOOL }).token;
  const cli = await startCli('collector', ['serve'], {
    env: {
      CAMPUSLINK_STATE_DIR: stateDir,
      CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv'),
      CAMPUSLINK_INFLUX_URL: influxUrl,
      CAMPUSLINK_LISTEN: '127.0.0.1:0',
      CAMPUSLINK_LOG_LEVEL: 'error',
      CAMPUSLINK_HTTP_FIRST_BYTE_TIMEOUT_MS: '600000',
      CAMPUSLINK_HTTP_UNAUTHENTICATED_TIMEOUT_MS: '3600000',
    },
    ready: /listening on (http\S+)/,
  });
  const url = /listening on (http\S+)/.exec(cli.readyLine)?.[1] as string;
  const port = Number(new URL(url).port);
  const pid = cli.child.pid as number;
  const held: { destroy(): void }[] = [];
  try {
    await sleep(2000);
    const rss0 = rssOf(pid);
    const fds0 = fdsOf(pid);
    for (let i = 0; i < N; i += 200) {
      const batch = await Promise.all(Array.from({ length: Math.min(200, N - i) }, () => (kind === 'h2' ? agentSession(url, token) : rawConnection(port))));
      held.push(...batch);
    }
    await sleep(3000);
    return { rssPer: (rssOf(pid) - rss0) / N, fdsPer: (fdsOf(pid) - fds0) / N };
  } finally {
    for (const h of held) h.destroy();
    await cli.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cl-bench-h2-influx-'));
  const influxd = await startInfluxd({ dataDir });
  const h2: { rssPer: number; fdsPer: number }[] = [];
  const tcp: { rssPer: number; fdsPer: number }[] = [];
  try {
    for (let r = 0; r < REPEAT; r++) {
      h2.push(await measure('h2', influxd.url));
      tcp.push(await measure('tcp', influxd.url));
    }
  } finally {
    await influxd.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const h2Rss = median(h2.map((m) => m.rssPer));
  const tcpRss = median(tcp.map((m) => m.rssPer));
  const at60k = h2Rss * 60_000;
  const kb = (b: number) => `${(b / 1024).toFixed(1)} kB`;
  return {
    name: 'h2-sessions',
    figures: {
      sessions: N,
      'h2 RSS per idle session (median)': kb(h2Rss),
      'h2 RSS per session, all runs': h2.map((m) => kb(m.rssPer)).join(', '),
      'raw TCP RSS per idle connection (median)': kb(tcpRss),
      'raw TCP RSS per connection, all runs': tcp.map((m) => kb(m.rssPer)).join(', '),
      'descriptors per h2 session': median(h2.map((m) => m.fdsPer)).toFixed(2),
      'projected RSS for 60,000 sessions': `${(at60k / 1024 ** 3).toFixed(2)} GiB`,
      'h2 / raw TCP': (h2Rss / tcpRss).toFixed(2),
    },
    ratio: at60k / 2 ** 31,
    goal: '60,000 idle HTTP/2 sessions ≤ 2 GiB collector RSS (ratio = projected / 2 GiB ≤ 1)',
    pass: at60k <= 2 ** 31,
  };
}

const HERE = fileURLToPath(import.meta.url);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Candidate server options for --candidates: the listener's, and smaller tables, windows and limits. */
const CANDIDATES: Record<string, http2.ServerOptions> = {
  listener: { settings: { maxConcurrentStreams: 16 } },
  'small tables+window': {
    settings: { maxConcurrentStreams: 16, headerTableSize: 512, initialWindowSize: 65_535, maxHeaderListSize: 8192 },
    maxDeflateDynamicTableSize: 512,
    maxHeaderListPairs: 32,
    peerMaxConcurrentStreams: 16,
    maxSendHeaderBlockLength: 4096,
    maxSessionMemory: 1,
  },
  'no HPACK tables': { settings: { maxConcurrentStreams: 16, headerTableSize: 0 }, maxDeflateDynamicTableSize: 0 },
};

/** One client session with one upload answered (agent-like headers), kept open. */
function answeredSession(url: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(url);
    s.on('error', () => {});
    const q = s.request({ ':method': 'POST', ':path': '/api/v1/reports', authorization: `Bearer ${'x'.repeat(43)}`, 'content-type': 'application/json', 'content-encoding': 'x-campuslink-cols1' });
    q.resume();
    q.on('end', () => resolve(s));
    q.on('error', reject);
    q.end('{}');
  });
}

async function openMany(url: string, n: number): Promise<http2.ClientHttp2Session[]> {
  const held: http2.ClientHttp2Session[] = [];
  for (let i = 0; i < n; i += 250) held.push(...(await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => answeredSession(url)))));
  return held;
}

const ask = <T>(c: ChildProcess, m: unknown): Promise<T> =>
  new Promise((r) => {
    c.once('message', (x) => r(x as T));
    c.send(m as string);
  });

function forkChild(env: Record<string, string>): ChildProcess {
  return fork(HERE, [], { env: { ...process.env, ...env }, execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** Full GCs until the count settles (FinalizationRegistry callbacks run between tasks). */
async function collect(): Promise<void> {
  for (let i = 0; i < 6; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await sleep(30);
  }
}

/** Child of --candidates: a bare HTTP/2 server with candidate CANDIDATE's options; answers { rss, heap } after GC. */
async function candidateChild(name: string): Promise<void> {
  const srv = http2.createServer(CANDIDATES[name] as http2.ServerOptions);
  srv.on('stream', (s) => {
    s.resume();
    s.on('end', () => {
      s.respond({ ':status': 200 });
      s.end('{}');
    });
  });
  srv.on('session', (s) => s.on('error', () => {}));
  srv.listen(0, '127.0.0.1', () => process.send?.((srv.address() as net.AddressInfo).port));
  process.on('message', async () => {
    await collect();
    const m = process.memoryUsage();
    process.send?.({ rss: m.rss, heap: m.heapUsed });
  });
}

/** Child of --churn: listen() of the module LISTENER_MODULE; answers how many server sessions are reachable after GC. */
async function churnChild(modulePath: string): Promise<void> {
  let live = 0;
  const registry = new FinalizationRegistry(() => live--);
  const createServer = http2.createServer;
  // listener.ts calls http2.createServer on the module object: count every session it is given.
  (http2 as { createServer: unknown }).createServer = (...a: Parameters<typeof http2.createServer>) => {
    const srv = createServer(...a);
    srv.on('session', (x) => {
      live++;
      registry.register(x, 0);
    });
    return srv;
  };
  const { listen } = (await import(modulePath)) as typeof import('../collector/http/listener.js');
  const { pino } = await import('pino');
  const l = await listen({
    host: '127.0.0.1',
    port: 0,
    log: pino({ level: 'silent' }),
    reservedFds: 0,
    app: (_q, r) => r.end(),
    ingest: (q, r) => {
      q.resume();
      q.on('end', () => {
        r.writeHead(200, { 'content-type': 'application/json' });
        r.end('{}');
      });
    },
  });
  process.send?.(l.port);
  process.on('message', async () => {
    await collect();
    process.send?.({ live, open: l.stats().http2Sessions, heap: process.memoryUsage().heapUsed });
  });
}

/** --churn: closed sessions still reachable after GC, this tree's listener against the base's, interleaved. */
async function churn(n: number, base: string, rounds: number): Promise<void> {
  const here = join(HERE, '../../collector/http/listener.ts');
  const baseFile = join(HERE, '../../collector/http/listener.bench-base.ts');
  writeFileSync(baseFile, execFileSync('git', ['show', `${base}:collector/http/listener.ts`], { cwd: join(HERE, '../..') }));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [name, file] of [
        ['this tree', here],
        [base, baseFile],
      ] as const) {
        const c = forkChild({ H2_SESSIONS_CHILD: 'churn', LISTENER_MODULE: file });
        const port = await new Promise<number>((ok) => c.once('message', (p) => ok(p as number)));
        const before = await ask<{ heap: number }>(c, 'm');
        const held = await openMany(`http://127.0.0.1:${port}`, n);
        held.forEach((s, i) => (i % 2 ? s.destroy() : s.close()));
        await sleep(1500);
        const after = await ask<{ live: number; open: number; heap: number }>(c, 'm');
        console.log(`${name}: ${n} sessions opened and closed; open ${after.open}, still reachable after GC ${after.live}; JS heap +${((after.heap - before.heap) / 1024 ** 2).toFixed(1)} MiB`);
        c.kill();
      }
    }
  } finally {
    rmSync(baseFile, { force: true });
  }
}

/** --candidates: RSS and JS heap per idle answered session for each candidate, interleaved. */
async function candidates(n: number, rounds: number): Promise<void> {
  const rss: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(CANDIDATES)) {
      const c = forkChild({ H2_SESSIONS_CHILD: 'candidate', CANDIDATE: name });
      const port = await new Promise<number>((ok) => c.once('message', (p) => ok(p as number)));
      const m0 = await ask<{ rss: number; heap: number }>(c, 'm');
      const held = await openMany(`http://127.0.0.1:${port}`, n);
      await sleep(1500);
      const m1 = await ask<{ rss: number; heap: number }>(c, 'm');
      (rss[name] ??= []).push((m1.rss - m0.rss) / n);
      console.log(`${name}: RSS ${((m1.rss - m0.rss) / n / 1024).toFixed(1)} kB, JS heap ${((m1.heap - m0.heap) / n / 1024).toFixed(2)} kB per session (${n})`);
      for (const s of held) s.destroy();
      c.kill();
    }
  }
  for (const [name, xs] of Object.entries(rss)) console.log(`${name}: median RSS ${(median(xs) / 1024).toFixed(1)} kB per session, runs ${xs.map((x) => (x / 1024).toFixed(1)).join(', ')}`);
}

if (process.env.H2_SESSIONS_CHILD === 'candidate') void candidateChild(process.env.CANDIDATE as string);
else if (process.env.H2_SESSIONS_CHILD === 'churn') void churnChild(process.env.LISTENER_MODULE as string);
else if (process.argv[1] === HERE) {
  const rounds = Number(arg('rounds') ?? 0);
  if (arg('churn')) void churn(Number(arg('churn')), arg('base') ?? 'main', rounds || 3);
  else if (arg('candidates')) void candidates(Number(arg('candidates')), rounds || 2);
}
