/**
 * Who the proxy reports as: its agent id and ONE token for all its schools, from enrollment
 * (`campuslink-collector enroll issue --proxy <name> …`, then `campuslink-agent enroll --code`) or from
 * the config (`agentId`, `collector.token`). Stored in `<stateDir>/proxy-credential.json` (0600); a
 * token rotated in an ack replaces it durably before the next upload uses it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { z } from 'zod';
import { writeFileDurable } from '../../protocol/durable.js';
import { ENROLL_PATH, anyEnrollAnswerSchema } from '../../protocol/enroll.js';
import { PROTOCOL_VERSION, agentId, schoolId } from '../../protocol/index.js';
import { EnrollError } from '../identity/enroll.js';
import { isCertificateError, requestOnce } from '../transport/once.js';

/** The stored credential. */
export const proxyCredentialSchema = z.object({
  agent: agentId,
  token: z.string().min(1),
  tokenId: z.string().min(1).optional(),
  /** The scope the collector named at enrollment (informational: it checks scope on every batch). */
  schools: z.array(schoolId).optional(),
  source: z.enum(['enroll', 'rotated']),
  at: z.string(),
});
export type ProxyCredential = z.infer<typeof proxyCredentialSchema>;

export class ProxyIdentity {
  private readonly path: string;
  private stored: ProxyCredential | undefined;

  constructor(
    private readonly opts: { stateDir: string; configAgent: string; configToken?: string; log: Logger },
  ) {
    this.path = join(opts.stateDir, 'proxy-credential.json');
    this.reload();
  }

  /** Re-reads the credential file (an `enroll` run beside a running proxy). */
  reload(): void {
    try {
      this.stored = proxyCredentialSchema.parse(JSON.parse(readFileSync(this.path, 'utf8')));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.error({ code: 'AGT_ERR_CONFIG_INVALID', file: this.path, err: String(e) }, 'proxy credential unreadable; using the config identity');
      this.stored = undefined;
    }
  }

  /** Whether an enrolled credential exists. */
  get enrolled(): boolean {
    return this.stored !== undefined;
  }

  current(): { agent: string; token?: string; schools?: readonly string[] } {
    if (this.stored) return { agent: this.stored.agent, token: this.stored.token, ...(this.stored.schools && { schools: this.stored.schools }) };
    return { agent: this.opts.configAgent, ...(this.opts.configToken && { token: this.opts.configToken }) };
  }

  private save(c: ProxyCredential): void {
    writeFileDurable(this.path, JSON.stringify(c, null, 2));
    chmodSync(this.path, 0o600);
    this.stored = c;
  }

  /** Takes a token the collector rotated in an ack. */
  rotate(t: { token: string; id: string }): void {
    const cur = this.current();
    this.save({ agent: cur.agent, token: t.token, tokenId: t.id, ...(cur.schools && { schools: [...cur.schools] }), source: 'rotated', at: new Date().toISOString() });
    this.opts.log.info({ token: t.id }, 'proxy token rotated');
  }

  /** Exchanges an enrollment code for the proxy's credential (a repeated nonce gets the same agent id). */
  async enroll(opts: { url: string; code: string; timeoutMs: number; secureContext?: SecureContext }): Promise<ProxyCredential> {
    const noncePath = join(this.opts.stateDir, 'enroll-nonce');
    let nonce: string;
    try {
      nonce = readFileSync(noncePath, 'utf8').trim();
      if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) throw new Error('bad nonce');
    } catch {
      nonce = randomBytes(18).toString('base64url');
      writeFileDurable(noncePath, nonce);
    }
    let res;
    try {
      res = await requestOnce(new URL(ENROLL_PATH, opts.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ v: PROTOCOL_VERSION, code: opts.code, nonce, hostname: hostname().slice(0, 128) }),
        timeoutMs: opts.timeoutMs,
        ...(opts.secureContext && { secureContext: opts.secureContext }),
      });
    } catch (e) {
      const hint = isCertificateError(e) ? "; set collector.tls.caFile to the CA that signed the collector's certificate" : '';
      throw new EnrollError(`collector ${opts.url} unreachable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}${hint}`, undefined, true);
    }
    if (res.status !== 200) {
      const permanent = res.status === 400 || res.status === 403 || res.status === 404;
      throw new EnrollError(`collector ${opts.url} refused the enrollment (${res.status} ${res.text.slice(0, 300)})`, res.status, !permanent);
    }
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      body = undefined;
    }
    const a = anyEnrollAnswerSchema.safeParse(body);
    if (!a.success) throw new EnrollError(`collector ${opts.url} answered the enrollment without a valid credential`, res.status, true);
    if (a.data.kind !== 'proxy') {
      throw new EnrollError(`the code is for an agent of school ${a.data.school}, not a proxy: issue one with campuslink-collector enroll issue --proxy <name> --region <code>`, res.status, false);
    }
    const c: ProxyCredential = { agent: a.data.agent, token: a.data.token, tokenId: a.data.tokenId, ...(a.data.schools && { schools: a.data.schools }), source: 'enroll', at: new Date().toISOString() };
    this.save(c);
    rmSync(noncePath, { force: true });
    this.opts.log.info({ agent: c.agent, token: c.tokenId, schools: c.schools?.length }, 'proxy enrolled: credential stored');
    return c;
  }
}
