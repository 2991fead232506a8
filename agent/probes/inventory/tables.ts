/**
 * Parsers of the tables a device inventory is built from. Each takes the rows an `SnmpClient.table()`
 * walk returned and yields plain entries; rows that do not describe one unicast device are skipped.
 */
import ipaddr from 'ipaddr.js';
import { varbindNumber, type SnmpTable, type SnmpVarbind } from '../snmp/client.js';
import { isDeviceMac, macFromBytes } from './mac.js';

/** One ARP / IPv6 neighbour entry: an address seen behind a MAC on an interface. */
export interface NeighbourEntry {
  mac: string;
  ip: string;
  family: 4 | 6;
  ifIndex: number;
}

/** LLDP system capabilities (LLDP-MIB LldpSystemCapabilitiesMap), in bit order. */
export const LLDP_CAPABILITIES = ['other', 'repeater', 'bridge', 'wlanAccessPoint', 'router', 'telephone', 'docsisCableDevice', 'stationOnly'] as const;
export type LldpCapability = (typeof LLDP_CAPABILITIES)[number];

/** One LLDP neighbour as the polled device saw it. */
export interface LldpNeighbour {
  localPort: number;
  remIndex: number;
  /** Chassis id when its subtype is macAddress (4). */
  chassisMac?: string;
  /** Port id when its subtype is macAddress (3): phones and APs often send their MAC there. */
  portMac?: string;
  /** Chassis id when its subtype is networkAddress (5) with an IPv4/IPv6 address. */
  chassisIp?: string;
  sysName?: string;
  sysDescr?: string;
  /** Enabled capabilities (lldpRemSysCapEnabled). */
  capabilities: LldpCapability[];
  /** Management addresses from lldpRemManAddrTable. */
  managementIps: string[];
}

/** One bridge forwarding entry: a MAC learned on a bridge port. */
export interface FdbEntry {
  mac: string;
  port: number;
  /** Q-BRIDGE filtering database id (usually the VLAN); absent for BRIDGE-MIB entries. */
  fdbId?: number;
}

function bytesOf(vb: SnmpVarbind | undefined): Buffer | undefined {
  return vb && (vb.type === 'OctetString' || vb.type === 'Opaque') ? vb.value : undefined;
}

function text(vb: SnmpVarbind | undefined): string | undefined {
  const b = bytesOf(vb);
  if (!b || b.length === 0) return undefined;
  // Control characters would break tags and logs; device strings are usually ASCII or UTF-8.
  const s = b.toString('utf8').replace(/\0+$/, '').replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return s || undefined;
}

function deviceMac(vb: SnmpVarbind | undefined): string | undefined {
  const b = bytesOf(vb);
  const mac = b ? macFromBytes(b) : undefined;
  return mac && isDeviceMac(mac) ? mac : undefined;
}

/** Parses dotted sub-identifiers; undefined when any is not a byte-sized integer where bytes are expected. */
function numbers(index: string): number[] {
  return index.split('.').map(Number);
}

