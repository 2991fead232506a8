/**
 * The `rollup` module of a provincial collector with a `hub` section: every `hub.intervalMs`, and sooner
 * (at most once per `hub.minIntervalMs`) when a county's online count moved by `hub.changeMinSchools`,
 * it builds the province's roll-up (build.ts), spools it with the next sequence of its epoch (the agent's
 * segment spool, sequence and epoch stores under `<stateDir>/rollup/`), and delivers the spool to the hub
 * (delivery.ts). It enrolls with `hub.enrollCode` when no credential is stored. Every timer catches its
 * errors; a failing hub only makes the spool longer.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { Router } from 'express';
import type { Logger } from 'pino';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import type { Rollup } from '../../protocol/rollup.js';
import { packageVersion } from '../../protocol/cli.js';
import { Backoff } from '../../agent/transport/backoff.js';
import { EpochStore } from '../../agent/state/epoch.js';
import { SequenceStore } from '../../agent/state/sequence.js';
import type { HubSection } from '../hub/config.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import { countsOf } from '../views/coverage/model.js';
import { buildRegionAggregates, provinceOfRegistry, type RollupSources } from './build.js';
import { HubEnrollError, enrollWithHub, loadHubCredential, type HubCredential } from './credential.js';
import { RollupDelivery } from './delivery.js';
import { RollupSpool } from './spool.js';

/** How often the module checks whether a roll-up is due, ms. */
const TICK_MS = 1000;
/** Shortest time between two log lines of the same delivery problem, ms. */
const LOG_EVERY_MS = 60_000;

export interface RollupModuleOptions {
  sources: RollupSources;
  /** The hub section (validated: a provincial collector's, with url). */
  hub: HubSection;
  /** The console school lists link to. */
  consoleUrl: string;
  /** Backoff randomness (tests). */
  random?: () => number;
}

/** What the module reports (GET /api/v1/rollup/status, tests). */
export interface RollupStatus {
  hub: string;
  province?: string;
  collector?: string;
  epoch?: string;
  enrolled: boolean;
  /** Last sequence spooled, and the roll-ups waiting for an acknowledgement. */
  lastSeq: number;
  spooled: number;
  /** Roll-ups dropped by the spool's size limit, since start. */
  dropped: number;
  lastBuiltAtMs?: number;
  lastBuildMs?: number;
  acked: number;
  duplicates: number;
  quarantined: number;
  lastAckedSeq: number;
  lastError?: string;
}

export interface RollupModule extends CollectorModule {
  status(): RollupStatus;
  /** Builds and spools a roll-up now, then delivers (tests, benchmarks). Resolves with its sequence. */
  rollupNow(): Promise<number>;
  /** Delivers what is spooled now (tests). */
  deliverNow(): Promise<void>;
}

/** The county online counts of the province now (the change detector's view; O(counties) on a cached rollup). */
function countyOnline(src: RollupSources, provinceCode: string, nowMs: number): Map<string, number> {
  const model = src.model();
  const roll = model.rollup(nowMs);
  const out = new Map<string, number>();
  for (const code of model.registry.counties.keys()) {
    const c = code.startsWith(provinceCode) ? roll.byCode.get(code) : undefined;
    if (c) out.set(code, countsOf(c).online);
  }
  return out;
}

