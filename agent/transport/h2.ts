/**
 * Uploads over one long-lived HTTP/2 connection: cleartext to an http: collector (h2c with prior knowledge,
 * RFC 9113 §3.3), or over TLS to an https: collector with HTTP/2 chosen by ALPN (RFC 9113 §3.2).
 *
 * Why: a GEO school uploads a batch every 4 minutes, and over HTTP/1.1 each exchange repeats about
 * 450 bytes of headers, a third of its bytes on the metered link. On one HTTP/2 connection HPACK
 * sends the repeated headers as table indexes, about 120 bytes of framing and headers per exchange in all.
 * The TCP connection has keepalive on, so NAT boxes on the path keep it between uploads.
 *
 * Over TLS the connection keeps the collector's latest session ticket and offers it when it reconnects: a
 * resumed TLS 1.3 handshake costs about 800 bytes and no certificate, a full one about 2 KB. The agent
 * reconnects often on a bad satellite link, so this is most of what TLS adds to a GEO school's day.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { AgentTls } from './tls.js';
import { INGEST_PATH, MAX_ANSWER_BYTES, answerTooLarge, type Exchange, type WireAnswer, type WireRequest } from './exchange.js';

/** The collector did not answer the HTTP/2 preface with HTTP/2: it only speaks HTTP/1.1. */
export class H2UnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'H2UnsupportedError';
  }
}

export interface H2ConnectionOptions {
  /** Collector base URL, http: or https:. */
  url: string;
  /** For https: the shared SecureContext (CAs, client certificate) and whether to resume sessions. Default: Node's CAs, resumption on. */
  tls?: AgentTls;
  /** TCP keepalive probe delay on the connection, in ms. */
  keepAliveMs?: number;
  log?: Logger;
}

/** Errors of a connection that went away meanwhile: a fresh connection may well succeed at once. */
const STALE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_STREAM_CANCEL', 'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_SESSION_ERROR']);

interface Live {
  session: http2.ClientHttp2Session;
  /** The TCP connection was made. */
  connected: boolean;
  /** The collector's SETTINGS arrived: it speaks HTTP/2. */
  settled: boolean;
  /** Exchanges completed on it. */
  used: number;
  /**
   * The exchanges in flight, told when the session errs or closes. One listener per event on the session
   * serves them all: a listener per exchange would pile up (and warn past 10) with many uploads at once.
   */
  inFlight: Set<(e: Error & { code?: string }) => void>;
}

/** TLS connections made and how many of them resumed a session, for logs, tests and the bandwidth bench. */
export interface H2TlsStats {
  handshakes: number;
  resumed: number;
}

/** One HTTP/2 connection to one collector, opened on first use and again after it breaks. */
export class H2Connection {
  private live: Live | undefined;
  /** A TLS connection being set up (handshake and ALPN), shared by the exchanges that wait for it. */
  private opening: Promise<Live> | undefined;
  /** The collector's latest TLS session ticket, offered on the next connection. */
  private ticket: Buffer | undefined;
  private readonly secure: boolean;
  readonly tlsStats: H2TlsStats = { handshakes: 0, resumed: 0 };

  constructor(private readonly opts: H2ConnectionOptions) {
    this.secure = opts.url.startsWith('https:');
    if (!this.secure && !opts.url.startsWith('http:')) throw new Error(`H2Connection needs an http: or https: URL, got ${opts.url}`);
  }

  /** The exchange function of this connection. */
  readonly exchange: Exchange = (req, timeoutMs) => this.send(req, timeoutMs, 1);

  private current(): Live | undefined {
    return this.live && !this.live.session.closed && !this.live.session.destroyed ? this.live : undefined;
  }

  /** The open connection, or a new one: at once over TCP, after the TLS handshake (ALPN checked) over TLS. */
  private open(timeoutMs: number): Live | Promise<Live> {
    const live = this.current();
    if (live) return live;
    if (!this.secure) return this.start(this.tcp(), true);
    this.opening ??= this.handshake(timeoutMs).finally(() => (this.opening = undefined));
    return this.opening;
  }

