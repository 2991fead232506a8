/**
 * One TCP port, two HTTP versions: HTTP/1.1 for everything (ingest, views, console) and cleartext
 * HTTP/2 with prior knowledge (RFC 9113 §3.3) for ingest. A connection is told apart by its first
 * bytes: HTTP/2 starts with the preface `PRI * HTTP/2.0`, no HTTP/1.1 method starts with `PRI `.
 *
 * Why HTTP/2 for agents: a satellite school uploads every few minutes over a metered link, and
 * HTTP/1.1 repeats about 450 bytes of headers with every batch. Over one long-lived HTTP/2 connection
 * HPACK sends the same headers in about 30 bytes (measured in bench/bandwidth.bench.ts).
 *
 * The port is bounded (limits.ts): connections, sessions, streams per session, request-body bytes in
 * flight, and idle time. Running out of descriptors never ends the process: the accept loop logs
 * COL_ERR_RESOURCE_EXHAUSTED (rate-limited) and keeps listening, and idle connections time out.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import { errorAnswer } from './errors.js';
import type { ListenerStats } from './health.js';
import type { IngestRequest, IngestResponse } from './ingest.js';
import { BodyBudget, DEFAULT_LIMITS, ResourceAlarm, isResourceError, type ListenerLimits } from './limits.js';
import { createTlsTerminator, type TlsSection, type TlsStats, type TlsTerminator } from './tls.js';

export type { ListenerLimits } from './limits.js';
export { DEFAULT_LIMITS } from './limits.js';

const PREFACE_START = Buffer.from('PRI ');
/** The one route both HTTP versions hand straight to ingest (and a front routes to its upload pool). */
export const INGEST_PATH = '/api/v1/reports';

export interface ListenOptions {
  host: string;
  port: number;
  /** The HTTP/1.1 application (the express app). */
  app: http.RequestListener;
  /** The ingest handler `POST /api/v1/reports` goes to, over HTTP/2 and HTTP/1.1 alike (the app is not asked). */
  ingest: (req: IngestRequest, res: IngestResponse) => void;
  log: Logger;
  /** Limits over the defaults (DEFAULT_LIMITS). */
  limits?: Partial<ListenerLimits>;
  /** Largest body ingest buffers, in bytes: a request reserves at most this much of the body budget. */
  maxBodyBytes?: number;
  /**
   * Descriptors kept free for everything but connections (InfluxDB writes, the state database, logs):
   * connections are capped at the process's RLIMIT_NOFILE minus this as well. Default 256; 0 = no such cap.
   */
  reservedFds?: number;
  /**
   * HTTPS for the whole port when `certFile` is set (see tls.ts): HTTP/2 or HTTP/1.1 by ALPN, the same limits,
   * the TLS handshake bounded by limits.firstByteTimeoutMs, the files reloaded on SIGHUP.
   */
  tls?: TlsSection;
  /** @deprecated use limits.sessionIdleTimeoutMs */
  h2IdleMs?: number;
  /** @deprecated use limits.firstByteTimeoutMs */
  firstByteTimeoutMs?: number;
}

/** The listening collector port. */
export interface Listener {
  readonly port: number;
  /** Connections taken so far, by HTTP version. */
  readonly connections: { http1: number; http2: number };
  /** `https` when the port terminates TLS. */
  readonly scheme: 'http' | 'https';
  /** Handshakes, resumptions, failures and reloads when the port terminates TLS. */
  readonly tls?: { readonly stats: TlsStats; reload(): boolean };
  /** The limits in force (maxConnections lowered to the descriptor limit when that is smaller). */
  readonly limits: Readonly<ListenerLimits>;
  /** Open connections, sessions, refusals, the body budget and resource errors, for /healthz. */
  stats(): ListenerStats;
  /** Stops accepting, closes every connection of both versions. */
  close(): Promise<void>;
}

