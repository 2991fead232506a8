/**
 * `POST /api/v1/hub/enroll` on the national hub: a province collector exchanges an enrollment code
 * (`campuslink-collector enroll issue --province NN` on the hub) for its collector id and credential.
 * One group-committed transaction checks the code (enroll/codes.ts; its subject is the province code),
 * uses it once and stores the credential's hash. A repeat of the same nonce (the answer was lost) gets
 * the same collector id and a new token, and the unused one is revoked.
 */
import type { Logger } from 'pino';
import { PROTOCOL_VERSION, toIssues } from '../../protocol/index.js';
import { hubEnrollRequestSchema, type HubEnrollAnswer } from '../../protocol/rollup.js';
import { errorAnswer } from '../http/errors.js';
import { StateDbError, type Sqlite, type StateDb } from '../state/db.js';
import { checkCode, migrateCodes, useCode } from '../enroll/codes.js';
import { newCollectorId, newProvinceCredential, type ProvinceCredential, type ProvinceCredentials } from './credentials.js';
import type { SmallJsonReply } from '../http/small-json.js';

/** The hub's answer to a province's enrollment. */
export type HubReply = SmallJsonReply;

export interface HubEnrollmentOptions {
  state: StateDb;
  credentials: ProvinceCredentials;
  retryAfterS: number;
  now: () => number;
  log: Logger;
}

type Outcome = { ok: true; answer: HubEnrollAnswer; credential: ProvinceCredential; repeat: boolean } | { ok: false; reply: HubReply };

/** Builds the hub's enrollment: `enroll(body)` answers one parsed JSON body. */
export function createHubEnrollment(opts: HubEnrollmentOptions): { enroll(body: unknown): Promise<HubReply> } {
  migrateCodes(opts.state);
  const work = (req: { code: string; nonce: string; province: string }, nowMs: number) => (db: Sqlite): Outcome => {
    const checked = checkCode(db, req.code, req.nonce, nowMs);
    if (!checked.ok) return { ok: false, reply: errorAnswer('COL_ERR_ENROLL_CODE_INVALID', checked.why) };
    const { record, repeat } = checked;
    if (!/^\d{2}$/.test(record.school)) return { ok: false, reply: errorAnswer('COL_ERR_ENROLL_CODE_INVALID', `enrollment code ${record.id} is an agent's code (school ${record.school}), not a province's`) };
    if (record.school !== req.province) {
      return { ok: false, reply: errorAnswer('COL_ERR_ROLLUP_WRONG_PROVINCE', `enrollment code ${record.id} is for province ${record.school}; this collector said it serves province ${req.province}`) };
    }
    const collector = repeat?.agent ?? newCollectorId(record.school);
    if (repeat) opts.credentials.revokeCollector(db, collector, nowMs);
    else useCode(db, record, { nonce: req.nonce, agent: collector, atMs: nowMs });
    const issued = newProvinceCredential(record.school, collector, nowMs);
    opts.credentials.put(db, issued.record);
    return { ok: true, repeat: !!repeat, credential: issued.record, answer: { v: PROTOCOL_VERSION, province: record.school, collector, token: issued.token, tokenId: issued.record.id } };
  };

  const enroll = async (body: unknown): Promise<HubReply> => {
    const parsed = hubEnrollRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issues = toIssues(parsed.error);
      return errorAnswer('COL_ERR_INVALID_PAYLOAD', `invalid enrollment: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    }
    let outcome: Outcome;
    try {
      outcome = await opts.state.commit(work(parsed.data, opts.now()));
    } catch (e) {
      const retryable = !(e instanceof StateDbError) || e.retryable;
      opts.log.error({ err: String((e as Error)?.message ?? e) }, 'province enrollment could not be recorded');
      if (!retryable) return errorAnswer('COL_ERR_INTERNAL', 'the state database refused the enrollment');
      return { ...errorAnswer('COL_ERR_STATE_UNAVAILABLE', 'the state database could not record the enrollment; nothing was used'), headers: { 'retry-after': String(opts.retryAfterS) } };
    }
    if (!outcome.ok) {
      opts.log.warn({ province: parsed.data.province, err: (outcome.reply.body as { error: { message: string } }).error.message }, 'province enrollment refused');
      return outcome.reply;
    }
    opts.credentials.remember(outcome.credential);
    opts.log.info({ province: outcome.answer.province, collector: outcome.answer.collector, credential: outcome.answer.tokenId, hostname: parsed.data.hostname, repeat: outcome.repeat }, 'province collector enrolled');
    return { status: 200, body: outcome.answer };
  };
  return { enroll };
}
