/**
 * The collector's front (`front.kind: haproxy`): HAProxy, started and watched by the collector as its embedded
 * influxd is, owns the public port and ends the agents' connections there: HTTP/2 by prior knowledge (detected
 * on the same port as HTTP/1.1, as the collector's own listener does) and HTTP/1.1. It reads each request whole and
 * hands it to the collector's listener, on loopback, over a bounded pool of HTTP/1.1 keep-alive connections.
 *
 * Why: every HTTP/2 session the collector holds itself costs ~20 kB of nghttp2 memory, and every header value it
 * receives is an external string that only a Mark-Compact can free, inside its pause. At 60,000 schools that pause
 * reached 0.5–1 s (docs/benchmarks.md, sessions 9–11); behind the front the collector holds at most
 * `backendConnections` sockets and no HTTP/2 state at all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ErrorCode } from '../../protocol/errors.js';
import { errorAnswer } from './errors.js';
import type { ListenerLimits } from './limits.js';
import { INGEST_PATH } from './listener.js';
import { controlSocketPath, FRONTEND, servingPid } from './front-control.js';
import { createFrontTls, tlsBindOptions, tlsGlobal, type FrontTlsFiles } from './front-tls.js';
import type { TlsSection, TlsStats } from './tls.js';
import { findExecutable } from '../executable.js';


export const FRONT_KINDS = ['none', 'haproxy'] as const;

/** The `front` section of the collector config. */
export const frontSectionSchema = z.strictObject({
  /** `none` (the default): the collector's own listener owns `listen`. `haproxy`: HAProxy does, the collector listens on loopback behind it. */
  kind: z.enum(FRONT_KINDS).default('none'),
  /** The HAProxy binary: a path, or a name looked up on PATH. */
  binary: z.string().min(1).default('haproxy'),
  /** Requests handed to the collector at once (its HTTP/1.1 connections from the front); at most `http.maxInflightRequests`. */
  backendConnections: z.number().int().min(1).max(100_000).default(1000),
  /** How long a request may wait in the front for one of those connections before the front answers 503, ms. */
  queueTimeoutMs: z.number().int().min(100).max(60_000).default(250),
  /** HAProxy threads. */
  threads: z.number().int().min(1).max(64).default(1),
});

export type FrontSettings = z.output<typeof frontSectionSchema>;

/** A front that could not be started. */
export class FrontError extends Error {
  readonly retryable = false;
  constructor(
    readonly code: Extract<ErrorCode, 'COL_ERR_FRONT_START'>,
    message: string,
  ) {
    super(message);
    this.name = 'FrontError';
  }
}

export interface FrontOptions {
  settings: Readonly<FrontSettings>;
  /** The public address HAProxy binds (the config's `listen`). */
  host: string;
  port: number;
  /** The collector's own listener on loopback. */
  backendPort: number;
  /** The collector's limits: connections, streams and timeouts are the front's now. */
  limits: Readonly<ListenerLimits>;
  /** Where the config, error pages and pid file go (under stateDir). */
  dir: string;
  log: Logger;
  /** The descriptor limit HAProxy inherits; default this process's. */
  nofile?: number;
  /** How long HAProxy may take to accept connections, ms. */
  startTimeoutMs?: number;
  /** The collector's tls section: with `certFile` set the front serves HTTPS (front-tls.ts). */
  tls?: TlsSection;
  /** Reload the TLS files on SIGHUP (default true). */
  reloadOnSighup?: boolean;
}

/** A running front. */
export interface FrontHandle {
  host: string;
  port: number;
  /** HAProxy's pid now (it changes when the front is restarted). */
  pid(): number | undefined;
  /** Times HAProxy exited while serving and was started again. */
  readonly restarts: number;
  /** `https` with tls.certFile, else `http`. */
  readonly scheme: 'http' | 'https';
  /** With HTTPS: the TLS figures of /healthz (HAProxy's counters as last read, at most a few seconds old). */
  tlsStats(): TlsStats | undefined;
  /** With HTTPS: re-reads the tls files and replaces the certificate in HAProxy; false (logged) when it could not. */
  reloadTls(): Promise<boolean>;
  /** Soft stop (stop listening, finish requests), then SIGKILL after a few seconds. Idempotent. */
  stop(): Promise<void>;
}