/** The soft RLIMIT_NOFILE of this process (Linux), or undefined when it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    const n = Number(line);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Mutable state shared by the pieces of one listener. */
interface Ctx {
  opts: ListenOptions;
  limits: ListenerLimits;
  budget: BodyBudget;
  /** Uploads admitted and not yet answered, and those refused over http.maxInflightRequests. */
  inflight: { requests: number; rejected: number };
  alarm: ResourceAlarm;
  sockets: Set<net.Socket>;
  /** Open HTTP/2 sessions and what the listener keeps for each (the idle and unauthenticated sweep reads it). */
  sessions: Map<http2.ServerHttp2Session, SessionGuard>;
  /** RLIMIT_NOFILE minus reservedFds, re-read every FD_LIMIT_CHECK_MS (prlimit on a running collector counts). */
  fdCap: number;
  counts: { http1: number; http2: number; refused: number; overloaded: number };
}

/** The bytes a request's body reserves: its Content-Length, or the most ingest would buffer when it has none (chunked). */
function declaredBodyBytes(ctx: Ctx, headers: http.IncomingHttpHeaders): number {
  const cap = ctx.opts.maxBodyBytes ?? ctx.budget.limitBytes;
  const declared = Number(headers['content-length']);
  return Math.min(Number.isFinite(declared) && declared >= 0 ? declared : cap, cap);
}

/** Takes `bytes` of the body budget and one in-flight upload; or the refusal's message when either is full. */
function bodyRefusal(ctx: Ctx, bytes: number): string | undefined {
  if (ctx.inflight.requests >= ctx.limits.maxInflightRequests) {
    ctx.inflight.rejected++;
    return `the collector has ${ctx.limits.maxInflightRequests} uploads in flight already (http.maxInflightRequests); retry later`;
  }
  if (ctx.budget.tryTake(bytes)) {
    ctx.inflight.requests++;
    return undefined;
  }
  ctx.budget.rejected++;
  return `the collector holds ${ctx.budget.limitBytes} bytes of request bodies in flight already (http.maxInflightBodyBytes); retry later`;
}

/**
 * Reserves an HTTP/1.1 request's body in the global budget (declaredBodyBytes). Answers 503 COL_ERR_OVERLOADED
 * and returns false when the budget cannot hold it.
 */
function admitBody(ctx: Ctx, req: http.IncomingMessage, res: http.ServerResponse, hasBody: boolean): boolean {
  if (!hasBody) return true;
  const bytes = declaredBodyBytes(ctx, req.headers);
  const refusal = bodyRefusal(ctx, bytes);
  if (refusal !== undefined) return overloaded(ctx, res, refusal);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    ctx.budget.release(bytes);
    ctx.inflight.requests--;
  };
  res.once('finish', release);
  res.once('close', release);
  return true;
}

/** The 503 of one refusal message, built once: past capacity refusals outnumber uploads (4–5 to 1 in the soak). */
const refusals = new Map<string, { status: number; text: string; headers: Record<string, string | number> }>();

/** Answers 503 COL_ERR_OVERLOADED with Retry-After; returns false, for admitBody(). */
function overloaded(ctx: Ctx, res: http.ServerResponse | H2Exchange, message: string): false {
  ctx.counts.overloaded++;
  const key = `${ctx.limits.retryAfterS} ${message}`;
  let r = refusals.get(key);
  if (!r) {
    const { status, body } = errorAnswer('COL_ERR_OVERLOADED', message);
    const text = JSON.stringify(body);
    r = { status, text, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'retry-after': String(ctx.limits.retryAfterS) } };
    // The messages name configured limits: a handful of keys per process.
    if (refusals.size < 64) refusals.set(key, r);
  }
  res.writeHead(r.status, r.headers);
  res.end(r.text);
  return false;
}

function createH1(ctx: Ctx): http.Server {
  const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = ctx.limits;
  const h1 = http.createServer(
    {
      headersTimeout: Math.min(headersTimeoutMs, requestTimeoutMs),
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      // Node checks both timeouts only this often (default 30 s): a slow-headers client holds its socket until then.
      connectionsCheckingInterval: Math.max(100, Math.min(5000, Math.floor(headersTimeoutMs / 2))),
    },
    (req, res) => {
      const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
      if (!admitBody(ctx, req, res, hasBody)) req.resume();
      // Uploads skip express's router (the app's route calls the same handler): behind a front proxy every upload is HTTP/1.1.
      else if (req.method === 'POST' && req.url === INGEST_PATH) ctx.opts.ingest(req, res);
      else ctx.opts.app(req, res);
    },
  );
  h1.on('clientError', (e: NodeJS.ErrnoException, socket) => {
    if (isResourceError(e)) ctx.alarm.raise('http1', e);
    socket.destroy();
  });
  return h1;
}

