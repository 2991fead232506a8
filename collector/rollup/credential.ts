/**
 * The provincial collector's hub credential, `<stateDir>/hub-credential.json` (0600, durable write): the
 * hub it enrolled with, its province, the collector id the hub assigned and the token. Enrollment sends the
 * code with a nonce kept in `<stateDir>/hub-enroll-nonce` until it succeeded, so a lost answer is repeated
 * without using the code twice.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileDurable } from '../../protocol/durable.js';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import { HUB_ENROLL_PATH, hubEnrollAnswerSchema, type HubEnrollRequest } from '../../protocol/rollup.js';
import { hashToken } from '../auth/tokens.js';
import type { HubSection } from '../hub/config.js';
import { answerDetail, postToHub } from './post.js';

const credentialSchema = z.object({
  v: z.literal(1),
  hub: z.string(),
  province: z.string().regex(/^\d{2}$/),
  collector: z.string().min(1),
  token: z.string().min(1),
  tokenId: z.string().min(1),
  enrolledAtMs: z.number().int(),
});

export type HubCredential = z.infer<typeof credentialSchema>;

const credentialPath = (stateDir: string): string => join(stateDir, 'hub-credential.json');
const noncePath = (stateDir: string): string => join(stateDir, 'hub-enroll-nonce');

/** The stored credential; undefined when there is none. A damaged file is moved aside (`.corrupt-<ms>`) and reported through `onDamaged`. */
export function loadHubCredential(stateDir: string, onDamaged?: (problem: string) => void): HubCredential | undefined {
  let text: string;
  try {
    text = readFileSync(credentialPath(stateDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    onDamaged?.(String(e));
    return undefined;
  }
  try {
    return credentialSchema.parse(JSON.parse(text));
  } catch (e) {
    try {
      renameSync(credentialPath(stateDir), `${credentialPath(stateDir)}.corrupt-${Date.now()}`);
    } catch {
      /* left in place; the next enrollment overwrites it */
    }
    onDamaged?.(`hub-credential.json is damaged (${String((e as Error).message).slice(0, 200)}); moved aside`);
    return undefined;
  }
}

/** Stores the credential, readable by the collector's user only. */
export function saveHubCredential(stateDir: string, c: HubCredential): void {
  writeFileDurable(credentialPath(stateDir), `${JSON.stringify(c)}\n`);
  chmodSync(credentialPath(stateDir), 0o600);
}

/** The enrollment nonce of this code: kept until enrollment succeeded, so a repeat gets the same collector id. */
function nonceFor(stateDir: string, code: string): string {
  const codeSha = hashToken(code).slice(0, 16);
  try {
    const [sha, nonce] = readFileSync(noncePath(stateDir), 'utf8').trim().split(' ');
    if (sha === codeSha && nonce && /^[A-Za-z0-9_-]{16,64}$/.test(nonce)) return nonce;
  } catch {
    /* none yet */
  }
  const nonce = randomBytes(18).toString('base64url');
  writeFileDurable(noncePath(stateDir), `${codeSha} ${nonce}\n`);
  return nonce;
}

/** A refusal or failure of enrollment, with whether trying again later can help. */
export class HubEnrollError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'HubEnrollError';
  }
}

/** Enrolls with the hub using `code`; stores and returns the credential. */
export async function enrollWithHub(opts: { hub: HubSection; stateDir: string; code: string; province: string; now?: () => number }): Promise<HubCredential> {
  const url = opts.hub.url as string;
  const req: HubEnrollRequest = { v: PROTOCOL_VERSION, code: opts.code, nonce: nonceFor(opts.stateDir, opts.code), province: opts.province, hostname: hostname().slice(0, 128) };
  const body = Buffer.from(JSON.stringify(req), 'utf8');
  const ca = opts.hub.caFile ? readFileSync(opts.hub.caFile) : undefined;
  let a;
  try {
    a = await postToHub({ url, ...(ca && { ca }) }, HUB_ENROLL_PATH, { 'content-type': 'application/json', 'content-length': body.length }, body, opts.hub.timeoutMs);
  } catch (e) {
    throw new HubEnrollError(`hub ${url} unreachable for enrollment: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, true);
  }
  if (a.status !== 200) throw new HubEnrollError(`hub ${url} refused the enrollment (${a.status}): ${answerDetail(a)}`, a.status === 429 || a.status >= 500);
  let parsed;
  try {
    parsed = hubEnrollAnswerSchema.parse(JSON.parse(a.text));
  } catch {
    throw new HubEnrollError(`hub ${url} answered the enrollment without a valid credential`, true);
  }
  const cred: HubCredential = { v: 1, hub: url, province: parsed.province, collector: parsed.collector, token: parsed.token, tokenId: parsed.tokenId, enrolledAtMs: (opts.now ?? Date.now)() };
  saveHubCredential(opts.stateDir, cred);
  rmSync(noncePath(opts.stateDir), { force: true });
  return cred;
}
