/**
 * Device inventory on the wire. Counts per class travel every cycle as `inventory` measurements; the
 * device list travels only when it changed, as new/gone events, so a 2 Mbps link does not resend it
 * every minute.
 */
import { z } from 'zod';

/** Classes a device on the school LAN is sorted into. */
export const DEVICE_CLASSES = ['ap', 'display', 'pc', 'phone', 'printer', 'camera', 'switch', 'router', 'iot', 'unknown'] as const;
export type DeviceClass = (typeof DEVICE_CLASSES)[number];

/** A MAC address as it travels: six lower-case hex pairs joined by colons. */
export const macSchema = z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'must be a lower-case MAC address like 00:1a:2b:3c:4d:5e');

/** One device as the agent knows it. */
export const deviceSchema = z.strictObject({
  mac: macSchema,
  /** IPv4 address when one is known, else an IPv6 address; absent for a device seen only in a bridge table. */
  ip: z.string().max(64).optional(),
  /** Organisation name from the IEEE OUI registry; absent for unknown or locally administered MACs. */
  vendor: z.string().max(256).optional(),
  /** System name the device gave over LLDP or SNMP, when it did. */
  name: z.string().max(256).optional(),
  /** True for a locally administered MAC (often a randomised privacy address): it names no vendor. */
  locallyAdministered: z.boolean().optional(),
  class: z.enum(DEVICE_CLASSES),
  /**
   * ms since the epoch, by the agent's clock: a gateway without RTC that booted at 1970 still reports its
   * devices, and the collector shifts these by the report's clock correction (`clockOffsetMs`).
   */
  firstSeen: z.number().int().min(0).max(1e13 - 1),
  lastSeen: z.number().int().min(0).max(1e13 - 1),
});

/** Changes to the device list since the agent's previous report (or the whole list when `full`). */
export const deviceEventsSchema = z.strictObject({
  /** When true, `added` is the complete list and replaces what the collector holds. */
  full: z.boolean().default(false),
  added: z.array(deviceSchema).max(20000).default([]),
  /** MACs of devices gone from the LAN. */
  removed: z.array(macSchema).max(20000).default([]),
});

export type Device = z.infer<typeof deviceSchema>;
export type DeviceEvents = z.infer<typeof deviceEventsSchema>;