/**
 * What the listener keeps per HTTP/2 session, for the sweep (sweepSessions) that closes idle and unauthenticated
 * sessions. No timer per session: Node's `session.setTimeout()` timer outlives the session (closeSession() calls
 * setTimeout(0) after marking it destroyed, which then returns early), so its bound `_onTimeout` kept every closed
 * session and its sockets reachable until the idle timeout fired, 15 minutes later (docs/benchmarks.md, session 9).
 */
interface SessionGuard {
  /** An answer other than 401 went out on the session. */
  authed: boolean;
  /** Streams open on it now. */
  open: number;
  /** When the session opened (ms, Date.now()). */
  openedAtMs: number;
  /** When its last stream closed, or when it opened (ms, Date.now()): it is idle since then when `open` is 0. */
  idleSinceMs: number;
}

const kExchange = Symbol('campuslink.h2exchange');
type ExchangeStream = http2.ServerHttp2Stream & { [kExchange]?: H2Exchange };

/**
 * One HTTP/2 request on the core stream API (no compatibility request and response objects: those add two
 * objects, a Proxy and a dozen listeners per stream). It is both the ingest request (headers, then the body
 * stream) and the ingest response. The answer is one HEADERS frame and one DATA frame with END_STREAM: the
 * compatibility response always waited for trailers and ended the stream with an empty DATA frame of its own
 * (9 bytes an upload in h2c, a TLS record of its own over TLS: 11 KB a day for a GEO school).
 * The body budget's bytes, the token's share (fairness.ts) and the session guard are settled once, when the
 * stream closes (onExchangeClose), whether it was answered or the client went away.
 */
class H2Exchange implements IngestRequest, IngestResponse {
  /** The status answered, 0 until then. */
  status = 0;
  private head: http2.OutgoingHttpHeaders | undefined;
  /** Body-budget bytes this request holds (admitBody), given back on close. */
  reserved = -1;
  private share: { release(): void } | undefined;

  constructor(
    readonly ctx: Ctx,
    readonly stream: ExchangeStream,
    readonly headers: http2.IncomingHttpHeaders,
    readonly guard: SessionGuard | undefined,
  ) {}

