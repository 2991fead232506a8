/** Several collector URLs with failover: stays on the one that works, moves on when it fails. */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { COLS_ENCODING, type BatchEncoding, type Report } from '../../protocol/index.js';
import { http1Exchange, type Exchange } from './exchange.js';
import { H2Connection, H2UnsupportedError, type H2TlsStats } from './h2.js';
import { agentTls, isTlsRefusal, type AgentTls, type AgentTlsSection } from './tls.js';
import { UploadError, uploadBatch, type UploadResult } from './uploader.js';

/** After an HTTP/1.1-only answer, how long a collector URL is sent HTTP/1.1 before HTTP/2 is tried again, in ms. */
export const H2_RETRY_AFTER_MS = 3_600_000;

export interface CollectorPoolOptions {
  /** Base URLs, preferred first. */
  urls: readonly string[];
  token: string;
  timeoutMs: number;
  gzip: boolean;
  /** Try the columnar preset-dictionary encoding first; a collector that answers 415 gets plain gzip from then on. */
  dictionary?: boolean;
  /** Upload over one long-lived HTTP/2 connection per collector (h2c, or h2 over TLS by ALPN); HTTP/1.1 where the collector does not speak it. */
  http2?: boolean;
  /** TLS to https: collectors (collector.tls): CAs, client certificate, resumption. Default: Node's CAs, resumption on. */
  tls?: AgentTlsSection;
  version: string;
  now: () => number;
  log?: Logger;
}

/** The sending side of delivery; tests may provide their own. */
export interface BatchSender {
  /** `token` overrides the pool's (an agent's enrolled, rotated or older identity's token). */
  send(reports: readonly Report[], opts?: { token?: string }): Promise<UploadResult>;
}

interface Target {
  url: string;
  h1: Exchange;
  agent: http.Agent;
  h2?: H2Connection;
  /** Until when HTTP/1.1 is used because the collector answered HTTP/2 with HTTP/1.1, agent clock ms. */
  h1UntilMs: number;
  /** When AGT_ERR_TLS_REFUSED was last logged for this URL, agent clock ms. */
  tlsLoggedAtMs?: number;
}

/** A refused TLS handshake is logged at most this often per collector URL, in ms (the delivery log says each failure anyway). */
export const TLS_REFUSED_LOG_MS = 3_600_000;

export class CollectorPool implements BatchSender {
  private current = 0;
  private readonly targets: Target[];
  private encoding: BatchEncoding;

  constructor(private readonly opts: CollectorPoolOptions) {
    if (opts.urls.length === 0) throw new Error('CollectorPool needs at least one URL');
    this.encoding = !opts.gzip ? 'identity' : opts.dictionary ? COLS_ENCODING : 'gzip';
    const secure = opts.urls.some((u) => u.startsWith('https:'));
    const tlsOpts: AgentTls | undefined = secure && opts.tls ? agentTls(opts.tls) : undefined;
    this.targets = opts.urls.map((url) => {
      // The HTTP/1.1 agent caches TLS sessions itself (maxCachedSessions): its reconnects resume too.
      const agent = url.startsWith('https:')
        ? new https.Agent({ keepAlive: true, ALPNProtocols: ['http/1.1'], ...(tlsOpts && { secureContext: tlsOpts.secureContext }), ...(tlsOpts?.resumeSessions === false && { maxCachedSessions: 0 }) })
        : new http.Agent({ keepAlive: true });
      const h2 = opts.http2 ? new H2Connection({ url, ...(opts.log && { log: opts.log }), ...(tlsOpts && { tls: tlsOpts }) }) : undefined;
      return { url, agent, h1: http1Exchange({ url, agent }), ...(h2 && { h2 }), h1UntilMs: 0 };
    });
  }

