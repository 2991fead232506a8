/**
 * A real collector path for fault tests: listener, ingest, budgets, fairness and the InfluxDB 1.x sink
 * on a fresh influxd, with one token per school (`t-<school>`).
 */
import { pino } from 'pino';
import type { TokenRecord } from '../../collector/auth/tokens.js';
import { createApp, type AppOptions } from '../../collector/http/app.js';
import { createIngest } from '../../collector/http/ingest.js';
import { listen, type Listener } from '../../collector/http/listener.js';
import { SchoolBudgets, budgetsSchema, type BudgetSettings } from '../../collector/ingest/budgets.js';
import { createBudgetsModule } from '../../collector/ingest/budgets-api.js';
import { TokenShares } from '../../collector/ingest/fairness.js';
import { createInflux1Sink, type Influx1Sink } from '../../collector/sink/influx1.js';
import type { Measurement, Report } from '../../protocol/index.js';
import { startTestInfluxd, type TestInfluxd } from './influxd.js';
import { makeReport, typicalMeasurements } from './reports.js';

/**
 * A stock InfluxDB 1.x (inmem index) whose database-wide `max-values-per-tag` (100,000 by default) is scaled
 * down to 20,000 so the flood that fills it for everybody stays quick.
 */
const DB_TAG_VALUES = 20_000;

export const SCHOOLS = ['1640104001', '1640104002', '1640104003', '1640104004'] as const;

export interface Harness {
  url: string;
  db: TestInfluxd;
  sink: Influx1Sink;
  budgets: SchoolBudgets;
  listener: Listener;
  close(): Promise<void>;
}

/** A collector (listener, ingest, budgets, fairness, sink) on a fresh influxd; token `t-<school>` per school. */
export async function startHarness(over: Partial<BudgetSettings> = {}, maxBodyBytes = 8 * 1024 * 1024): Promise<Harness> {
  const db = await startTestInfluxd({ maxValuesPerTag: DB_TAG_VALUES, stockIndex: true });
  const log = pino({ level: 'silent' });
  const sink = createInflux1Sink({ url: db.url });
  const settings = budgetsSchema.parse(over);
  const budgets = new SchoolBudgets({ settings, log });
  const shares = new TokenShares(settings, (school, budget) => budgets.countRefusal(school, budget));
  const tokens = new Map<string, TokenRecord>(SCHOOLS.map((s) => [`t-${s}`, { id: `id-${s}`, school: s, sha256: 'x', issuedAt: '' }]));
  const tagsFor = (id: string) => ((SCHOOLS as readonly string[]).includes(id) ? { school: id, province: '640000', city: '640100', county: '640104', link: 'fiber' } : undefined);
  // The counters' points every 200 ms instead of every minute.
  const counters = createBudgetsModule(budgets, shares, { sink, tagsFor, log, intervalMs: 200 });
  await counters.start?.();
  const opts: AppOptions = {
    sink,
    tokens: { verify: (t) => tokens.get(t) },
    schools: { tagsFor },
    log,
    maxBodyBytes,
    retryAfterS: 7,
    budgets,
    shares,
    modules: [counters],
  };
  const listener = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log, maxBodyBytes, reservedFds: 0, limits: { maxInflightBodyBytes: 1024 * 1024 * 1024 } });
  return {
    url: `http://127.0.0.1:${listener.port}`,
    db,
    sink,
    budgets,
    listener,
    async close() {
      await listener.close();
      await counters.stop?.();
      await sink.close();
      await db.cleanup();
    },
  };
}

/** Posts a batch as `school`; resolves with status, Retry-After and the JSON body. */
export async function post(url: string, school: string, reports: Report[]): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const res = await fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer t-${school}` }, body: JSON.stringify({ reports }) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

/** A typical school's report, sent now and collected up to an hour (plus `ago` ms) before (inside any time window). */
export function schoolReport(school: string, seq: number, ago = 0, measurements?: Measurement[]): Report {
  const collectedAt = Date.now() - 3_600_000 + seq * 1000 - ago;
  return makeReport({ school, seq, collectedAt, sentAt: Date.now(), measurements: measurements ?? typicalMeasurements(seq) });
}

/** Polls until `cond` holds; throws after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
