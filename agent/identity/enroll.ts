/**
 * Exchanges an enrollment code for the agent's own credential (`POST /api/v1/enroll`). The attempt's
 * nonce is stored durably before the request, so a retry after a lost answer gets the same agent id
 * without using the code again.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileDurable } from '../../protocol/durable.js';
import { ENROLL_PATH, anyEnrollAnswerSchema, type AnyEnrollAnswer } from '../../protocol/enroll.js';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import { CredentialStore, type Credential, type CredentialFile } from './credential.js';
import type { SecureContext } from 'node:tls';
import { isCertificateError, requestOnce, type OnceAnswer } from '../transport/once.js';

/** Why an enrollment did not happen; `retryable` false: this code will not work (unknown, expired, used up). */
export class EnrollError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'EnrollError';
  }
}

/** What `enrollAgent` needs besides the request: the identity before and a logger. */
export interface EnrollOptions extends EnrollRequestOptions {
  /** The identity in use before (config school and agent id, maybe a legacy token): kept for its backlog. */
  before?: Credential;
  log: Logger;
}

function pendingNonce(stateDir: string): string {
  const path = join(stateDir, 'enroll-nonce');
  try {
    const n = readFileSync(path, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{16,64}$/.test(n)) return n;
  } catch {
    /* none yet */
  }
  const n = randomBytes(18).toString('base64url');
  writeFileDurable(path, n);
  return n;
}

/** Where to enroll and with what: the code, the state directory that keeps the attempt's nonce, the transport. */
export interface EnrollRequestOptions {
  /** Collector base URL. */
  url: string;
  code: string;
  stateDir: string;
  timeoutMs: number;
  /** For an https: collector, the agent's secure context (`agentTls(config.collector.tls)`), as uploads use it. */
  secureContext?: SecureContext;
}

/**
 * Exchanges the code for an enrollment answer (an agent's or a county proxy's), under the nonce kept in
 * `stateDir` so a repeat after a lost answer gets the same agent id; throws EnrollError when none came.
 * The caller stores the credential, then calls `enrollmentDone()`.
 */
export async function requestEnrollment(opts: EnrollRequestOptions): Promise<AnyEnrollAnswer> {
  const nonce = pendingNonce(opts.stateDir);
  let res: OnceAnswer;
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
  const text = res.text;
  if (res.status !== 200) {
    let detail = text.slice(0, 300);
    try {
      const b = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (b.error) detail = `${b.error.code}: ${b.error.message}`;
    } catch {
      /* raw text */
    }
    const permanent = res.status === 400 || res.status === 403 || res.status === 404;
    throw new EnrollError(`collector ${opts.url} refused the enrollment (${res.status} ${detail})`, res.status, !permanent);
  }
  const answer = anyEnrollAnswerSchema.safeParse((() => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  })());
  if (!answer.success) throw new EnrollError(`collector ${opts.url} answered the enrollment without a valid credential`, res.status, true);
  return answer.data;
}

/** Forgets the attempt's nonce once its credential is stored (the next code starts a new attempt). */
export function enrollmentDone(stateDir: string): void {
  rmSync(join(stateDir, 'enroll-nonce'), { force: true });
}

/** Enrolls and stores the credential durably; resolves with the new credential file. */
export async function enrollAgent(opts: EnrollOptions): Promise<CredentialFile> {
  const a = await requestEnrollment(opts);
  if (a.kind === 'proxy') {
    throw new EnrollError(`the code is for the county proxy ${a.agent}, not for an agent of one school: run the proxy with a mode: proxy config, or issue a school code with campuslink-collector enroll issue --school <id>`, 200, false);
  }
  const file = new CredentialStore(opts.stateDir, opts.log).adopt({ school: a.school, agent: a.agent, token: a.token, tokenId: a.tokenId, source: 'enroll', at: new Date().toISOString() }, opts.before);
  enrollmentDone(opts.stateDir);
  opts.log.info({ school: a.school, agent: a.agent, token: a.tokenId }, 'enrolled: credential stored');
  return file;
}
