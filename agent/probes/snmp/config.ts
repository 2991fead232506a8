/**
 * The `snmp` section of the agent config: the school gateway (`host`, kept for the
 * `CAMPUSLINK_SNMP_HOST` form) plus any further devices of the school (core switch, satellite modem…).
 */
import { z } from 'zod';
import { hostOptionalPortSchema } from '../../../protocol/config.js';
import { resolveModemProfile } from '../modem/profile.js';
import { SNMP_V3_AUTH_PROTOCOLS, SNMP_V3_LEVELS, SNMP_V3_PRIV_PROTOCOLS, type SnmpV3Credentials, type SnmpVersion } from './client.js';

const hostPort = hostOptionalPortSchema;
const deviceName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\t\n\r]+$/, 'must not contain tabs or line breaks');
const version = z.enum(['1', '2c', '3']);
const timeoutMs = z.number().int().min(100).max(60000);
const retries = z.number().int().min(0).max(5);
const wanInterface = z.union([z.string().min(1), z.number().int().min(1)]);

/** SNMPv3 USM credentials. Keys are best given through the environment (`CAMPUSLINK_SNMP_V3_AUTH_KEY`…). */
export const snmpV3Schema = z
  .strictObject({
    username: z.string().min(1),
    level: z.enum(SNMP_V3_LEVELS).default('authPriv'),
    authProtocol: z.enum(SNMP_V3_AUTH_PROTOCOLS).default('sha'),
    authKey: z.string().min(8, 'must be at least 8 characters (RFC 3414)').optional(),
    privProtocol: z.enum(SNMP_V3_PRIV_PROTOCOLS).default('aes'),
    privKey: z.string().min(8, 'must be at least 8 characters (RFC 3414)').optional(),
    context: z.string().optional(),
  })
  .superRefine((v, ctx) => {
    if (v.level !== 'noAuthNoPriv' && v.authKey === undefined) ctx.addIssue({ code: 'custom', path: ['authKey'], message: `is required for level ${v.level}` });
    if (v.level === 'authPriv' && v.privKey === undefined) ctx.addIssue({ code: 'custom', path: ['privKey'], message: 'is required for level authPriv' });
  });

/** One more SNMP device of the school. Unset settings are taken from the `snmp` section. */
export const snmpDeviceSchema = z.strictObject({
  /** The `device` tag, unique within the agent. */
  device: deviceName,
  host: hostPort,
  community: z.string().min(1).optional(),
  version: version.optional(),
  v3: snmpV3Schema.optional(),
  timeoutMs: timeoutMs.optional(),
  retries: retries.optional(),
  wanInterface: wanInterface.optional(),
  /** Poll IF-MIB interfaces (`sys` + `iface`); default true. */
  interfaces: z.boolean().default(true),
  /** Modem profile: a name in config/snmp/modems (e.g. `idirect`), or a path to a profile YAML. */
  modemProfile: z.string().min(1).optional(),
  /** Row index substituted for `{index}` in the profile's OIDs (e.g. the iDirect DID, or a demodulator number). */
  modemIndex: z.union([z.string().regex(/^\d+(\.\d+)*$/, 'must be dotted digits'), z.number().int().min(0)]).optional(),
});

