/**
 * Enrollment: `POST /api/v1/enroll` exchanges an enrollment code (from `campuslink-collector enroll
 * issue`) for the agent's own credential, an agent id the collector assigns and a token bound to
 * (school, agent). `docs/protocol.md` describes the exchange in prose.
 */
import { z } from 'zod';
import { PROTOCOL_VERSION, agentId, schoolId } from './report.js';

/** Prefix of every enrollment code, so a code is never mistaken for a token. */
export const ENROLL_CODE_PREFIX = 'clke_';

/** Path of the enrollment endpoint. */
export const ENROLL_PATH = '/api/v1/enroll';

/** What an agent sends to enroll. */
export const enrollRequestSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  /** The enrollment code, as printed by `enroll issue`. */
  code: z.string().regex(/^clke_[A-Za-z0-9_-]{16,64}$/, 'must be an enrollment code (clke_…)'),
  /**
   * Random id of this enrollment attempt, kept by the agent until it stored its credential: a repeat
   * (the answer was lost) gets the same agent id and a fresh token without using the code again.
   */
  nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be 16-64 characters of A-Z a-z 0-9 _ -'),
  /** The agent's host name, for the operator's list (not its identity). */
  hostname: z.string().max(128).optional(),
});

/** The collector's answer to an accepted enrollment of an agent of one school (full or tiny agent). */
export const enrollAnswerSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  /** Absent or "agent": a credential of one school. */
  kind: z.literal('agent').optional(),
  school: schoolId,
  /** The agent id the collector assigned; every report of this agent carries it. */
  agent: agentId,
  /** Bearer token bound to (school, agent); shown once. */
  token: z.string().min(1),
  tokenId: z.string().min(1),
  /** When the token expires, ms since the epoch (it is rotated in an ack before then). */
  expiresAtMs: z.number().int().optional(),
});

/**
 * The answer to the enrollment of a county proxy (`enroll issue --proxy`): one token for every school
 * of its scope. It carries no `school`: the proxy sends one batch per school, each report naming its
 * school, and the collector checks every batch against the proxy's scope in the live registry.
 */
export const proxyEnrollAnswerSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  kind: z.literal('proxy'),
  /** The proxy's agent id ("proxy-<name>"); every report of the proxy, for any school, carries it. */
  agent: agentId,
  token: z.string().min(1),
  tokenId: z.string().min(1),
  expiresAtMs: z.number().int().optional(),
  /** The schools of its scope at enrollment time, informational (registry changes apply without re-enrolment). */
  schools: z.array(schoolId),
  /** The scope as issued: a GB/T 2260 region code (province, city or county), or absent for an explicit list of schools. */
  region: z.string().regex(/^\d{6}$/).optional(),
});

/** Either answer; `kind` tells them apart (absent: an agent of one school). */
export const anyEnrollAnswerSchema = z.union([proxyEnrollAnswerSchema, enrollAnswerSchema]);

export type EnrollRequest = z.infer<typeof enrollRequestSchema>;
export type EnrollAnswer = z.infer<typeof enrollAnswerSchema>;
export type ProxyEnrollAnswer = z.infer<typeof proxyEnrollAnswerSchema>;
export type AnyEnrollAnswer = z.infer<typeof anyEnrollAnswerSchema>;
