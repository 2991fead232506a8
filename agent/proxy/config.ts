/**
 * The config of an agent in county proxy mode (`mode: proxy`): one process watching the schools of a
 * county from the education metropolitan network. Shares the full agent's collector, spool, state,
 * schedule and enrollment settings; the `proxy` section says which schools, with which gateways, hops,
 * per-school deadline and concurrency. The school list is read from the registry when the config is
 * loaded, so a bad row stops start-up with every problem listed (exit 2), like any other config error.
 */
import { hostname } from 'node:os';
import cron from 'node-cron';
import { z } from 'zod';
import { agentId, schoolId } from '../../protocol/index.js';
import { PING_LIMITS, pingHost } from '../probes/ping/config.js';
import { getHeapStatistics } from 'node:v8';
import { spoolSectionFields } from '../spool/config.js';
import { collectorSectionSchema } from '../transport/config.js';
import { PING_ROLES } from '../../protocol/index.js';
import { loadProxySchools, type ProxySchool } from './schools.js';
import { proxyHeapProblem, proxySpoolSizing } from './sizing.js';

const intIn = (min: number, max: number) => z.number().int().min(min).max(max);

/** One hop the operator lists, pinged for every school (the county router, the province platform…). */
export const proxyHopSchema = z.strictObject({
  host: pingHost,
  role: z.enum(PING_ROLES),
  /** The `target` tag (default: the host). */
  name: z.string().min(1).max(256).regex(/^[^\t\n\r]+$/).optional(),
});

/** The `proxy` section. */
export const proxySectionSchema = z.strictObject({
  /** Registry CSV (the collector's registry file, or an export of it). */
  registry: z.string().min(1),
  /** Watch the schools whose county, city or province code is this (6 digits). */
  region: z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 code').optional(),
  /** Watch only these schools (with or without `region`). */
  schools: z.array(schoolId).max(100_000).optional(),
  /** Registry column holding each school's gateway address (e.g. `x_gateway`). */
  gatewayColumn: z.string().min(1).optional(),
  /** CSV of school_id,gateway[,snmp,community,targets,devices]; a row here wins over the column. */
  gatewaysFile: z.string().min(1).optional(),
  /** Targets pinged for every school besides its gateway, e.g. the county BRAS and the province platform. */
  hops: z.array(proxyHopSchema).max(16).default([]),
  ping: z
    .strictObject({
      /** fping binary (Debian package `fping`). */
      command: z.string().min(1).default('fping'),
      /** Echo requests per target per cycle; default by the school's link type (5). */
      count: intIn(PING_LIMITS.count.min, PING_LIMITS.count.max).optional(),
      /** ms between two requests to one target; default by link type (1000). */
      intervalMs: intIn(PING_LIMITS.intervalMs.min, PING_LIMITS.intervalMs.max).optional(),
      /** ms a request may wait for its reply; default by link type (2000-4000). */
      timeoutMs: intIn(PING_LIMITS.timeoutMs.min, PING_LIMITS.timeoutMs.max).optional(),
      /** Most targets in one fping run. */
      maxTargetsPerRun: intIn(1, 10_000).default(512),
      /** Most fping runs at once. */
      maxRuns: intIn(1, 64).default(8),
      /** Least ms between two packets of one fping run (fping -i). */
      packetIntervalMs: intIn(1, 1000).default(1),
    })
    .prefault({}),
  snmp: z
    .strictObject({
      community: z.string().min(1).default('public'),
      version: z.enum(['1', '2c']).default('2c'),
      timeoutMs: intIn(100, 60_000).default(2000),
      retries: intIn(0, 5).default(1),
      /** SNMP devices polled at once across all schools (each poll holds one UDP socket). */
      concurrency: intIn(1, 1024).default(64),
      /** GetBulk max-repetitions. */
      maxRepetitions: intIn(1, 100).default(25),
    })
    .prefault({}),
  /** A school's probes that have not finished this long after its cycle began are cut off (data, not a wait). */
  schoolDeadlineMs: intIn(1000, 600_000).default(40_000),
  /** Schools being probed at once. */
  concurrency: intIn(1, 10_000).default(500),
  /**
   * School batches being uploaded at once over the shared HTTP/2 session. The collector admits 16 uploads of a
   * proxy's token at once (budgets.maxInflightRequestsPerProxyToken); over that it answers 429 and only that
   * school's upload waits its Retry-After and is tried again (agent/proxy/runtime.ts), the others going on.
   */
  uploadConcurrency: intIn(1, 256).default(16),
  /**
   * Most spool bytes of one school's waiting reports: over it that school's oldest are dropped (counted in its
   * agent.dropped_reports), so one school refused for days cannot push the others' reports out of the spool.
   * Default: twice an even share of spool.maxSpoolBytes (a school's reports vary in size), at least 64 KiB.
   */
  maxSpoolBytesPerSchool: z.number().int().min(64 * 1024).optional(),
});