  private target(): { host: string; port: number } {
    const u = new URL(this.opts.url);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (this.secure ? 443 : 80)) };
  }

  private tcp(): net.Socket {
    const s = net.connect(this.target());
    s.setKeepAlive(true, this.opts.keepAliveMs ?? 60_000);
    s.setNoDelay(true);
    return s;
  }

  /** Connects with TLS offering h2 and http/1.1; resolves once HTTP/2 is agreed, rejects with H2UnsupportedError when it is not. */
  private handshake(timeoutMs: number): Promise<Live> {
    const { host, port } = this.target();
    const resume = this.opts.tls?.resumeSessions !== false;
    return new Promise<Live>((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        // SNI carries names only, never addresses (RFC 6066 §3).
        ...(net.isIP(host) === 0 && { servername: host }),
        ...(this.opts.tls && { secureContext: this.opts.tls.secureContext }),
        ALPNProtocols: ['h2', 'http/1.1'],
        ...(resume && this.ticket && { session: this.ticket }),
      });
      socket.setKeepAlive(true, this.opts.keepAliveMs ?? 60_000);
      socket.setNoDelay(true);
      if (resume) socket.on('session', (t: Buffer) => (this.ticket = t));
      const timer = setTimeout(() => fail(Object.assign(new Error(`no TLS handshake within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        this.tlsStats.handshakes++;
        if (socket.isSessionReused()) this.tlsStats.resumed++;
        if (socket.alpnProtocol !== 'h2') {
          socket.destroy();
          return reject(new H2UnsupportedError(`the collector chose ${socket.alpnProtocol || 'no protocol'} over TLS, not h2`));
        }
        // Errors after the handshake (a refused client certificate arrives as an alert now in TLS 1.3) go to the session.
        resolve(this.start(socket, false));
      });
    });
  }

  /** Starts an HTTP/2 session on a socket (TCP still connecting, or TLS done with ALPN h2). */
  private start(socket: net.Socket, cleartext: boolean): Live {
    const u = new URL(this.opts.url);
    const session = http2.connect(u.origin, { createConnection: () => socket });
    const live: Live = { session, connected: !cleartext, settled: false, used: 0, inFlight: new Set() };
    const tell = (e: Error & { code?: string }) => {
      for (const f of [...live.inFlight]) f(e);
    };
    if (cleartext) socket.once('connect', () => (live.connected = true));
    session.once('remoteSettings', () => (live.settled = true));
    session.on('error', (e) => {
      this.opts.log?.debug({ err: e.message }, 'HTTP/2 connection error');
      tell(e);
    });
    session.once('close', () => {
      if (this.live === live) this.live = undefined;
      tell(Object.assign(new Error('connection closed'), { code: 'ECONNRESET' }));
    });
    session.once('goaway', () => {
      if (this.live === live) this.live = undefined;
    });
    // Between uploads the connection must not keep the process alive on its own.
    session.unref();
    this.live = live;
    return live;
  }

  private async send(req: WireRequest, timeoutMs: number, retries: number): Promise<WireAnswer> {
    const live = await this.open(timeoutMs);
    return this.request(live, req, timeoutMs, retries);
  }

  private request(live: Live, req: WireRequest, timeoutMs: number, retries: number): Promise<WireAnswer> {
    const reused = live.used > 0;
    return new Promise<WireAnswer>((resolve, reject) => {
      let settled = false;
      const finish = (e: (Error & { code?: string }) | undefined, answer?: WireAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        live.inFlight.delete(finish);
        if (answer) {
          live.used++;
          return resolve(answer);
        }
        // A refused or dropped connection surfaces as a cancelled stream; its cause says what happened.
        const cause = (e as Error & { cause?: Error & { code?: string } }).cause;
        const err = cause?.code ? cause : (e as Error & { code?: string });
        // A failure mid-exchange leaves the connection in doubt: start the next one afresh.
        live.session.destroy();
        // Connected, and what came back was not HTTP/2 at all (nghttp2's protocol error): an HTTP/1.1-only
        // collector or proxy. A connection merely closed or reset before SETTINGS is a link problem, not that.
        if (live.connected && !live.settled && !reused && err.code === 'ERR_HTTP2_ERROR') {
          return reject(new H2UnsupportedError(`the collector did not answer in HTTP/2 (${err.code ?? err.message})`));
        }
        if (retries > 0 && reused && STALE.has(err.code ?? '')) return this.send(req, timeoutMs, retries - 1).then(resolve, reject);
        reject(err);
      };
      const timer = setTimeout(() => finish(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      let stream: http2.ClientHttp2Stream;
      try {
        stream = live.session.request({ ':method': 'POST', ':path': INGEST_PATH, ...req.headers });
      } catch (e) {
        return finish(e as Error);
      }
      live.inFlight.add(finish);
      let status = 0;
      let headers: WireAnswer['headers'] = {};
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('response', (h) => {
        status = Number(h[':status'] ?? 0);
        headers = h as WireAnswer['headers'];
        if (Number(h['content-length']) > MAX_ANSWER_BYTES) finish(answerTooLarge());
      });
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) return finish(answerTooLarge());
        chunks.push(c);
      });
      stream.on('end', () => {
        // A stream the connection's end cut short ends too, but without an answer: that is no answer at all.
        if (status === 0) return finish(Object.assign(new Error('the stream ended without an answer'), { code: 'ECONNRESET' }));
        finish(undefined, { status, headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      stream.on('error', (e) => finish(e));
      stream.end(req.body);
    });
  }

  /** Closes the connection; a later exchange opens a new one (offering the session ticket kept). */
  close(): void {
    this.live?.session.destroy();
    this.live = undefined;
  }
}
