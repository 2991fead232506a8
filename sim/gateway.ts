/**
 * Simulated school gateways: SNMP agents served by net-snmp's own `Agent`, on loopback only.
 *
 * Each gateway answers the system group (sysDescr, sysObjectID, sysUpTime, sysContact, sysName,
 * sysLocation, sysServices), ifNumber, IF-MIB ifTable and ifXTable. Octet counters advance at a
 * configured rate per interface, computed from an injected clock when a request arrives, so tests
 * control time exactly. Hooks let tests set a counter (force a 32-bit wrap or an absurd jump),
 * reboot the device, drop ifXTable (a 32-bit-only device) or stop answering.
 *
 * The default route (IP-FORWARD-MIB inetCidrRouteTable, or ipCidrRouteTable, or none) points at the
 * WAN port, so an agent without `wanInterface` can infer it.
 *
 * `startGatewayFleet` runs many gateways in one process (the demo runs 20) on distinct free ports.
 *
 * net-snmp gotcha: a Counter64 cell must hold an 8-byte Buffer. A plain number is accepted by
 * `addTableRow` but makes the encoder throw on the first request, inside a socket handler, which
 * kills the process. The handlers below always store Buffers in Counter64 cells.
 */
import { createSimAgent, isLoopbackHost, NA, RO, snmp, type MibRequest as BaseRequest } from './snmp-agent.js';

// ---------------------------------------------------------------------------------------------
// Provider shapes of net-snmp's agent side (no type declarations ship with it).

interface MibRequest extends BaseRequest {
  address: number[];
  instanceNode: { value: unknown };
}
const T = snmp.ObjectType as Record<'Integer' | 'OctetString' | 'OID' | 'Counter' | 'Gauge' | 'TimeTicks' | 'Counter64' | 'IpAddress', number>;

// ---------------------------------------------------------------------------------------------
// Public API.

/** One simulated interface. */
export interface SimInterfaceOptions {
  /** ifName, e.g. `ge-0/0/0`. */
  name: string;
  /** ifDescr (default: the name). */
  descr?: string;
  /** ifAlias (default empty). */
  alias?: string;
  /** IANAifType: 6 ethernetCsmacd (default), 71 ieee80211, 24 softwareLoopback, … */
  type?: number;
  /** Line rate, bits/s (default 1 Gbit/s). ifSpeed saturates at 2^32−1; ifHighSpeed carries Mbit/s. */
  speedBps?: number;
  /** ifOperStatus up (default true). */
  operUp?: boolean;
  /** Traffic received, bits/s (default 0). */
  inBps?: number;
  /** Traffic sent, bits/s (default 0). */
  outBps?: number;
  /** ifInErrors growth per second (default 0); likewise the three below. */
  inErrorsPerSec?: number;
  outErrorsPerSec?: number;
  inDiscardsPerSec?: number;
  outDiscardsPerSec?: number;
}

/** Options of `startGateway`. */
export interface GatewayOptions {
  /** Loopback address to bind (default `127.0.0.1`). Anything else is refused. */
  host?: string;
  /** UDP port; 0 or absent picks a free one. */
  port?: number;
  /** Read community (default `public`). */
  community?: string;
  /** Injected clock, ms since the epoch (default `Date.now`). Counters and sysUpTime follow it. */
  now?: () => number;
  /** sysName (default `sim-gw`). */
  name?: string;
  /** sysDescr (default names the simulator). */
  descr?: string;
  /** sysObjectID (default an enterprise OID under 1.3.6.1.4.1.99999). */
  objectId?: string;
  /** sysLocation (default `School network closet`). */
  location?: string;
  /** Interfaces, or how many default ones to create (default 4: a WAN port, LAN ports, Wi-Fi). */
  interfaces?: SimInterfaceOptions[] | number;
  /** Add a softwareLoopback `lo0` after the other interfaces (default true). */
  loopback?: boolean;
  /** Serve ifXTable (ifName, 64-bit counters, ifHighSpeed); default true. `false` is a 32-bit-only device. */
  ifXTable?: boolean;
  /** sysUpTime at start, hundredths of a second (default 0); lets a test start near the 2^32 wrap. */
  uptimeTicksAtStart?: number;
  /**
   * The routing table served: a default route via `ifIndex` (default 1, the WAN port) in
   * inetCidrRouteTable (default) or the older ipCidrRouteTable, plus a connected LAN route via
   * ifIndex 2; or `false` for a device without route tables.
   */
  routes?: { table?: 'inetCidr' | 'ipCidr'; defaultIfIndex?: number } | false;
}

