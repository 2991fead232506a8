/**
 * Many simulated school gateways on ONE UDP socket, cheap enough to stand in for 2,000 of them: the
 * county proxy benchmark polls 2,000 48-port gateways a minute, and net-snmp's agent (sim/gateway.ts)
 * takes ~50 ms of CPU per such poll (1.6 cores for the lot), more than the proxy it is meant to load.
 * This responder speaks just enough SNMPv2c (GET, GETNEXT, GETBULK; BER by hand) for the interface
 * probe: sysDescr, sysUpTime, the ifTable and ifXTable columns it reads. The community names the
 * gateway (`gw<k>`, k from 0), so one socket serves all; counters grow with time at a per-gateway rate.
 * Loopback only, like every simulator here.
 */
import dgram from 'node:dgram';
import { isLoopbackHost } from './snmp-agent.js';

/** Options of the fleet responder. */
export interface FastSnmpFleetOptions {
  /** Gateways served (communities gw0 … gw<n-1>). */
  gateways: number;
  /** Ethernet ports per gateway (ifIndex 1 … n; port 1 is the 1 Gbit/s uplink). */
  ports: number;
  host?: string;
  port?: number;
}

export interface FastSnmpFleet {
  host: string;
  port: number;
  /** Requests answered. */
  readonly answered: number;
  /** Community of gateway k. */
  community(k: number): string;
  stop(): Promise<void>;
}

