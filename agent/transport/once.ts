/**
 * One plain HTTP/1.1 request for the agent's side errands (enrollment, `doctor`), trusting what uploads
 * trust: `collector.tls` (its CA file and client certificate) for an https: collector.
 */
import http from 'node:http';
import https from 'node:https';
import type { SecureContext } from 'node:tls';
import { agentTls, type AgentTlsSection } from './tls.js';

/** An answer: the status and the whole body as text. */
export interface OnceAnswer {
  status: number;
  text: string;
}

export interface OnceOptions {
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** For https: URLs, the agent's secure context (`agentTls(config.collector.tls)`); Node's defaults without it. */
  secureContext?: SecureContext;
}

/** Sends one request on its own connection; rejects with the socket's or the TLS handshake's error. */
export function requestOnce(url: URL, opts: OnceOptions): Promise<OnceAnswer> {
  return new Promise((done, fail) => {
    const secure = url.protocol === 'https:';
    const lib = secure ? https : http;
    // No pooled socket: one made with another trust setting must not answer for this one.
    const req = lib.request(url, { method: opts.method, headers: opts.headers, timeout: opts.timeoutMs, agent: false, ...(secure && opts.secureContext && { secureContext: opts.secureContext }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer in ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', fail);
    req.end(opts.body);
  });
}

/** Whether an error from requestOnce() is a refused certificate (so the message can name collector.tls.caFile). */
export function isCertificateError(e: unknown): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_SSL|ERR_TLS/.test(String((e as NodeJS.ErrnoException)?.code ?? ''));
}

/** The secure context side errands use for this collector section: only when one of its URLs is https:. */
export function errandSecureContext(c: { url: string; failoverUrls: readonly string[]; tls: AgentTlsSection }): SecureContext | undefined {
  return [c.url, ...c.failoverUrls].some((u) => u.startsWith('https:')) ? agentTls(c.tls).secureContext : undefined;
}
