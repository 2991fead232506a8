/**
 * A simulated school core switch: an SNMP agent (net-snmp's own `Agent`, loopback only) serving what
 * the inventory probe reads — ipNetToPhysicalTable, ipNetToMediaTable, LLDP-MIB lldpRemTable and
 * lldpRemManAddrTable, BRIDGE-MIB dot1dTpFdbTable — for N generated devices with real OUIs of the
 * vendors found in Chinese schools (Seewo panels, Hikvision cameras, Ruijie APs, Yealink phones, …).
 * Hooks add and remove devices, switch tables off (a gateway without ipNetToPhysicalTable) and mute
 * the agent (a dead device).
 */
import { createSimAgent, NA, RO, snmp, type TableProvider } from './snmp-agent.js';

interface Column {
  number: number;
  name: string;
  type: number;
  maxAccess: number;
}
const T = snmp.ObjectType as Record<'Integer' | 'OctetString' | 'OID' | 'IpAddress' | 'TimeTicks', number>;

/** LLDP capabilities, as LLDP-MIB numbers their bits. */
export const SIM_LLDP_CAPABILITIES = ['other', 'repeater', 'bridge', 'wlanAccessPoint', 'router', 'telephone', 'docsisCableDevice', 'stationOnly'] as const;
export type SimLldpCapability = (typeof SIM_LLDP_CAPABILITIES)[number];

/** One device on the simulated LAN. */
export interface SimDevice {
  /** `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** IPv4 address; without it the device is only in the bridge table. */
  ip?: string;
  /** Bridge port it is learned on (default 1). */
  port?: number;
  /** What the generator meant it to be (tests compare classification against it). */
  kind?: string;
  /** Present when the device speaks LLDP to the switch. */
  lldp?: { sysName: string; sysDescr: string; capabilities: SimLldpCapability[]; managementIp?: string };
}

/** Options of `startSwitch`. */
export interface SwitchOptions {
  /** Loopback address to bind (default 127.0.0.1). Anything else is refused. */
  host?: string;
  /** UDP port; 0 or absent picks a free one. */
  port?: number;
  community?: string;
  /** sysName (default `sim-core-switch`). */
  name?: string;
  /** sysDescr (default `Ruijie Networks RG-S5750 … (campuslink simulator)`). */
  descr?: string;
  /** The devices, or how many to generate (default 300). */
  devices?: SimDevice[] | number;
  /** Seed of the generator (default 1). */
  seed?: number;
  /** Which tables to serve (each default true). */
  ipNetToPhysical?: boolean;
  ipNetToMedia?: boolean;
  lldp?: boolean;
  fdb?: boolean;
}

/** A running simulated switch. */
export interface SimSwitch {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly community: string;
  /** The devices served now. */
  devices(): SimDevice[];
  /** Adds (or replaces, by MAC) devices. */
  addDevices(devices: SimDevice[]): void;
  /** Removes devices by MAC. */
  removeDevices(macs: string[]): void;
  /** Serves or withdraws a table. */
  setTable(table: 'ipNetToPhysical' | 'ipNetToMedia' | 'lldp' | 'fdb', enabled: boolean): void;
  /** While muted the switch drops every request, like a dead device. */
  setMuted(muted: boolean): void;
  /** Requests answered so far. */
  readonly requests: number;
  stop(): Promise<void>;
}

interface Kind {
  kind: string;
  /** Real IEEE OUIs of the vendor (from the registry `oui-data` ships). */
  ouis: string[];
  /** Share of generated devices. */
  weight: number;
  lldp?: (i: number) => SimDevice['lldp'];
  /** Locally administered (randomised) MACs. */
  random?: boolean;
}

