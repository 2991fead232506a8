/**
 * Wires the collector together: state database, registry, tokens, InfluxDB (embedded or external, 1.x
 * or v2 write API), sink, modules, HTTP server. The state database is opened first (and old JSON state
 * files imported into it once) and closed last.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import { createIdentity } from './auth/identity.js';
import { TokenStore } from './auth/tokens.js';
import { ReadTokenStore } from './auth/scope-tokens.js';
import { ViewerStore } from './auth/viewers.js';
import { listenerSettings, parseHostPort, type CollectorConfig } from './config.js';
import { createEnrollment } from './enroll/service.js';
import { createGapsModule } from './gaps/module.js';
import { createHub } from './hub/server.js';
import { createApp, type AppOptions } from './http/app.js';
import { createHealth, type ListenerStats } from './http/health.js';
import { createIngest } from './http/ingest.js';
import { listen, type ListenOptions, type Listener } from './http/listener.js';
import { READ_CONNECTIONS, startFront, stopLeftoverFront, type FrontHandle } from './http/front.js';
import { SchoolBudgets } from './ingest/budgets.js';
import { createBudgetsModule } from './ingest/budgets-api.js';
import { DedupeStore } from './ingest/dedupe.js';
import { TokenShares } from './ingest/fairness.js';
import type { CollectorModule } from './module.js';
import { buildModules } from './modules.js';
import { watchRegistry } from './registry/live.js';
import { registryLoadOptions } from './registry/options.js';
import { createInflux1Client, createInflux1Sink } from './sink/influx1.js';
import { createInflux2Sink } from './sink/influx2.js';
import { findFreePort, startInfluxd, type InfluxdHandle } from './sink/influxd.js';
import type { Sink } from './sink/sink.js';
import { openStateDb, type StateDb } from './state/db.js';
import { StopPhases } from './stop-phases.js';
import { importLegacyState } from './state/legacy.js';

/** A running collector. */
export interface RunningCollector {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8470 (https: with tls.certFile). */
  url: string;
  /** URL of the InfluxDB it writes to. */
  influxUrl: string;
  database: string;
  /** The embedded influxd, when the collector started one. */
  influxd?: InfluxdHandle;
  /** Stops the HTTP server, flushes the sink and stops an embedded influxd. */
  stop(): Promise<void>;
}

export interface StartCollectorOptions {
  config: Readonly<CollectorConfig>;
  log: Logger;
  now?: () => number;
  /** A report delivered later than this after collection marks a delivery hole (gap), ms; default `gaps.lateAfterMs`. */
  lateAfterMs?: number;
}

function createSink(config: Readonly<CollectorConfig>, url: string, log: Logger): Sink {
  const { influx } = config;
  if (influx.version === 2) {
    return createInflux2Sink({ url, org: influx.org, bucket: influx.bucket, token: influx.token, maxBatchPoints: influx.maxBatchPoints, timeoutMs: influx.timeoutMs, log });
  }
  return createInflux1Sink({
    url,
    database: influx.database,
    username: influx.username,
    password: influx.password,
    maxBatchPoints: influx.maxBatchPoints,
    flushIntervalMs: influx.flushIntervalMs,
    timeoutMs: influx.timeoutMs,
    log,
  });
}

/** Starts the collector. Fails (before listening) on a bad registry or a missing influxd. */
export async function startCollector({ config, log, now, lateAfterMs }: StartCollectorOptions): Promise<RunningCollector> {
  const stateDir = resolve(config.stateDir);
  mkdirSync(stateDir, { recursive: true });
  // A HAProxy left by a collector that was SIGKILLed holds the port: stop it while the rest starts (the embedded
  // influxd's WAL replay takes seconds), not after; whatever front.kind says now, as a collector switched back to
  // none would find its port held.
  const leftover = stopLeftoverFront(frontDir(stateDir), log).catch((e: unknown) => log.warn({ err: String(e) }, 'could not stop a leftover front; startFront() tries again'));
  const state = openStateDb({ stateDir });
  if (state.exclusive) {
    log.warn({ code: 'COL_ERR_RESOURCE_EXHAUSTED', db: state.path }, 'state database opened with exclusive locking: no room for its WAL index (disk full or no descriptors); serving, writes retry; token issue and state backup wait until the next restart');
  }
  try {
    return await startWithState({ config, log, now, lateAfterMs, stateDir, state, leftover });
  } catch (e) {
    await state.close();
    throw e;
  }
}

