/**
 * Who may write what, beyond "the token is known": a token bound to an agent writes only for that
 * agent id, a school has a bounded number of agents, and tokens are rotated through acks. Ingest calls
 * `admit()` once the batch is parsed and `ackFields()` once it is accepted.
 */
import type { Logger } from 'pino';
import type { Ack, Report } from '../../protocol/index.js';
import { AgentRoster } from '../enroll/roster.js';
import { errorAnswer } from '../http/errors.js';
import type { StateDb } from '../state/db.js';
import { LastSeen } from './last-seen.js';
import { ProxyScopes, describeScope, inScope, isProxyToken, type SchoolPlace } from './proxies.js';
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
  /**
   * The token as it applies to this parsed batch: itself for a school's token; for a county proxy's, a
   * copy with the batch's school once that school is inside the proxy's scope. An answer refuses the batch.
   */
  scope?(token: TokenRecord, reports: Report[]): TokenRecord | IdentityRefusal;
  /** May this token write this agent's batch? An answer refuses it (nothing written). `reports` give the agent's kind. */
  admit(token: TokenRecord, agent: string, reports?: readonly Report[]): Promise<IdentityRefusal | undefined>;
  /** Fields for the ack of an accepted batch of `agent` (a rotated token). Never rejects. */
  ackFields(token: TokenRecord, agent: string): Promise<Pick<Ack, 'newToken'>>;
}

export interface IdentityOptions {
  state: StateDb;
  tokens: TokenStore;
  settings: Readonly<AuthSettings>;
  /** Retry-After seconds when the roster cannot be written. */
  retryAfterS: number;
  /** The registry's codes of a school (a proxy's region scope compares them); without it a region scope admits nothing. */
  schools?: { tagsFor(school: string): SchoolPlace | undefined };
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

  const proxies = new ProxyScopes({ state: opts.state, now: opts.now });
  /** Per-school copies of proxy tokens → the token as stored (rotation and last seen work on that). */
  const proxyBase = new WeakMap<TokenRecord, TokenRecord>();

  const scope = (token: TokenRecord, reports: Report[]): TokenRecord | IdentityRefusal => {
    if (!isProxyToken(token)) {
      const claimed = reports.findIndex((r) => r.agentKind === 'proxy');
      if (claimed < 0) return token;
      return errorAnswer('COL_ERR_PROXY_SCOPE', `token ${token.id} of school ${token.school} is not a proxy's; reports.${claimed}.agentKind "proxy" needs a proxy credential (enroll issue --proxy); nothing was written`);
    }
    const school = reports[0]?.school as string;
    const other = reports.findIndex((r) => r.school !== school);
    if (other >= 0) return errorAnswer('COL_ERR_WRONG_SCHOOL', `a proxy's batch holds the reports of one school: reports.0.school is ${school}, reports.${other}.school is ${reports[other]?.school}; send one batch per school; nothing was written`);
    const agent = token.agent as string;
    const s = proxies.get(agent);
    if (!s || !inScope(s, school, opts.schools?.tagsFor(school))) {
      opts.log.warn({ token: token.id, agent, school, scope: s ? describeScope(s) : 'none' }, 'proxy batch for a school outside its scope refused');
      return errorAnswer('COL_ERR_PROXY_SCOPE', `school ${school} is outside the scope of proxy ${agent} (${s ? describeScope(s) : 'no scope recorded'}${opts.schools?.tagsFor(school) ? '' : '; the school is not in the registry'}); nothing of this batch was written`);
    }
    // The credential says what sent the batch, whatever the reports claim.
    for (const r of reports) r.agentKind = 'proxy';
    const view: TokenRecord = { ...token, school };
    proxyBase.set(view, token);
    return view;
  };

  const noteKind = (school: string, agent: string, reports: readonly Report[] | undefined): void => {
    const kind = reports?.at(-1)?.agentKind ?? 'full';
    roster.noteKind(school, agent, kind, opts.now())?.catch((e: unknown) => opts.log.warn({ school, agent, kind, err: String((e as Error)?.message ?? e) }, 'agent kind could not be recorded; tried again on its next batch'));
  };

  const admit = async (token: TokenRecord, agent: string, reports?: readonly Report[]): Promise<IdentityRefusal | undefined> => {
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
    if (admitted.added) {
      try {
        await roster.persist(token.school, agent, opts.now());
      } catch (e) {
        roster.release(token.school, agent);
        opts.log.error({ school: token.school, agent, err: String((e as Error)?.message ?? e) }, 'new agent could not be recorded; nothing acknowledged');
        return { ...errorAnswer('COL_ERR_STATE_UNAVAILABLE', 'the state database could not record this new agent; nothing was written'), headers: { 'retry-after': String(opts.retryAfterS) } };
      }
    }
    noteKind(token.school, agent, reports);
    return undefined;
  };

  const ackFields = async (token: TokenRecord, agent: string): Promise<Pick<Ack, 'newToken'>> => {
    const newToken = await rotation.afterAccepted(proxyBase.get(token) ?? token, agent);
    return newToken ? { newToken } : {};
  };

  return { roster, scope, admit, ackFields, start: () => lastSeen.start(), stop: () => lastSeen.stop() };
}
