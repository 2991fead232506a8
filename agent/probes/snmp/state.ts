/**
 * Counter state of one polled device, persisted as a small JSON file so rates continue across agent
 * restarts. Written atomically (temp file, fsync, rename): a crash leaves the old or the new file,
 * never half of one.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileDurableAsync } from '../../../protocol/durable.js';
import type { CounterBits, IfaceReading } from './counters.js';

/** Format version of the state file. */
export const STATE_VERSION = 1;

/** The last successful reading of one device. */
export interface DeviceState {
  device: string;
  /** `host:port` the readings came from; state of another target is ignored. */
  target: string;
  /** Injected clock at the reading, ms since the epoch. */
  atMs: number;
  /** sysUpTime at the reading, hundredths of a second. */
  uptimeTicks: number;
  /** Interfaces by ifIndex. `name` guards against a device renumbering its interfaces. */
  ifaces: Map<number, { name: string; reading: IfaceReading }>;
}

const big = z.string().regex(/^\d{1,20}$/);
const fileSchema = z.object({
  v: z.literal(STATE_VERSION),
  device: z.string(),
  target: z.string(),
  atMs: z.number().finite(),
  uptimeTicks: z.number().int().min(0),
  ifaces: z.record(
    z.string().regex(/^\d+$/),
    z.object({
      name: z.string(),
      bits: z.union([z.literal(32), z.literal(64)]),
      inOctets: big,
      outOctets: big,
      inErrors: big.optional(),
      outErrors: big.optional(),
      inDiscards: big.optional(),
      outDiscards: big.optional(),
    }),
  ),
});

/** The state file of `device` under `stateDir`: `snmp-<device>.json`, with unsafe characters replaced. */
export function stateFilePath(stateDir: string, device: string): string {
  let safe = device.replace(/[^A-Za-z0-9._-]/g, '_');
  if (safe !== device || safe.startsWith('.')) {
    safe = `${safe.replace(/^\.+/, '_')}-${createHash('sha256').update(device).digest('hex').slice(0, 8)}`;
  }
  return join(stateDir, `snmp-${safe}.json`);
}

/** Serializes a state to the file's JSON text (bigints as decimal strings). */
export function serializeState(s: DeviceState): string {
  const ifaces: Record<string, unknown> = {};
  for (const [index, { name, reading: r }] of s.ifaces) {
    ifaces[String(index)] = {
      name,
      bits: r.bits,
      inOctets: r.inOctets.toString(),
      outOctets: r.outOctets.toString(),
      ...(r.inErrors !== undefined && { inErrors: r.inErrors.toString() }),
      ...(r.outErrors !== undefined && { outErrors: r.outErrors.toString() }),
      ...(r.inDiscards !== undefined && { inDiscards: r.inDiscards.toString() }),
      ...(r.outDiscards !== undefined && { outDiscards: r.outDiscards.toString() }),
    };
  }
  return `${JSON.stringify({ v: STATE_VERSION, device: s.device, target: s.target, atMs: s.atMs, uptimeTicks: s.uptimeTicks, ifaces }, null, 1)}\n`;
}

/** Parses the file's JSON text; throws with a readable message when it is not a valid state. */
export function parseState(text: string): DeviceState {
  const parsed = fileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`invalid SNMP state file: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const d = parsed.data;
  const opt = (v: string | undefined): bigint | undefined => (v === undefined ? undefined : BigInt(v));
  const ifaces = new Map<number, { name: string; reading: IfaceReading }>();
  for (const [index, e] of Object.entries(d.ifaces)) {
    ifaces.set(Number(index), {
      name: e.name,
      reading: {
        bits: e.bits as CounterBits,
        inOctets: BigInt(e.inOctets),
        outOctets: BigInt(e.outOctets),
        inErrors: opt(e.inErrors),
        outErrors: opt(e.outErrors),
        inDiscards: opt(e.inDiscards),
        outDiscards: opt(e.outDiscards),
      },
    });
  }
  return { device: d.device, target: d.target, atMs: d.atMs, uptimeTicks: d.uptimeTicks, ifaces };
}

/** Reads a state file. Resolves `undefined` when there is none; rejects when it is unreadable or invalid. */
export async function loadState(file: string): Promise<DeviceState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return parseState(text);
}

/** Writes a state file atomically (temp file, fsync, rename over the old one). */
export async function saveState(file: string, state: DeviceState): Promise<void> {
  await writeFileDurableAsync(file, serializeState(state));
}
