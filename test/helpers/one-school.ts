/** The app options of the listener tests: one registered school, its token `good`, a silent log, a fixed clock. */
import { pino } from 'pino';
import type { TokenRecord } from '../../collector/auth/tokens.js';
import type { AppOptions } from '../../collector/http/app.js';
import type { Sink } from '../../collector/sink/sink.js';
import { T0 } from './reports.js';

export const ONE_SCHOOL = '1640104001';
export const ONE_SCHOOL_TOKEN: TokenRecord = { id: 'aaa', school: ONE_SCHOOL, sha256: 'x', issuedAt: '' };

/** Options for createApp()/createIngest(): bearer `good` is ONE_SCHOOL's token, the clock reads T0 + 5 s. */
export function oneSchoolOptions(sink: Sink, link = 'sat-geo'): AppOptions {
  return {
    sink,
    tokens: { verify: (t) => (t === 'good' ? ONE_SCHOOL_TOKEN : undefined) },
    schools: { tagsFor: (id) => (id === ONE_SCHOOL ? { school: id, province: '640000', city: '640100', county: '640104', link } : undefined) },
    log: pino({ level: 'silent' }),
    now: () => T0 + 5000,
    maxBodyBytes: 64 * 1024,
    retryAfterS: 7,
  };
}
