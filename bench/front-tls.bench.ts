/**
 * What HTTPS in the front costs (issue 11, session 12): the collector's front (`front.kind: haproxy`, the real
 * HAProxy started by startFront()) terminating TLS (collector/http/front-tls.ts, ECDSA P-256 certificate made by
 * `openssl`) against the same front in cleartext (its peer), interleaved in one run and repeated. Per variant:
 *
 * - HAProxy's RSS per idle HTTP/2 session (each opened, one upload answered, then idle as an agent between uploads);
 * - HAProxy's CPU per session opened: a full TLS handshake (or a TCP connection and the HTTP/2 preface);
 * - HAProxy's CPU per upload over the open sessions (an agent's headers and a 1.5 kB body, at a fixed rate);
 * - HAProxy's CPU per session reopened: a TLS resumption with the session ticket the client kept.
 *
 *   npx tsx bench/front-tls.bench.ts [--sessions 4000] [--uploads-per-s 400] [--seconds 15] [--reopen 1000] [--rounds 3]
 *
 * The clients and the stand-in collector behind the front (an HTTP/1.1 server that answers every request with an
 * ack) run in this process; HAProxy's CPU and RSS are read from /proc for its pid alone.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { frontSectionSchema, startFront, type FrontHandle } from '../collector/http/front.js';
import { DEFAULT_LIMITS } from '../collector/http/limits.js';
import { tlsSectionSchema } from '../collector/http/tls.js';
import { findFreePort } from '../collector/sink/influxd.js';
import { makeTestCerts } from '../test/helpers/certs.js';
import { cpuMs, rssBytes } from './fleet/procstat.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SESSIONS = arg('sessions', 4000);
const RATE = arg('uploads-per-s', 400);
const SECONDS = arg('seconds', 15);
const REOPEN = Math.min(arg('reopen', 1000), SESSIONS);
const ROUNDS = arg('rounds', 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const range = (xs: number[], digits = 0) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

const BODY = randomBytes(1500);
const HEADERS = { ':method': 'POST', ':path': '/api/v1/reports', authorization: `Bearer ${'t'.repeat(43)}`, 'content-type': 'application/json', 'content-encoding': 'x-campuslink-cols1', 'content-length': String(BODY.length), 'user-agent': 'campuslink-agent/0.1.0' };
const ACK = JSON.stringify({ v: 1, accepted: [1], serverTime: 0 });

/** A stand-in collector behind the front: every request answered with an ack. */
function backend(): Promise<http.Server> {
  const s = http.createServer({ keepAliveTimeout: 65_000 }, (q, r) => {
    q.resume();
    q.on('end', () => r.writeHead(200, { 'content-type': 'application/json', 'content-length': ACK.length }).end(ACK));
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}

interface Client {
  session: http2.ClientHttp2Session;
  ticket?: Buffer;
}

function upload(c: Client): Promise<number> {
  return new Promise((resolve) => {
    const s = c.session.request(HEADERS);
    let status = 0;
    s.on('response', (h) => (status = Number(h[':status'])));
    s.on('error', () => resolve(0));
    s.on('end', () => resolve(status));
    s.resume();
    s.end(BODY);
  });
}

function connect(url: string, ca: Buffer | undefined, ticket?: Buffer): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c: Client = { session: http2.connect(url, ca ? { ca: [ca], ...(ticket && { session: ticket }) } : {}) };
    c.session.on('error', reject);
    c.session.socket?.on('session', (t: Buffer) => (c.ticket = t));
    c.session.once('connect', () => {
      upload(c).then((status) => (status === 200 ? resolve(c) : reject(new Error(`upload answered ${status}`))), reject);
    });
  });
}

/** Opens `n` clients, 64 handshakes at a time (the agents of a county after a power cut, not all at once). */
async function openAll(n: number, open: (i: number) => Promise<Client>): Promise<Client[]> {
  const out: Client[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await open(i);
      }
    }),
  );
  return out;
}

interface Trial {
  rssPerSessionKiB: number;
  openUs: number;
  uploadUs: number;
  reopenUs: number;
  resumed: number;
  failedUploads: number;
}

