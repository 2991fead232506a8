/**
 * The collector's device lists: per school, per agent, the latest list built from the agents' device
 * events, persisted per agent in the `inventory_agents` table of the state database (only the agents a
 * batch changed are written) and reloaded on start by iterating its rows. `<stateDir>/inventory/<school>.json`
 * files of older collectors are imported once (`loadAll`, `parseSchool`).
 *
 * Events apply in sequence order. A `full` list always applies (it is self-contained, and it is how a
 * reinstalled agent whose sequence restarted gets its list back); changes apply only when newer than
 * the last applied report of that agent, so a replayed batch cannot undo later changes.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { deviceSchema, type Device, type DeviceEvents, type Report } from '../../protocol/index.js';
import type { Migration, Sqlite, StateDb } from '../state/db.js';

/** One agent's list within a school. */
export interface AgentDevices {
  /** Sequence number of the last report whose events were applied. */
  lastSeq: number;
  /** When they were applied (collector clock), ms since the epoch. */
  updatedAtMs: number;
  devices: Map<string, Device>;
}

/** A school's lists. */
export interface SchoolDevices {
  school: string;
  agents: Map<string, AgentDevices>;
}

/** A device in an answer: the device and the agent that reported it. */
export type ListedDevice = Device & { agent: string };

const fileSchema = z.object({
  v: z.literal(1),
  school: z.string().regex(/^\d{10}$/),
  agents: z.record(z.string(), z.object({ lastSeq: z.number().int(), updatedAtMs: z.number(), devices: z.array(deviceSchema) })),
});

/** Schema of the `inventory` module. */
export const INVENTORY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'device list per school and agent',
    up: 'CREATE TABLE inventory_agents (school TEXT NOT NULL, agent TEXT NOT NULL, last_seq INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, devices TEXT NOT NULL, PRIMARY KEY (school, agent)) WITHOUT ROWID',
  },
];

/** Creates or upgrades the device list table. */
export function migrateInventory(state: StateDb): void {
  state.migrate('inventory', INVENTORY_MIGRATIONS);
}

/** Upserts the given agents of a school in the caller's transaction. */
export function putAgentDevices(db: Sqlite, school: SchoolDevices, agents: Iterable<string>): number {
  const put = db.prepare(
    'INSERT INTO inventory_agents (school, agent, last_seq, updated_at_ms, devices) VALUES (?, ?, ?, ?, ?) ON CONFLICT (school, agent) DO UPDATE SET last_seq = excluded.last_seq, updated_at_ms = excluded.updated_at_ms, devices = excluded.devices',
  );
  let n = 0;
  for (const id of agents) {
    const a = school.agents.get(id);
    if (a) n += put.run(school.school, id, a.lastSeq, a.updatedAtMs, JSON.stringify([...a.devices.values()])).changes;
  }
  return n;
}

/** One school's lists from the table (an indexed read), or undefined when none is stored. A damaged row is reported and skipped. */
export function loadSchool(db: Sqlite, school: string, problems: string[] = []): SchoolDevices | undefined {
  const rows = db.prepare('SELECT agent, last_seq AS lastSeq, updated_at_ms AS updatedAtMs, devices FROM inventory_agents WHERE school = ?').all(school) as { agent: string; lastSeq: number; updatedAtMs: number; devices: string }[];
  if (!rows.length) return undefined;
  const s: SchoolDevices = { school, agents: new Map() };
  for (const r of rows) {
    try {
      // Rows are written by this module from validated reports: parse, check the shape, no full schema pass.
      const devices = JSON.parse(r.devices) as Device[];
      if (!Array.isArray(devices) || devices.some((d) => typeof d?.mac !== 'string')) throw new Error('devices is not a list of devices');
      s.agents.set(r.agent, { lastSeq: r.lastSeq, updatedAtMs: r.updatedAtMs, devices: new Map(devices.map((d) => [d.mac, d])) });
    } catch (e) {
      problems.push(`inventory_agents ${school}/${r.agent}: ${(e as Error).message.slice(0, 200)}`);
    }
  }
  return s;
}

