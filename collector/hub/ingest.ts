/**
 * `POST /api/v1/rollups` on the national hub. A batch of one province collector's roll-ups, in sequence
 * order, answered like agent ingest: authenticated by the province credential (401), decoded (identity or
 * gzip) and validated (400 with `issues`), checked against the credential's province and collector (403),
 * deduplicated per (province collector, epoch) with the agents' DedupeStore, written to the `rollup`
 * measurement (503 when InfluxDB does not confirm: nothing acknowledged), applied to the store, then
 * recorded as held and acknowledged. Gaps are found by the agents' gap detector, the province collector in
 * the agent's place.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { PROTOCOL_VERSION, WireError, decodeBatch, toIssues, type Report } from '../../protocol/index.js';
import { rollupEnvelopeSchema, rollupSchema, type Rollup, type RollupAck } from '../../protocol/rollup.js';
import type { Issue } from '../../protocol/index.js';
import { errorAnswer } from '../http/errors.js';
import { freshReports, recordByEpoch, streamSeq, type DedupeStore } from '../ingest/dedupe.js';
import type { AcceptedBatch } from '../module.js';
import { SinkError, type Sink } from '../sink/sink.js';
import { StateDbError } from '../state/db.js';
import type { ProvinceCredential, ProvinceCredentials } from './credentials.js';
import { rollupLines, rollupPoints } from './points.js';
import type { HubRollupStore } from './store.js';
import type { HubReply } from './enroll.js';

export interface RollupIngestOptions {
  credentials: Pick<ProvinceCredentials, 'verify'>;
  store: Pick<HubRollupStore, 'apply'>;
  dedupe: DedupeStore;
  sink: Sink;
  /** The gap detector (gaps/module.ts), fed the province collector's roll-ups as its "reports". */
  gaps?: { onAccepted?(batch: AcceptedBatch): void | Promise<void> };
  log: Logger;
  now: () => number;
  /** Largest body, before and after decompression, bytes. */
  maxBodyBytes: number;
  retryAfterS: number;
}

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** A roll-up as the gap detector and the dedupe ledger see it: a "report" of the province collector collected at its as-of time. */
function asReport(r: Rollup): Report {
  return { seq: r.seq, epoch: r.epoch, collectedAt: r.asOf, sentAt: r.sentAt, agent: r.collector } as unknown as Report;
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Validates a decoded batch: the envelope, then each roll-up on its own with a yield between two, so a
 * backlog batch never holds the event loop for the sum of its roll-ups; then that all come from one collector.
 */
export async function parseRollupBatch(body: unknown): Promise<{ ok: true; rollups: Rollup[] } | { ok: false; issues: Issue[] }> {
  const env = rollupEnvelopeSchema.safeParse(body);
  if (!env.success) return { ok: false, issues: toIssues(env.error) };
  const rollups: Rollup[] = [];
  const issues: Issue[] = [];
  for (const [i, item] of env.data.rollups.entries()) {
    if (i > 0) await yieldNow();
    const r = rollupSchema.safeParse(item);
    if (r.success) rollups.push(r.data);
    else issues.push(...toIssues(r.error).map((x) => ({ path: x.path ? `rollups.${i}.${x.path}` : `rollups.${i}`, message: x.message })));
  }
  const first = rollups[0];
  rollups.forEach((r, i) => {
    if (first && (r.collector !== first.collector || r.province !== first.province)) issues.push({ path: `rollups.${i}.collector`, message: 'all roll-ups of a batch must come from one province collector' });
  });
  return issues.length ? { ok: false, issues } : { ok: true, rollups };
}

/** Builds the handler: `handle(headers, body)` gives the answer; `authorize(headers)` the credential or a refusal, before a body is read. */
export function createRollupIngest(opts: RollupIngestOptions) {
  const authorize = (h: IncomingHttpHeaders): ProvinceCredential | HubReply => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header(h, 'authorization') ?? '');
    const cred = m?.[1] ? opts.credentials.verify(m[1]) : undefined;
    if (!cred) return errorAnswer('COL_ERR_UNAUTHENTICATED', m ? 'unknown or revoked province credential' : 'missing "Authorization: Bearer <province credential>" header');
    const media = (header(h, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (media !== 'application/json') return errorAnswer('COL_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json, got "${header(h, 'content-type') ?? ''}"`);
    const enc = (header(h, 'content-encoding') ?? '').trim().toLowerCase();
    if (enc && enc !== 'identity' && enc !== 'gzip') return errorAnswer('COL_ERR_UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Encoding "${enc}" for roll-ups; send identity or gzip`);
    return cred;
  };

  const unavailable = (code: 'COL_ERR_SINK_UNAVAILABLE' | 'COL_ERR_STATE_UNAVAILABLE', message: string, retryAfterMs = 0): HubReply => ({
    ...errorAnswer(code, message),
    headers: { 'retry-after': String(Math.max(opts.retryAfterS, Math.ceil(retryAfterMs / 1000))) },
  });

  const handle = async (cred: ProvinceCredential, h: IncomingHttpHeaders, raw: Buffer): Promise<{ reply: HubReply; after?: () => Promise<void> }> => {
    let body: unknown;
    try {
      body = decodeBatch(raw, header(h, 'content-encoding'), { maxBytes: opts.maxBodyBytes });
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return { reply: errorAnswer(e.kind === 'too-large' ? 'COL_ERR_BODY_TOO_LARGE' : e.kind === 'unsupported' ? 'COL_ERR_UNSUPPORTED_MEDIA_TYPE' : 'COL_ERR_INVALID_JSON', e.message) };
    }
    const parsed = await parseRollupBatch(body);
    if (!parsed.ok) {
      const issues = parsed.issues.slice(0, 200);
      return { reply: errorAnswer('COL_ERR_INVALID_PAYLOAD', `invalid roll-up batch: ${issues.map((i) => `${i.path}: ${i.message}`).slice(0, 5).join('; ')}`, issues) };
    }
    const rollups = parsed.rollups;
    const foreign = rollups.findIndex((r) => r.province !== cred.province || r.collector !== cred.collector);
    if (foreign >= 0) {
      const r = rollups[foreign] as Rollup;
      opts.log.warn({ credential: cred.id, province: cred.province, collector: cred.collector, claimedProvince: r.province, claimedCollector: r.collector }, 'roll-up for another province or collector refused');
      return { reply: errorAnswer('COL_ERR_ROLLUP_WRONG_PROVINCE', `credential ${cred.id} belongs to collector ${cred.collector} of province ${cred.province}; the batch names collector ${r.collector} of province ${r.province}; nothing was written`) };
    }
    const fresh = freshReports(opts.dedupe, cred.province, cred.collector, rollups);
    const freshKeys = new Set(fresh.map(streamSeq));
    const duplicates = rollups.filter((r) => !freshKeys.has(streamSeq(r))).map((r) => r.seq);
    const receivedAt = opts.now();
    if (fresh.length) {
      try {
        await (opts.sink.writeLines ? opts.sink.writeLines(fresh.flatMap(rollupLines)) : opts.sink.write(fresh.flatMap(rollupPoints)));
      } catch (e) {
        const err = e instanceof SinkError ? e : new SinkError(String(e), true);
        opts.log.error({ err: err.message, province: cred.province }, 'roll-up write failed; nothing acknowledged');
        if (!err.retryable) return { reply: errorAnswer('COL_ERR_INVALID_PAYLOAD', `the database refused the roll-up points: ${err.message}`) };
        return { reply: unavailable('COL_ERR_SINK_UNAVAILABLE', 'the time-series database did not confirm the write; nothing was acknowledged', err.retryAfterMs) };
      }
      try {
        // The store before the ledger: should the ledger fail, the resend applies the same roll-up again (idempotent).
        for (const r of fresh) await opts.store.apply(r, receivedAt);
        await recordByEpoch(opts.dedupe, cred.province, cred.collector, fresh.map((r) => ({ seq: r.seq, epoch: r.epoch, collectedAt: r.asOf })), receivedAt);
      } catch (e) {
        const retryable = !(e instanceof StateDbError) || e.retryable;
        opts.log.error({ err: String((e as Error)?.message ?? e), province: cred.province }, 'roll-up not recorded in the state database; nothing acknowledged');
        if (!retryable) return { reply: errorAnswer('COL_ERR_INTERNAL', 'the state database refused to record the roll-ups') };
        return { reply: unavailable('COL_ERR_STATE_UNAVAILABLE', 'the state database could not record the roll-ups; nothing was acknowledged') };
      }
    }
    const epoch = rollups.at(-1)?.epoch as string;
    const heldThrough = opts.dedupe.heldThrough(cred.province, cred.collector, epoch);
    const ack: RollupAck = {
      v: PROTOCOL_VERSION,
      accepted: [...new Set(rollups.map((r) => r.seq))],
      ...(duplicates.length ? { duplicates: [...new Set(duplicates)] } : {}),
      ...(heldThrough ? { heldThrough, epoch } : {}),
      serverTime: opts.now(),
    };
    opts.log.debug({ province: cred.province, rollups: rollups.length, duplicates: duplicates.length }, 'roll-ups accepted');
    const after = async (): Promise<void> => {
      if (!fresh.length || !opts.gaps?.onAccepted) return;
      await opts.gaps.onAccepted({ school: cred.province, reports: fresh.map(asReport), receivedAtMs: receivedAt });
    };
    return { reply: { status: 200, body: ack }, after };
  };

  /** The express-style handler: reads at most maxBodyBytes, answers every failure from the catalogue. */
  const handler = (req: NodeJS.ReadableStream & { headers: IncomingHttpHeaders }, res: { headersSent: boolean; writeHead(s: number, h: Record<string, string | number>): unknown; end(t: string): unknown }): void => {
    const send = (r: HubReply): void => {
      if (res.headersSent) return;
      const text = JSON.stringify(r.body);
      res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...r.headers });
      res.end(text);
    };
    const cred = authorize(req.headers);
    if (!('collector' in cred)) {
      req.resume();
      return send(cred);
    }
    if (Number(header(req.headers, 'content-length') ?? NaN) > opts.maxBodyBytes) {
      req.resume();
      return send(errorAnswer('COL_ERR_BODY_TOO_LARGE', `body exceeds ${opts.maxBodyBytes} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= opts.maxBodyBytes) chunks.push(c);
    });
    req.on('error', () => (done = true));
    req.on('aborted', () => (done = true));
    req.on('end', () => {
      if (done) return;
      done = true;
      if (size > opts.maxBodyBytes) return send(errorAnswer('COL_ERR_BODY_TOO_LARGE', `body exceeds ${opts.maxBodyBytes} bytes`));
      handle(cred, req.headers, Buffer.concat(chunks))
        .catch((e: unknown) => {
          opts.log.error({ err: String(e) }, 'unexpected error in roll-up ingest');
          return { reply: errorAnswer('COL_ERR_INTERNAL', 'internal error') } as { reply: HubReply; after?: () => Promise<void> };
        })
        .then(async (a) => {
          send(a.reply);
          await a.after?.();
        })
        .catch((e: unknown) => opts.log.error({ err: String(e) }, 'after-ack work on roll-ups failed'));
    });
  };
  return { authorize, handle, handler };
}