  on(event: string, cb: (...args: any[]) => void): this {
    this.stream.on(event, cb);
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  get headersSent(): boolean {
    return this.head !== undefined || this.stream.headersSent;
  }

  writeHead(status: number, headers: Record<string, string | number>): this {
    this.status = status;
    const head: http2.OutgoingHttpHeaders = { ':status': status };
    for (const k in headers) head[k.toLowerCase()] = headers[k];
    this.head = head;
    return this;
  }

  end(body: string): this {
    const stream = this.stream;
    if (stream.destroyed || stream.closed || stream.headersSent) return this;
    if (!this.head) this.writeHead(this.status || 200, {});
    stream.respond(this.head);
    stream.end(body);
    return this;
  }

  /** The token's share (fairness.ts) is given back when the stream closes. */
  holdUntilClosed(share: { release(): void }): void {
    this.share = share;
  }

  /** Gives back what the request held; once, when its stream closes. */
  settle(): void {
    if (this.reserved >= 0) {
      this.ctx.budget.release(this.reserved);
      this.ctx.inflight.requests--;
      this.reserved = -1;
    }
    this.share?.release();
    this.share = undefined;
    const g = this.guard;
    if (!g) return;
    if (--g.open === 0) g.idleSinceMs = Date.now();
    if (this.status !== 0 && this.status !== 401) g.authed = true;
  }
}

/** The one 'close' listener of every HTTP/2 request (shared: no closure per stream). */
function onExchangeClose(this: ExchangeStream): void {
  const ex = this[kExchange];
  this[kExchange] = undefined;
  ex?.settle();
}

/** Errors of an HTTP/2 request's stream end it (the 'close' listener settles it); nothing else to do. */
function ignoreStreamError(): void {}

/**
 * Closes the sessions without a stream open: gracefully (GOAWAY) those idle for sessionIdleTimeoutMs, at once those
 * that never had a request answered other than 401 within unauthenticatedTimeoutMs. One pass over the sessions.
 */
function sweepSessions(ctx: Ctx, nowMs: number): void {
  const { sessionIdleTimeoutMs, unauthenticatedTimeoutMs } = ctx.limits;
  // forEach, not for…of: no [key, value] array per session per pass.
  ctx.sessions.forEach((g, s) => {
    if (g.open > 0 || s.destroyed) return;
    if (!g.authed && nowMs - g.openedAtMs >= unauthenticatedTimeoutMs) s.destroy();
    else if (nowMs - g.idleSinceMs >= sessionIdleTimeoutMs && !s.closed) s.close();
  });
}

/** How often sweepSessions runs: a quarter of the shorter timeout, 10 ms to 5 s (60,000 sessions: ~1 ms a pass). */
function sweepIntervalMs(limits: ListenerLimits): number {
  return Math.max(10, Math.min(5000, Math.floor(Math.min(limits.sessionIdleTimeoutMs, limits.unauthenticatedTimeoutMs) / 4)));
}

const NOT_FOUND_H2 = (() => {
  const { status, body } = errorAnswer('COL_ERR_NOT_FOUND', 'over HTTP/2 this collector serves only POST /api/v1/reports; use HTTP/1.1 for the rest');
  return { status, text: JSON.stringify(body) };
})();

/** Reserves the body of an HTTP/2 request in the global budget (see admitBody); false when refused (answered). */
function admitH2Body(ctx: Ctx, ex: H2Exchange): boolean {
  if (ex.stream.endAfterHeaders) return true;
  const bytes = declaredBodyBytes(ctx, ex.headers);
  const refusal = bodyRefusal(ctx, bytes);
  if (refusal !== undefined) {
    // Drain what the client sends meanwhile, so the stream can close.
    ex.stream.resume();
    return overloaded(ctx, ex, refusal);
  }
  ex.reserved = bytes;
  return true;
}

/** Answers an Expect header as node's compatibility layer did; false when it answered 417 (the request ends there). */
function expectation(ex: H2Exchange, expect: string): boolean {
  if (expect === '100-continue') {
    ex.stream.additionalHeaders({ ':status': 100 });
    return true;
  }
  ex.stream.resume();
  ex.status = 417;
  ex.stream.respond({ ':status': 417 }, { endStream: true });
  return false;
}

function createH2(ctx: Ctx): http2.Http2Server {
  // No request listener: the compatibility layer stays off, streams are served by onStream.
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: ctx.limits.maxConcurrentStreams } });
  h2.on('stream', (stream: ExchangeStream, headers) => {
    // The stream leaves its session when it ends: look the session up now.
    const guard = stream.session ? ctx.sessions.get(stream.session as http2.ServerHttp2Session) : undefined;
    if (guard) guard.open++;
    const ex = new H2Exchange(ctx, stream, headers, guard);
    stream[kExchange] = ex;
    stream.on('close', onExchangeClose);
    stream.on('error', ignoreStreamError);
    // As the compatibility layer did: 100 Continue to `expect: 100-continue`, 417 to any other expectation.
    if (headers.expect !== undefined && !expectation(ex, headers.expect)) return;
    if (!admitH2Body(ctx, ex)) return;
    if (headers[':method'] === 'POST' && headers[':path'] === INGEST_PATH) return ctx.opts.ingest(ex, ex);
    stream.resume();
    ex.writeHead(NOT_FOUND_H2.status, { 'content-type': 'application/json' });
    ex.end(NOT_FOUND_H2.text);
  });
  // One listener of each kind for all sessions: no closure per session.
  function forget(this: http2.ServerHttp2Session): void {
    ctx.sessions.delete(this);
  }
  const onSessionError = (e: Error) => (isResourceError(e) ? ctx.alarm.raise('http2', e) : ctx.opts.log.debug({ err: e.message }, 'HTTP/2 session error'));
  h2.on('session', (s) => {
    const now = Date.now();
    ctx.sessions.set(s, { authed: false, open: 0, openedAtMs: now, idleSinceMs: now });
    s.on('close', forget);
    s.on('error', onSessionError);
  });
  h2.on('sessionError', (e) => ctx.opts.log.debug({ err: e.message }, 'HTTP/2 session error'));
  return h2;
}

