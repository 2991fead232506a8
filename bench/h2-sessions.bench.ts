/**
 * What one idle agent connection costs the collector: N long-lived HTTP/2 sessions (each authenticated by
 * one answered request, then idle, as an agent between uploads) against N idle raw TCP connections (the
 * peer: the least a connection can cost), each on a fresh collector CLI process, interleaved and repeated.
 * Reports collector RSS and descriptors per connection and the projection to 60,000 schools.
 * Goal: 60,000 idle sessions fit in 2 GiB of collector RSS.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
