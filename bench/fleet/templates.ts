/**
 * Batch bodies for the load generator, cheap enough that 60,000 simulated agents fit beside the
 * collector on 2 cores. Encoding a batch with the agent's encoder costs 0.4-0.8 ms, most of it in
 * toColumns(); 800 batches/s would take half a core. So each distinct batch (reports per batch ×
 * measurement variant × digits of the sequence number) is encoded once by the agent's own encoder
 * (`toColumns`, the inner layer of `x-campuslink-cols1`) with sentinel values for school, sequence and
 * times; a batch is then that JSON with the real values patched in, deflated with the protocol's
 * dictionary at the agent's level 9, by one zlib context reset between batches (ReusedDeflate). The
 * result is byte for byte what `encodeBatch()` gives for the same reports: `TemplateBank.verify()`
 * checks it (the generator does so for a sample of batches, the test for many).
 */
import { constants, DeflateRaw, deflateRawSync } from 'node:zlib';
import { toColumns } from '../../protocol/columns.js';
import { COLS_ENCODING, COLUMNS_DICTIONARY, encodeBatch, PROTOCOL_VERSION, type Measurement, type Report } from '../../protocol/index.js';
import { CYCLE_MS, rnd } from './fleet.js';

/** Measurement variants: values differ between them, so InfluxDB does not see one constant series. */
export const VARIANTS = 16;
/** The agent name every simulated gateway uses. */
export const AGENT = 'gw-01';

/** What changes from batch to batch of one agent. */
export interface BatchValues {
  school: string;
  /** Sequence of the first report; the others follow by one. */
  seq: number;
  /** Collection time of the first report, ms; the others follow by one cycle. */
  collectedAt: number;
  sentAt: number;
}

/** What a batch looks like apart from its values. */
export interface BatchKind {
  reports: number;
  variant: number;
  /** Satellite schools also report their modem. */
  satellite: boolean;
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));
const rtt = (v: number) => round(v, v < 10 ? 3 : 2);

/** A typical gateway's measurements (5 ping targets, 4 interfaces, sys, 9 inventory classes, agent; modem on satellite). */
export function fleetMeasurements(variant: number, satellite: boolean): Measurement[] {
  const ms: Measurement[] = (['gateway', 'isp', 'platform', 'peer', 'internet'] as const).map((role, i) => {
    const avg = rtt(([0.4, 8, 25, 31, 42][i] as number) * (satellite && i > 0 ? 15 : 1) * (1 + rnd(variant * 7 + i) * 0.3));
    return { name: 'ping', tags: { target: `ping-${role}.example.net`, role }, fields: { rtt_min_ms: rtt(avg * 0.8), rtt_avg_ms: avg, rtt_max_ms: rtt(avg * 1.4), jitter_ms: rtt(avg * 0.1), loss_pct: 0, sent: 5, received: 5, result_code: 0 } };
  });
  for (const [i, [ifname, role]] of ([['ge-0/0/0', 'wan'], ['ge-0/0/1', 'lan'], ['ge-0/0/2', 'lan'], ['wlan0', 'lan']] as const).entries()) {
    const inBps = Math.round(2e6 * rnd(variant * 11 + i));
    const outBps = Math.round(1e6 * rnd(variant * 13 + i));
    ms.push({ name: 'iface', tags: { device: 'gateway', ifname, role }, fields: { in_bps: inBps, out_bps: outBps, speed_bps: 1e9, in_util_pct: round((inBps / 1e9) * 100, 2), out_util_pct: round((outBps / 1e9) * 100, 2), oper_up: 1, in_errors: 0, out_errors: 0, in_discards: 0, out_discards: 0 } });
  }
  ms.push({ name: 'sys', tags: { device: 'gateway' }, fields: { uptime_s: 86400 + variant * 60, result_code: 0, errors: 0 } });
  for (const [i, cls] of ['ap', 'display', 'pc', 'phone', 'printer', 'camera', 'switch', 'router', 'iot'].entries()) ms.push({ name: 'inventory', tags: { class: cls }, fields: { count: [6, 12, 48, 30, 2, 4, 3, 1, 5][i] as number } });
  if (satellite) ms.push({ name: 'modem', tags: { device: 'vsat', profile: 'idirect' }, fields: { snr_db: round(9 + rnd(variant) * 2, 2), rx_power_dbm: round(-42 - rnd(variant + 1) * 3, 2), tx_power_dbm: round(-10 + rnd(variant + 2), 2), modcod: 12, rain_fade_db: round(rnd(variant + 3) * 0.5, 2) } });
  ms.push({ name: 'agent', tags: { version: '0.1.0' }, fields: { spool_reports: 0, spool_bytes: 0, dropped_reports: 0, sent_bytes: 1000 * (variant + 1), cycle_ms: 900 + Math.round(rnd(variant + 4) * 200), rss_bytes: 60_000_000, uptime_s: 3600 + variant * 60 } });
  return ms;
}