/** The answer HAProxy sends for a request it could not hand to the collector, as a raw HTTP response. */
function errorPage(status: 502 | 503 | 504, message: string, retryAfterS: number): string {
  const body = JSON.stringify(errorAnswer(status === 503 ? 'COL_ERR_OVERLOADED' : 'COL_ERR_FRONT_UPSTREAM', message).body);
  const reason = { 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status];
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\nretry-after: ${retryAfterS}\r\ncache-control: no-store\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** HAProxy's global maxconn: the collector's connection limit, within the descriptors left after the backend pool. */
export function frontMaxConnections(limits: Pick<ListenerLimits, 'maxConnections'>, settings: Pick<FrontSettings, 'backendConnections'>, nofile: number): number {
  return Math.max(1, Math.min(limits.maxConnections, nofile - settings.backendConnections - READ_CONNECTIONS - 64));
}

/** Connections for everything but uploads (views, console, health, enrollment): never queued behind uploads. */
export const READ_CONNECTIONS = 64;

/** The HAProxy config of a front. */
export function haproxyConfig(o: { settings: Readonly<FrontSettings>; host: string; port: number; backendPort: number; limits: Readonly<ListenerLimits>; dir: string; nofile: number; controlSocket: string; https?: { section: TlsSection; files: FrontTlsFiles } }): string {
  const { settings: s, limits: l } = o;
  const bind = (o.host.includes(':') ? `[${o.host}]:${o.port}` : `${o.host}:${o.port}`) + (o.https ? ` ${tlsBindOptions(o.https.section, o.https.files)}` : '');
  return `# Written by campuslink-collector at every start (collector/http/front.ts); edits are overwritten.
global
  maxconn ${frontMaxConnections(l, s, o.nofile)}
  # The runtime API, for the collector alone: the start check, certificate reloads, TLS counters.
  stats socket ${o.controlSocket} mode 600 level admin
${o.https ? tlsGlobal(o.https.section).join('\n') + '\n' : ''}  # HAProxy's estimate is two descriptors a connection; here the backend pool is shared.
  no strict-limits
  # Never share the port: a second HAProxy (a leftover, another collector) must fail to bind, not split the agents.
  noreuseport
  nbthread ${s.threads}
  tune.h2.max-concurrent-streams ${l.maxConcurrentStreams}
  # stop() kills after 5 s; idle connections that never sent a request do not end a soft stop by themselves.
  hard-stop-after 4s
defaults
  mode http
  timeout connect 5s
  # An idle HTTP/2 session lives as long as it would on the collector's own port (http.sessionIdleTimeoutMs): HAProxy's
  # H2 mux takes its idle timeout from http-keep-alive. timeout client bounds a client silent mid-handshake (HAProxy
  # 2.6 has no handshake timeout of its own) or mid-request, and an idle HTTP/1.1 connection (the collector's own
  # port closes those after http.keepAliveTimeoutMs): http.firstByteTimeoutMs, as the collector's own port bounds a
  # handshake. With sessionIdleTimeoutMs here, handshakes that never finish (links dropping mid-handshake) would hold
  # the connection cap for 15 minutes. A stream waiting on the collector is not cut by it.
  timeout client ${l.firstByteTimeoutMs}
  timeout http-keep-alive ${l.sessionIdleTimeoutMs}
  # Headers (and the first buffer of a body) within the collector's own bounds for them.
  timeout http-request ${Math.min(l.headersTimeoutMs, l.firstByteTimeoutMs)}
  timeout server ${l.requestTimeoutMs}
  timeout queue ${s.queueTimeoutMs}
  option http-keep-alive
  # Up to one buffer (16 kB) of the body is read before the request is forwarded: an agent's upload (1-3 kB, backlog
  # batches ~15 kB) arrives whole, so a slow link does not hold one of the collector's connections; a larger body streams.
  option http-buffer-request
  http-reuse always
  retry-on conn-failure
  retries 2
  errorfile 502 ${join(o.dir, '502.http')}
  errorfile 503 ${join(o.dir, '503.http')}
  errorfile 504 ${join(o.dir, '504.http')}
frontend ${FRONTEND}
  bind ${bind}
  acl upload path ${INGEST_PATH}
  acl post method POST
  use_backend uploads if post upload
  default_backend reads
backend uploads
  # An upload is idempotent (the collector dedupes by sequence): resend it when a pooled connection closed under it.
  retry-on conn-failure empty-response
  server collector 127.0.0.1:${o.backendPort} maxconn ${s.backendConnections}
backend reads
  # Health, views, console and enrollment keep answering while uploads fill their pool and queue.
  server collector 127.0.0.1:${o.backendPort} maxconn ${READ_CONNECTIONS}
`;
}

/**
 * True while `pid` runs. A zombie does not: an orphaned HAProxy killed after its collector was is not reaped when
 * PID 1 does not reap (containers), and it holds no port.
 */
export function processRuns(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * A HAProxy left behind by a collector that was killed (SIGKILL does not reach children) still holds the port:
 * stop it, when the pid file in the front's `dir` names a haproxy running this front's config. startCollector()
 * calls it first thing, beside the embedded influxd's start; startFront() again, which then finds nothing.
 */
export async function stopLeftoverFront(dir: string, log: Logger): Promise<void> {
  const pidFile = join(dir, 'haproxy.pid');
  const cfg = join(dir, 'haproxy.cfg');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1 || !processRuns(pid)) return;
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return;
  }
  if (!cmd.includes('haproxy') || !cmd.includes(cfg)) return;
  log.warn({ pid }, 'a front (haproxy) left by an earlier collector still runs: stopping it');
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 250 && processRuns(pid); i++) await new Promise((r) => setTimeout(r, 20));
}

