/**
 * Configuration of the throughput probe: the iperf3 servers the province runs, and per link type how
 * often a school tests and how many bytes a test and a day may use (metered links must not be flooded).
 *
 * The schema leaves the per-link-type fields unset; `resolveThroughputConfig()` fills them from the
 * school's `linkType`, which lives elsewhere in the agent config.
 */
import { z } from 'zod';
import { LINK_TYPES, type LinkType } from '../../../protocol/index.js';
import { pingHost } from '../ping/config.js';

/** How often and how hard one school tests. */
export interface ThroughputPlan {
  /** Tests per day, at random times spread over the day (one in each equal slot of the day). */
  testsPerDay: number;
  /** Seconds each direction is measured. */
  durationS: number;
  /** Seconds of TCP warm-up before each direction that are not measured (slow start on long paths). */
  omitS: number;
  /** Most bytes one test (both directions, warm-up included) may move; sets iperf3's rate cap. */
  maxBytesPerTest: number;
  /** Most bytes the tests of one day may move; a test that could exceed it is skipped (result_code 4). */
  maxBytesPerDay: number;
}

const MB = 1_000_000;

/**
 * Defaults per link type. Two tests a day everywhere, as Giga Meter does. The byte cap per test sets
 * the highest rate a test can show (cap / 2 directions / (duration + warm-up)): about 1 Gbit/s on
 * fibre, 200 Mbit/s on DSL, microwave and LEO, 80-90 Mbit/s on cellular and unknown links, 18 Mbit/s on
 * GEO satellite, whose contracts in China are 2-20 Mbit/s and whose bytes are paid for. GEO gets 3 s of
 * warm-up: at ~600 ms RTT TCP needs seconds to open its window.
 */
const DEFAULTS: Readonly<Record<LinkType, Readonly<ThroughputPlan>>> = {
  fiber: { testsPerDay: 2, durationS: 10, omitS: 1, maxBytesPerTest: 3000 * MB, maxBytesPerDay: 8000 * MB },
  dsl: { testsPerDay: 2, durationS: 10, omitS: 1, maxBytesPerTest: 550 * MB, maxBytesPerDay: 1500 * MB },
  microwave: { testsPerDay: 2, durationS: 10, omitS: 1, maxBytesPerTest: 550 * MB, maxBytesPerDay: 1500 * MB },
  cellular: { testsPerDay: 2, durationS: 8, omitS: 1, maxBytesPerTest: 200 * MB, maxBytesPerDay: 450 * MB },
  'sat-geo': { testsPerDay: 2, durationS: 10, omitS: 3, maxBytesPerTest: 60 * MB, maxBytesPerDay: 150 * MB },
  'sat-leo': { testsPerDay: 2, durationS: 10, omitS: 2, maxBytesPerTest: 600 * MB, maxBytesPerDay: 1500 * MB },
  other: { testsPerDay: 2, durationS: 10, omitS: 1, maxBytesPerTest: 220 * MB, maxBytesPerDay: 500 * MB },
};

/** The plan a school gets for the fields it leaves out, by its link type. */
export function throughputDefaults(linkType: LinkType): ThroughputPlan {
  return { ...DEFAULTS[linkType] };
}

const int = (min: number, max: number, unit = '') => z.number().int('must be an integer').min(min, `must be at least ${min}${unit}`).max(max, `must be at most ${max}${unit}`);

/** One iperf3 server. */
export const throughputServerSchema = z.strictObject({
  /** Name or address of the server (`iperf3 -s`). */
  host: pingHost,
  /** TCP port; default 5201. */
  port: int(1, 65535).default(5201),
  /** Value of the `server` tag; default `host:port`. */
  name: z.string().min(1).max(256).refine((s) => !/[\n\r\t]/.test(s), 'must not contain tabs or line breaks').optional(),
});

/** The `throughput` section of the agent config. */
export const throughputSectionSchema = z
  .strictObject({
    /** Off by default: the province must run a server first. */
    enabled: z.boolean().default(false),
    /** Servers in order of preference; a busy or unreachable one is passed over for the next. */
    servers: z.array(throughputServerSchema).max(8, 'at most 8 servers').default([]),
    testsPerDay: int(1, 24).optional(),
    durationS: int(2, 60, ' s').optional(),
    omitS: int(0, 10, ' s').optional(),
    maxBytesPerTest: int(1 * MB, 20_000 * MB, ' bytes').optional(),
    maxBytesPerDay: int(1 * MB, 100_000 * MB, ' bytes').optional(),
    /** How long to wait for the server's control connection, ms. */
    connectTimeoutMs: int(500, 60_000, ' ms').default(10_000),
    /** The iperf3 program. */
    command: z.string().min(1).default('iperf3'),
  })
  .superRefine((t, ctx) => {
    if (t.enabled && t.servers.length === 0) ctx.addIssue({ code: 'custom', path: ['servers'], message: 'must list at least one iperf3 server when enabled' });
    if (t.maxBytesPerTest !== undefined && t.maxBytesPerDay !== undefined && t.maxBytesPerTest > t.maxBytesPerDay) {
      ctx.addIssue({ code: 'custom', path: ['maxBytesPerTest'], message: 'must not exceed maxBytesPerDay' });
    }
  })
  .default({ enabled: false, servers: [], connectTimeoutMs: 10_000, command: 'iperf3' });

export type ThroughputSection = z.output<typeof throughputSectionSchema>;
export type ThroughputServer = z.output<typeof throughputServerSchema>;

/** The section with every per-link-type field filled in. */
export interface ResolvedThroughputConfig extends ThroughputPlan {
  servers: { host: string; port: number; tag: string }[];
  connectTimeoutMs: number;
  command: string;
}

/** Fills the plan's fields from the link type's defaults; a day cap below the test cap is raised to it. */
export function resolveThroughputConfig(section: ThroughputSection, linkType: LinkType): ResolvedThroughputConfig {
  const d = DEFAULTS[linkType];
  const maxBytesPerTest = section.maxBytesPerTest ?? d.maxBytesPerTest;
  return {
    testsPerDay: section.testsPerDay ?? d.testsPerDay,
    durationS: section.durationS ?? d.durationS,
    omitS: section.omitS ?? d.omitS,
    maxBytesPerTest,
    maxBytesPerDay: Math.max(maxBytesPerTest, section.maxBytesPerDay ?? d.maxBytesPerDay),
    servers: section.servers.map((s) => ({ host: s.host, port: s.port, tag: s.name ?? `${s.host}:${s.port}` })),
    connectTimeoutMs: section.connectTimeoutMs,
    command: section.command,
  };
}

/**
 * The rate cap a test runs with, bit/s: half the test's byte cap per direction, spread over warm-up and
 * measurement, so a test can never move more than `maxBytesPerTest` (TCP headers aside).
 */
export function rateCapBps(plan: Pick<ThroughputPlan, 'maxBytesPerTest' | 'durationS' | 'omitS'>): number {
  return Math.floor(((plan.maxBytesPerTest / 2) * 8) / (plan.durationS + plan.omitS));
}

export { LINK_TYPES };
