/** The `inventory` section of the agent config: where device tables come from and how devices are classed. */
import { z } from 'zod';
import { hostOptionalPortSchema } from '../../../protocol/config.js';
import { DEVICE_CLASSES } from '../../../protocol/index.js';
import { snmpV3Schema } from '../snmp/config.js';
import { LLDP_CAPABILITIES } from './tables.js';

const hostPort = hostOptionalPortSchema;

const regex = z.string().min(1).refine((s) => {
  try {
    new RegExp(s, 'i');
    return true;
  } catch {
    return false;
  }
}, 'must be a valid regular expression');

/** One SNMP device whose ARP/LLDP/bridge tables are read (a gateway or a core switch). */
export const inventorySourceSchema = z.strictObject({
  /** Name for log lines (default: the host). */
  name: z.string().min(1).max(64).optional(),
  host: hostPort,
  community: z.string().min(1).default('public'),
  version: z.enum(['1', '2c', '3']).default('2c'),
  /** USM user for `version: '3'`; default: `snmp.v3`, the gateway's user. */
  v3: snmpV3Schema.optional(),
});

/** A classification rule: every condition given must match (regexes case-insensitive); first match wins. */
export const classRuleSchema = z
  .strictObject({
    class: z.enum(DEVICE_CLASSES),
    /** Regex on the IEEE OUI organisation name. */
    vendor: regex.optional(),
    /** Regex on the LLDP/SNMP sysName. */
    name: regex.optional(),
    /** Regex on the LLDP/SNMP sysDescr. */
    sysDescr: regex.optional(),
    /** LLDP capabilities; matches when the device has any of them. */
    capabilities: z.array(z.enum(LLDP_CAPABILITIES)).min(1).optional(),
  })
  .refine((r) => r.vendor !== undefined || r.name !== undefined || r.sysDescr !== undefined || r.capabilities !== undefined, 'a rule needs at least one of vendor, name, sysDescr, capabilities');

const cidr = z.string().refine((s) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) >= 16 && Number(m[5]) <= 32;
}, 'must be an IPv4 CIDR with a prefix of /16 to /32, e.g. 192.168.10.0/24');

/** SNMP discovery of further devices on the school LAN. */
export const discoverySchema = z.strictObject({
  /** IPv4 range to probe, e.g. 192.168.10.0/24. */
  cidr,
  community: z.string().min(1).default('public'),
  version: z.enum(['1', '2c']).default('2c'),
  /** Minutes between two sweeps. */
  intervalMin: z.number().int().min(5).max(10080).default(60),
  /** Per-host request timeout, ms (one try, no retry). */
  timeoutMs: z.number().int().min(50).max(10000).default(800),
  /** Hosts probed at once. */
  concurrency: z.number().int().min(1).max(256).default(32),
  /** A range larger than this is refused (counted as an error), not swept. */
  maxHosts: z.number().int().min(1).max(65536).default(1024),
});

/** The inventory section; reads the gateway's tables (the `snmp` section) unless `sources` is given. */
export const inventorySectionSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Devices whose tables are read; empty = the gateway from the `snmp` section. */
    sources: z.array(inventorySourceSchema).max(16).default([]),
    /** Per-request timeout, ms. */
    timeoutMs: z.number().int().min(100).max(60000).default(2000),
    /** Re-sends of an unanswered request. */
    retries: z.number().int().min(0).max(5).default(1),
    /** A device not seen for this long is gone (ARP entries age out, so keep it well above the ARP timeout). */
    goneAfterMin: z.number().int().min(1).max(43200).default(60),
    /** The full device list is re-sent this often (and on agent start), so a lost report cannot leave the collector wrong for ever. */
    fullResendHours: z.number().min(1).max(720).default(24),
    /** Rules tried before the default rule set. */
    rules: z.array(classRuleSchema).max(500).default([]),
    /** Append the built-in rule set after `rules`. */
    defaultRules: z.boolean().default(true),
    discovery: discoverySchema.optional(),
  })
  .prefault({});

export type InventorySection = z.output<typeof inventorySectionSchema>;
export type InventorySource = z.output<typeof inventorySourceSchema>;
export type DiscoveryConfig = z.output<typeof discoverySchema>;

/**
 * The devices to read: `inventory.sources`, or the gateway of the `snmp` section when none is given.
 * A version-3 source without its own `v3` uses the gateway's user (`snmp.v3`). Empty when neither
 * sources nor a gateway exist (the probe is then not built).
 */
export function resolveInventorySources(opts: {
  inventory: InventorySection;
  snmp: { host?: string | undefined; community: string; version: string; device: string; v3?: z.output<typeof snmpV3Schema> | undefined };
}): InventorySource[] {
  const { snmp } = opts;
  const withUser = (s: InventorySource): InventorySource => (s.version === '3' && !s.v3 && snmp.v3 ? { ...s, v3: snmp.v3 } : s);
  if (opts.inventory.sources.length) return opts.inventory.sources.map(withUser);
  if (!snmp.host || (snmp.version !== '1' && snmp.version !== '2c' && snmp.version !== '3')) return [];
  return [withUser({ name: snmp.device, host: snmp.host, community: snmp.community, version: snmp.version })];
}

/** Config issues across sections: a version-3 inventory source needs a user, its own or `snmp.v3`. */
export function inventoryConfigIssues(c: { inventory: InventorySection; snmp: { v3?: unknown } }): { path: (string | number)[]; message: string }[] {
  if (c.snmp.v3) return [];
  return c.inventory.sources.flatMap((s, i) => (s.version === '3' && !s.v3 ? [{ path: ['inventory', 'sources', i, 'v3'], message: 'is required when version is 3 (here or in snmp.v3)' }] : []));
}
