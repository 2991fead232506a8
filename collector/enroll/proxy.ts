/**
 * Enrollment of a county proxy: its code (school `proxy`, agent `proxy-<name>`, from `enroll issue
 * --proxy`) is exchanged for ONE token bound to that agent id, valid for every school of its scope.
 * The proxy takes no place in any school's roster here: it does on its first batch for each school,
 * where the per-school agent limit applies. The answer lists the scope's schools as the registry has
 * them now (informational: every batch is checked against the registry in force).
 */
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import type { ProxyEnrollAnswer } from '../../protocol/enroll.js';
import { PROXY_SCHOOL, inScope, readProxy, type ProxyScope } from '../auth/proxies.js';
import { insertTokens, newToken, noteTokenChanges } from '../auth/tokens.js';
import { schoolsUnder } from '../console/api/scope.js';
import type { SchoolDirectory } from '../http/ingest.js';
import type { Registry } from '../registry/index.js';
import type { Sqlite } from '../state/db.js';
import { useCode, type CodeRecord } from './codes.js';

/** What the enrollment service knows of the registry: tags of a school, and the registry in force when it is a live one. */
export type EnrollDirectory = SchoolDirectory & { current?: () => Registry };

/** The schools of a scope, in registry order (a region's), or the listed ones the registry has. */
export function schoolsOfScope(scope: ProxyScope, schools: EnrollDirectory): string[] {
  if (scope.region !== undefined) {
    const reg = schools.current?.();
    return reg ? [...schoolsUnder(reg, scope.region)].map((s) => s.id) : [];
  }
  return [...(scope.schools ?? [])].filter((id) => inScope(scope, id, schools.tagsFor(id)));
}

export type ProxyOutcome = { kind: 'ok'; answer: ProxyEnrollAnswer; added: boolean } | { kind: 'refused'; why: string };

/** The proxy's enrollment, in the caller's transaction (see service.ts). */
export function enrollProxy(
  db: Sqlite,
  o: { record: CodeRecord; repeat?: { agent: string }; nonce: string; nowMs: number; tokenLifetimeMs?: number; schools: EnrollDirectory },
): ProxyOutcome {
  const agent = o.record.agent as string;
  const scope = readProxy(db, agent);
  if (!scope) return { kind: 'refused', why: `enrollment code ${o.record.id} is for proxy ${agent}, which has no scope recorded (issue the code again with enroll issue --proxy)` };
  if (o.repeat) {
    // The answer of the first attempt was lost: its token was never used, so it goes.
    const unused = db.prepare('SELECT sha256, school FROM tokens WHERE school = ? AND agent = ? AND first_used_ms IS NULL AND revoked_at IS NULL').all(PROXY_SCHOOL, agent) as { sha256: string; school: string }[];
    db.prepare('UPDATE tokens SET revoked_at = ? WHERE school = ? AND agent = ? AND first_used_ms IS NULL AND revoked_at IS NULL').run(new Date(o.nowMs).toISOString(), PROXY_SCHOOL, agent);
    noteTokenChanges(db, unused, o.nowMs);
  } else useCode(db, o.record, { nonce: o.nonce, agent, atMs: o.nowMs });
  const expiresAtMs = o.tokenLifetimeMs === undefined ? undefined : o.nowMs + o.tokenLifetimeMs;
  const issued = newToken(PROXY_SCHOOL, new Date(o.nowMs).toISOString(), { agent, ...(expiresAtMs !== undefined && { expiresAtMs }) });
  insertTokens(db, [issued.record]);
  const answer: ProxyEnrollAnswer = {
    v: PROTOCOL_VERSION,
    kind: 'proxy',
    agent,
    token: issued.token,
    tokenId: issued.record.id,
    ...(expiresAtMs !== undefined && { expiresAtMs }),
    schools: schoolsOfScope(scope, o.schools),
    ...(scope.region !== undefined && { region: scope.region }),
  };
  return { kind: 'ok', answer, added: !o.repeat };
}