/** The counters a test can set. */
export type SimCounter = 'inOctets' | 'outOctets' | 'inErrors' | 'outErrors' | 'inDiscards' | 'outDiscards';

/** Rates a test can change; octets in bits/s, the others per second. */
export interface SimRates {
  inBps?: number;
  outBps?: number;
  inErrorsPerSec?: number;
  outErrorsPerSec?: number;
  inDiscardsPerSec?: number;
  outDiscardsPerSec?: number;
}

/** An interface as served. */
export interface SimInterfaceInfo {
  ifIndex: number;
  name: string;
  descr: string;
  type: number;
  speedBps: number;
}

/** Where a gateway listens. */
export interface GatewayAddress {
  name: string;
  host: string;
  port: number;
  community: string;
}

/** A running simulated gateway. */
export interface Gateway extends GatewayAddress {
  readonly interfaces: readonly SimInterfaceInfo[];
  /** Responses sent so far. */
  readonly requests: number;
  /** sysUpTime now, hundredths of a second. */
  uptimeTicks(): number;
  /** Restarts the device: sysUpTime and every counter start again from 0. */
  reboot(): void;
  /** Sets a counter's value now (it keeps advancing at its rate from there). 64-bit; the Counter32 columns show it modulo 2^32. */
  setCounter(ifIndex: number, counter: SimCounter, value: bigint | number): void;
  /** A counter's full 64-bit value now. */
  readCounter(ifIndex: number, counter: SimCounter): bigint;
  /** Changes traffic rates from now on. */
  setRates(ifIndex: number, rates: SimRates): void;
  /** Sets ifOperStatus (up = 1, down = 2). */
  setOperStatus(ifIndex: number, up: boolean): void;
  /** Serves or withdraws ifXTable. */
  setIfXTable(enabled: boolean): void;
  /** While muted the gateway silently drops requests, like a dead device. */
  setMuted(muted: boolean): void;
  /** Closes the socket. */
  stop(): Promise<void>;
}

const SYS_OID = '1.3.6.1.2.1.1';
const IF_ENTRY = '1.3.6.1.2.1.2.2.1';
const IFX_ENTRY = '1.3.6.1.2.1.31.1.1.1';
const TWO_32 = 1n << 32n;
const TWO_64 = 1n << 64n;
const MAX_GAUGE = 4294967295;

const COUNTERS: readonly SimCounter[] = ['inOctets', 'outOctets', 'inErrors', 'outErrors', 'inDiscards', 'outDiscards'];
const RATE_KEYS: Record<SimCounter, keyof SimRates> = {
  inOctets: 'inBps',
  outOctets: 'outBps',
  inErrors: 'inErrorsPerSec',
  outErrors: 'outErrorsPerSec',
  inDiscards: 'inDiscardsPerSec',
  outDiscards: 'outDiscardsPerSec',
};

/** A counter that grows linearly from `base` at `anchorMs`. */
interface Counter {
  base: bigint;
  anchorMs: number;
  /** Units per second (octets for octet counters). */
  perSec: number;
}

interface SimIface extends SimInterfaceInfo {
  alias: string;
  operUp: boolean;
  mac: Buffer;
  counters: Record<SimCounter, Counter>;
}

export { isLoopbackHost };

