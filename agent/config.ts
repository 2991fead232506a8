/** Agent configuration: YAML file + `CAMPUSLINK_*` environment overrides, validated once and frozen. */
import { hostname } from 'node:os';
import cron from 'node-cron';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { envKeys, loadConfig } from '../protocol/config.js';
import { proxyConfigSchema, type ProxyConfig } from './proxy/config.js';
import { LINK_TYPES, agentId, schoolId } from '../protocol/index.js';
import { inventoryConfigIssues, inventorySectionSchema } from './probes/inventory/config.js';
import { pingTargetsSchema } from './probes/ping/config.js';
import { snmpSectionSchema } from './probes/snmp/config.js';
import { spoolSectionSchema } from './spool/config.js';
import { throughputSectionSchema } from './probes/throughput/config.js';
import { collectorSectionSchema } from './transport/config.js';

function defaultAgentId(): string {
  const h = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (h || 'agent').slice(0, 64);
}

/**
 * The agent config schema. Only `school` (and, to send, `collector.token`) has no default.
 * Each section's schema lives beside the code it configures.
 */
export const agentConfigSchema = z.strictObject({
  /** 10-digit school id this agent reports for; the token must belong to the same school. */
  school: schoolId,
  /** Unique within the school; defaults to the host name. */
  agentId: agentId.default(defaultAgentId),
  /** The school's uplink type; picks ping defaults suited to the link (satellite paths are slow). */
  linkType: z.enum(LINK_TYPES).default('fiber'),
  collector: collectorSectionSchema,
  /** node-cron expression of the collection cycle (5 fields, or 6 with seconds). */
  schedule: z
    .string()
    .refine((s) => cron.validate(s), 'must be a valid cron expression, e.g. "* * * * *" (every minute)')
    .default('* * * * *'),
  /** Random delay before each cycle, in ms, so a fleet does not report in the same second. */
  jitterMs: z.number().int().min(0).max(600000).default(10000),
  spool: spoolSectionSchema,
  /** Directory of the sequence number, counter state and agent counters. */
  stateDir: z.string().min(1).default('.state/agent'),
  /** Ping targets. */
  targets: pingTargetsSchema.default([]),
  snmp: snmpSectionSchema,
  /** Device inventory from ARP/LLDP/bridge tables. */
  inventory: inventorySectionSchema,
  /** Measured bandwidth with iperf3 against the province's servers, within a byte budget. */
  throughput: throughputSectionSchema,
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Enrollment code (from `campuslink-collector enroll issue`), exchanged once at first start for this agent's own credential. */
  enrollCode: z.string().regex(/^clke_[A-Za-z0-9_-]{16,64}$/, 'must be an enrollment code (clke_…)').optional(),
  /** After a 401/403: pause before trying again, doubling from retryMinMs to retryMaxMs; never for good. */
  auth: z
    .strictObject({
      retryMinMs: z.number().int().min(100).max(3_600_000).default(120_000),
      retryMaxMs: z.number().int().min(100).max(86_400_000).default(3_600_000),
    })
    .prefault({}),
}).superRefine(
  (c, ctx) => {
    for (const issue of inventoryConfigIssues(c)) ctx.addIssue({ code: 'custom', ...issue });
  },
  // Also when other sections have problems, so every problem is listed at once; needs only these two sections valid.
  { when: (p) => p.issues.every((i) => i.path?.[0] !== 'inventory' && i.path?.[0] !== 'snmp') },
);

export type AgentConfig = z.output<typeof agentConfigSchema>;

/** Short aliases from the README's table, beside the generated names. */
export const AGENT_ENV_ALIASES: Record<string, string[]> = { 'collector.token': ['CAMPUSLINK_TOKEN'], 'spool.maxSpoolBytes': ['CAMPUSLINK_MAX_SPOOL_BYTES'] };

/** Every environment variable the agent reads, for documentation and tests. */
export function agentEnvKeys() {
  return envKeys(agentConfigSchema, AGENT_ENV_ALIASES);
}

/** Loads and validates the agent config; throws ConfigError (AGT_ERR_CONFIG_INVALID) listing every problem. */
export function loadAgentConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Readonly<AgentConfig> {
  return loadConfig({ schema: agentConfigSchema, file, env, aliases: AGENT_ENV_ALIASES, errorCode: 'AGT_ERR_CONFIG_INVALID' });
}

/**
 * Which mode a config file asks for: `proxy` when its top level says `mode: proxy` (agent/proxy/config.ts:
 * many schools from a county data centre), else the full agent (one school, no `mode` key).
 */
export function configMode(file: string | undefined): 'full' | 'proxy' {
  if (!file) return 'full';
  try {
    const doc = YAML.parse(readFileSync(file, 'utf8')) as { mode?: unknown } | null;
    return doc && typeof doc === 'object' && doc.mode === 'proxy' ? 'proxy' : 'full';
  } catch {
    // The full loader reports the unreadable file or the YAML error with its own words.
    return 'full';
  }
}

/** Every environment variable a proxy reads. */
export function proxyEnvKeys() {
  return envKeys(proxyConfigSchema, AGENT_ENV_ALIASES);
}

/** Loads and validates a `mode: proxy` config (schools read from the registry); throws ConfigError listing every problem. */
export function loadProxyConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Readonly<ProxyConfig> {
  return loadConfig({ schema: proxyConfigSchema, file, env, aliases: AGENT_ENV_ALIASES, errorCode: 'AGT_ERR_CONFIG_INVALID' });
}

/** A config of either mode. */
export type AnyAgentConfig = { mode: 'full'; config: Readonly<AgentConfig> } | { mode: 'proxy'; config: Readonly<ProxyConfig> };

/** Loads the config the file's `mode` names. */
export function loadAnyAgentConfig(file?: string, env: NodeJS.ProcessEnv = process.env): AnyAgentConfig {
  return configMode(file) === 'proxy' ? { mode: 'proxy', config: loadProxyConfig(file, env) } : { mode: 'full', config: loadAgentConfig(file, env) };
}

