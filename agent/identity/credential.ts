/**
 * The agent's own credential, `<stateDir>/credential.json` (0600, written with the durable-write
 * helper): the identity it reports as now, and the few it reported as before (a moved agent sends
 * their backlog with their own tokens). A damaged file is moved aside and logged, never a crash.
 */
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { writeFileDurable } from '../../protocol/durable.js';
import { agentId, schoolId } from '../../protocol/index.js';

/** Older identities kept for their backlog. */
export const MAX_PREVIOUS_IDENTITIES = 4;

const credentialSchema = z.object({
  school: schoolId,
  agent: agentId,
  /** Absent for an identity that never had a token (reports collected before enrollment). */
  token: z.string().min(1).optional(),
  tokenId: z.string().optional(),
  /** Where it came from: enroll (the collector assigned it) or config (a legacy token, maybe rotated since). */
  source: z.enum(['enroll', 'config']),
  /** For source config: SHA-256 of the config token it came from; a different config token (re-issued by the operator) wins. */
  configTokenSha: z.string().optional(),
  at: z.string(),
});

const fileSchema = z.object({ v: z.literal(1), current: credentialSchema, previous: z.array(credentialSchema).max(MAX_PREVIOUS_IDENTITIES) });

export type Credential = z.infer<typeof credentialSchema>;
export type CredentialFile = z.infer<typeof fileSchema>;

/** Reads and writes the credential file. */
export class CredentialStore {
  readonly path: string;

  constructor(
    stateDir: string,
    private readonly log: Logger,
  ) {
    this.path = join(stateDir, 'credential.json');
  }

  /** The file, or undefined when there is none or it was damaged (then moved aside). */
  load(): CredentialFile | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.log.error({ code: 'AGT_ERR_CREDENTIAL_IO', path: this.path, err: String(e) }, 'credential file unreadable; reporting with the config token meanwhile');
      return undefined;
    }
    try {
      return fileSchema.parse(JSON.parse(text));
    } catch (e) {
      const aside = `${this.path}.corrupt-${Date.now()}`;
      try {
        renameSync(this.path, aside);
      } catch {
        /* left in place; it is refused again next time */
      }
      this.log.error({ code: 'AGT_ERR_CREDENTIAL_IO', path: this.path, movedTo: aside, err: String((e as Error).message).slice(0, 300) }, 'credential file damaged; moved aside; enroll again (campuslink-agent enroll --code …) or use the config token');
      return undefined;
    }
  }

  /** Stores the file durably (temp file, fsync, rename, fsync of the directory), 0600. Throws on I/O errors. */
  save(file: CredentialFile): void {
    writeFileDurable(this.path, `${JSON.stringify(fileSchema.parse(file), null, 2)}\n`);
  }

  /** Makes `next` the current identity; the old one (when it differs) goes to the front of `previous`. */
  adopt(next: Credential, before: Credential | undefined): CredentialFile {
    const old = this.load();
    const prior = old?.current ?? before;
    const same = (a: Credential, b: Credential) => a.school === b.school && a.agent === b.agent;
    const previous = [...(prior && !same(prior, next) ? [prior] : []), ...(old?.previous ?? [])].filter((p) => !same(p, next)).slice(0, MAX_PREVIOUS_IDENTITIES);
    const file: CredentialFile = { v: 1, current: next, previous };
    this.save(file);
    return file;
  }
}