/** The reports of one batch, as the agent would send them (sentAt the same on all, as delivery.ts sets it). */
export function batchReports(kind: BatchKind, v: BatchValues): Report[] {
  const measurements = fleetMeasurements(kind.variant, kind.satellite);
  return Array.from({ length: kind.reports }, (_, j) => ({ v: PROTOCOL_VERSION, school: v.school, agent: AGENT, seq: v.seq + j, collectedAt: v.collectedAt + j * CYCLE_MS, sentAt: v.sentAt, measurements }));
}

type Slot = (v: BatchValues) => string;

/** The columnar JSON of one kind of batch with holes for the values. */
class Template {
  constructor(
    private readonly parts: readonly string[],
    private readonly slots: readonly Slot[],
  ) {}

  json(v: BatchValues): string {
    let s = this.parts[0] as string;
    for (let i = 0; i < this.slots.length; i++) s += (this.slots[i] as Slot)(v) + (this.parts[i + 1] as string);
    return s;
  }
}

const SCHOOL_SENTINEL = '9876543210';
const TIME_SENTINEL = 1_700_000_123_457;
const SENT_SENTINEL = 1_700_000_987_653;

function seqSentinel(digits: number, attempt: number): number {
  // Digits like 7, 3, 1, 9… are rare among the batch's other numbers; the same digit count keeps the
  // encoder's choice between plain values and differences the same as for the real sequence numbers.
  const s = String(7_319_283_746_192 + attempt * 1_111_111).slice(0, digits);
  // One digit: small enough that the batch's last sequence keeps one digit too.
  return Number(digits === 1 ? String([3, 4, 5, 2, 1][attempt]) : s);
}

function build(kind: BatchKind, digits: number): Template | undefined {
  for (let attempt = 0; attempt < 5; attempt++) {
    const S = seqSentinel(digits, attempt);
    const reports = batchReports(kind, { school: SCHOOL_SENTINEL, seq: S, collectedAt: TIME_SENTINEL, sentAt: SENT_SENTINEL });
    const json = JSON.stringify(toColumns(reports));
    const wanted = new Map<string, Slot>();
    for (let j = 0; j < kind.reports; j++) {
      wanted.set(String(S + j), (v) => String(v.seq + j));
      wanted.set(String(TIME_SENTINEL + j * CYCLE_MS), (v) => String(v.collectedAt + j * CYCLE_MS));
    }
    wanted.set(String(SENT_SENTINEL), (v) => String(v.sentAt));
    const parts: string[] = [];
    const slots: Slot[] = [];
    const seen = new Set<string>();
    let last = 0;
    let clash = false;
    for (const m of json.matchAll(/(?<=[[,:])-?\d+(?=[,\]}])|"9876543210"/g)) {
      const tok = m[0];
      const slot: Slot | undefined = tok === `"${SCHOOL_SENTINEL}"` ? (v) => JSON.stringify(v.school) : wanted.get(tok);
      if (!slot) continue;
      if (seen.has(tok)) clash = true;
      seen.add(tok);
      parts.push(json.slice(last, m.index));
      slots.push(slot);
      last = (m.index as number) + tok.length;
    }
    parts.push(json.slice(last));
    if (!clash && seen.has(String(S)) && seen.has(String(TIME_SENTINEL)) && seen.has(String(SENT_SENTINEL)) && seen.has(`"${SCHOOL_SENTINEL}"`)) return new Template(parts, slots);
  }
  // Short sequences (1-2 digits) may equal other numbers of the batch: such batches are encoded in full.
  return undefined;
}