async function trial(variant: 'clear' | 'tls', certs: ReturnType<typeof makeTestCerts>, backendPort: number): Promise<Trial> {
  const dir = mkdtempSync(join(tmpdir(), 'cl-bench-front-'));
  const port = await findFreePort();
  const tls = variant === 'tls' ? tlsSectionSchema.parse({ certFile: certs.serverCert, keyFile: certs.serverKey }) : undefined;
  const front: FrontHandle = await startFront({ settings: frontSectionSchema.parse({ kind: 'haproxy' }), host: '127.0.0.1', port, backendPort, limits: DEFAULT_LIMITS, dir, log: pino({ level: 'silent' }), ...(tls && { tls }), reloadOnSighup: false });
  const pid = front.pid() as number;
  const url = `${front.scheme}://127.0.0.1:${port}`;
  const ca = tls ? readFileSync(certs.caCert) : undefined;
  try {
    await sleep(300);
    const rss0 = rssBytes(pid);
    const cpu0 = cpuMs(pid);
    const clients = await openAll(SESSIONS, () => connect(url, ca));
    const cpu1 = cpuMs(pid);
    await sleep(500);
    const rss1 = rssBytes(pid);

    let failedUploads = 0;
    const total = RATE * SECONDS;
    const gapMs = 1000 / RATE;
    const t0 = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + i * gapMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      pending.push(upload(clients[i % SESSIONS] as Client).then((s) => void (s !== 200 && failedUploads++)));
    }
    await Promise.all(pending);
    const cpu2 = cpuMs(pid);

    for (const c of clients.slice(0, REOPEN)) c.session.close();
    await sleep(500);
    const cpu3 = cpuMs(pid);
    const reopened = await openAll(REOPEN, (i) => connect(url, ca, clients[i]?.ticket));
    const cpu4 = cpuMs(pid);
    const resumed = reopened.filter((c) => (c.session.socket as unknown as { isSessionReused?: () => boolean })?.isSessionReused?.() === true).length;
    for (const c of [...reopened, ...clients.slice(REOPEN)]) c.session.destroy();
    return {
      rssPerSessionKiB: (rss1 - rss0) / SESSIONS / 1024,
      openUs: ((cpu1 - cpu0) * 1000) / SESSIONS,
      uploadUs: ((cpu2 - cpu1) * 1000) / total,
      reopenUs: ((cpu4 - cpu3) * 1000) / REOPEN,
      resumed,
      failedUploads,
    };
  } finally {
    await front.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const certs = makeTestCerts();
  const be = await backend();
  const port = (be.address() as { port: number }).port;
  const results: Record<'clear' | 'tls', Trial[]> = { clear: [], tls: [] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first: a drifting box favours neither.
      for (const v of r % 2 === 0 ? (['clear', 'tls'] as const) : (['tls', 'clear'] as const)) {
        const t = await trial(v, certs, port);
        results[v].push(t);
        console.log(`round ${r + 1} ${v}: RSS ${t.rssPerSessionKiB.toFixed(1)} KiB/session, open ${t.openUs.toFixed(0)} µs, upload ${t.uploadUs.toFixed(1)} µs, reopen ${t.reopenUs.toFixed(0)} µs (${t.resumed}/${REOPEN} resumed), ${t.failedUploads} uploads failed; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
      }
    }
  } finally {
    be.close();
    certs.remove();
  }
  const fig = (v: 'clear' | 'tls', k: keyof Trial, d = 1) => `${median(results[v].map((t) => t[k])).toFixed(d)} (${range(results[v].map((t) => t[k]), d)})`;
  const ratio = (k: keyof Trial) => (median(results.tls.map((t) => t[k])) / median(results.clear.map((t) => t[k]))).toFixed(2);
  console.log(`\nfront-tls: ${SESSIONS} sessions, ${RATE} uploads/s for ${SECONDS} s, ${REOPEN} reopened, ${ROUNDS} rounds; medians (range); HAProxy's own CPU and RSS`);
  console.log('| figure | cleartext front | HTTPS front | HTTPS ÷ cleartext |');
  console.log('|---|---|---|---|');
  console.log(`| RSS per idle HTTP/2 session, KiB | ${fig('clear', 'rssPerSessionKiB')} | ${fig('tls', 'rssPerSessionKiB')} | ${ratio('rssPerSessionKiB')} |`);
  console.log(`| CPU per session opened (full handshake), µs | ${fig('clear', 'openUs', 0)} | ${fig('tls', 'openUs', 0)} | ${ratio('openUs')} |`);
  console.log(`| CPU per upload on an open session, µs | ${fig('clear', 'uploadUs')} | ${fig('tls', 'uploadUs')} | ${ratio('uploadUs')} |`);
  console.log(`| CPU per session reopened (TLS: resumed by ticket), µs | ${fig('clear', 'reopenUs', 0)} | ${fig('tls', 'reopenUs', 0)} | ${ratio('reopenUs')} |`);
  console.log(`| sessions resumed of ${REOPEN} | — | ${results.tls.map((t) => t.resumed).join(', ')} | |`);
  console.log(`| 60,000 idle sessions, MiB | ${((median(results.clear.map((t) => t.rssPerSessionKiB)) * 60_000) / 1024).toFixed(0)} | ${((median(results.tls.map((t) => t.rssPerSessionKiB)) * 60_000) / 1024).toFixed(0)} | |`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
