/** What the console's API reads: the registry, the views' liveness and coverage model, and InfluxDB. */
import type { InfluxDB } from 'influx';
import type { AgentKind } from '../../../protocol/report.js';
import type { Logger } from 'pino';
import type { Registry } from '../../registry/index.js';
import type { CoverageModel } from '../../views/coverage/model.js';
import type { LiveCompliance } from '../../views/compliance/live.js';
import type { Profile } from '../../views/compliance/profile.js';

/** The device list of one school as the inventory module serves it (only what the console reads). */
export interface ConsoleDevice {
  mac: string;
  ip?: string;
  vendor?: string;
  name?: string;
  class: string;
  lastSeen: number;
}

/** The agents of a school and their kinds (enroll/roster.ts agentsOfSchool). */
export type AgentsOf = (school: string) => readonly { agent: string; kind: AgentKind | null }[];

export interface ConsoleDeps {
  /** The registry in force (a reload replaces it). */
  registry: () => Registry;
  /** The views module's coverage model (status of every school, kept current as reports arrive). */
  model: () => CoverageModel;
  influx: InfluxDB;
  now: () => number;
  /** Timeout of one InfluxDB read, ms. */
  queryTimeoutMs: number;
  /** Compliance profiles by id (undefined id: the default profile). */
  profile: (id: string | undefined) => Profile | undefined;
  profileIds: () => string[];
  defaultProfile: string;
  /** The inventory module's device list of a school; undefined when the module is absent or knows nothing. */
  devices?: (school: string) => readonly ConsoleDevice[] | undefined;
  log: Logger;
  /** The agents of a school with the kind each last said it is (null: no batch since kinds are recorded); absent: unknown. */
  agentsOf?: AgentsOf;
  /** The views' live compliance evidence and rollups (absent: compliance lists read raw data). */
  live?: () => LiveCompliance | undefined;
}
