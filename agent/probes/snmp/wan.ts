/**
 * WAN interface inference from the device's default route, used when `wanInterface` is not configured.
 *
 * Rule (first table that has a usable default route wins):
 * 1. IP-FORWARD-MIB inetCidrRouteTable (1.3.6.1.2.1.4.24.7): rows whose index starts with an IPv4
 *    destination 0.0.0.0 and prefix length 0 (`1.4.0.0.0.0.0.…`); if none, IPv6 ::/0 (`2.16.0…0.0.…`).
 * 2. IP-FORWARD-MIB ipCidrRouteTable (1.3.6.1.2.1.4.24.4): destination 0.0.0.0, mask 0.0.0.0.
 * 3. RFC 1213 ipRouteTable (1.3.6.1.2.1.4.21): destination 0.0.0.0.
 * Routes of type reject/blackhole and ifIndex 0 are ignored; among several, the lowest metric1 wins,
 * then the lowest ifIndex. A table the device lacks, or an error reading it, moves on to the next.
 */
import type { SnmpClient, SnmpTable } from './client.js';
import { varbindNumber } from './client.js';

/** inetCidrRouteEntry and the columns read. */
export const INET_CIDR_ROUTE_ENTRY = '1.3.6.1.2.1.4.24.7.1';
const INET_COL = { ifIndex: 7, type: 8, metric1: 12 } as const;
/** ipCidrRouteEntry and the columns read. */
export const IP_CIDR_ROUTE_ENTRY = '1.3.6.1.2.1.4.24.4.1';
const IPCIDR_COL = { ifIndex: 5, type: 6, metric1: 11 } as const;
/** ipRouteEntry (RFC 1213) and the columns read. */
export const IP_ROUTE_ENTRY = '1.3.6.1.2.1.4.21.1';
const IPROUTE_COL = { ifIndex: 2, metric1: 3, type: 8 } as const;

const V4_DEFAULT_INET = '1.4.0.0.0.0.0.';
const V6_DEFAULT_INET = `2.16.${Array(16).fill('0').join('.')}.0.`;
const V4_DEFAULT_IPCIDR = '0.0.0.0.0.0.0.0.';
/** inetCidrRouteType / ipCidrRouteType reject(2), and inetCidrRouteType blackhole(5). */
const UNUSABLE_TYPES = new Set([2, 5]);

/** Where an inferred WAN interface came from. */
export type WanSource = 'inetCidrRouteTable' | 'ipCidrRouteTable' | 'ipRouteTable';

/** The inference's result. */
export interface WanInference {
  ifIndex: number;
  source: WanSource;
}

function pick(rows: SnmpTable, match: (index: string) => boolean, col: { ifIndex: number; type: number; metric1: number }): number | undefined {
  let best: { ifIndex: number; metric: number } | undefined;
  for (const [index, row] of rows) {
    if (!match(index)) continue;
    const ifIndex = varbindNumber(row.get(col.ifIndex));
    const type = varbindNumber(row.get(col.type));
    if (ifIndex === undefined || ifIndex <= 0 || (type !== undefined && UNUSABLE_TYPES.has(type))) continue;
    const metric = varbindNumber(row.get(col.metric1)) ?? Number.MAX_SAFE_INTEGER;
    const m = metric < 0 ? Number.MAX_SAFE_INTEGER : metric;
    if (!best || m < best.metric || (m === best.metric && ifIndex < best.ifIndex)) best = { ifIndex, metric: m };
  }
  return best?.ifIndex;
}

async function readTable(client: SnmpClient, entry: string, columns: number[]): Promise<SnmpTable> {
  try {
    return await client.table(entry, columns);
  } catch {
    return new Map();
  }
}

/** Looks up the default route's interface; resolves `undefined` when no table has one. Never rejects. */
export async function inferWanInterface(client: SnmpClient): Promise<WanInference | undefined> {
  const inet = await readTable(client, INET_CIDR_ROUTE_ENTRY, [INET_COL.ifIndex, INET_COL.type, INET_COL.metric1]);
  const v4 = pick(inet, (i) => i.startsWith(V4_DEFAULT_INET), INET_COL);
  if (v4 !== undefined) return { ifIndex: v4, source: 'inetCidrRouteTable' };
  const v6 = pick(inet, (i) => i.startsWith(V6_DEFAULT_INET), INET_COL);
  if (v6 !== undefined) return { ifIndex: v6, source: 'inetCidrRouteTable' };
  const ipCidr = await readTable(client, IP_CIDR_ROUTE_ENTRY, [IPCIDR_COL.ifIndex, IPCIDR_COL.type, IPCIDR_COL.metric1]);
  const c = pick(ipCidr, (i) => i.startsWith(V4_DEFAULT_IPCIDR), IPCIDR_COL);
  if (c !== undefined) return { ifIndex: c, source: 'ipCidrRouteTable' };
  const ipRoute = await readTable(client, IP_ROUTE_ENTRY, [IPROUTE_COL.ifIndex, IPROUTE_COL.metric1, IPROUTE_COL.type]);
  // ipRouteType: invalid(2) is a deleted row.
  const r = pick(ipRoute, (i) => i === '0.0.0.0', IPROUTE_COL);
  if (r !== undefined) return { ifIndex: r, source: 'ipRouteTable' };
  return undefined;
}