/** The `snmp` section; no SNMP polling when neither `host` nor `devices` is set. */
export const snmpSectionSchema = z
  .strictObject({
    /** The gateway: host or host:port (port 161 by default). */
    host: hostPort.optional(),
    community: z.string().min(1).default('public'),
    version: version.default('2c'),
    /** USM user for `version: '3'` (also the default for devices). */
    v3: snmpV3Schema.optional(),
    /** Per-request timeout, ms. */
    timeoutMs: timeoutMs.default(2000),
    /** Re-sends of an unanswered request. */
    retries: retries.default(1),
    /** The gateway's WAN interface, by ifName/ifDescr or ifIndex; unset: inferred from the default route. */
    wanInterface: wanInterface.optional(),
    /** Name of the gateway in the `device` tag. */
    device: deviceName.default('gateway'),
    /** Further devices (core switch, satellite modem…), each with its own settings. */
    devices: z.array(snmpDeviceSchema).max(64).default([]),
    /** Devices polled at the same time, at most. */
    concurrency: z.number().int().min(1).max(32).default(4),
    /** How often an inferred WAN interface is looked up again, ms. */
    wanRecheckMs: z.number().int().min(60000).max(86400000).default(3600000),
  })
  .superRefine((s, ctx) => {
    const names = new Map<string, string>();
    if (s.host !== undefined) names.set(s.device, 'device');
    if (s.host !== undefined && s.version === '3' && !s.v3) ctx.addIssue({ code: 'custom', path: ['v3'], message: 'is required when version is 3' });
    s.devices.forEach((d, i) => {
      const seen = names.get(d.device);
      if (seen) ctx.addIssue({ code: 'custom', path: ['devices', i, 'device'], message: `"${d.device}" is used twice (also ${seen})` });
      names.set(d.device, `devices.${i}`);
      if ((d.version ?? s.version) === '3' && !d.v3 && !s.v3) ctx.addIssue({ code: 'custom', path: ['devices', i, 'v3'], message: 'is required when version is 3 (here or in snmp.v3)' });
      if (!d.interfaces && d.modemProfile === undefined) ctx.addIssue({ code: 'custom', path: ['devices', i, 'interfaces'], message: 'a device with interfaces: false needs a modemProfile, else nothing is polled' });
      if (d.modemProfile !== undefined) {
        try {
          const p = resolveModemProfile({ profile: d.modemProfile });
          if (p.needsIndex && d.modemIndex === undefined) ctx.addIssue({ code: 'custom', path: ['devices', i, 'modemIndex'], message: `is required by modem profile ${p.name} (its OIDs contain {index})` });
        } catch (e) {
          ctx.addIssue({ code: 'custom', path: ['devices', i, 'modemProfile'], message: (e as Error).message });
        }
      }
    });
  })
  .prefault({});

export type SnmpSection = z.output<typeof snmpSectionSchema>;

/** One device to poll, with every setting resolved. */
export interface SnmpDeviceSettings {
  device: string;
  host: string;
  community: string;
  version: SnmpVersion;
  v3?: SnmpV3Credentials;
  timeoutMs: number;
  retries: number;
  wanInterface?: string | number;
  /** Poll IF-MIB (`sys` + `iface`). */
  interfaces: boolean;
  modemProfile?: string;
  modemIndex?: string;
}

/** The gateway (when `host` is set) followed by `devices`, each with the section's settings filled in. */
export function snmpDevices(s: SnmpSection): SnmpDeviceSettings[] {
  const out: SnmpDeviceSettings[] = [];
  if (s.host !== undefined) {
    out.push({
      device: s.device,
      host: s.host,
      community: s.community,
      version: s.version,
      ...(s.v3 && { v3: s.v3 }),
      timeoutMs: s.timeoutMs,
      retries: s.retries,
      ...(s.wanInterface !== undefined && { wanInterface: s.wanInterface }),
      interfaces: true,
    });
  }
  for (const d of s.devices) {
    const v3 = d.v3 ?? s.v3;
    out.push({
      device: d.device,
      host: d.host,
      community: d.community ?? s.community,
      version: d.version ?? s.version,
      ...(v3 && { v3 }),
      timeoutMs: d.timeoutMs ?? s.timeoutMs,
      retries: d.retries ?? s.retries,
      ...(d.wanInterface !== undefined && { wanInterface: d.wanInterface }),
      interfaces: d.interfaces,
      ...(d.modemProfile !== undefined && { modemProfile: d.modemProfile }),
      ...(d.modemIndex !== undefined && { modemIndex: String(d.modemIndex) }),
    });
  }
  return out;
}
