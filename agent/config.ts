/** Agent configuration: YAML file + `CAMPUSLINK_*` environment overrides, validated once and frozen. */
import { hostname } from 'node:os';
import cron from 'node-cron';
import { z } from 'zod';
import { envKeys, loadConfig } from '../protocol/config.js';
import { LINK_TYPES, agentId, schoolId } from '../protocol/index.js';
import { pingTargetsSchema } from './probes/ping/config.js';

function defaultAgentId(): string {
  const h = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (h || 'agent').slice(0, 64);
}

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, 'must be host or host:port, e.g. 192.168.1.1 or 127.0.0.1:16100');

/** The agent config schema. Only `school` (and, to send, `collector.token`) has no default. */
export const agentConfigSchema = z.strictObject({
  /** 10-digit school id this agent reports for; the token must belong to the same school. */
  school: schoolId,
  /** Unique within the school; defaults to the host name. */
  agentId: agentId.default(defaultAgentId),
  /** The school's uplink type; picks ping defaults suited to the link (satellite paths are slow). */
  linkType: z.enum(LINK_TYPES).default('fiber'),
  collector: z
    .strictObject({
      /** Collector base URL. */
      url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('http://127.0.0.1:8470'),
      /** Bearer token from `campuslink-collector token issue`; required to send. */
      token: z.string().min(1).optional(),
      /** Timeout of one upload, in ms. */
      timeoutMs: z.number().int().min(1000).max(600000).default(30000),
      /** gzip request bodies. */
      gzip: z.boolean().default(true),
      /** Most reports in one POST. */
      maxBatchReports: z.number().int().min(1).max(500).default(100),
    })
    .prefault({}),
  /** node-cron expression of the collection cycle (5 fields, or 6 with seconds). */
  schedule: z
    .string()
    .refine((s) => cron.validate(s), 'must be a valid cron expression, e.g. "* * * * *" (every minute)')
    .default('* * * * *'),
  /** Random delay before each cycle, in ms, so a fleet does not report in the same second. */
  jitterMs: z.number().int().min(0).max(600000).default(10000),
  /** Directory of unsent reports. */
  spoolDir: z.string().min(1).default('.state/agent/spool'),
  /** Directory of the sequence number, counter state and agent counters. */
  stateDir: z.string().min(1).default('.state/agent'),
  /** Ping targets. */
  targets: pingTargetsSchema.default([]),
  /** The school gateway, polled over SNMP; no SNMP polling when `host` is unset. */
  snmp: z
    .strictObject({
      /** host or host:port (port 161 by default). */
      host: hostPort.optional(),
      community: z.string().min(1).default('public'),
      version: z.enum(['1', '2c']).default('2c'),
      timeoutMs: z.number().int().min(100).max(60000).default(2000),
      retries: z.number().int().min(0).max(5).default(1),
      /** The WAN interface, by ifName/ifDescr or ifIndex. */
      wanInterface: z.union([z.string().min(1), z.number().int().min(1)]).optional(),
      /** Name of the device in the `device` tag. */
      device: z.string().min(1).max(64).default('gateway'),
    })
    .prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type AgentConfig = z.output<typeof agentConfigSchema>;

/** Short aliases from the README's table, beside the generated names. */
export const AGENT_ENV_ALIASES: Record<string, string[]> = { 'collector.token': ['CAMPUSLINK_TOKEN'] };

/** Every environment variable the agent reads, for documentation and tests. */
export function agentEnvKeys() {
  return envKeys(agentConfigSchema, AGENT_ENV_ALIASES);
}

/** Loads and validates the agent config; throws ConfigError (AGT_ERR_CONFIG_INVALID) listing every problem. */
export function loadAgentConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Readonly<AgentConfig> {
  return loadConfig({ schema: agentConfigSchema, file, env, aliases: AGENT_ENV_ALIASES, errorCode: 'AGT_ERR_CONFIG_INVALID' });
}