/** Where the front keeps its config, pid file and TLS files. */
const frontDir = (stateDir: string) => join(stateDir, 'front');

/** Starts the embedded influxd when no URL is configured; the sink and the InfluxQL client on it. */
async function openInflux(config: Readonly<CollectorConfig>, stateDir: string, log: Logger): Promise<{ influxd?: InfluxdHandle; influxUrl: string; sink: Sink; influx: InfluxDB }> {
  let influxd: InfluxdHandle | undefined;
  let influxUrl = config.influx.url;
  if (!influxUrl) {
    influxd = await startInfluxd({ dataDir: join(stateDir, 'influxdb'), port: config.influx.embeddedPort, log, readyTimeoutMs: config.influx.startTimeoutMs });
    influxUrl = influxd.url;
    log.info({ url: influxUrl, influxdPid: influxd.pid }, 'embedded influxd started');
  }
  const sink = createSink(config, influxUrl, log);
  // Reads use InfluxQL: native on 1.x, the v1-compatible query API (database = a DBRP mapping, token as password) on 2.x/3.x.
  const influx = createInflux1Client({
    url: influxUrl,
    database: config.influx.database,
    username: config.influx.username,
    password: config.influx.version === 2 ? (config.influx.password ?? config.influx.token) : config.influx.password,
  });
  return { influxd, influxUrl, sink, influx };
}

/** The collector's port: its own listener on `listen`, or, with a front, on loopback behind HAProxy on `listen`. */
interface PublicPort {
  server: Listener;
  front?: FrontHandle;
  url: string;
  /** The figures of /healthz `connections`: the listener's, with the front's TLS counters when it terminates TLS. */
  stats(): ListenerStats;
  /** Stops the front (it stops taking connections first), then the listener. */
  close(): Promise<void>;
}

