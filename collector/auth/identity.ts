/**
 * Who may write what, beyond "the token is known": a token bound to an agent writes only for that
 * agent id, a school has a bounded number of agents, and tokens are rotated through acks. Ingest calls
 * `admit()` once the batch is parsed and `ackFields()` once it is accepted.
 */
import type { Logger } from 'pino';
import type { Ack } from '../../protocol/index.js';
import { AgentRoster } from '../enroll/roster.js';
import { errorAnswer } from '../http/errors.js';
import type { StateDb } from '../state/db.js';
import { LastSeen } from './last-seen.js';
import { Rotation } from './rotation.js';
import type { AuthSettings } from './settings.js';
import type { TokenRecord, TokenStore } from './tokens.js';

/** An answer ingest sends instead of writing. */
export interface IdentityRefusal {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** What ingest needs from the identity layer. */
export interface IngestIdentity {
  /** May this token write this agent's batch? An answer refuses it (nothing written). */
  admit(token: TokenRecord, agent: string): Promise<IdentityRefusal | undefined>;
  /** Fields for the ack of an accepted batch of `agent` (a rotated token). Never rejects. */
  ackFields(token: TokenRecord, agent: string): Promise<Pick<Ack, 'newToken'>>;
}

export interface IdentityOptions {
  state: StateDb;
  tokens: TokenStore;
  settings: Readonly<AuthSettings>;
  /** Retry-After seconds when the roster cannot be written. */
  retryAfterS: number;
  now: () => number;
  log: Logger;
}

/** The identity layer of a serving collector: ingest hook, roster (shared with enrollment), timers. */
export interface Identity extends IngestIdentity {
  readonly roster: AgentRoster;
  start(): void;
  stop(): Promise<void>;
}

export function createIdentity(opts: IdentityOptions): Identity {
  const s = opts.settings;
  const roster = new AgentRoster({ state: opts.state, maxAgentsPerSchool: s.maxAgentsPerSchool });
  // Revoking an agent's tokens elsewhere (the CLI) frees its place: read the school again.
  opts.tokens.onChange((school) => roster.invalidate(school));
  const lastSeen = new LastSeen({ state: opts.state, resolutionMs: s.lastSeenResolutionMs, now: opts.now, log: opts.log, onPruned: (gone) => gone.forEach((sha) => opts.tokens.reread(sha)) });
  const rotation = new Rotation({
    state: opts.state,
    tokens: opts.tokens,
    graceMs: s.rotationGraceMs,
    reofferMs: s.rotationReofferMs,
    rotateBeforeExpiryMs: s.rotateBeforeExpiryMs,
    ...(s.tokenLifetimeMs !== undefined && { tokenLifetimeMs: s.tokenLifetimeMs }),
    now: opts.now,
    log: opts.log,
  });

  const admit = async (token: TokenRecord, agent: string): Promise<IdentityRefusal | undefined> => {
    lastSeen.touch(token.sha256);
    if (token.agent !== undefined && agent !== token.agent) {
      opts.log.warn({ token: token.id, school: token.school, agent: token.agent, claimed: agent }, 'batch for another agent refused');
      return errorAnswer('COL_ERR_WRONG_AGENT', `token ${token.id} is bound to agent ${token.agent} of school ${token.school}; the batch is from agent ${agent}; nothing was written`);
    }
    const admitted = roster.admit(token.school, agent);
    if (!admitted.ok) {
      opts.log.warn({ token: token.id, school: token.school, claimed: agent, agents: admitted.count }, 'new agent id over the per-school limit refused');
      return errorAnswer('COL_ERR_AGENT_LIMIT', `school ${token.school} already has ${admitted.count} agents (auth.maxAgentsPerSchool = ${roster.limit}); agent ${agent} is refused; revoke one (token revoke --school ${token.school} --agent ID) or raise the limit; nothing was written`);
    }
    if (!admitted.added) return undefined;
    try {
      await roster.persist(token.school, agent, opts.now());
    } catch (e) {
      roster.release(token.school, agent);
      opts.log.error({ school: token.school, agent, err: String((e as Error)?.message ?? e) }, 'new agent could not be recorded; nothing acknowledged');
      return { ...errorAnswer('COL_ERR_STATE_UNAVAILABLE', 'the state database could not record this new agent; nothing was written'), headers: { 'retry-after': String(opts.retryAfterS) } };
    }
    return undefined;
  };

  const ackFields = async (token: TokenRecord, agent: string): Promise<Pick<Ack, 'newToken'>> => {
    const newToken = await rotation.afterAccepted(token, agent);
    return newToken ? { newToken } : {};
  };

  return { roster, admit, ackFields, start: () => lastSeen.start(), stop: () => lastSeen.stop() };
}