function ipFromBytes(bytes: number[]): { ip: string; family: 4 | 6 } | undefined {
  if (!bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return undefined;
  if (bytes.length === 4) return { ip: bytes.join('.'), family: 4 };
  if (bytes.length === 16) return { ip: ipaddr.fromByteArray(bytes).toString(), family: 6 };
  return undefined;
}

/**
 * ipNetToPhysicalTable (IP-MIB, 1.3.6.1.2.1.4.35.1), columns 4 (PhysAddress) and 6 (Type).
 * Index: ifIndex.addrType.addrLen.addr… Invalid (2) and local (5) rows are skipped, as are rows without
 * a unicast MAC (incomplete entries).
 */
export function parseIpNetToPhysical(rows: SnmpTable): NeighbourEntry[] {
  const out: NeighbourEntry[] = [];
  for (const [index, row] of rows) {
    const type = varbindNumber(row.get(6));
    if (type === 2 || type === 5) continue;
    const mac = deviceMac(row.get(4));
    if (!mac) continue;
    const parts = numbers(index);
    const [ifIndex, addrType, len] = parts;
    if (ifIndex === undefined || addrType === undefined || len === undefined) continue;
    // InetAddressType ipv4(1), ipv6(2); the zone-index variants (3, 4) carry 4 more octets.
    const bytes = parts.slice(3);
    if (bytes.length !== len) continue;
    const addr = addrType === 1 || addrType === 2 ? ipFromBytes(bytes) : undefined;
    if (!addr) continue;
    out.push({ mac, ip: addr.ip, family: addr.family, ifIndex });
  }
  return out;
}

/**
 * ipNetToMediaTable (RFC 1213 / IP-MIB, 1.3.6.1.2.1.4.22.1), columns 2 (PhysAddress) and 4 (Type).
 * Index: ifIndex.a.b.c.d. Invalid (2) rows are skipped.
 */
export function parseIpNetToMedia(rows: SnmpTable): NeighbourEntry[] {
  const out: NeighbourEntry[] = [];
  for (const [index, row] of rows) {
    if (varbindNumber(row.get(4)) === 2) continue;
    const mac = deviceMac(row.get(2));
    if (!mac) continue;
    const parts = numbers(index);
    const ifIndex = parts[0];
    const addr = ipFromBytes(parts.slice(1));
    if (ifIndex === undefined || !addr) continue;
    out.push({ mac, ip: addr.ip, family: addr.family, ifIndex });
  }
  return out;
}

/** Decodes an SNMP BITS value: bit 0 is the most significant bit of the first octet. */
export function decodeCapabilities(bits: Uint8Array | undefined): LldpCapability[] {
  if (!bits) return [];
  const out: LldpCapability[] = [];
  LLDP_CAPABILITIES.forEach((name, bit) => {
    const octet = bits[bit >> 3];
    if (octet !== undefined && (octet & (0x80 >> (bit & 7))) !== 0) out.push(name);
  });
  return out;
}

/**
 * lldpRemTable (LLDP-MIB, 1.0.8802.1.1.2.1.4.1.1), columns 4, 5, 6, 7, 9, 10, 12; and the management
 * addresses from lldpRemManAddrTable rows (its index carries the address; any column will do).
 */
export function parseLldpRemote(rows: SnmpTable, manAddrRows: SnmpTable = new Map()): LldpNeighbour[] {
  const byKey = new Map<string, LldpNeighbour>();
  for (const [index, row] of rows) {
    const [, localPort, remIndex] = numbers(index);
    if (localPort === undefined || remIndex === undefined) continue;
    const chassisSubtype = varbindNumber(row.get(4));
    const chassis = bytesOf(row.get(5));
    const n: LldpNeighbour = { localPort, remIndex, capabilities: decodeCapabilities(bytesOf(row.get(12))), managementIps: [] };
    if (chassisSubtype === 4 && chassis) {
      const mac = macFromBytes(chassis);
      if (mac && isDeviceMac(mac)) n.chassisMac = mac;
    } else if (chassisSubtype === 5 && chassis && chassis.length > 1) {
      // IANA address family first: 1 IPv4, 2 IPv6.
      const addr = ipFromBytes([...chassis.subarray(1)]);
      if (addr) n.chassisIp = addr.ip;
    }
    if (varbindNumber(row.get(6)) === 3) {
      const portMac = deviceMac(row.get(7));
      if (portMac) n.portMac = portMac;
    }
    const sysName = text(row.get(9));
    const sysDescr = text(row.get(10));
    if (sysName) n.sysName = sysName;
    if (sysDescr) n.sysDescr = sysDescr;
    byKey.set(`${localPort}.${remIndex}`, n);
  }
  for (const index of manAddrRows.keys()) {
    // timeMark.localPort.remIndex.addrSubtype.addrLen.addr…
    const [, localPort, remIndex, subtype, len, ...addr] = numbers(index);
    const n = byKey.get(`${localPort}.${remIndex}`);
    if (!n || (subtype !== 1 && subtype !== 2) || addr.length !== len) continue;
    const ip = ipFromBytes(addr);
    if (ip && !n.managementIps.includes(ip.ip)) n.managementIps.push(ip.ip);
  }
  return [...byKey.values()];
}

/** dot1dTpFdbStatus / dot1qTpFdbStatus values that name a learned device: other(1), learned(3). */
function learned(status: number | undefined): boolean {
  return status === undefined || status === 1 || status === 3;
}

/**
 * dot1dTpFdbTable (BRIDGE-MIB, 1.3.6.1.2.1.17.4.3.1), columns 2 (Port) and 3 (Status); the MAC is the
 * index. Entries of the bridge itself (self 4, mgmt 5) and invalid (2) ones are skipped.
 */
export function parseDot1dFdb(rows: SnmpTable): FdbEntry[] {
  const out: FdbEntry[] = [];
  for (const [index, row] of rows) {
    if (!learned(varbindNumber(row.get(3)))) continue;
    const mac = macFromBytes(numbers(index));
    const port = varbindNumber(row.get(2));
    if (!mac || !isDeviceMac(mac) || port === undefined) continue;
    out.push({ mac, port });
  }
  return out;
}

/** dot1qTpFdbTable (Q-BRIDGE-MIB, 1.3.6.1.2.1.17.7.1.2.2.1), columns 2 (Port) and 3 (Status); index fdbId.mac. */
export function parseDot1qFdb(rows: SnmpTable): FdbEntry[] {
  const out: FdbEntry[] = [];
  for (const [index, row] of rows) {
    if (!learned(varbindNumber(row.get(3)))) continue;
    const [fdbId, ...rest] = numbers(index);
    const mac = macFromBytes(rest);
    const port = varbindNumber(row.get(2));
    if (fdbId === undefined || !mac || !isDeviceMac(mac) || port === undefined) continue;
    out.push({ mac, port, fdbId });
  }
  return out;
}