const KINDS: Kind[] = [
  { kind: 'pc', ouis: ['106530', '109819', '207693', '809621', '105107', '182649'], weight: 40 }, // Dell, Lenovo, Intel
  { kind: 'display', ouis: ['385439', '584146', '848832', '8C3357', '8065E9', '381A52'], weight: 12 }, // Seewo, HiteVision, BenQ, Epson
  { kind: 'camera', ouis: ['188025', '244845', '08EDED', '14A78B'], weight: 8 }, // Hikvision, Dahua
  {
    kind: 'ap',
    ouis: ['541651', '800588'],
    weight: 5,
    lldp: (i) => ({ sysName: `AP-${String(i).padStart(3, '0')}`, sysDescr: 'Ruijie Full Gigabit Wireless Access Point(RG-AP720-L) By Ruijie Networks Co., Ltd', capabilities: ['bridge', 'wlanAccessPoint'] }),
  }, // Ruijie
  {
    kind: 'phone',
    ouis: ['001565', '249AD8'],
    weight: 4,
    lldp: (i) => ({ sysName: `SIP-T46U-${i}`, sysDescr: 'Yealink SIP-T46U 108.86.0.45', capabilities: ['bridge', 'telephone'] }),
  }, // Yealink
  { kind: 'printer', ouis: ['888717', '001BA9'], weight: 3 }, // Canon, Brother
  { kind: 'iot', ouis: ['140808', '146393'], weight: 3 }, // Espressif
  {
    kind: 'switch',
    ouis: ['101965', '148477'],
    weight: 2,
    lldp: (i) => ({ sysName: `access-sw-${i}`, sysDescr: 'H3C Comware Platform Software, Software Version 7.1.070, H3C S5130S-28S-EI', capabilities: ['bridge'] }),
  }, // New H3C
  { kind: 'unknown', ouis: [], weight: 23, random: true }, // phones and laptops with privacy MACs
];

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` devices of a school LAN with a realistic mix, addresses from 10.20.0.10 upwards (they are
 * served as data only; nothing is sent to them), spread over 48 bridge ports.
 */
export function generateDevices(n: number, seed = 1): SimDevice[] {
  const rand = rng(seed);
  const total = KINDS.reduce((s, k) => s + k.weight, 0);
  const out: SimDevice[] = [];
  const seen = new Set<string>();
  const perKind = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    let pick = rand() * total;
    const kind = KINDS.find((k) => (pick -= k.weight) < 0) ?? (KINDS[0] as Kind);
    let mac: string;
    do {
      const tail = [rand(), rand(), rand()].map((x) => Math.floor(x * 256).toString(16).padStart(2, '0'));
      if (kind.random) {
        // Locally administered, unicast: x2, x6, xA or xE as the first octet.
        const first = ((Math.floor(rand() * 64) << 2) | 0x02).toString(16).padStart(2, '0');
        const mid = [rand(), rand()].map((x) => Math.floor(x * 256).toString(16).padStart(2, '0'));
        mac = [first, ...mid, ...tail].join(':');
      } else {
        const oui = kind.ouis[Math.floor(rand() * kind.ouis.length)] as string;
        mac = [oui.slice(0, 2), oui.slice(2, 4), oui.slice(4, 6), ...tail].join(':').toLowerCase();
      }
    } while (seen.has(mac));
    seen.add(mac);
    const k = (perKind.get(kind.kind) ?? 0) + 1;
    perKind.set(kind.kind, k);
    const host = 10 + i;
    const ip = `10.20.${host >> 8}.${host & 255}`;
    out.push({ mac, ip, port: 1 + (i % 48), kind: kind.kind, ...(kind.lldp && { lldp: { ...kind.lldp(k), managementIp: ip } as NonNullable<SimDevice['lldp']> }) });
  }
  return out;
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

function capabilityBits(caps: readonly SimLldpCapability[]): Buffer {
  let b = 0;
  for (const c of caps) b |= 0x80 >> SIM_LLDP_CAPABILITIES.indexOf(c);
  return Buffer.from([b]);
}

const col = (number: number, name: string, type: number, maxAccess = RO): Column => ({ number, name, type, maxAccess });

/** Starts a simulated switch; resolves once its socket listens. */
export async function startSwitch(options: SwitchOptions = {}): Promise<SimSwitch> {
  const host = options.host ?? '127.0.0.1';
  const community = options.community ?? 'public';
  const name = options.name ?? 'sim-core-switch';
  const devices = new Map<string, SimDevice>();
  for (const d of typeof options.devices === 'object' ? options.devices : generateDevices(options.devices ?? 300, options.seed ?? 1)) devices.set(d.mac, d);
  const enabled = {
    ipNetToPhysical: options.ipNetToPhysical ?? true,
    ipNetToMedia: options.ipNetToMedia ?? true,
    lldp: options.lldp ?? true,
    fdb: options.fdb ?? true,
  };
  const sim = createSimAgent({ kind: 'switch', host, port: options.port, community });
  const { agent, mib, bindHost } = sim;

  const scalar = (oid: string, key: string, type: number, value: unknown): void => {
    mib.registerProvider({ name: key, type: snmp.MibProviderType.Scalar, oid, scalarType: type, maxAccess: RO });
    mib.setScalarValue(key, value);
  };
  scalar('1.3.6.1.2.1.1.1', 'sysDescr', T.OctetString, options.descr ?? 'Ruijie Networks RG-S5750-28GT4XS-H Switch (campuslink simulator)');
  scalar('1.3.6.1.2.1.1.2', 'sysObjectID', T.OID, '1.3.6.1.4.1.4881.1.1.10.1.1');
  scalar('1.3.6.1.2.1.1.5', 'sysName', T.OctetString, name);
  // An object after every served table, so a walk ends on another object (see sim/gateway.ts).
  scalar('1.3.6.1.6.3.10.2.1.2', 'snmpEngineBoots', T.Integer, 1);

  const table = (tableName: string, oid: string, columns: Column[], tableIndex: NonNullable<TableProvider['tableIndex']>, rows: unknown[][]): void => {
    mib.registerProvider({ name: tableName, type: snmp.MibProviderType.Table, oid, maxAccess: NA, tableColumns: columns, tableIndex });
    for (const r of rows) mib.addTableRow(tableName, r);
  };
  const registered: string[] = [];
  const build = (): void => {
    for (const n of registered.splice(0).reverse()) mib.unregisterProvider(n);
    const list = [...devices.values()];
    const withIp = list.filter((d) => d.ip);
    if (enabled.ipNetToPhysical) {
      table(
        'ipNetToPhysicalTable',
        '1.3.6.1.2.1.4.35.1',
        [
          col(1, 'ipNetToPhysicalIfIndex', T.Integer, NA),
          col(2, 'ipNetToPhysicalNetAddressType', T.Integer, NA),
          col(3, 'ipNetToPhysicalNetAddress', T.OctetString, NA),
          col(4, 'ipNetToPhysicalPhysAddress', T.OctetString),
          col(6, 'ipNetToPhysicalType', T.Integer),
          col(7, 'ipNetToPhysicalState', T.Integer),
        ],
        [{ columnName: 'ipNetToPhysicalIfIndex' }, { columnName: 'ipNetToPhysicalNetAddressType' }, { columnName: 'ipNetToPhysicalNetAddress' }],
        withIp.map((d) => [2, 1, ipBytes(d.ip as string), macBytes(d.mac), 3, 1]),
      );
      registered.push('ipNetToPhysicalTable');
    }
    if (enabled.ipNetToMedia) {
      table(
        'ipNetToMediaTable',
        '1.3.6.1.2.1.4.22.1',
        [col(1, 'ipNetToMediaIfIndex', T.Integer), col(2, 'ipNetToMediaPhysAddress', T.OctetString), col(3, 'ipNetToMediaNetAddress', T.IpAddress), col(4, 'ipNetToMediaType', T.Integer)],
        [{ columnName: 'ipNetToMediaIfIndex' }, { columnName: 'ipNetToMediaNetAddress' }],
        withIp.map((d) => [2, macBytes(d.mac), d.ip, 3]),
      );
      registered.push('ipNetToMediaTable');
    }
    if (enabled.lldp) {
      const lldp = list.filter((d) => d.lldp);
      table(
        'lldpRemTable',
        '1.0.8802.1.1.2.1.4.1.1',
        [
          col(1, 'lldpRemTimeMark', T.TimeTicks, NA),
          col(2, 'lldpRemLocalPortNum', T.Integer, NA),
          col(3, 'lldpRemIndex', T.Integer, NA),
          col(4, 'lldpRemChassisIdSubtype', T.Integer),
          col(5, 'lldpRemChassisId', T.OctetString),
          col(6, 'lldpRemPortIdSubtype', T.Integer),
          col(7, 'lldpRemPortId', T.OctetString),
          col(8, 'lldpRemPortDesc', T.OctetString),
          col(9, 'lldpRemSysName', T.OctetString),
          col(10, 'lldpRemSysDesc', T.OctetString),
          col(11, 'lldpRemSysCapSupported', T.OctetString),
          col(12, 'lldpRemSysCapEnabled', T.OctetString),
        ],
        [{ columnName: 'lldpRemTimeMark' }, { columnName: 'lldpRemLocalPortNum' }, { columnName: 'lldpRemIndex' }],
        lldp.map((d, i) => {
          const l = d.lldp as NonNullable<SimDevice['lldp']>;
          return [0, d.port ?? 1, i + 1, 4, macBytes(d.mac), 5, 'eth0', 'eth0', l.sysName, l.sysDescr, capabilityBits(l.capabilities), capabilityBits(l.capabilities)];
        }),
      );
      registered.push('lldpRemTable');
      table(
        'lldpRemManAddrTable',
        '1.0.8802.1.1.2.1.4.2.1',
        [col(1, 'lldpRemManAddrSubtype', T.Integer, NA), col(2, 'lldpRemManAddr', T.OctetString, NA), col(3, 'lldpRemManAddrIfSubtype', T.Integer), col(4, 'lldpRemManAddrIfId', T.Integer)],
        [
          { columnName: 'lldpRemTimeMark', foreign: 'lldpRemTable' },
          { columnName: 'lldpRemLocalPortNum', foreign: 'lldpRemTable' },
          { columnName: 'lldpRemIndex', foreign: 'lldpRemTable' },
          { columnName: 'lldpRemManAddrSubtype' },
          { columnName: 'lldpRemManAddr' },
        ],
        lldp.flatMap((d, i) => (d.lldp?.managementIp ? [[0, d.port ?? 1, i + 1, 1, ipBytes(d.lldp.managementIp), 2, 0]] : [])),
      );
      registered.push('lldpRemManAddrTable');
    }
    if (enabled.fdb) {
      table(
        'dot1dTpFdbTable',
        '1.3.6.1.2.1.17.4.3.1',
        [col(1, 'dot1dTpFdbAddress', T.OctetString), col(2, 'dot1dTpFdbPort', T.Integer), col(3, 'dot1dTpFdbStatus', T.Integer)],
        [{ columnName: 'dot1dTpFdbAddress', length: 6 }],
        list.map((d) => [macBytes(d.mac), d.port ?? 1, 3]),
      );
      registered.push('dot1dTpFdbTable');
    }
  };
  build();

  const port = await sim.listening().catch((e: unknown) => {
    throw new Error(`${(e as Error).message} (switch ${name})`);
  });
  let stopped: Promise<void> | undefined;
  return {
    name,
    host: bindHost,
    port,
    community,
    devices: () => [...devices.values()],
    addDevices(list) {
      for (const d of list) devices.set(d.mac, d);
      build();
    },
    removeDevices(macs) {
      for (const m of macs) devices.delete(m);
      build();
    },
    setTable(t, on) {
      enabled[t] = on;
      build();
    },
    setMuted(m) {
      sim.muted = m;
    },
    get requests() {
      return sim.requests;
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
}
