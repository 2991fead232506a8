/**
 * Token rotation without a site visit. A token marked for rotation (`token rotate`), or one within
 * `rotateBeforeExpiryMs` of its expiry, gets a successor in the ack of its next accepted batch; the
 * agent stores it and uses it from then on. When the successor is first presented, the old token's
 * grace period begins (`rotationGraceMs`; requests already under way with it still pass) and no new
 * successor is offered. An agent that never takes the new token (lost ack, old agent version) keeps
 * working with the old one: a successor is offered again at most every `reofferMs`, replacing the
 * unused one, so a token never expires because an answer was lost.
 *
 * A legacy per-school token is shared by the school's agents: each agent that presents it gets a
 * successor bound to its own agent id, and the shared token stays valid (no grace period starts, since
 * the collector cannot know that every agent has switched) until the operator revokes it once
 * `token list` shows the agents on their own tokens.
 */
import type { Logger } from 'pino';
import type { Ack } from '../../protocol/index.js';
import type { StateDb } from '../state/db.js';
import { insertTokens, newToken, noteTokenChanges, type TokenRecord, type TokenStore } from './tokens.js';

export interface RotationOptions {
  state: StateDb;
  tokens: TokenStore;
  /** How long the old token stays valid after its successor was first used, ms. */
  graceMs: number;
  /** A successor is offered again after this, when the agent has not used the last one, ms. */
  reofferMs: number;
  /** A token that expires within this is rotated by itself, ms. */
  rotateBeforeExpiryMs: number;
  /** Lifetime of a successor of a token that never expires, ms; undefined: none. */
  tokenLifetimeMs?: number;
  now: () => number;
  log: Logger;
}

/** Offers of legacy tokens' successors remembered per (token, agent), at most this many. */
const MAX_LEGACY_OFFERS = 10_000;

export class Rotation {
  /** When a legacy token's successor was last offered to each agent: `${sha256}/${agent}` → ms. */
  private readonly legacyOffers = new Map<string, number>();

  constructor(private readonly opts: RotationOptions) {}

  private wants(rec: TokenRecord, agent: string, nowMs: number): boolean {
    if (rec.rotatedAtMs !== undefined) return false;
    const offered = rec.agent === undefined ? this.legacyOffers.get(`${rec.sha256}/${agent}`) : rec.offeredAtMs;
    if (offered !== undefined && nowMs - offered < this.opts.reofferMs) return false;
    return !!rec.rotate || (rec.expiresAtMs !== undefined && rec.expiresAtMs - nowMs <= this.opts.rotateBeforeExpiryMs);
  }

  /** After an accepted batch of `agent` with `rec`: starts a predecessor's grace, or resolves with a successor for the ack. Never rejects. */
  async afterAccepted(rec: TokenRecord, agent: string): Promise<Ack['newToken']> {
    const nowMs = this.opts.now();
    try {
      if (rec.replaces !== undefined && rec.firstUsedMs === undefined) await this.firstUse(rec, nowMs);
      if (this.wants(rec, agent, nowMs)) return await this.offer(rec, agent, nowMs);
    } catch (e) {
      this.opts.log.error({ token: rec.id, err: String((e as Error)?.message ?? e) }, 'token rotation could not be recorded; the token in use stays valid');
    }
    return undefined;
  }

  /** The successor is in use: the old token's grace begins, other unused successors go. */
  private async firstUse(rec: TokenRecord, nowMs: number): Promise<void> {
    // Marked at once: concurrent batches with the new token start one grace, not many.
    rec.firstUsedMs = nowMs;
    const pred = rec.replaces as string;
    const until = nowMs + this.opts.graceMs;
    const shared = this.opts.tokens.byId(pred)?.agent === undefined;
    const gone = await this.opts.state.commit((db) => {
      db.prepare('UPDATE tokens SET first_used_ms = ? WHERE sha256 = ?').run(nowMs, rec.sha256);
      if (!shared) db.prepare('UPDATE tokens SET rotated_at_ms = ?, rotate = 0, expires_at_ms = min(coalesce(expires_at_ms, ?), ?) WHERE sha256 = ?').run(nowMs, until, until, pred);
      // Unused successors offered to this agent before (of a shared token: to this agent only).
      const unused = db.prepare('SELECT sha256, school FROM tokens WHERE replaces = ? AND sha256 != ? AND first_used_ms IS NULL AND agent IS ?').all(pred, rec.sha256, rec.agent ?? null) as { sha256: string; school: string }[];
      db.prepare('DELETE FROM tokens WHERE replaces = ? AND sha256 != ? AND first_used_ms IS NULL AND agent IS ?').run(pred, rec.sha256, rec.agent ?? null);
      noteTokenChanges(db, [...unused, { sha256: pred, school: rec.school }, { sha256: rec.sha256, school: rec.school }], nowMs);
      return unused.map((u) => u.sha256);
    });
    for (const sha of [pred, rec.sha256, ...gone]) this.opts.tokens.reread(sha);
    if (shared) this.opts.log.info({ school: rec.school, agent: rec.agent, token: rec.id }, 'agent switched from the shared school token to its own; revoke the shared one once every agent has (token list)');
    else this.opts.log.info({ school: rec.school, agent: rec.agent, token: rec.id, graceUntil: new Date(until).toISOString() }, 'agent switched to its rotated token; the old one stays valid for the grace period');
  }

  private async offer(rec: TokenRecord, agent: string, nowMs: number): Promise<Ack['newToken']> {
    const shared = rec.agent === undefined;
    if (shared) {
      if (this.legacyOffers.size >= MAX_LEGACY_OFFERS) this.legacyOffers.delete(this.legacyOffers.keys().next().value as string);
      this.legacyOffers.set(`${rec.sha256}/${agent}`, nowMs);
    } else rec.offeredAtMs = nowMs;
    const lifetime = rec.expiresAtMs !== undefined ? Math.max(0, rec.expiresAtMs - Date.parse(rec.issuedAt)) : this.opts.tokenLifetimeMs;
    const expiresAtMs = lifetime === undefined ? undefined : nowMs + lifetime;
    // A shared school token's successor belongs to the agent that receives it.
    const issued = newToken(rec.school, new Date(nowMs).toISOString(), { replaces: rec.sha256, agent: rec.agent ?? agent, ...(expiresAtMs !== undefined && { expiresAtMs }) });
    const gone = await this.opts.state.commit((db) => {
      const unused = db.prepare('SELECT sha256, school FROM tokens WHERE replaces = ? AND first_used_ms IS NULL AND agent = ?').all(rec.sha256, issued.record.agent) as { sha256: string; school: string }[];
      db.prepare('DELETE FROM tokens WHERE replaces = ? AND first_used_ms IS NULL AND agent = ?').run(rec.sha256, issued.record.agent);
      insertTokens(db, [issued.record]);
      if (!shared) db.prepare('UPDATE tokens SET offered_at_ms = ? WHERE sha256 = ?').run(nowMs, rec.sha256);
      noteTokenChanges(db, unused, nowMs);
      return unused.map((u) => u.sha256);
    });
    for (const sha of [rec.sha256, issued.record.sha256, ...gone]) this.opts.tokens.reread(sha);
    this.opts.log.info({ school: rec.school, agent: rec.agent, token: rec.id, successor: issued.record.id }, 'rotated token handed to the agent in its ack');
    return { token: issued.token, id: issued.record.id, ...(expiresAtMs !== undefined && { expiresAtMs }) };
  }
}
