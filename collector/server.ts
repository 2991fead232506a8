/** Wires the collector together: registry, tokens, InfluxDB (embedded or external), sink, HTTP server. */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { TokenStore } from './auth/tokens.js';
import { parseHostPort, type CollectorConfig } from './config.js';
import { createGapsModule } from './gaps/module.js';
import { createApp } from './http/app.js';
import { DedupeStore } from './ingest/dedupe.js';
import type { CollectorModule } from './module.js';
import { buildModules } from './modules.js';
import { loadRegistry } from './registry/load.js';
import { createInflux1Client, createInflux1Sink } from './sink/influx1.js';
import { startInfluxd, type InfluxdHandle } from './sink/influxd.js';
import type { Sink } from './sink/sink.js';

/** A running collector. */
export interface RunningCollector {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8470. */
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
  /** A report delivered later than this after collection marks a delivery hole (gap), ms. */
  lateAfterMs?: number;
}

/** Starts the collector. Fails (before listening) on a bad registry or a missing influxd. */
export async function startCollector({ config, log, now, lateAfterMs }: StartCollectorOptions): Promise<RunningCollector> {
  const stateDir = resolve(config.stateDir);
  mkdirSync(stateDir, { recursive: true });
  const registry = loadRegistry(resolve(config.registry));
  log.info({ schools: registry.schools.size, registry: config.registry }, 'registry loaded');
  const tokens = new TokenStore(stateDir);

  let influxd: InfluxdHandle | undefined;
  let influxUrl = config.influx.url;
  if (!influxUrl) {
    influxd = await startInfluxd({ dataDir: join(stateDir, 'influxdb'), log, readyTimeoutMs: config.influx.startTimeoutMs });
    influxUrl = influxd.url;
    log.info({ url: influxUrl, pid: influxd.pid }, 'embedded influxd started');
  }
  const sink: Sink = createInflux1Sink({
    url: influxUrl,
    database: config.influx.database,
    username: config.influx.username,
    password: config.influx.password,
    maxBatchPoints: config.influx.maxBatchPoints,
    flushIntervalMs: config.influx.flushIntervalMs,
    timeoutMs: config.influx.timeoutMs,
    log,
  });

  const clock = now ?? Date.now;
  const influx = createInflux1Client({ url: influxUrl, database: config.influx.database, username: config.influx.username, password: config.influx.password });
  const dedupe = new DedupeStore({ path: join(stateDir, 'dedupe.log') });
  const gaps = createGapsModule({
    stateDir,
    sink,
    tagsFor: (id) => registry.tagsFor(id),
    held: (school, agent, seq) => dedupe.has(school, agent, seq),
    log,
    now: clock,
    lateAfterMs: lateAfterMs ?? (Number(process.env.CAMPUSLINK_GAPS_LATE_AFTER_MS) || undefined),
  });
  const modules: CollectorModule[] = [gaps, ...buildModules({ config, registry, stateDir, sink, influx, log, now: clock })];
  for (const m of modules) await m.start?.();

  const app = createApp({
    sink,
    tokens,
    schools: registry,
    log,
    now,
    maxBodyBytes: config.ingest.maxBodyBytes,
    retryAfterS: config.ingest.retryAfterS,
    modules,
    dedupe,
  });
  const { host, port } = parseHostPort(config.listen);
  let server: Server;
  try {
    server = await new Promise<Server>((res, rej) => {
      const s = app.listen(port, host, () => res(s));
      s.once('error', rej);
    });
  } catch (e) {
    for (const m of modules) await m.stop?.();
    dedupe.close();
    await influxd?.stop();
    throw e;
  }
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  log.info({ url, influx: influxUrl, database: config.influx.database, tokens: tokens.size }, 'collector listening');

  let stopped = false;
  return {
    url,
    influxUrl,
    database: config.influx.database,
    influxd,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      });
      for (const m of [...modules].reverse()) await m.stop?.().catch((e: unknown) => log.error({ module: m.name, err: String(e) }, 'module stop failed'));
      await sink.close();
      dedupe.close();
      await influxd?.stop();
      log.info('collector stopped');
    },
  };
}
