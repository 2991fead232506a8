/**
 * Who the proxy reports as: its agent id and ONE token for all its schools, from enrollment
 * (`campuslink-collector enroll issue --proxy <name> …`, then `campuslink-agent enroll --code`) or from
 * the config (`agentId`, `collector.token`). Stored in `<stateDir>/proxy-credential.json` (0600); a
 * token rotated in an ack replaces it durably before the next upload uses it.
 */
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { z } from 'zod';
import { writeFileDurable } from '../../protocol/durable.js';
import { agentId, schoolId } from '../../protocol/index.js';
import { EnrollError, enrollmentDone, requestEnrollment } from '../identity/enroll.js';

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
    const a = await requestEnrollment({ ...opts, stateDir: this.opts.stateDir });
    if (a.kind !== 'proxy') {
      throw new EnrollError(`the code is for an agent of school ${a.school}, not a proxy: issue one with campuslink-collector enroll issue --proxy <name> --region <code>`, 200, false);
    }
    const c: ProxyCredential = { agent: a.agent, token: a.token, tokenId: a.tokenId, ...(a.schools && { schools: a.schools }), source: 'enroll', at: new Date().toISOString() };
    this.save(c);
    enrollmentDone(this.opts.stateDir);
    this.opts.log.info({ agent: c.agent, token: c.tokenId, schools: c.schools?.length }, 'proxy enrolled: credential stored');
    return c;
  }
}
