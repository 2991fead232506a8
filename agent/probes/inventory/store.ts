/**
 * The agent's device list: first and last seen per MAC, persisted in `<stateDir>/inventory.json`
 * (atomic write) so first-seen times and the new/gone logic survive restarts. `update()` turns one
 * cycle's observations into new/changed/gone devices.
 */
import { readFile, rename } from 'node:fs/promises';
import { z } from 'zod';
import { deviceSchema, type Device, type DeviceClass } from '../../../protocol/index.js';
import { writeFileDurable } from '../../../protocol/durable.js';
import { tagText } from '../sanitize.js';
import { classify, type CompiledRule } from './classify.js';
import { isLocallyAdministered } from './mac.js';
import type { DiscoveredHost, Observation } from './observe.js';
import type { OuiLookup } from './oui.js';
import { LLDP_CAPABILITIES, type LldpCapability } from './tables.js';

/** Longest `ip` of a device on the wire (protocol/devices.ts). */
const MAX_IP_CHARS = 64;

/** A device with what it said about itself, kept so a missed LLDP poll does not change its class. */
export interface KnownDevice {
  device: Device;
  sysDescr?: string;
  capabilities: LldpCapability[];
}

/** Everything the probe persists. */
export interface InventoryState {
  devices: Map<string, KnownDevice>;
  /** When the full list was last put into a report, ms since the epoch. */
  lastFullAtMs?: number;
  /** Hosts that answered the last discovery sweep, by address. */
  discovered: Map<string, DiscoveredHost>;
  lastDiscoveryAtMs?: number;
}

/** What changed in one update. */
export interface InventoryChanges {
  /** New devices, and known ones whose address, name, vendor or class changed. */
  added: Device[];
  /** MACs not seen for longer than the ageing time. */
  removed: string[];
}

const fileSchema = z.object({
  v: z.literal(1),
  lastFullAtMs: z.number().optional(),
  lastDiscoveryAtMs: z.number().optional(),
  devices: z.array(z.object({ device: deviceSchema, sysDescr: z.string().optional(), capabilities: z.array(z.enum(LLDP_CAPABILITIES)).default([]) })),
  discovered: z.array(z.object({ ip: z.string(), sysName: z.string().optional(), sysDescr: z.string().optional() })).default([]),
});

/** An empty state. */
export function emptyState(): InventoryState {
  return { devices: new Map(), discovered: new Map() };
}

/** Serialises a state to the file's JSON text. */
export function serializeState(s: InventoryState): string {
  return JSON.stringify({
    v: 1,
    ...(s.lastFullAtMs !== undefined && { lastFullAtMs: s.lastFullAtMs }),
    ...(s.lastDiscoveryAtMs !== undefined && { lastDiscoveryAtMs: s.lastDiscoveryAtMs }),
    devices: [...s.devices.values()],
    discovered: [...s.discovered.values()],
  });
}

/** Parses the file's JSON text; throws naming the first problems. */
export function parseState(text: string): InventoryState {
  const parsed = fileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`invalid inventory state: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const d = parsed.data;
  const state = emptyState();
  for (const k of d.devices) {
    const { sysDescr, ...rest } = k;
    state.devices.set(k.device.mac, { ...rest, ...(sysDescr !== undefined && { sysDescr }) });
  }
  for (const h of d.discovered) state.discovered.set(h.ip, h as DiscoveredHost);
  if (d.lastFullAtMs !== undefined) state.lastFullAtMs = d.lastFullAtMs;
  if (d.lastDiscoveryAtMs !== undefined) state.lastDiscoveryAtMs = d.lastDiscoveryAtMs;
  return state;
}

/**
 * Loads the state file. A missing file is an empty state; an unreadable one is moved aside to
 * `<path>.corrupt-<ms>` (kept for inspection) and reported in `warning`, and the probe starts empty:
 * it re-sends the full list on start anyway.
 */
export async function loadState(path: string, nowMs: number): Promise<{ state: InventoryState; warning?: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState() };
    return { state: emptyState(), warning: `cannot read ${path}: ${(e as Error).message}` };
  }
  try {
    return { state: parseState(text) };
  } catch (e) {
    const aside = `${path}.corrupt-${nowMs}`;
    await rename(path, aside).catch(() => undefined);
    return { state: emptyState(), warning: `${(e as Error).message}; moved to ${aside}` };
  }
}

/** Writes the state durably. */
export function saveState(path: string, state: InventoryState): void {
  writeFileDurable(path, serializeState(state));
}

/** Options of `updateDevices`. */
export interface UpdateOptions {
  state: InventoryState;
  observed: ReadonlyMap<string, Observation>;
  nowMs: number;
  goneAfterMs: number;
  rules: readonly CompiledRule[];
  oui: OuiLookup;
}

function sameDevice(a: Device, b: Device): boolean {
  return a.ip === b.ip && a.vendor === b.vendor && a.name === b.name && a.class === b.class && a.locallyAdministered === b.locallyAdministered;
}

/** Applies one cycle's observations to the state (in place) and returns what changed. */
export function updateDevices(opts: UpdateOptions): InventoryChanges {
  const { state, nowMs } = opts;
  const added: Device[] = [];
  const removed: string[] = [];
  for (const o of opts.observed.values()) {
    const prev = state.devices.get(o.mac);
    const local = isLocallyAdministered(o.mac);
    // Device strings are cut to what the protocol allows here, where every device is built: a 300-character
    // LLDP sysName (MikroTik) must cost that name's tail, not the cycle's report.
    const vendor = local ? undefined : tagText(opts.oui.vendor(o.mac));
    const name = tagText(o.name ?? prev?.device.name);
    const sysDescr = o.sysDescr ?? prev?.sysDescr;
    const capabilities = o.capabilities.length ? o.capabilities : (prev?.capabilities ?? []);
    const cls: DeviceClass = classify({ mac: o.mac, ...(vendor && { vendor }), ...(name && { name }), ...(sysDescr && { sysDescr }), capabilities }, opts.rules);
    const ip = tagText(o.ip ?? prev?.device.ip, MAX_IP_CHARS);
    const device: Device = {
      mac: o.mac,
      ...(ip !== undefined && { ip }),
      ...(vendor !== undefined && { vendor }),
      ...(name !== undefined && { name }),
      ...(local && { locallyAdministered: true }),
      class: cls,
      firstSeen: prev?.device.firstSeen ?? nowMs,
      lastSeen: nowMs,
    };
    if (!prev || !sameDevice(prev.device, device)) added.push(device);
    state.devices.set(o.mac, { device, ...(sysDescr !== undefined && { sysDescr }), capabilities });
  }
  for (const [mac, k] of state.devices) {
    if (opts.observed.has(mac)) continue;
    if (nowMs - k.device.lastSeen > opts.goneAfterMs) {
      state.devices.delete(mac);
      removed.push(mac);
    }
  }
  return { added, removed };
}

/** Devices per class, every class present (zeros included). */
export function countByClass(state: InventoryState, classes: readonly DeviceClass[]): Map<DeviceClass, number> {
  const counts = new Map<DeviceClass, number>(classes.map((c) => [c, 0]));
  for (const k of state.devices.values()) counts.set(k.device.class, (counts.get(k.device.class) ?? 0) + 1);
  return counts;
}
