/**
 * `POST /api/v1/enroll`: an agent exchanges its enrollment code for its own credential (an agent id
 * the collector assigns, a token bound to school and agent). One group-committed transaction checks
 * the code, takes a place in the school's roster, uses the code once and stores the token's hash.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { PROTOCOL_VERSION, toIssues } from '../../protocol/index.js';
import { enrollRequestSchema, type EnrollAnswer, type ProxyEnrollAnswer } from '../../protocol/enroll.js';
import { PROXY_SCHOOL } from '../auth/proxies.js';
import { hashToken, insertTokens, migrateTokens, newToken, noteTokenChanges } from '../auth/tokens.js';
import { errorAnswer } from '../http/errors.js';
import { smallJsonHandler, type SmallJsonReply } from '../http/small-json.js';
import { StateDbError, type StateDb } from '../state/db.js';
import { checkCode, migrateCodes, useCode } from './codes.js';
import { enrollProxy, type EnrollDirectory } from './proxy.js';
import { insertAgent, type AgentRoster } from './roster.js';

/** Largest enrollment request body, bytes. */
const MAX_ENROLL_BODY = 4096;

export interface EnrollmentOptions {
  state: StateDb;
  roster: AgentRoster;
  /** The registry: a school's tags; a live registry also gives a proxy's region its schools. */
  schools: EnrollDirectory;
  /** Lifetime of an enrolled token, ms; undefined: no expiry. */
  tokenLifetimeMs?: number;
  /** Seconds in Retry-After when the state database cannot record the enrollment. */
  retryAfterS: number;
  now: () => number;
  log: Logger;
}

/** An answer: status and JSON body (and headers). */
/** The answer to an enrollment. */
export type EnrollReply = SmallJsonReply;

type Outcome = { kind: 'ok'; answer: EnrollAnswer | ProxyEnrollAnswer; added: boolean } | { kind: 'refused'; reply: EnrollReply };

/** A collector-assigned agent id: unique within the school, never the host name two boxes share. */
const newAgentId = () => `ag-${randomBytes(5).toString('hex')}`;