/** Live fronts, killed if this process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHook = false;

/**
 * Starts HAProxy in front of the collector's listener and keeps it running: when it exits while serving it is
 * logged (COL_ERR_FRONT_EXITED) and started again after 1 s, doubling up to 30 s. Throws FrontError
 * COL_ERR_FRONT_START when HAProxy is missing or does not accept connections at first start.
 */
export async function startFront(o: FrontOptions): Promise<FrontHandle> {
  // Debian installs haproxy in /usr/sbin, which a non-root PATH often lacks.
  const binary = findExecutable(o.settings.binary, process.env.PATH ?? '', ['/usr/sbin', '/usr/local/sbin']);
  if (!binary) throw new FrontError('COL_ERR_FRONT_START', `front.kind haproxy: ${o.settings.binary} was not found (PATH=${process.env.PATH ?? ''}); install HAProxy (apt-get install haproxy) or set front.binary`);
  mkdirSync(o.dir, { recursive: true });
  const cfg = join(o.dir, 'haproxy.cfg');
  const pidFile = join(o.dir, 'haproxy.pid');
  await stopLeftoverFront(o.dir, o.log);
  const nofile = o.nofile ?? Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 1024);
  for (const status of [502, 503, 504] as const) {
    const why = status === 503 ? `the front could not hand the request to the collector within front.queueTimeoutMs (${o.settings.queueTimeoutMs} ms): it is busy, or restarting; nothing was acknowledged` : status === 502 ? 'the collector behind the front closed the connection or is not listening (restarting?); nothing was acknowledged' : `the collector behind the front did not answer within http.requestTimeoutMs (${o.limits.requestTimeoutMs} ms); nothing was acknowledged`;
    writeFileSync(join(o.dir, `${status}.http`), errorPage(status, why, o.limits.retryAfterS));
  }
  const controlSocket = controlSocketPath(o.dir);
  // A path too long for a Unix socket got a private folder of its own under the temporary directory.
  const dropControlDir = () => {
    if (dirname(controlSocket) !== o.dir) rmSync(dirname(controlSocket), { recursive: true, force: true });
  };
  let tls: ReturnType<typeof createFrontTls> | undefined;
  try {
    tls = o.tls?.certFile ? createFrontTls({ dir: o.dir, section: o.tls, controlSocket, log: o.log, reloadOnSighup: o.reloadOnSighup }) : undefined;
    writeFileSync(cfg, haproxyConfig({ ...o, nofile, controlSocket, ...(tls && { https: { section: tls.section, files: tls.files } }) }));
  } catch (e) {
    tls?.close();
    dropControlDir();
    throw new FrontError('COL_ERR_FRONT_START', `front: its files under ${o.dir} could not be written: ${(e as Error).message}`);
  }
  const maxconn = frontMaxConnections(o.limits, o.settings, nofile);
  if (maxconn < o.limits.maxConnections) o.log.warn({ configured: o.limits.maxConnections, cap: maxconn, nofile }, 'front connections capped by the descriptor limit; raise LimitNOFILE / ulimit -n for a province (docs/deployment.md)');
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }

  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let backoffMs = 1000;
  let retryTimer: NodeJS.Timeout | undefined;
  let tail = '';

  const spawnOnce = (): ChildProcess => {
    tail = '';
    const c = spawn(binary, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(c);
    c.stderr?.on('data', (d: Buffer) => (tail = (tail + d.toString('utf8')).slice(-2000)));
    let gone = false;
    // A failed spawn emits 'error' and maybe no 'exit': either one, once, schedules the next start.
    const onGone = (how: Record<string, unknown>) => {
      if (gone) return;
      gone = true;
      live.delete(c);
      if (stopping) return;
      o.log.error({ code: 'COL_ERR_FRONT_EXITED', ...how, output: tail.slice(-600), retryInMs: backoffMs }, 'front (haproxy) exited: agents cannot reach the collector until it runs again');
      retryTimer = setTimeout(restart, backoffMs);
      backoffMs = Math.min(30_000, backoffMs * 2);
    };
    c.on('error', (e) => onGone({ err: e.message }));
    c.once('exit', (code, signal) => onGone({ exit: code, signal }));
    try {
      if (c.pid) writeFileSync(pidFile, `${c.pid}\n`);
    } catch (e) {
      // A full disk costs only the clean-up after a SIGKILL of the collector, never the front.
      o.log.warn({ code: 'COL_ERR_RESOURCE_EXHAUSTED', err: String(e), pidFile }, 'front pid file not written');
    }
    return c;
  };
  const restart = () => {
    try {
      if (stopping) return;
      restarts++;
      child = spawnOnce();
      // Back to the shortest wait once it has served for a while.
      const c = child;
      setTimeout(() => {
        if (c.exitCode === null && c.signalCode === null) backoffMs = 1000;
      }, 60_000).unref();
    } catch (e) {
      o.log.error({ code: 'COL_ERR_FRONT_EXITED', err: String(e) }, 'front (haproxy) could not be started again');
      retryTimer = setTimeout(restart, backoffMs);
      backoffMs = Math.min(30_000, backoffMs * 2);
    }
  };

  child = spawnOnce();
  const first = child;
  const deadline = performance.now() + (o.startTimeoutMs ?? 10_000);
  while ((await servingPid(controlSocket)) !== first.pid) {
    if (first.exitCode !== null || first.signalCode !== null || performance.now() > deadline) {
      stopping = true;
      tls?.close();
      first.kill('SIGKILL');
      dropControlDir();
      throw new FrontError('COL_ERR_FRONT_START', `front (${binary} -f ${cfg}) did not start serving on ${o.host}:${o.port}: ${tail.trim() || 'no output'}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  o.log.info({ pid: first.pid, listen: `${tls ? 'https' : 'http'}://${o.host}:${o.port}`, backendPort: o.backendPort, maxConnections: maxconn }, 'front (haproxy) started');

  return {
    host: o.host,
    port: o.port,
    scheme: tls ? 'https' : 'http',
    pid: () => child?.pid,
    get restarts() {
      return restarts;
    },
    tlsStats: () => tls?.stats(),
    reloadTls: async () => (tls ? tls.reload() : false),
    async stop() {
      if (stopping) return;
      stopping = true;
      tls?.close();
      clearTimeout(retryTimer);
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) {
        // Down between restarts: nothing to stop, but its files go all the same.
        rmSync(pidFile, { force: true });
        dropControlDir();
        return;
      }
      const gone = new Promise<void>((r) => c.once('exit', () => r()));
      // SIGUSR1: soft stop, requests in flight are finished; idle HTTP/2 sessions get GOAWAY.
      c.kill('SIGUSR1');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
      rmSync(pidFile, { force: true });
      dropControlDir();
    },
  };
}