/** Counts an HTTP/2 connection, or closes it (false) when maxHttp2Sessions are open already. */
function admitSession(ctx: Ctx, socket: net.Socket): boolean {
  if (ctx.sessions.size >= ctx.limits.maxHttp2Sessions) {
    ctx.counts.refused++;
    ctx.alarm.refused('maxHttp2Sessions', ctx.limits.maxHttp2Sessions);
    socket.destroy();
    return false;
  }
  ctx.counts.http2++;
  return true;
}

/** Hands a socket whose TLS handshake is done to HTTP/2 (ALPN h2) or HTTP/1.1 (http/1.1, or no ALPN). */
function routeSecured(ctx: Ctx, h1: http.Server, h2: http2.Http2Server): (socket: tls.TLSSocket) => void {
  return (socket) => {
    if (socket.alpnProtocol === 'h2') {
      if (admitSession(ctx, socket)) h2.emit('connection', socket);
      return;
    }
    ctx.counts.http1++;
    h1.emit('connection', socket);
  };
}

/** The first-byte timeout's listener (shared, so it can be removed once the first bytes came). */
function destroyOnFirstByteTimeout(this: net.Socket): void {
  this.destroy();
}

/** Reads a connection's first bytes and hands it to the HTTP/1.1 or the HTTP/2 server. */
function dispatcher(ctx: Ctx, h1: http.Server, h2: http2.Http2Server, tlsTerm?: TlsTerminator): (socket: net.Socket) => void {
  return (socket) => {
    socket.on('error', (e) => {
      if (isResourceError(e)) ctx.alarm.raise('socket', e);
    });
    // Over the cap: accepted and closed at once, so the connections already held keep working.
    const cap = Math.min(ctx.limits.maxConnections, ctx.fdCap);
    if (ctx.sockets.size >= cap) {
      ctx.counts.refused++;
      ctx.alarm.refused('maxConnections', cap);
      socket.destroy();
      return;
    }
    ctx.sockets.add(socket);
    socket.once('close', () => ctx.sockets.delete(socket));
    // The TLS server bounds the handshake (handshakeTimeout) and routes by ALPN once it is done (routeSecured).
    if (tlsTerm) return void tlsTerm.server.emit('connection', socket);
    let head = Buffer.alloc(0);
    socket.setTimeout(ctx.limits.firstByteTimeoutMs, destroyOnFirstByteTimeout);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < PREFACE_START.length && PREFACE_START.subarray(0, head.length).equals(head)) return;
      socket.removeListener('data', onData);
      // setTimeout(0) stops the timer but keeps its listener: it would destroy the connection on any later timeout.
      socket.setTimeout(0);
      socket.removeListener('timeout', destroyOnFirstByteTimeout);
      socket.pause();
      if (head.subarray(0, PREFACE_START.length).equals(PREFACE_START)) {
        if (!admitSession(ctx, socket)) return;
        // The HTTP/2 session takes over what is buffered in the socket.
        socket.unshift(head);
        h2.emit('connection', socket);
      } else {
        // The HTTP/1.1 parser reads the socket's handle directly; what was read already is handed over as data.
        ctx.counts.http1++;
        h1.emit('connection', socket);
        socket.emit('data', head);
        socket.resume();
      }
    };
    socket.on('data', onData);
  };
}

const FD_LIMIT_CHECK_MS = 10_000;

/** The limits in force: the defaults, then the deprecated single options, then `limits`. */
function mergedLimits(opts: ListenOptions): ListenerLimits {
  return {
    ...DEFAULT_LIMITS,
    ...(opts.h2IdleMs !== undefined ? { sessionIdleTimeoutMs: opts.h2IdleMs } : {}),
    ...(opts.firstByteTimeoutMs !== undefined ? { firstByteTimeoutMs: opts.firstByteTimeoutMs } : {}),
    ...opts.limits,
  };
}

/** Connections the descriptor limit leaves room for: RLIMIT_NOFILE minus `reservedFds` (Infinity when unknown or reservedFds is 0). */
function fdCapOf(reservedFds: number): number {
  const nofile = reservedFds > 0 ? openFileLimit() : undefined;
  return nofile === undefined ? Infinity : Math.max(1, nofile - reservedFds);
}