/**
 * A report's device events with their times on the corrected clock. The agent stamps `firstSeen` and
 * `lastSeen` with its own clock: a report it corrected after a clock step carries the correction in
 * `clockOffsetMs` (`clockCorrected`); an uncorrected one far off the collector's clock (a gateway at
 * 1970) is shifted as its points are (`shiftMs`, points.ts `skewShiftMs`).
 */
export function correctedEvents(r: Pick<Report, 'devices' | 'clockCorrected' | 'clockOffsetMs'>, shiftMs: number): DeviceEvents {
  const events = r.devices as DeviceEvents;
  const shift = r.clockCorrected ? (r.clockOffsetMs ?? 0) : shiftMs;
  if (!shift) return events;
  return { ...events, added: events.added.map((d) => ({ ...d, firstSeen: d.firstSeen + shift, lastSeen: d.lastSeen + shift })) };
}

/** Applies one report's events to an agent's list; returns false when they were stale and skipped. */
export function applyEvents(school: SchoolDevices, agent: string, seq: number, events: DeviceEvents, atMs: number): boolean {
  let a = school.agents.get(agent);
  if (!events.full && a && seq <= a.lastSeq) return false;
  if (!a) school.agents.set(agent, (a = { lastSeq: seq, updatedAtMs: atMs, devices: new Map() }));
  if (events.full) a.devices.clear();
  for (const d of events.added) a.devices.set(d.mac, d);
  for (const mac of events.removed) a.devices.delete(mac);
  a.lastSeq = seq;
  a.updatedAtMs = atMs;
  return true;
}

/** Every device of a school, one per MAC (the most recently seen wins when two agents report it), sorted by MAC. */
export function listDevices(school: SchoolDevices): ListedDevice[] {
  const byMac = new Map<string, ListedDevice>();
  for (const [agent, a] of school.agents) {
    for (const d of a.devices.values()) {
      const prev = byMac.get(d.mac);
      if (!prev || d.lastSeen > prev.lastSeen) byMac.set(d.mac, { ...d, agent });
    }
  }
  return [...byMac.values()].sort((x, y) => (x.mac < y.mac ? -1 : x.mac > y.mac ? 1 : 0));
}

/** When any of the school's lists last changed, ms since the epoch. */
export function updatedAt(school: SchoolDevices): number | undefined {
  let max: number | undefined;
  for (const a of school.agents.values()) if (max === undefined || a.updatedAtMs > max) max = a.updatedAtMs;
  return max;
}

/** The file's JSON text. */
export function serializeSchool(s: SchoolDevices): string {
  const agents: Record<string, unknown> = {};
  for (const [id, a] of s.agents) agents[id] = { lastSeq: a.lastSeq, updatedAtMs: a.updatedAtMs, devices: [...a.devices.values()] };
  return JSON.stringify({ v: 1, school: s.school, agents });
}

/** Parses a school file; throws naming the problem. */
export function parseSchool(text: string): SchoolDevices {
  const parsed = fileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const agents = new Map<string, AgentDevices>();
  for (const [id, a] of Object.entries(parsed.data.agents)) {
    agents.set(id, { lastSeq: a.lastSeq, updatedAtMs: a.updatedAtMs, devices: new Map(a.devices.map((d) => [d.mac, d])) });
  }
  return { school: parsed.data.school, agents };
}


/** Reads every `<school>.json` of `dir` (the files of older collectors). Unreadable files are reported, left in place, and skipped. */
export async function loadAll(dir: string): Promise<{ schools: Map<string, SchoolDevices>; problems: string[]; files: string[] }> {
  const schools = new Map<string, SchoolDevices>();
  const problems: string[] = [];
  const files: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { schools, problems, files: [] };
    throw e;
  }
  for (const name of names) {
    if (!/^\d{10}\.json$/.test(name)) continue;
    try {
      const s = parseSchool(await readFile(join(dir, name), 'utf8'));
      schools.set(s.school, s);
      files.push(join(dir, name));
    } catch (e) {
      problems.push(`${join(dir, name)}: ${(e as Error).message}`);
    }
  }
  return { schools, problems, files };
}