/** What ReusedDeflate needs of zlib's native handle (node:zlib internals, stable since Node 10). */
interface ZlibHandle {
  reset(): void;
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
}

/**
 * Raw deflate at level 9 with the columnar dictionary, byte for byte what `deflateRawSync(input, { level: 9,
 * dictionary })` gives, on one zlib context reset between inputs (reset sets the dictionary again).
 * `deflateRawSync` makes and frees a context per call: at level 9 ~400 kB of native memory that V8 counts as
 * external memory, so 800 calls a second also drive the generator's garbage collector. Falls back to
 * `deflateRawSync` when the handle is not what it expects or zlib reports an error.
 */
export class ReusedDeflate {
  private readonly stream: DeflateRaw | undefined;
  private readonly handle: ZlibHandle | undefined;
  private readonly state: Uint32Array | undefined;
  private out = Buffer.allocUnsafe(64 * 1024);

  constructor(private readonly dictionary: Buffer) {
    const stream = new DeflateRaw({ level: 9, dictionary });
    const internals = stream as unknown as { _handle?: ZlibHandle; _writeState?: Uint32Array };
    if (typeof internals._handle?.writeSync !== 'function' || typeof internals._handle.reset !== 'function' || !(internals._writeState instanceof Uint32Array)) {
      stream.close();
      return;
    }
    // zlib's error destroys the stream at once (and emits 'error' later): deflate() checks `destroyed`.
    stream.on('error', () => undefined);
    this.stream = stream;
    this.handle = internals._handle;
    this.state = internals._writeState;
  }

  /** The deflated input. */
  deflate(input: Buffer): Buffer {
    if (!this.handle || !this.state || this.stream?.destroyed) return deflateRawSync(input, { level: 9, dictionary: this.dictionary });
    // Room for incompressible input and the block headers (zlib's deflateBound is smaller).
    if (this.out.length < input.length + 1024) this.out = Buffer.allocUnsafe(input.length * 2 + 1024);
    this.handle.reset();
    this.handle.writeSync(constants.Z_FINISH, input, 0, input.length, this.out, 0, this.out.length);
    const availOut = this.state[0] as number;
    const availIn = this.state[1] as number;
    // A full output buffer means the stream may not be finished: never guess, do it the plain way.
    if (this.stream?.destroyed || availIn !== 0 || availOut === 0) return deflateRawSync(input, { level: 9, dictionary: this.dictionary });
    return Buffer.from(this.out.subarray(0, this.out.length - availOut));
  }

  /** Frees the zlib context. */
  close(): void {
    this.stream?.close();
  }
}

/** Every template the fleet needs, built on first use. */
export class TemplateBank {
  private readonly byKey = new Map<string, Template | undefined>();

  private template(kind: BatchKind, seq: number): Template | undefined {
    const digits = String(seq).length;
    const key = `${kind.reports}/${kind.variant}/${kind.satellite ? 1 : 0}/${digits}`;
    if (!this.byKey.has(key)) this.byKey.set(key, build(kind, digits));
    return this.byKey.get(key);
  }

  /** Batches encoded in full: sequences that change digit count within the batch (9 → 10), or of 1-2 digits. */
  fullEncodes = 0;

  /** The columnar JSON of a batch (before deflate). */
  json(kind: BatchKind, v: BatchValues): string {
    const t = String(v.seq).length === String(v.seq + kind.reports - 1).length ? this.template(kind, v.seq) : undefined;
    if (t) return t.json(v);
    this.fullEncodes++;
    return JSON.stringify(toColumns(batchReports(kind, v)));
  }

  private readonly deflater = new ReusedDeflate(COLUMNS_DICTIONARY);

  /** The wire body of a batch, synchronously (~30 µs: the async form would cost a zlib context per call). */
  bodySync(kind: BatchKind, v: BatchValues): Buffer {
    return this.deflater.deflate(Buffer.from(this.json(kind, v), 'utf8'));
  }

  /** Whether a body is byte for byte what the agent's encodeBatch() makes of the same reports. */
  verify(kind: BatchKind, v: BatchValues, body: Buffer): boolean {
    return encodeBatch(batchReports(kind, v), COLS_ENCODING).equals(body);
  }
}
