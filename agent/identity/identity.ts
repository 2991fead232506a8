/**
 * Who this agent reports as, and with which token: its enrolled credential when it has one, else the
 * config's school, agentId and (legacy, per-school) collector.token. Reports already in the spool
 * keep the identity they were collected under; `route()` says how each is delivered: with the current
 * token, with an older identity's own token (a moved agent's backlog), or not at all (quarantine).
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Ack, Report } from '../../protocol/index.js';
import type { AgentConfig } from '../config.js';
import { CredentialStore, MAX_PREVIOUS_IDENTITIES, type Credential, type CredentialFile } from './credential.js';

/** How one report travels. */
export type Route =
  | { kind: 'send'; token: string; school: string; agent: string; current: boolean }
  | { kind: 'quarantine'; reason: string };

const key = (school: string, agent: string) => `${school}/${agent}`;
const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

export class AgentIdentity {
  private readonly store: CredentialStore;
  private file?: CredentialFile;
  private mtimeMs = -1;

  constructor(
    private readonly config: Readonly<AgentConfig>,
    stateDir: string,
    private readonly log: Logger,
  ) {
    this.store = new CredentialStore(stateDir, log);
    this.reload();
  }

  /** The config's own identity (legacy token or none). */
  configIdentity(): Credential {
    const t = this.config.collector.token;
    return { school: this.config.school, agent: this.config.agentId, ...(t && { token: t, configTokenSha: sha(t) }), source: 'config', at: '' };
  }

  /**
   * Keeps the config's legacy identity in the credential file, so that a later config naming another
   * school (a moved agent) still has the old token for the old backlog, and a rotated token survives
   * restarts. Does nothing for an enrolled agent or without a config token. Never throws.
   */
  persistConfigIdentity(): void {
    const cfg = this.configIdentity();
    const c = this.file?.current;
    if (!cfg.token || (c && c.source !== 'config')) return;
    if (c && key(c.school, c.agent) === key(cfg.school, cfg.agent) && c.configTokenSha === cfg.configTokenSha) return;
    try {
      const kept = c && key(c.school, c.agent) !== key(cfg.school, cfg.agent) ? [c, ...(this.file?.previous ?? [])] : (this.file?.previous ?? []);
      const file: CredentialFile = { v: 1, current: { ...cfg, at: new Date().toISOString() }, previous: kept.slice(0, MAX_PREVIOUS_IDENTITIES) };
      this.store.save(file);
      this.file = file;
      this.mtimeMs = statSync(this.store.path).mtimeMs;
    } catch (e) {
      this.log.error({ code: 'AGT_ERR_CREDENTIAL_IO', path: this.store.path, err: String(e) }, 'credential file could not be written; reporting with the config token');
    }
  }

  /** Reads the credential file again when it changed (e.g. `enroll` run beside a running agent). */
  reload(): void {
    let m = -2;
    try {
      m = statSync(this.store.path).mtimeMs;
    } catch {
      m = -2;
    }
    if (m === this.mtimeMs) return;
    this.mtimeMs = m;
    this.file = m === -2 ? undefined : this.store.load();
    const c = this.file?.current;
    if (c && c.school !== this.config.school) {
      this.log.warn({ code: 'AGT_ERR_MOVED_BACKLOG', enrolledSchool: c.school, configSchool: this.config.school }, `enrolled for school ${c.school}, config says ${this.config.school}: reporting for ${c.school} (enroll with a code of the new school to move)`);
    }
  }

  /** The identity new reports are collected under. */
  current(): Credential {
    const c = this.file?.current;
    const cfg = this.configIdentity();
    // A rotated legacy token belongs to the config's identity: a config that names another school moves
    // the agent, and a config token the operator re-issued replaces the rotated one.
    if (!c || (c.source === 'config' && (key(c.school, c.agent) !== key(cfg.school, cfg.agent) || (cfg.configTokenSha !== undefined && c.configTokenSha !== cfg.configTokenSha)))) return cfg;
    return c;
  }

  /** True once the agent has a credential of its own from enrollment. */
  get enrolled(): boolean {
    return this.file?.current.source === 'enroll';
  }

  /** How this report is delivered. */
  route(r: Pick<Report, 'school' | 'agent'>): Route {
    const cur = this.current();
    const k = key(r.school, r.agent);
    if (k === key(cur.school, cur.agent)) return cur.token ? { kind: 'send', token: cur.token, school: cur.school, agent: cur.agent, current: true } : { kind: 'quarantine', reason: 'no token' };
    const cfg = this.configIdentity();
    // Collected before enrollment under the config identity, never sendable: it is this agent's, same school.
    if (k === key(cfg.school, cfg.agent) && !cfg.token && cur.school === cfg.school && cur.token) return { kind: 'send', token: cur.token, school: cur.school, agent: cur.agent, current: true };
    const old = [...(this.file ? [this.file.current, ...this.file.previous] : []), cfg].find((p) => key(p.school, p.agent) === k && p.token);
    if (old?.token) return { kind: 'send', token: old.token, school: old.school, agent: old.agent, current: false };
    return { kind: 'quarantine', reason: `collected as agent ${r.agent} of school ${r.school}, which this agent no longer reports for and has no token of` };
  }

  /**
   * A rotated token from an ack: stored durably first, used from the next request on. When it cannot
   * be stored, the old token stays in use (the collector offers a new one again later).
   */
  rotate(t: NonNullable<Ack['newToken']>): boolean {
    const cur = this.current();
    if (cur.token === t.token) return true;
    const next: Credential = { ...cur, token: t.token, tokenId: t.id, at: new Date().toISOString() };
    try {
      const kept = this.file && this.file.current !== cur ? [this.file.current, ...this.file.previous] : (this.file?.previous ?? []);
      const file: CredentialFile = { v: 1, current: next, previous: kept.slice(0, MAX_PREVIOUS_IDENTITIES) };
      this.store.save(file);
      this.file = file;
      this.mtimeMs = statSync(this.store.path).mtimeMs;
    } catch (e) {
      this.log.error({ code: 'AGT_ERR_CREDENTIAL_IO', path: this.store.path, err: String(e) }, 'rotated token could not be stored; keeping the old one');
      return false;
    }
    this.log.info({ school: cur.school, agent: cur.agent, token: t.id }, 'collector rotated the token; new token stored and in use');
    return true;
  }
}