/** Builds the enrollment handler. */
export function createEnrollment(opts: EnrollmentOptions): { enroll(body: unknown, hostname?: string): Promise<EnrollReply>; handler(req: Request, res: Response): void } {
  migrateTokens(opts.state);
  migrateCodes(opts.state);
  const known = opts.state.db.prepare('SELECT 1 FROM enroll_codes WHERE sha256 = ?').pluck();

  /** Everything in one transaction; returns an outcome instead of throwing, so a refusal costs only itself. */
  const work = (req: { code: string; nonce: string; hostname?: string }, nowMs: number, taken: { school?: string; agent?: string }) => (db: Parameters<Parameters<StateDb['commit']>[0]>[0]): Outcome => {
    const checked = checkCode(db, req.code, req.nonce, nowMs);
    if (!checked.ok) return { kind: 'refused', reply: errorAnswer('COL_ERR_ENROLL_CODE_INVALID', checked.why) };
    const { record, repeat } = checked;
    if (record.school === PROXY_SCHOOL && record.agent !== undefined) {
      const p = enrollProxy(db, { record, ...(repeat && { repeat }), nonce: req.nonce, nowMs, ...(opts.tokenLifetimeMs !== undefined && { tokenLifetimeMs: opts.tokenLifetimeMs }), schools: opts.schools });
      return p.kind === 'ok' ? p : { kind: 'refused', reply: errorAnswer('COL_ERR_ENROLL_CODE_INVALID', p.why) };
    }
    if (!opts.schools.tagsFor(record.school)) return { kind: 'refused', reply: errorAnswer('COL_ERR_SCHOOL_NOT_REGISTERED', `school ${record.school} of enrollment code ${record.id} is not in the registry`) };
    let agent = repeat?.agent;
    let added = false;
    if (agent === undefined) {
      agent = newAgentId();
      const admitted = opts.roster.admit(record.school, agent);
      if (!admitted.ok) {
        return { kind: 'refused', reply: errorAnswer('COL_ERR_AGENT_LIMIT', `school ${record.school} already has ${admitted.count} agents (auth.maxAgentsPerSchool = ${opts.roster.limit}); revoke one (token revoke --school ${record.school} --agent ID) or raise the limit`) };
      }
      added = true;
      taken.school = record.school;
      taken.agent = agent;
      insertAgent(db, { school: record.school, agent, atMs: nowMs, ...(req.hostname !== undefined && { hostname: req.hostname }) });
      useCode(db, record, { nonce: req.nonce, agent, atMs: nowMs });
    } else {
      // The answer of the first attempt was lost: its token was never used, so it goes.
      const unused = db.prepare('SELECT sha256, school FROM tokens WHERE school = ? AND agent = ? AND first_used_ms IS NULL AND revoked_at IS NULL').all(record.school, agent) as { sha256: string; school: string }[];
      db.prepare('UPDATE tokens SET revoked_at = ? WHERE school = ? AND agent = ? AND first_used_ms IS NULL AND revoked_at IS NULL').run(new Date(nowMs).toISOString(), record.school, agent);
      noteTokenChanges(db, unused, nowMs);
    }
    const expiresAtMs = opts.tokenLifetimeMs === undefined ? undefined : nowMs + opts.tokenLifetimeMs;
    const issued = newToken(record.school, new Date(nowMs).toISOString(), { agent, ...(expiresAtMs !== undefined && { expiresAtMs }) });
    insertTokens(db, [issued.record]);
    const answer: EnrollAnswer = { v: PROTOCOL_VERSION, school: record.school, agent, token: issued.token, tokenId: issued.record.id, ...(expiresAtMs !== undefined && { expiresAtMs }) };
    return { kind: 'ok', answer, added };
  };

  const enroll = async (body: unknown): Promise<EnrollReply> => {
    const parsed = enrollRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issues = toIssues(parsed.error);
      return errorAnswer('COL_ERR_INVALID_PAYLOAD', `invalid enrollment: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    }
    // Guessed or mistyped codes are refused by one indexed read, without a place in the group commit.
    let unknown = false;
    try {
      unknown = known.get(hashToken(parsed.data.code)) === undefined;
    } catch {
      // The database cannot be read: the commit below answers 503.
    }
    if (unknown) return errorAnswer('COL_ERR_ENROLL_CODE_INVALID', 'unknown enrollment code');
    const nowMs = opts.now();
    let outcome: Outcome;
    const taken: { school?: string; agent?: string } = {};
    try {
      outcome = await opts.state.commit(work(parsed.data, nowMs, taken));
    } catch (e) {
      // The place the transaction took in the roster was not stored: give it back.
      if (taken.school !== undefined && taken.agent !== undefined) opts.roster.release(taken.school, taken.agent);
      const retryable = !(e instanceof StateDbError) || e.retryable;
      opts.log.error({ err: String((e as Error)?.message ?? e) }, 'enrollment could not be recorded');
      if (!retryable) return errorAnswer('COL_ERR_INTERNAL', 'the state database refused the enrollment');
      return { ...errorAnswer('COL_ERR_STATE_UNAVAILABLE', 'the state database could not record the enrollment; nothing was used'), headers: { 'retry-after': String(opts.retryAfterS) } };
    }
    if (outcome.kind === 'refused') {
      opts.log.warn({ status: outcome.reply.status, err: (outcome.reply.body as { error: { message: string } }).error.message }, 'enrollment refused');
      return outcome.reply;
    }
    const a = outcome.answer;
    opts.log.info({ school: 'school' in a ? a.school : undefined, proxySchools: 'schools' in a ? a.schools.length : undefined, agent: a.agent, token: outcome.answer.tokenId, hostname: parsed.data.hostname, repeat: !outcome.added }, 'agent enrolled');
    return { status: 200, body: outcome.answer };
  };

  const handler = smallJsonHandler(enroll, { maxBodyBytes: MAX_ENROLL_BODY, what: 'an enrollment body', log: opts.log });
  return { enroll, handler };
}