/** Follows the descriptor limit; warns when it holds connections below maxConnections. Returns the timer to clear. */
function watchFdLimit(ctx: Ctx, reservedFds: number): NodeJS.Timeout {
  let warned = Infinity;
  const check = () => {
    try {
      ctx.fdCap = fdCapOf(reservedFds);
    } catch {
      return; // keep the last cap: reading /proc needs a descriptor too
    }
    if (ctx.fdCap < ctx.limits.maxConnections && ctx.fdCap !== warned) {
      warned = ctx.fdCap;
      ctx.opts.log.warn(
        { configured: ctx.limits.maxConnections, cap: ctx.fdCap, nofile: ctx.fdCap + reservedFds, reservedFds },
        `connections capped at ${ctx.fdCap} by the descriptor limit; raise LimitNOFILE / ulimit -n for a province (docs/deployment.md)`,
      );
    }
  };
  check();
  return setInterval(check, FD_LIMIT_CHECK_MS).unref();
}

/** Listens on host:port and serves both HTTP versions; rejects when the port cannot be bound. */
export async function listen(opts: ListenOptions): Promise<Listener> {
  const limits = mergedLimits(opts);
  const ctx: Ctx = {
    fdCap: Infinity,
    opts,
    limits,
    budget: new BodyBudget(limits.maxInflightBodyBytes),
    inflight: { requests: 0, rejected: 0 },
    alarm: new ResourceAlarm(opts.log, limits.resourceLogIntervalMs),
    sockets: new Set(),
    sessions: new Map(),
    counts: { http1: 0, http2: 0, refused: 0, overloaded: 0 },
  };
  const fdTimer = watchFdLimit(ctx, opts.reservedFds ?? 256);
  const sweepTimer = setInterval(() => sweepSessions(ctx, Date.now()), sweepIntervalMs(limits)).unref();
  const h1 = createH1(ctx);
  const h2 = createH2(ctx);
  const tlsTerm = opts.tls?.certFile
    ? createTlsTerminator({ section: opts.tls, handshakeTimeoutMs: limits.firstByteTimeoutMs, log: opts.log, secured: routeSecured(ctx, h1, h2) })
    : undefined;
  const server = net.createServer(dispatcher(ctx, h1, h2, tlsTerm));
  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error) => {
      clearInterval(fdTimer);
      clearInterval(sweepTimer);
      tlsTerm?.close();
      reject(e);
    };
    server.once('error', failed);
    server.listen(opts.port, opts.host, () => {
      server.removeListener('error', failed);
      resolve();
    });
  });
  // After listening, an 'error' is a failed accept (EMFILE, ENFILE, ENOBUFS): libuv keeps the socket listening.
  // (Where libuv holds its spare descriptor it accepts and closes such connections itself and reports nothing.)
  server.on('error', (e) => (isResourceError(e) ? ctx.alarm.raise('accept', e) : opts.log.error({ err: e.message }, 'accept failed')));
  // Starts the HTTP/1.1 server's own connection tracking (headers and request timeouts), as listening would.
  h1.emit('listening');
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : opts.port,
    connections: ctx.counts,
    scheme: tlsTerm ? 'https' : 'http',
    ...(tlsTerm && { tls: { stats: tlsTerm.stats, reload: tlsTerm.reload } }),
    get limits() {
      return { ...limits, maxConnections: Math.min(limits.maxConnections, ctx.fdCap) };
    },
    stats: () => ({
      open: ctx.sockets.size,
      maxConnections: Math.min(limits.maxConnections, ctx.fdCap),
      http1: ctx.sockets.size - ctx.sessions.size,
      http2Sessions: ctx.sessions.size,
      refused: ctx.counts.refused,
      bodyInflightBytes: ctx.budget.inflightBytes,
      bodyBudgetBytes: ctx.budget.limitBytes,
      inflightRequests: ctx.inflight.requests,
      maxInflightRequests: limits.maxInflightRequests,
      overloaded: ctx.counts.overloaded,
      resourceErrors: { ...ctx.alarm.counts },
      ...(tlsTerm && { tls: { ...tlsTerm.stats } }),
    }),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(fdTimer);
        clearInterval(sweepTimer);
        tlsTerm?.close();
        server.close(() => resolve());
        h1.close();
        for (const s of ctx.sessions.keys()) s.destroy();
        for (const s of ctx.sockets) s.destroy();
      }),
  };
}