async function openPublicPort(config: Readonly<CollectorConfig>, stateDir: string, log: Logger, opts: Pick<ListenOptions, 'app' | 'ingest'>, leftover?: Promise<void>): Promise<PublicPort> {
  const { host, port } = parseHostPort(config.listen);
  await leftover;
  const behind = config.front.kind === 'haproxy';
  const settings = behind ? behindFront(config) : listenerSettings(config);
  // Behind a front, HAProxy terminates TLS (front-tls.ts) and the loopback listener speaks cleartext.
  const server = await listen({ host: behind ? '127.0.0.1' : host, port: behind ? 0 : port, ...opts, log, ...settings, ...(!behind && { tls: config.tls }) });
  let front: FrontHandle | undefined;
  if (behind) {
    try {
      front = await startFront({ settings: config.front, host, port: port || (await findFreePort(host)), backendPort: server.port, limits: settings.limits, dir: frontDir(stateDir), log, tls: config.tls });
    } catch (e) {
      await server.close();
      throw e;
    }
  }
  const scheme = front ? front.scheme : server.scheme;
  const shownPort = front ? front.port : server.port;
  return {
    server,
    ...(front && { front }),
    url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${shownPort}`,
    stats() {
      const tls = front?.tlsStats();
      return { ...server.stats(), ...(tls && { tls }), ...(front && { front: { kind: 'haproxy' as const, pid: front.pid() ?? null, restarts: front.restarts } }) };
    },
    async close() {
      try {
        await front?.stop();
      } finally {
        await server.close();
      }
    },
  };
}

/**
 * The loopback listener's limits behind a front: room for both of the front's pools (uploads and reads), and an
 * HTTP/1.1 keep-alive longer than HAProxy keeps an idle pooled connection, so the collector never closes one just
 * as HAProxy reuses it. The front enforces the configured connection limits and timeouts towards the agents.
 */
function behindFront(config: Readonly<CollectorConfig>): ReturnType<typeof listenerSettings> {
  const s = listenerSettings(config);
  const pool = config.front.backendConnections + READ_CONNECTIONS;
  return {
    ...s,
    limits: {
      ...s.limits,
      maxInflightRequests: Math.max(s.limits.maxInflightRequests, pool),
      maxConnections: Math.max(s.limits.maxConnections, pool + 64),
      keepAliveTimeoutMs: Math.max(s.limits.keepAliveTimeoutMs, 65_000),
    },
  };
}

/** What the starts below share: the state database open, and the stop of a leftover front under way. */
type WithState = StartCollectorOptions & { stateDir: string; state: StateDb; leftover?: Promise<void> };

async function startWithState(opts: WithState): Promise<RunningCollector> {
  return opts.config.role === 'national' ? startNational(opts) : startProvincial(opts);
}

/** A national hub: roll-ups in, no registry of schools, no agent ingest (collector/hub/server.ts). */
async function startNational({ config, log, now, stateDir, state, leftover }: WithState): Promise<RunningCollector> {
  const clock = now ?? Date.now;
  const viewers = new ViewerStore(state);
  const readTokens = new ReadTokenStore(state, clock);
  const { influxd, influxUrl, sink, influx } = await openInflux(config, stateDir, log);
  const health = createHealth({ state });
  const hub = createHub({ config, state, stateDir, sink, influx, log, now: clock, viewers, readTokens, health });
  let port: PublicPort | undefined;
  try {
    await hub.start();
    const opened = await openPublicPort(config, stateDir, log, { app: hub.app, ingest: hub.agentIngest }, leftover);
    port = opened;
    const server = opened.server;
    health.attachListener(() => opened.stats());
    const url = opened.url;
    log.info({ url, influx: influxUrl, database: config.influx.database, provinces: hub.store.feeds().length }, 'national hub listening');
    let stopped = false;
    return {
      url,
      influxUrl,
      database: config.influx.database,
      influxd,
      async stop() {
        if (stopped) return;
        stopped = true;
        const t = new StopPhases();
        await t.run('port', () => opened.close());
        health.close();
        await t.run('hub', () => hub.stop());
        await t.run('sink', () => sink.close());
        await t.run('influxd', () => influxd?.stop());
        await t.run('state', () => state.close());
        t.report(log, 'national hub stopped');
      },
    };
  } catch (e) {
    await port?.close();
    health.close();
    await hub.stop();
    await sink.close();
    await influxd?.stop();
    throw e;
  }
}

async function startProvincial({ config, log, now, lateAfterMs, stateDir, state, leftover }: WithState): Promise<RunningCollector> {
  await importLegacyState({ state, stateDir, log });
  // The registry follows its file: a changed CSV reloads without a restart, a bad one keeps the old in force.
  const watched = watchRegistry({ path: resolve(config.registry), log, load: registryLoadOptions(config) });
  const liveRegistry = watched.registry;
  const registry = liveRegistry.current();
  log.info({ schools: registry.schools.size, registry: config.registry, codes: registry.extra.edition ?? 'structure only', refusedRows: registry.extra.refusedRows }, 'registry loaded');
  // Fills its map in the background: a token not loaded yet is found by an indexed lookup meanwhile.
  const tokens = new TokenStore({ state, background: true });
  const viewers = new ViewerStore(state);
  const readTokens = new ReadTokenStore(state, now ?? Date.now);

  const { influxd, influxUrl, sink, influx } = await openInflux(config, stateDir, log);
  const clock = now ?? Date.now;
  const dedupe = new DedupeStore({ state });
  const gaps = createGapsModule({
    state,
    sink,
    tagsFor: (id) => liveRegistry.tagsFor(id),
    held: (school, agent, seq, epoch) => dedupe.has(school, agent, seq, epoch),
    log,
    now: clock,
    lateAfterMs: lateAfterMs ?? config.gaps.lateAfterMs,
    cloneOverlapMs: config.gaps.cloneOverlapMs,
  });
  log.info({ db: state.path, exclusive: state.exclusive }, 'state database open; tokens fill in the background, per-agent state is read on each agent\'s first batch');
  const budgets = new SchoolBudgets({ settings: config.budgets, log, now: clock });
  const shares = new TokenShares(config.budgets, (school, budget) => budgets.countRefusal(school, budget));
  const modules: CollectorModule[] = [gaps, createBudgetsModule(budgets, shares, { sink, tagsFor: (id) => liveRegistry.tagsFor(id), log, now: clock }), ...buildModules({ config, registry, liveRegistry, stateDir, state, sink, influx, log, now: clock })];
  for (const m of modules) await m.start?.();

  const identity = createIdentity({ state, tokens, settings: config.auth, retryAfterS: config.ingest.retryAfterS, schools: liveRegistry, now: clock, log });
  const enrollment = createEnrollment({ state, roster: identity.roster, schools: liveRegistry, ...(config.auth.tokenLifetimeMs !== undefined && { tokenLifetimeMs: config.auth.tokenLifetimeMs }), retryAfterS: config.ingest.retryAfterS, now: clock, log });
  identity.start();
  const health = createHealth({ state });
  const appOptions: AppOptions = {
    identity,
    enroll: enrollment.handler,
    health,
    sink,
    tokens,
    viewers,
    readTokens,
    scopeRegistry: () => liveRegistry.current(),
    schools: liveRegistry,
    log,
    now,
    maxBodyBytes: config.ingest.maxBodyBytes,
    retryAfterS: config.ingest.retryAfterS,
    modules,
    dedupe,
    maxClockSkewMs: config.ingest.maxClockSkewMs,
    timeWindow: { maxBacklogMs: config.ingest.maxBacklogMs, futureGraceMs: config.ingest.futureGraceMs },
    budgets,
    shares,
    maxEventLoopLagMs: config.ingest.maxEventLoopLagMs,
  };
  const app = createApp(appOptions);
  let port: PublicPort;
  try {
    port = await openPublicPort(config, stateDir, log, { app, ingest: createIngest(appOptions) }, leftover);
  } catch (e) {
    health.close();
    await identity.stop();
    for (const m of modules) await m.stop?.();
    watched.close();
    await influxd?.stop();
    throw e;
  }
  const server = port.server;
  health.attachListener(() => port.stats());
  const url = port.url;
  log.info({ url, ...(port.front && { behindFront: `http://127.0.0.1:${server.port}` }), influx: influxUrl, database: config.influx.database, tokens: tokens.size }, 'collector listening');
  if (viewers.size === 0 && readTokens.size === 0) log.warn('read APIs and console are open to anyone who can reach this port: no viewer accounts (campuslink-collector viewer add)');

  let stopped = false;
  return {
    url,
    influxUrl,
    database: config.influx.database,
    influxd,
    async stop() {
      if (stopped) return;
      stopped = true;
      const t = new StopPhases();
      await t.run(port.front ? 'front and listener' : 'listener', () => port.close());
      health.close();
      await t.run('identity', () => identity.stop());
      for (const m of [...modules].reverse()) await t.run(`module ${m.name}`, () => m.stop?.().catch((e: unknown) => log.error({ module: m.name, err: String(e) }, 'module stop failed')));
      await t.run('sink', () => sink.close());
      watched.close();
      await t.run('influxd', () => influxd?.stop());
      await t.run('state', () => state.close());
      t.report(log, 'collector stopped');
    },
  };
}