function defaultProxyId(): string {
  const h = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return `proxy-${h || 'county'}`.slice(0, 64);
}

/** The proxy config before the registry is read. */
export const proxyConfigBaseSchema = z.strictObject({
  mode: z.literal('proxy'),
  /** Agent id before enrollment (enrollment assigns the real one, e.g. proxy-<name>). */
  agentId: agentId.default(defaultProxyId),
  collector: collectorSectionSchema,
  schedule: z
    .string()
    .refine((s) => cron.validate(s), 'must be a valid cron expression, e.g. "* * * * *" (every minute)')
    .default('* * * * *'),
  /** The proxy spreads its schools itself; a delay before each cycle is rarely wanted. */
  jitterMs: intIn(0, 600_000).default(0),
  /**
   * As the full agent's, but `maxSpoolBytes` defaults to a day of every school's reports (capped by half the free
   * disk), and a limit below one cycle of all schools is refused (agent/proxy/sizing.ts).
   */
  spool: spoolSectionFields.prefault({}),
  stateDir: z.string().min(1).default('.state/proxy'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  enrollCode: z.string().regex(/^clke_[A-Za-z0-9_-]{16,64}$/, 'must be an enrollment code (clke_…)').optional(),
  auth: z
    .strictObject({
      retryMinMs: intIn(100, 3_600_000).default(120_000),
      retryMaxMs: intIn(100, 86_400_000).default(3_600_000),
    })
    .prefault({}),
  proxy: proxySectionSchema,
});

/** The proxy config: the base plus the schools read from the registry (and warnings about the files). */
export const proxyConfigSchema = proxyConfigBaseSchema
  .superRefine(
    (c, ctx) => {
      const p = c.proxy as Partial<typeof c.proxy> | undefined;
      if (!p || typeof p !== 'object') return;
      if (!p.region && !p.schools) ctx.addIssue({ code: 'custom', path: ['proxy', 'region'], message: 'set region (a county code) or schools (a list), else the whole registry would be watched' });
      if (!p.gatewayColumn && !p.gatewaysFile) ctx.addIssue({ code: 'custom', path: ['proxy', 'gatewaysFile'], message: "set gatewaysFile or gatewayColumn: the proxy needs each school's gateway address" });
      const ping = (p.ping ?? {}) as Partial<typeof c.proxy.ping>;
      const worst = (Number(ping.count) || 5) * (Number(ping.intervalMs) || 1000) + (Number(ping.timeoutMs) || 4000);
      const deadline = Number(p.schoolDeadlineMs ?? 40_000);
      if (Number.isFinite(deadline) && worst >= deadline) ctx.addIssue({ code: 'custom', path: ['proxy', 'schoolDeadlineMs'], message: `must be longer than a ping run (count × intervalMs + timeoutMs = ${worst} ms)` });
    },
    // Also when other keys have problems, so every problem is listed at once.
    { when: () => true },
  )
  .transform((c, ctx) => {
    const { schools, issues, warnings } = loadProxySchools(c.proxy);
    for (const i of issues) ctx.issues.push({ code: 'custom', message: i.message, path: i.path.split('.'), input: c });
    const heapLimitBytes = getHeapStatistics().heap_size_limit;
    const sizing = proxySpoolSizing({ schools: schools.length, ...(c.spool.maxSpoolBytes !== undefined && { maxSpoolBytes: c.spool.maxSpoolBytes }), dir: c.spool.dir, minFreeBytes: c.spool.minFreeBytes, schedule: c.schedule, heapLimitBytes });
    if (sizing.problem) ctx.issues.push({ code: 'custom', message: sizing.problem, path: ['spool', 'maxSpoolBytes'], input: c });
    // A default spool is already held to the heap; the schools alone may still not fit.
    const heap = proxyHeapProblem(schools.length, heapLimitBytes, sizing.defaulted ? 0 : sizing.maxSpoolBytes);
    if (heap) ctx.issues.push({ code: 'custom', message: heap, path: ['proxy', 'schools'], input: c });
    const spool = { ...c.spool, maxSpoolBytes: sizing.maxSpoolBytes };
    const perSchool = c.proxy.maxSpoolBytesPerSchool ?? Math.max(64 * 1024, Math.min(spool.maxSpoolBytes, Math.floor((2 * spool.maxSpoolBytes) / Math.max(1, schools.length))));
    return { ...c, spool, spoolSizing: sizing, schools: schools as readonly ProxySchool[], fileWarnings: warnings, spoolBytesPerSchool: perSchool };
  });

export type ProxyConfig = z.output<typeof proxyConfigSchema>;