/** The default interface set: `ge-0/0/0` WAN, `ge-0/0/N` LAN ports (one down), `wlan0` when n ≥ 4. */
export function defaultInterfaces(n = 4, variant = 0): SimInterfaceOptions[] {
  const out: SimInterfaceOptions[] = [];
  const wanSpeeds = [100e6, 200e6, 300e6, 500e6, 1e9];
  const wanSpeed = wanSpeeds[variant % wanSpeeds.length] ?? 1e9;
  const load = 0.2 + ((variant * 37) % 50) / 100; // 20–69 % of the WAN link
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      out.push({ name: 'ge-0/0/0', descr: 'ge-0/0/0 uplink', alias: 'ISP uplink', speedBps: wanSpeed, inBps: Math.round(wanSpeed * load), outBps: Math.round(wanSpeed * load * 0.25) });
    } else if (i === n - 1 && n >= 4) {
      out.push({ name: 'wlan0', descr: 'wlan0 802.11ac', type: 71, speedBps: 866.7e6, inBps: Math.round(wanSpeed * load * 0.1), outBps: Math.round(wanSpeed * load * 0.4) });
    } else if (i === 2) {
      out.push({ name: `ge-0/0/${i}`, speedBps: 1e9, operUp: false });
    } else {
      out.push({ name: `ge-0/0/${i}`, speedBps: 1e9, inBps: Math.round(wanSpeed * load * 0.2), outBps: Math.round(wanSpeed * load * 0.6), inErrorsPerSec: 0.05 });
    }
  }
  return out;
}

function u64Buffer(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(((v % TWO_64) + TWO_64) % TWO_64);
  return b;
}

