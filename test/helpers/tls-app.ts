/** The collector app options and a log capture the TLS tests of both sides share. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { TokenRecord } from '../../collector/auth/tokens.js';
import type { AppOptions } from '../../collector/http/app.js';
import type { MemorySink } from './memory-sink.js';
import { T0 } from './reports.js';

/** The school the token `good` belongs to. */
export const TLS_SCHOOL = '1640104001';
const token: TokenRecord = { id: 'aaa', school: TLS_SCHOOL, sha256: 'x', issuedAt: '' };

/** App options: token `good` for TLS_SCHOOL, a registry of that one school, writes to `sink`. */
export function tlsAppOptions(sink: MemorySink, log = pino({ level: 'silent' })): AppOptions {
  return {
    sink,
    tokens: { verify: (t) => (t === 'good' ? token : undefined) },
    schools: { tagsFor: (id) => (id === TLS_SCHOOL ? { school: id, province: '640000', city: '640100', county: '640104', link: 'sat-geo' } : undefined) },
    log,
    now: () => T0 + 5000,
    maxBodyBytes: 64 * 1024,
    retryAfterS: 7,
  };
}

/** A debug-level logger whose lines are kept as objects. */
export function captureLog(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(JSON.parse(c.toString()) as Record<string, unknown>), cb()) }));
  return { log, lines };
}
