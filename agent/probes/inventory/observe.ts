/**
 * Joins what the polled tables and the discovery sweep say into one observation per MAC: the ARP
 * table gives addresses, LLDP names and capabilities, the bridge table devices without an address,
 * discovery sysName/sysDescr by address.
 */
import type { TablesReading } from './poll.js';
import type { LldpCapability } from './tables.js';

/** What one cycle saw of one device. */
export interface Observation {
  mac: string;
  ip?: string;
  name?: string;
  sysDescr?: string;
  capabilities: LldpCapability[];
}

/** sysName/sysDescr of a host that answered the discovery sweep. */
export interface DiscoveredHost {
  ip: string;
  sysName?: string;
  sysDescr?: string;
}

/** Builds the observations of one cycle from every source's tables and the discovered hosts. */
export function observe(readings: readonly TablesReading[], discovered: ReadonlyMap<string, DiscoveredHost> = new Map()): Map<string, Observation> {
  const out = new Map<string, Observation>();
  const macByIp = new Map<string, string>();
  const get = (mac: string): Observation => {
    let o = out.get(mac);
    if (!o) out.set(mac, (o = { mac, capabilities: [] }));
    return o;
  };
  for (const r of readings) {
    for (const n of r.neighbours) {
      const o = get(n.mac);
      // An IPv4 address beats an IPv6 one (often link-local or a privacy address that changes daily).
      if (o.ip === undefined || (n.family === 4 && o.ip.includes(':'))) o.ip = n.ip;
      if (!macByIp.has(n.ip)) macByIp.set(n.ip, n.mac);
    }
  }
  for (const r of readings) {
    for (const l of r.lldp) {
      const ips = [...l.managementIps, ...(l.chassisIp ? [l.chassisIp] : [])];
      const macs = new Set<string>();
      if (l.chassisMac) macs.add(l.chassisMac);
      if (l.portMac) macs.add(l.portMac);
      if (macs.size === 0) for (const ip of ips) if (macByIp.has(ip)) macs.add(macByIp.get(ip) as string);
      for (const mac of macs) {
        const o = get(mac);
        if (o.ip === undefined && ips[0] !== undefined) o.ip = ips[0];
        if (l.sysName) o.name = l.sysName;
        if (l.sysDescr) o.sysDescr = l.sysDescr;
        for (const c of l.capabilities) if (!o.capabilities.includes(c)) o.capabilities.push(c);
      }
    }
    for (const f of r.fdb) get(f.mac);
  }
  for (const h of discovered.values()) {
    const mac = macByIp.get(h.ip);
    if (!mac) continue;
    const o = get(mac);
    o.name ??= h.sysName;
    o.sysDescr ??= h.sysDescr;
    if (o.name === undefined) delete o.name;
    if (o.sysDescr === undefined) delete o.sysDescr;
  }
  return out;
}