type Oid = number[];
/** A value as BER: tag and content bytes, computed per request. */
type Value = (gw: number, elapsedS: number) => Buffer;

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, content: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), len(content.length), content]);
function uint(tag: number, v: bigint): Buffer {
  const bytes: number[] = [];
  let x = v;
  do {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  } while (x > 0n);
  if ((bytes[0] as number) & 0x80) bytes.unshift(0);
  return tlv(tag, Buffer.from(bytes));
}
function int(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  let i = 0;
  while (i < 3 && ((b[i] === 0 && !((b[i + 1] as number) & 0x80)) || (b[i] === 0xff && (b[i + 1] as number) & 0x80))) i++;
  return tlv(0x02, b.subarray(i));
}
function encodeOid(oid: Oid): Buffer {
  const out: number[] = [40 * (oid[0] as number) + (oid[1] as number)];
  for (const sub of oid.slice(2)) {
    const b: number[] = [sub & 0x7f];
    for (let v = Math.floor(sub / 128); v > 0; v = Math.floor(v / 128)) b.unshift(0x80 | (v & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, Buffer.from(out));
}
function cmp(a: Oid, b: Oid): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** One TLV read from `buf` at `at`. */
function read(buf: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = buf[at] as number;
  let l = buf[at + 1] as number;
  let start = at + 2;
  if (l & 0x80) {
    const n = l & 0x7f;
    l = 0;
    for (let i = 0; i < n; i++) l = l * 256 + (buf[start + i] as number);
    start += n;
  }
  if (start + l > buf.length) throw new Error('truncated');
  return { tag, start, end: start + l };
}
const readInt = (buf: Buffer, t: { start: number; end: number }): number => {
  let v = (buf[t.start] as number) & 0x80 ? -1 : 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + (buf[i] as number);
  return v;
};
function readOid(buf: Buffer, t: { start: number; end: number }): Oid {
  const first = buf[t.start] as number;
  const out: Oid = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let v = 0;
  for (let i = t.start + 1; i < t.end; i++) {
    const b = buf[i] as number;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      out.push(v);
      v = 0;
    }
  }
  return out;
}

/** The MIB every gateway shares (values differ by gateway): sorted OIDs with their encoded form. */
function buildMib(ports: number): { oid: Oid; enc: Buffer; value: Value }[] {
  const rows: { oid: Oid; value: Value }[] = [];
  const str = (s: string) => tlv(0x04, Buffer.from(s));
  const speed = (i: number) => (i === 1 ? 1000 : 100);
  // Octets per second on port i of gateway g: the uplink carries the most.
  const rate = (g: number, i: number) => BigInt(((g % 97) + 1) * (i === 1 ? 50_000 : 2_000 + i * 10));
  rows.push({ oid: [1, 3, 6, 1, 2, 1, 1, 1, 0], value: (g) => str(`Simulated school gateway gw${g} (${ports} ports)`) });
  rows.push({ oid: [1, 3, 6, 1, 2, 1, 1, 3, 0], value: (g, s) => uint(0x43, BigInt(Math.floor((86_400 * ((g % 20) + 1) + s) * 100) % 2 ** 32)) });
  const ifCols: [number, (g: number, i: number, s: number) => Buffer][] = [
    [2, (_g, i) => str(`GigabitEthernet0/0/${i}`)],
    [3, () => int(6)],
    [5, (_g, i) => uint(0x42, BigInt(speed(i) * 1_000_000))],
    [8, () => int(1)],
    [10, (g, i, s) => uint(0x41, (rate(g, i) * BigInt(Math.floor(s))) % 2n ** 32n)],
    [13, () => uint(0x41, 0n)],
    [14, () => uint(0x41, 0n)],
    [16, (g, i, s) => uint(0x41, ((rate(g, i) / 4n) * BigInt(Math.floor(s))) % 2n ** 32n)],
    [19, () => uint(0x41, 0n)],
    [20, () => uint(0x41, 0n)],
  ];
  const ifxCols: [number, (g: number, i: number, s: number) => Buffer][] = [
    [1, (_g, i) => str(`GE0/0/${i}`)],
    [6, (g, i, s) => uint(0x46, rate(g, i) * BigInt(Math.floor(s)))],
    [10, (g, i, s) => uint(0x46, (rate(g, i) / 4n) * BigInt(Math.floor(s)))],
    [15, (_g, i) => uint(0x42, BigInt(speed(i)))],
  ];
  for (const [col, f] of ifCols) for (let i = 1; i <= ports; i++) rows.push({ oid: [1, 3, 6, 1, 2, 1, 2, 2, 1, col, i], value: (g, s) => f(g, i, s) });
  for (const [col, f] of ifxCols) for (let i = 1; i <= ports; i++) rows.push({ oid: [1, 3, 6, 1, 2, 1, 31, 1, 1, 1, col, i], value: (g, s) => f(g, i, s) });
  rows.sort((a, b) => cmp(a.oid, b.oid));
  return rows.map((r) => ({ ...r, enc: encodeOid(r.oid) }));
}

/** Starts the responder. */
export async function startFastSnmpFleet(opts: FastSnmpFleetOptions): Promise<FastSnmpFleet> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error(`fast SNMP sim: ${host} is not a loopback address`);
  const mib = buildMib(opts.ports);
  const t0 = Date.now();
  let answered = 0;
  /** Index of the first MIB row after `oid`. */
  const after = (oid: Oid): number => {
    let lo = 0;
    let hi = mib.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp((mib[mid] as (typeof mib)[number]).oid, oid) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    try {
      const top = read(msg, 0);
      const ver = read(msg, top.start);
      const com = read(msg, ver.end);
      const community = msg.subarray(com.start, com.end).toString();
      const g = /^gw(\d+)$/.exec(community);
      if (!g || Number(g[1]) >= opts.gateways) return;
      const gw = Number(g[1]);
      const pdu = read(msg, com.end);
      const reqId = read(msg, pdu.start);
      const a = read(msg, reqId.end);
      const b = read(msg, a.end);
      const vbl = read(msg, b.end);
      const oids: Oid[] = [];
      for (let at = vbl.start; at < vbl.end; ) {
        const vb = read(msg, at);
        oids.push(readOid(msg, read(msg, vb.start)));
        at = vb.end;
      }
      const s = (Date.now() - t0) / 1000;
      const out: Buffer[] = [];
      const vb = (enc: Buffer, value: Buffer) => out.push(tlv(0x30, Buffer.concat([enc, value])));
      const next = (i: number, fallbackOid: Oid) => {
        const row = mib[i];
        if (row) vb(row.enc, row.value(gw, s));
        else vb(encodeOid(fallbackOid), Buffer.from([0x82, 0]));
      };
      if (pdu.tag === 0xa0) {
        for (const oid of oids) {
          const i = after(oid) - 1;
          const row = mib[i];
          if (row && cmp(row.oid, oid) === 0) vb(row.enc, row.value(gw, s));
          else vb(encodeOid(oid), Buffer.from([0x80, 0]));
        }
      } else if (pdu.tag === 0xa1) {
        for (const oid of oids) next(after(oid), oid);
      } else if (pdu.tag === 0xa5) {
        const nonRep = Math.max(0, readInt(msg, a));
        const maxRep = Math.max(1, Math.min(100, readInt(msg, b)));
        oids.slice(0, nonRep).forEach((o) => next(after(o), o));
        const cursors = oids.slice(nonRep).map((o) => after(o));
        for (let r = 0; r < maxRep && (r === 0 || cursors.some((c) => c < mib.length)); r++) {
          cursors.forEach((c, k) => {
            next(c, oids[nonRep + k] as Oid);
            cursors[k] = c + 1;
          });
        }
      } else {
        return;
      }
      const body = Buffer.concat([tlv(0x02, msg.subarray(reqId.start, reqId.end)), int(0), int(0), tlv(0x30, Buffer.concat(out))]);
      const resp = tlv(0x30, Buffer.concat([int(1), tlv(0x04, Buffer.from(community)), tlv(0xa2, body)]));
      answered++;
      sock.send(resp, rinfo.port, rinfo.address);
    } catch {
      // A request this sim cannot read is dropped, as a real agent drops garbage.
    }
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(opts.port ?? 0, host, () => resolve());
  });
  return {
    host,
    port: sock.address().port,
    get answered() {
      return answered;
    },
    community: (k) => `gw${k}`,
    stop: () => new Promise<void>((r) => sock.close(() => r())),
  };
}