/** Builds the module. */
export function createRollupModule(ctx: ModuleContext, opts: RollupModuleOptions): RollupModule {
  const log: Logger = ctx.log.child({ module: 'rollup' });
  const hub = opts.hub;
  const dir = join(ctx.stateDir, 'rollup');
  const version = packageVersion(import.meta.dirname) ?? 'unknown';
  const secure = (hub.url as string).startsWith('https:');
  const ca = hub.caFile ? readFileSync(hub.caFile) : undefined;
  const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 1, ...(ca && { ca }) }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  let province: string | undefined;
  let epochs: EpochStore | undefined;
  let seqs: SequenceStore | undefined;
  let spool: RollupSpool | undefined;
  let delivery: RollupDelivery | undefined;
  let cred: HubCredential | undefined;
  const enrollBackoff = new Backoff({ baseMs: hub.retryBaseMs, maxMs: hub.retryMaxMs, ...(opts.random && { random: opts.random }) });
  let nextEnrollAtMs = 0;
  let nextDeliveryAtMs = 0;
  let lastBuiltAtMs: number | undefined;
  let lastBuildMs: number | undefined;
  let lastSent = new Map<string, number>();
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  let buildChain: Promise<unknown> = Promise.resolve();
  let buildsInFlight = 0;
  let delivering: Promise<void> | undefined;
  const lastLogged = new Map<string, number>();

  const logOnce = (key: string, level: 'warn' | 'error', fields: object, msg: string): void => {
    const at = lastLogged.get(key) ?? -Infinity;
    if (Date.now() - at < LOG_EVERY_MS) return;
    lastLogged.set(key, Date.now());
    log[level](fields, msg);
  };

  /** The stored credential for this hub, else an enrollment with hub.enrollCode when its backoff allows. */
  const credential = async (): Promise<HubCredential | undefined> => {
    if (cred) return cred;
    if (!hub.enrollCode) {
      logOnce('enroll', 'error', { code: 'COL_ERR_HUB_ENROLL_FAILED', hub: hub.url }, 'no hub credential and no hub.enrollCode: roll-ups are spooled, none is sent (campuslink-collector hub enroll --code …, or hub.enrollCode)');
      return undefined;
    }
    if (ctx.now() < nextEnrollAtMs) return undefined;
    try {
      cred = await enrollWithHub({ hub, stateDir: ctx.stateDir, code: hub.enrollCode, province: province as string, now: ctx.now });
      enrollBackoff.reset();
      log.info({ hub: hub.url, province: cred.province, collector: cred.collector, credential: cred.tokenId }, 'enrolled with the national hub');
      return cred;
    } catch (e) {
      const wait = enrollBackoff.next();
      nextEnrollAtMs = ctx.now() + (e instanceof HubEnrollError && !e.retryable ? Math.max(wait, hub.retryMaxMs / 2) : wait);
      logOnce('enroll', 'error', { code: 'COL_ERR_HUB_ENROLL_FAILED', hub: hub.url, err: String((e as Error).message) }, 'enrollment with the national hub failed; roll-ups are spooled, enrollment is tried again');
      return undefined;
    }
  };

  const deliver = async (): Promise<void> => {
    if (!spool || !delivery || !spool.waiting().length) return;
    const c = await credential();
    if (!c) return;
    const r = await delivery.round(c);
    if (r.done) {
      nextDeliveryAtMs = 0;
      return;
    }
    nextDeliveryAtMs = ctx.now() + r.waitMs;
    logOnce('deliver', 'warn', { code: 'COL_ERR_ROLLUP_DELIVERY', hub: hub.url, spooled: spool.waiting().length, retryInMs: r.waitMs, err: delivery.stats.lastError }, 'roll-ups not delivered to the national hub; kept in the spool and sent again');
  };

  const deliverNow = (): Promise<void> => {
    delivering ??= deliver()
      .catch((e: unknown) => log.error({ code: 'COL_ERR_ROLLUP_DELIVERY', err: String(e) }, 'roll-up delivery failed; the next round tries again'))
      .finally(() => (delivering = undefined));
    return delivering;
  };

  /** Builds, spools, commits the sequence. */
  const build = async (): Promise<number> => {
    const p = province as string;
    const started = performance.now();
    const asOf = ctx.now();
    const online = countyOnline(opts.sources, p, asOf);
    const regions = await buildRegionAggregates(opts.sources, p, asOf);
    if (!regions.length) throw new Error(`the registry has no school of province ${p}: nothing to roll up`);
    const s = spool as RollupSpool;
    const seq = Math.max((seqs as SequenceStore).current(), s.lastSeq()) + 1;
    const rollup: Rollup = { v: PROTOCOL_VERSION, province: p, // The sender's id is set when sent (delivery.ts): a roll-up built before enrollment goes out under the id the hub assigns.
      collector: cred?.collector ?? 'unenrolled', epoch: (epochs as EpochStore).epoch as string, seq, asOf, sentAt: ctx.now(), consoleUrl: opts.consoleUrl, regions };
    const lost = await s.append(rollup);
    (seqs as SequenceStore).commit(seq);
    if (lost.length) {
      dropped += lost.length;
      log.error({ code: 'COL_ERR_ROLLUP_DELIVERY', dropped: lost.length, seqs: lost.slice(0, 10), maxSpoolBytes: hub.maxSpoolBytes }, 'roll-up spool full (hub.maxSpoolBytes): the oldest roll-ups were dropped; the hub shows the hole as a gap');
    }
    lastSent = online;
    lastBuiltAtMs = asOf;
    lastBuildMs = performance.now() - started;
    return seq;
  };

  /** Builds one after the other; delivers right after unless a failure's backoff is still running. */
  const rollupNow = async (): Promise<number> => {
    buildsInFlight++;
    const run = buildChain.then(build);
    buildChain = run.catch(() => undefined);
    try {
      const seq = await run;
      if (ctx.now() >= nextDeliveryAtMs) void deliverNow();
      return seq;
    } finally {
      buildsInFlight--;
    }
  };

  /** A county's online count moved by at least changeMinSchools since the last roll-up. */
  const changed = (nowMs: number): boolean => {
    const now = countyOnline(opts.sources, province as string, nowMs);
    if (now.size !== lastSent.size) return true;
    for (const [code, n] of now) if (Math.abs(n - (lastSent.get(code) ?? 0)) >= hub.changeMinSchools) return true;
    return false;
  };

  const tick = async (): Promise<void> => {
    const nowMs = ctx.now();
    const since = lastBuiltAtMs === undefined ? Infinity : nowMs - lastBuiltAtMs;
    if (buildsInFlight === 0 && (since >= hub.intervalMs || (since >= hub.minIntervalMs && changed(nowMs)))) {
      await rollupNow().catch((e: unknown) => logOnce('build', 'error', { err: String((e as Error)?.message ?? e) }, 'roll-up not built; the next tick tries again'));
    } else if (nowMs >= nextDeliveryAtMs && spool?.waiting().length) {
      await deliverNow();
    }
  };

  const router = Router();
  router.get('/api/v1/rollup/status', (_req, res) => {
    res.json(status());
  });

  const status = (): RollupStatus => ({
    hub: hub.url as string,
    ...(province !== undefined && { province }),
    ...(cred && { collector: cred.collector }),
    ...(epochs?.epoch && { epoch: epochs.epoch }),
    enrolled: !!cred,
    lastSeq: spool?.lastSeq() ?? 0,
    spooled: spool?.waiting().length ?? 0,
    dropped,
    ...(lastBuiltAtMs !== undefined && { lastBuiltAtMs }),
    ...(lastBuildMs !== undefined && { lastBuildMs: Math.round(lastBuildMs) }),
    acked: delivery?.stats.acked ?? 0,
    duplicates: delivery?.stats.duplicates ?? 0,
    quarantined: delivery?.stats.quarantined ?? 0,
    lastAckedSeq: delivery?.stats.lastAckedSeq ?? 0,
    ...(delivery?.stats.lastError && { lastError: delivery.stats.lastError }),
  });

  return {
    name: 'rollup',
    router,
    status,
    rollupNow,
    deliverNow,
    async start() {
      province = provinceOfRegistry(opts.sources.registry(), hub.province);
      seqs = new SequenceStore(dir, { log, now: ctx.now });
      epochs = new EpochStore(dir, { legacyState: false, renew: seqs.damaged, log, now: ctx.now });
      spool = new RollupSpool({ dir: join(dir, 'spool'), maxSpoolBytes: hub.maxSpoolBytes, committedSeq: seqs.current(), log });
      delivery = new RollupDelivery({ spool, post: { url: hub.url as string, agent, ...(ca && { ca }) }, timeoutMs: hub.timeoutMs, backoff: { baseMs: hub.retryBaseMs, maxMs: hub.retryMaxMs, ...(opts.random && { random: opts.random }) }, log, version });
      const stored = loadHubCredential(ctx.stateDir, (problem) => log.error({ code: 'COL_ERR_HUB_ENROLL_FAILED', problem }, 'hub credential unreadable; enrolling again with hub.enrollCode'));
      if (stored && stored.hub.replace(/\/+$/, '') === (hub.url as string).replace(/\/+$/, '') && stored.province === province) cred = stored;
      else if (stored) log.warn({ stored: { hub: stored.hub, province: stored.province }, hub: hub.url, province }, 'the stored hub credential is for another hub or province; enrolling again with hub.enrollCode');
      log.info({ hub: hub.url, province, enrolled: !!cred, epoch: epochs.epoch, spooled: spool.waiting().length, intervalMs: hub.intervalMs }, 'roll-ups to the national hub');
      timer = setInterval(() => {
        tick().catch((e: unknown) => log.error({ err: String(e) }, 'roll-up tick failed'));
      }, TICK_MS).unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await buildChain;
      await delivering;
      spool?.close();
      agent.destroy();
    },
  };
}
