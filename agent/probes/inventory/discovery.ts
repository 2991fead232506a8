/**
 * SNMP discovery on a configured IPv4 range: a GET of sysName.0 and sysDescr.0 to every host address,
 * one try each with a short timeout, a bounded number at once. Hosts that answer feed classification
 * (joined to MACs by address through the ARP table). A sweep costs at most
 * ceil(hosts / concurrency) × timeoutMs.
 */
import ipaddr from 'ipaddr.js';
import { varbindString, type NetSnmpClientOptions, type SnmpClient, type SnmpVersion } from '../snmp/client.js';
import type { DiscoveredHost } from './observe.js';
import { SYS_DESCR, SYS_NAME } from './oids.js';

/**
 * The host addresses of an IPv4 CIDR: without network and broadcast for prefixes up to /30, every
 * address for /31 and /32. Throws a RangeError when it is not an IPv4 CIDR or holds more than `maxHosts`.
 */
export function cidrHosts(cidr: string, maxHosts: number): string[] {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  let bits: number;
  try {
    [addr, bits] = ipaddr.parseCIDR(cidr);
  } catch {
    throw new RangeError(`not a CIDR: ${cidr}`);
  }
  if (addr.kind() !== 'ipv4') throw new RangeError(`discovery takes IPv4 ranges only, got ${cidr}`);
  const size = 2 ** (32 - bits);
  const count = bits >= 31 ? size : size - 2;
  if (count > maxHosts) throw new RangeError(`${cidr} holds ${count} hosts, more than maxHosts (${maxHosts})`);
  const n0 = addr.toByteArray().reduce((n, b) => n * 256 + b, 0);
  const base = n0 - (n0 % size);
  const first = bits >= 31 ? base : base + 1;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = first + i;
    out.push(`${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
  }
  return out;
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

/** Options of `discover`. */
export interface DiscoverOptions {
  /** Host addresses to probe (see `cidrHosts`). */
  hosts: readonly string[];
  community: string;
  version: SnmpVersion;
  /** UDP port (default 161; tests use the sim's). */
  port?: number;
  timeoutMs: number;
  concurrency: number;
  createClient: (options: NetSnmpClientOptions) => SnmpClient;
}

/** What a sweep found: hosts that answered, and how many were probed. */
export interface DiscoveryResult {
  hosts: Map<string, DiscoveredHost>;
  probed: number;
}

/** Sweeps `hosts`; never throws for a host that does not answer. */
export async function discover(opts: DiscoverOptions): Promise<DiscoveryResult> {
  const found = await mapBounded(opts.hosts, opts.concurrency, async (ip): Promise<DiscoveredHost | undefined> => {
    let client: SnmpClient | undefined;
    try {
      client = opts.createClient({
        host: ip,
        ...(opts.port !== undefined && { port: opts.port }),
        community: opts.community,
        version: opts.version,
        timeoutMs: opts.timeoutMs,
        retries: 0,
        operationTimeoutMs: opts.timeoutMs + 200,
      });
      const [name, descr] = await client.get([SYS_NAME, SYS_DESCR]);
      const sysName = varbindString(name)?.trim();
      const sysDescr = varbindString(descr)?.trim();
      return { ip, ...(sysName && { sysName }), ...(sysDescr && { sysDescr }) };
    } catch {
      return undefined;
    } finally {
      client?.close();
    }
  });
  const hosts = new Map<string, DiscoveredHost>();
  for (const h of found) if (h) hosts.set(h.ip, h);
  return { hosts, probed: opts.hosts.length };
}
