/**
 * The collector's device lists: per school, per agent, the latest list built from the agents' device
 * events, persisted as `<stateDir>/inventory/<school>.json` (temp file, fsync, rename) and reloaded on
 * start.
 *
 * Events apply in sequence order. A `full` list always applies (it is self-contained, and it is how a
 * reinstalled agent whose sequence restarted gets its list back); changes apply only when newer than
 * the last applied report of that agent, so a replayed batch cannot undo later changes.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { deviceSchema, type Device, type DeviceEvents } from '../../protocol/index.js';

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


/** Reads every `<school>.json` of `dir`. Unreadable files are reported, left in place, and skipped. */
export async function loadAll(dir: string): Promise<{ schools: Map<string, SchoolDevices>; problems: string[] }> {
  await mkdir(dir, { recursive: true });
  const schools = new Map<string, SchoolDevices>();
  const problems: string[] = [];
  for (const name of await readdir(dir)) {
    if (!/^\d{10}\.json$/.test(name)) continue;
    try {
      const s = parseSchool(await readFile(join(dir, name), 'utf8'));
      schools.set(s.school, s);
    } catch (e) {
      problems.push(`${join(dir, name)}: ${(e as Error).message}`);
    }
  }
  return { schools, problems };
}