  /** TLS handshakes of the HTTP/2 connections, and how many resumed a session. */
  get tlsStats(): H2TlsStats {
    const sum = { handshakes: 0, resumed: 0 };
    for (const t of this.targets) {
      sum.handshakes += t.h2?.tlsStats.handshakes ?? 0;
      sum.resumed += t.h2?.tlsStats.resumed ?? 0;
    }
    return sum;
  }

  /** Logs AGT_ERR_TLS_REFUSED (once an hour per URL) when an exchange failed in the TLS handshake; rethrows. */
  private tlsGuard(t: Target, exchange: Exchange): Exchange {
    if (!t.url.startsWith('https:')) return exchange;
    return async (req, timeoutMs) => {
      try {
        return await exchange(req, timeoutMs);
      } catch (e) {
        const now = this.opts.now();
        if (isTlsRefusal(e) && (t.tlsLoggedAtMs === undefined || now - t.tlsLoggedAtMs >= TLS_REFUSED_LOG_MS)) {
          t.tlsLoggedAtMs = now;
          this.opts.log?.error(
            { code: 'AGT_ERR_TLS_REFUSED', url: t.url, tlsError: (e as NodeJS.ErrnoException).code, err: (e as Error).message },
            `AGT_ERR_TLS_REFUSED: TLS with ${t.url} failed (${(e as NodeJS.ErrnoException).code}); reports stay in the spool; check collector.tls.caFile, the collector's certificate and the client certificate`,
          );
        }
        throw e;
      }
    };
  }

  /** The URL in use. */
  get url(): string {
    return (this.targets[this.current] as Target).url;
  }

  private async upload(t: Target, reports: readonly Report[], token: string): Promise<UploadResult> {
    const base = { url: t.url, token, timeoutMs: this.opts.timeoutMs, version: this.opts.version };
    if (t.h2 && this.opts.now() >= t.h1UntilMs) {
      try {
        return await uploadBatch({ ...base, encoding: this.encoding, exchange: this.tlsGuard(t, t.h2.exchange) }, reports, this.opts.now);
      } catch (e) {
        if (!(e instanceof H2UnsupportedError)) throw e;
        t.h1UntilMs = this.opts.now() + H2_RETRY_AFTER_MS;
        this.opts.log?.warn({ url: t.url }, 'collector does not speak HTTP/2; using HTTP/1.1 for the next hour');
      }
    }
    return uploadBatch({ ...base, encoding: this.encoding, exchange: this.tlsGuard(t, t.h1) }, reports, this.opts.now);
  }

  /**
   * Sends to the current collector; on no answer or a 5xx/429 tries each other URL once, in order.
   * Throws the last error when none acknowledged. 4xx answers are final (every collector would say the same).
   */
  async send(reports: readonly Report[], sendOpts?: { token?: string }): Promise<UploadResult> {
    const token = sendOpts?.token ?? this.opts.token;
    let last: UploadError | undefined;
    for (let i = 0; i < this.targets.length; i++) {
      const idx = (this.current + i) % this.targets.length;
      const t = this.targets[idx] as Target;
      try {
        let r: UploadResult;
        try {
          r = await this.upload(t, reports, token);
        } catch (e) {
          // An older collector that does not know the columnar encoding: fall back to gzip for good.
          if (!(e instanceof UploadError) || e.status !== 415 || this.encoding !== COLS_ENCODING) throw e;
          this.encoding = 'gzip';
          this.opts.log?.warn({ url: t.url }, 'collector refused the columnar encoding; sending gzip from now on');
          r = await this.upload(t, reports, token);
        }
        if (idx !== this.current) this.opts.log?.warn({ from: this.url, to: t.url }, 'failed over to another collector');
        this.current = idx;
        return r;
      } catch (e) {
        if (!(e instanceof UploadError) || e.action !== 'keep-and-back-off') throw e;
        last = e;
      }
    }
    throw last as UploadError;
  }

  close(): void {
    for (const t of this.targets) {
      t.agent.destroy();
      t.h2?.close();
    }
  }
}