/** Starts one simulated gateway; resolves once its socket is listening. */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const host = options.host ?? '127.0.0.1';
  const community = options.community ?? 'public';
  const now = options.now ?? Date.now;
  const name = options.name ?? 'sim-gw';
  const ifaceOpts = typeof options.interfaces === 'number' || options.interfaces === undefined ? defaultInterfaces(options.interfaces ?? 4) : options.interfaces;
  const withLoopback = options.loopback ?? true;
  let ifXEnabled = options.ifXTable ?? true;
  let bootMs = now();
  let ticksAtBoot = options.uptimeTicksAtStart ?? 0;

  const ifaces: SimIface[] = [...ifaceOpts, ...(withLoopback ? [{ name: 'lo0', type: 24, speedBps: 0 } satisfies SimInterfaceOptions] : [])].map((o, i) => {
    const t0 = now();
    const counters = {} as Record<SimCounter, Counter>;
    for (const c of COUNTERS) {
      const rate = o[RATE_KEYS[c]] ?? 0;
      counters[c] = { base: 0n, anchorMs: t0, perSec: c.endsWith('Octets') ? rate / 8 : rate };
    }
    return {
      ifIndex: i + 1,
      name: o.name,
      descr: o.descr ?? o.name,
      alias: o.alias ?? '',
      type: o.type ?? 6,
      speedBps: o.speedBps ?? 1e9,
      operUp: o.operUp ?? true,
      mac: Buffer.from([0x02, 0x00, 0x5e, 0x10, (i >> 8) & 0xff, i & 0xff]),
      counters,
    };
  });
  const byIndex = new Map(ifaces.map((i) => [i.ifIndex, i]));
  const iface = (ifIndex: number): SimIface => {
    const i = byIndex.get(ifIndex);
    if (!i) throw new RangeError(`sim gateway ${name}: no interface with ifIndex ${ifIndex}`);
    return i;
  };

  const counterValue = (c: Counter, at: number): bigint => {
    const elapsed = Math.max(0, at - c.anchorMs);
    return (c.base + BigInt(Math.floor((c.perSec * elapsed) / 1000))) % TWO_64;
  };
  const uptimeTicks = (): number => (ticksAtBoot + Math.floor(Math.max(0, now() - bootMs) / 10)) % 2 ** 32;

  const sim = createSimAgent({ kind: 'gateway', host, port: options.port, community });
  const { agent, mib, bindHost } = sim;

  /** Runs a value computation for a request; any exception becomes genErr instead of a crash. */
  const serve = (fill: (req: MibRequest) => void) => (req: MibRequest) => {
    try {
      fill(req);
      req.done();
    } catch {
      req.done({ errorStatus: snmp.ErrorStatus.GeneralError as number });
    }
  };

  // System group.
  const scalar = (n: number, key: string, type: number, value: unknown, handler?: (req: MibRequest) => void): void => {
    mib.registerProvider({ name: key, type: snmp.MibProviderType.Scalar, oid: `${SYS_OID}.${n}`, scalarType: type, maxAccess: RO, ...(handler && { handler }) });
    mib.setScalarValue(key, value);
  };
  scalar(1, 'sysDescr', T.OctetString, options.descr ?? `campuslink simulated gateway ${name} (net-snmp agent)`);
  scalar(2, 'sysObjectID', T.OID, options.objectId ?? '1.3.6.1.4.1.99999.1.1');
  scalar(3, 'sysUpTime', T.TimeTicks, 0, serve((req) => (req.instanceNode.value = uptimeTicks())));
  scalar(4, 'sysContact', T.OctetString, 'it@school.example');
  scalar(5, 'sysName', T.OctetString, name);
  scalar(6, 'sysLocation', T.OctetString, options.location ?? 'School network closet');
  scalar(7, 'sysServices', T.Integer, 78);
  // SNMP-FRAMEWORK-MIB snmpEngineBoots: counts reboots, and sits after IF-MIB in the tree, so a walk
  // of ifXTable ends on another object (net-snmp's agent answers a GetNext past its last object with
  // NoSuchObject at the requested OID instead of endOfMibView).
  let engineBoots = 1;
  mib.registerProvider({ name: 'snmpEngineBoots', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.6.3.10.2.1.2', scalarType: T.Integer, maxAccess: RO, handler: serve((req) => (req.instanceNode.value = engineBoots)) });
  mib.setScalarValue('snmpEngineBoots', engineBoots);
  mib.registerProvider({ name: 'ifNumber', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.2.1.2.1', scalarType: T.Integer, maxAccess: RO });
  mib.setScalarValue('ifNumber', ifaces.length);

  // ifTable: static cells are stored at start; dynamic ones are filled in per request.
  const col = (number: number, colName: string, type: number, maxAccess = RO) => ({ number, name: colName, type, maxAccess });
  mib.registerProvider({
    name: 'ifTable',
    type: snmp.MibProviderType.Table,
    oid: IF_ENTRY,
    maxAccess: NA,
    tableColumns: [
      col(1, 'ifIndex', T.Integer),
      col(2, 'ifDescr', T.OctetString),
      col(3, 'ifType', T.Integer),
      col(4, 'ifMtu', T.Integer),
      col(5, 'ifSpeed', T.Gauge),
      col(6, 'ifPhysAddress', T.OctetString),
      col(7, 'ifAdminStatus', T.Integer),
      col(8, 'ifOperStatus', T.Integer),
      col(9, 'ifLastChange', T.TimeTicks),
      col(10, 'ifInOctets', T.Counter),
      col(13, 'ifInDiscards', T.Counter),
      col(14, 'ifInErrors', T.Counter),
      col(16, 'ifOutOctets', T.Counter),
      col(19, 'ifOutDiscards', T.Counter),
      col(20, 'ifOutErrors', T.Counter),
    ],
    tableIndex: [{ columnName: 'ifIndex' }],
    handler: serve((req) => {
      // address = 1.3.6.1.2.1.2.2.1.<column>.<ifIndex>
      const column = req.address[9];
      const i = byIndex.get(req.address[10] ?? -1);
      if (!i) return;
      const at = now();
      const c32 = (c: SimCounter): number => Number(counterValue(i.counters[c], at) % TWO_32);
      switch (column) {
        case 5: req.instanceNode.value = Math.min(MAX_GAUGE, i.speedBps); break;
        case 8: req.instanceNode.value = i.operUp ? 1 : 2; break;
        case 10: req.instanceNode.value = c32('inOctets'); break;
        case 13: req.instanceNode.value = c32('inDiscards'); break;
        case 14: req.instanceNode.value = c32('inErrors'); break;
        case 16: req.instanceNode.value = c32('outOctets'); break;
        case 19: req.instanceNode.value = c32('outDiscards'); break;
        case 20: req.instanceNode.value = c32('outErrors'); break;
        default: break;
      }
    }),
  });
  for (const i of ifaces) {
    mib.addTableRow('ifTable', [i.ifIndex, i.descr, i.type, i.type === 24 ? 65536 : 1500, Math.min(MAX_GAUGE, i.speedBps), i.type === 24 ? '' : i.mac, 1, i.operUp ? 1 : 2, 0, 0, 0, 0, 0, 0, 0]);
  }

  // ifXTable augments ifTable: rows start with the ifIndex of the augmented row.
  const registerIfX = (): void => {
    mib.registerProvider({
      name: 'ifXTable',
      type: snmp.MibProviderType.Table,
      oid: IFX_ENTRY,
      maxAccess: NA,
      tableColumns: [col(1, 'ifName', T.OctetString), col(6, 'ifHCInOctets', T.Counter64), col(10, 'ifHCOutOctets', T.Counter64), col(15, 'ifHighSpeed', T.Gauge), col(18, 'ifAlias', T.OctetString)],
      tableAugments: 'ifTable',
      handler: serve((req) => {
        // address = 1.3.6.1.2.1.31.1.1.1.<column>.<ifIndex>
        const column = req.address[10];
        const i = byIndex.get(req.address[11] ?? -1);
        if (!i) return;
        const at = now();
        if (column === 6) req.instanceNode.value = u64Buffer(counterValue(i.counters.inOctets, at));
        else if (column === 10) req.instanceNode.value = u64Buffer(counterValue(i.counters.outOctets, at));
        else if (column === 15) req.instanceNode.value = Math.min(MAX_GAUGE, Math.round(i.speedBps / 1e6));
      }),
    });
    for (const i of ifaces) mib.addTableRow('ifXTable', [i.ifIndex, i.name, u64Buffer(0n), u64Buffer(0n), Math.round(i.speedBps / 1e6), i.alias]);
  };
  if (ifXEnabled) registerIfX();

  // IP-FORWARD-MIB routes: a default route via the WAN port and a connected LAN prefix.
  const routes = options.routes === undefined ? {} : options.routes;
  if (routes) {
    const wanIfIndex = routes.defaultIfIndex ?? 1;
    const lanIfIndex = ifaces.length > 1 ? 2 : wanIfIndex;
    const v4 = (a: string): Buffer => Buffer.from(a.split('.').map(Number));
    if ((routes.table ?? 'inetCidr') === 'inetCidr') {
      mib.registerProvider({
        name: 'inetCidrRouteTable',
        type: snmp.MibProviderType.Table,
        oid: '1.3.6.1.2.1.4.24.7.1',
        maxAccess: NA,
        tableColumns: [
          col(1, 'inetCidrRouteDestType', T.Integer, NA),
          col(2, 'inetCidrRouteDest', T.OctetString, NA),
          col(3, 'inetCidrRoutePfxLen', T.Gauge, NA),
          col(4, 'inetCidrRoutePolicy', T.OID, NA),
          col(5, 'inetCidrRouteNextHopType', T.Integer, NA),
          col(6, 'inetCidrRouteNextHop', T.OctetString, NA),
          col(7, 'inetCidrRouteIfIndex', T.Integer),
          col(8, 'inetCidrRouteType', T.Integer),
          col(12, 'inetCidrRouteMetric1', T.Integer),
        ],
        tableIndex: ['Dest Type', 'Dest', 'PfxLen', 'Policy', 'NextHopType', 'NextHop'].map((n) => ({ columnName: `inetCidrRoute${n.replace(' ', '')}` })),
      });
      // Values are documentation addresses (RFC 5737): this is data, nothing is ever sent there.
      mib.addTableRow('inetCidrRouteTable', [1, v4('0.0.0.0'), 0, '0.0', 1, v4('203.0.113.1'), wanIfIndex, 4, 1]);
      mib.addTableRow('inetCidrRouteTable', [1, v4('192.0.2.0'), 24, '0.0', 1, v4('0.0.0.0'), lanIfIndex, 3, 0]);
    } else {
      mib.registerProvider({
        name: 'ipCidrRouteTable',
        type: snmp.MibProviderType.Table,
        oid: '1.3.6.1.2.1.4.24.4.1',
        maxAccess: NA,
        tableColumns: [
          col(1, 'ipCidrRouteDest', T.IpAddress),
          col(2, 'ipCidrRouteMask', T.IpAddress),
          col(3, 'ipCidrRouteTos', T.Integer),
          col(4, 'ipCidrRouteNextHop', T.IpAddress),
          col(5, 'ipCidrRouteIfIndex', T.Integer),
          col(6, 'ipCidrRouteType', T.Integer),
          col(11, 'ipCidrRouteMetric1', T.Integer),
        ],
        tableIndex: ['Dest', 'Mask', 'Tos', 'NextHop'].map((n) => ({ columnName: `ipCidrRoute${n}` })),
      });
      mib.addTableRow('ipCidrRouteTable', ['0.0.0.0', '0.0.0.0', 0, '203.0.113.1', wanIfIndex, 4, 1]);
      mib.addTableRow('ipCidrRouteTable', ['192.0.2.0', '255.255.255.0', 0, '0.0.0.0', lanIfIndex, 3, 0]);
    }
  }

  const port = await sim.listening().catch((e: unknown) => {
    throw new Error(`${(e as Error).message} (gateway ${name})`);
  });
  let stopped: Promise<void> | undefined;

  const gateway: Gateway = {
    name,
    host: bindHost,
    port,
    community,
    interfaces: ifaces.map(({ ifIndex, name: n, descr, type, speedBps }) => ({ ifIndex, name: n, descr, type, speedBps })),
    get requests() {
      return sim.requests;
    },
    uptimeTicks,
    reboot() {
      const at = now();
      bootMs = at;
      ticksAtBoot = 0;
      engineBoots++;
      for (const i of ifaces) for (const c of COUNTERS) Object.assign(i.counters[c], { base: 0n, anchorMs: at });
    },
    setCounter(ifIndex, counter, value) {
      Object.assign(iface(ifIndex).counters[counter], { base: ((BigInt(value) % TWO_64) + TWO_64) % TWO_64, anchorMs: now() });
    },
    readCounter(ifIndex, counter) {
      return counterValue(iface(ifIndex).counters[counter], now());
    },
    setRates(ifIndex, rates) {
      const i = iface(ifIndex);
      const at = now();
      for (const c of COUNTERS) {
        const r = rates[RATE_KEYS[c]];
        if (r === undefined) continue;
        const k = i.counters[c];
        Object.assign(k, { base: counterValue(k, at), anchorMs: at, perSec: c.endsWith('Octets') ? r / 8 : r });
      }
    },
    setOperStatus(ifIndex, up) {
      iface(ifIndex).operUp = up;
    },
    setIfXTable(enabled) {
      if (enabled === ifXEnabled) return;
      ifXEnabled = enabled;
      if (enabled) registerIfX();
      else mib.unregisterProvider('ifXTable');
    },
    setMuted(m) {
      sim.muted = m;
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        try {
          agent.close(() => resolve());
        } catch {
          resolve();
        }
      });
      return stopped;
    },
  };
  return gateway;
}

/** Options of `startGatewayFleet`: those of `startGateway` (minus name and port) for every gateway. */
export interface GatewayFleetOptions extends Omit<GatewayOptions, 'name' | 'port'> {
  /** How many gateways (the demo runs 20). */
  count: number;
  /** sysName prefix; gateways are named `<prefix>-01`, `<prefix>-02`, … (default `gw`). */
  namePrefix?: string;
}

/** A set of gateways started together. */
export interface GatewayFleet {
  gateways: Gateway[];
  /** Name, host, port and community of each gateway, in order. */
  addresses: GatewayAddress[];
  /** Stops every gateway. */
  stop(): Promise<void>;
}

/**
 * Starts `count` gateways in this process, each on its own free loopback UDP port. Unless
 * `interfaces` is given, each gets the default interface set with its own WAN speed and load.
 */
export async function startGatewayFleet(options: GatewayFleetOptions): Promise<GatewayFleet> {
  const { count, namePrefix = 'gw', ...rest } = options;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`sim fleet: count must be a positive integer, got ${count}`);
  const width = String(count).length < 2 ? 2 : String(count).length;
  const gateways: Gateway[] = [];
  try {
    for (let k = 0; k < count; k++) {
      const name = `${namePrefix}-${String(k + 1).padStart(width, '0')}`;
      const interfaces = typeof rest.interfaces === 'object' ? rest.interfaces : defaultInterfaces(rest.interfaces ?? 4, k);
      // Unless told otherwise, gateways have been up for different times (about 1 to 20 days).
      const uptimeTicksAtStart = rest.uptimeTicksAtStart ?? ((k * 7919) % 20 + 1) * 8_640_000 + k * 12_345;
      gateways.push(await startGateway({ ...rest, interfaces, name, uptimeTicksAtStart }));
    }
  } catch (e) {
    await Promise.all(gateways.map((g) => g.stop()));
    throw e;
  }
  return {
    gateways,
    addresses: gateways.map(({ name, host, port, community }) => ({ name, host, port, community })),
    async stop() {
      await Promise.all(gateways.map((g) => g.stop()));
    },
  };
}
