/**
 * Uploads over one long-lived cleartext HTTP/2 connection (h2c with prior knowledge, RFC 9113 §3.3).
 *
 * Why: a GEO school uploads a batch every 4 minutes, and over HTTP/1.1 each exchange repeats about
 * 450 bytes of headers, a third of its bytes on the metered link. On one HTTP/2 connection HPACK
 * sends the repeated headers as table indexes, about 120 bytes of framing and headers per exchange in all.
 * The TCP connection has keepalive on, so NAT boxes on the path keep it between uploads.
 */
import http2 from 'node:http2';
import net from 'node:net';
import type { Logger } from 'pino';
import { INGEST_PATH, MAX_ANSWER_BYTES, answerTooLarge, type Exchange, type WireAnswer, type WireRequest } from './exchange.js';

/** The collector did not answer the HTTP/2 preface with HTTP/2: it only speaks HTTP/1.1. */
export class H2UnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'H2UnsupportedError';
  }
}

export interface H2ConnectionOptions {
  /** Collector base URL; must be http:. */
  url: string;
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
}

/** One HTTP/2 connection to one collector, opened on first use and again after it breaks. */
export class H2Connection {
  private live: Live | undefined;

  constructor(private readonly opts: H2ConnectionOptions) {
    if (!opts.url.startsWith('http:')) throw new Error(`H2Connection needs an http: URL, got ${opts.url}`);
  }

  /** The exchange function of this connection. */
  readonly exchange: Exchange = (req, timeoutMs) => this.send(req, timeoutMs, 1);

  private open(): Live {
    if (this.live && !this.live.session.closed && !this.live.session.destroyed) return this.live;
    const u = new URL(this.opts.url);
    const keepAliveMs = this.opts.keepAliveMs ?? 60_000;
    const session = http2.connect(u.origin, {
      createConnection: () => {
        const s = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) });
        s.setKeepAlive(true, keepAliveMs);
        s.setNoDelay(true);
        s.once('connect', () => (live.connected = true));
        return s;
      },
    });
    const live: Live = { session, connected: false, settled: false, used: 0 };
    session.once('remoteSettings', () => (live.settled = true));
    session.on('error', (e) => this.opts.log?.debug({ err: e.message }, 'HTTP/2 connection error'));
    session.once('close', () => {
      if (this.live === live) this.live = undefined;
    });
    session.once('goaway', () => {
      if (this.live === live) this.live = undefined;
    });
    // Between uploads the connection must not keep the process alive on its own.
    session.unref();
    this.live = live;
    return live;
  }

  private send(req: WireRequest, timeoutMs: number, retries: number): Promise<WireAnswer> {
    const live = this.open();
    const reused = live.used > 0;
    return new Promise<WireAnswer>((resolve, reject) => {
      let settled = false;
      const finish = (e: (Error & { code?: string }) | undefined, answer?: WireAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        live.session.off('error', onSessionError);
        live.session.off('close', onSessionClose);
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
      const onSessionError = (e: Error) => finish(e);
      const onSessionClose = () => finish(Object.assign(new Error('connection closed'), { code: 'ECONNRESET' }));
      const timer = setTimeout(() => finish(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      let stream: http2.ClientHttp2Stream;
      try {
        stream = live.session.request({ ':method': 'POST', ':path': INGEST_PATH, ...req.headers });
      } catch (e) {
        return finish(e as Error);
      }
      live.session.on('error', onSessionError);
      live.session.on('close', onSessionClose);
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

  /** Closes the connection; a later exchange opens a new one. */
  close(): void {
    this.live?.session.destroy();
    this.live = undefined;
  }
}
