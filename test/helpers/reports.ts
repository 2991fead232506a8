/** Builders of valid protocol objects for tests. */
import { PROTOCOL_VERSION, type Measurement, type Report } from '../../protocol/index.js';

export const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);

/** A `ping` measurement that passes the schema. */
export function pingMeasurement(over: Partial<{ target: string; loss_pct: number }> = {}): Measurement {
  return {
    name: 'ping',
    tags: { target: over.target ?? '127.0.0.1', role: 'gateway' },
    fields: { rtt_min_ms: 0.03, rtt_avg_ms: 0.05, rtt_max_ms: 0.08, jitter_ms: 0.01, loss_pct: over.loss_pct ?? 0, sent: 5, received: 5, result_code: 0 },
  };
}

/** A report that passes the schema. */
export function makeReport(over: Partial<Report> = {}): Report {
  return {
    v: PROTOCOL_VERSION,
    school: '1640104001',
    agent: 'gw-01',
    seq: 1,
    collectedAt: T0,
    sentAt: T0 + 1000,
    measurements: [pingMeasurement()],
    ...over,
  };
}
