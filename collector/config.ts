/** Collector configuration: YAML file + `CAMPUSLINK_*` environment overrides, validated once and frozen. */
import { z } from 'zod';
import { envKeys, loadConfig } from '../protocol/config.js';
import { viewsSettingsSchema } from './views/index.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8470 or 0.0.0.0:8470');

/** The collector config schema; every key has a default except where noted. */
export const collectorConfigSchema = z.strictObject({
  /** Address the HTTP server listens on, host:port. */
  listen: hostPort.default('127.0.0.1:8470'),
  /** Directory for tokens, the embedded InfluxDB and other state. Relative paths are relative to the working directory. */
  stateDir: z.string().min(1).default('.state/collector'),
  /** Path of the schools registry CSV. */
  registry: z.string().min(1).default('config/schools.example.csv'),
  influx: z
    .strictObject({
      /** URL of an existing InfluxDB 1.x; empty → start an embedded `influxd` under stateDir. */
      url: z.union([z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }), z.literal('')]).default(''),
      /** Database name; created if missing. */
      database: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -').default('campuslink'),
      username: z.string().optional(),
      password: z.string().optional(),
      /** Most points in one HTTP write. */
      maxBatchPoints: z.number().int().min(1).max(100000).default(5000),
      /** How long concurrent writes are gathered before one HTTP write, in ms. */
      flushIntervalMs: z.number().int().min(0).max(10000).default(20),
      /** Timeout of one HTTP write, in ms. */
      timeoutMs: z.number().int().min(100).max(600000).default(10000),
      /** How long the embedded influxd may take to become ready, in ms. */
      startTimeoutMs: z.number().int().min(1000).max(600000).default(30000),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      /** Largest request body accepted, after gzip decompression, in bytes. */
      maxBodyBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
      /** Seconds sent in Retry-After when the database is unavailable. */
      retryAfterS: z.number().int().min(1).max(3600).default(10),
    })
    .prefault({}),
  /** Coverage and compliance views (see docs/views.md). */
  views: viewsSettingsSchema.prefault({}),
  /** pino log level. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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

/** Splits `host:port` (IPv6 in brackets) into its parts. */
export function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}
