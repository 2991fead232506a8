/**
 * Request-body encodings of `POST /api/v1/reports` beyond the standard ones (identity, gzip, deflate,
 * br), and one decoder for all of them that the collector uses whatever HTTP version carried the body.
 * `docs/protocol.md` describes them in prose. Both dictionaries are part of the protocol: never change
 * one; a different dictionary needs a new encoding name (a test pins both by their SHA-256).
 */
import { brotliDecompressSync, deflateRawSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { ColumnsError, fromColumns, toColumns } from './columns.js';
import { DictionaryInflater } from './raw-inflate.js';
import { MAX_REPORTS_PER_BATCH, PROTOCOL_VERSION, type IfaceRole, type Measurement, type PingRole, type Report } from './report.js';

/**
 * `Content-Encoding: x-campuslink-dict1`: raw deflate (RFC 1951) with this preset dictionary, a batch
 * of one typical report. The first report of every batch then compresses as well as the following ones
 * (about 45 % fewer bytes than gzip for a satellite school's 4-report batch). The dictionary is part of
 * the protocol: never change it; a different one needs a new encoding name.
 */
export const DICT_ENCODING = 'x-campuslink-dict1';

function dictionaryReport(): Report {
  const t = 1_795_420_800_000;
  const ping = (target: string, role: PingRole, avg: number): Measurement => ({
    name: 'ping',
    tags: { target, role },
    fields: { rtt_min_ms: avg * 0.8, rtt_avg_ms: avg, rtt_max_ms: avg * 1.5, jitter_ms: avg / 10, loss_pct: 0, sent: 5, received: 5, result_code: 0 },
  });
  const iface = (ifname: string, role: IfaceRole): Measurement => ({
    name: 'iface',
    tags: { device: 'gateway', ifname, role },
    fields: { in_bps: 1234567, out_bps: 234567, speed_bps: 1000000000, in_util_pct: 0.1235, out_util_pct: 0.0235, oper_up: 1, in_errors: 0, out_errors: 0, in_discards: 0, out_discards: 0 },
  });
  return {
    v: PROTOCOL_VERSION,
    school: '1640104001',
    agent: 'gw-01',
    seq: 1,
    collectedAt: t,
    sentAt: t + 1000,
    measurements: [
      ping('192.168.1.1', 'gateway', 0.512),
      ping('isp.example.net', 'isp', 8.125),
      ping('platform.example.edu.cn', 'platform', 25.25),
      ping('peer.example.edu.cn', 'peer', 31.5),
      ping('www.example.com', 'internet', 42.75),
      iface('ge-0/0/0', 'wan'),
      iface('ge-0/0/1', 'lan'),
      iface('ge-0/0/2', 'lan'),
      iface('wlan0', 'lan'),
      { name: 'sys', tags: { device: 'gateway' }, fields: { uptime_s: 86400, descr: 'gateway', result_code: 0, errors: 0 } },
      ...DEVICE_CLASS_NAMES.map((c): Measurement => ({ name: 'inventory', tags: { class: c }, fields: { count: 1 } })),
      { name: 'modem', tags: { device: 'vsat', profile: 'idirect' }, fields: { snr_db: 9.5, rx_power_dbm: -42.5, tx_power_dbm: -10.5, modcod: 12, rain_fade_db: 0.25 } },
      { name: 'agent', tags: { version: '0.1.0' }, fields: { spool_reports: 0, spool_bytes: 0, dropped_reports: 0, sent_bytes: 123456, cycle_ms: 1000, rss_bytes: 60000000, uptime_s: 3600, clock_offset_ms: 12 } },
    ],
  };
}

const DEVICE_CLASS_NAMES = ['ap', 'display', 'pc', 'phone', 'printer', 'camera', 'switch', 'router', 'iot', 'unknown'];

/** The preset dictionary of DICT_ENCODING. */
export const WIRE_DICTIONARY: Buffer = Buffer.from(`${JSON.stringify({ reports: [dictionaryReport()] })}{"v":1,"accepted":[],"duplicates":[],"heldThrough":0,"serverTime":`, 'utf8');

/**
 * `Content-Encoding: x-campuslink-cols1`: the batch in columnar form (columns.ts), then raw deflate
 * (RFC 1951) with COLUMNS_DICTIONARY. Lossless: the collector decodes it into the same JSON batch.
 * About 30 % fewer bytes than x-campuslink-dict1 for a satellite school's 4-report batch, because the
 * numbers of one field travel side by side instead of between repeated names.
 */
export const COLS_ENCODING = 'x-campuslink-cols1';

/**
 * Names that school gateways commonly use, then one typical report in columnar form: deflate finds
 * a school's structure in it even in the first batch after a start.
 */
const COLUMNS_VOCABULARY = [
  'eth0', 'eth1', 'eth2', 'br-lan', 'pppoe-wan', 'wan', 'lan', 'wlan1', 'ether1', 'GigabitEthernet0/0/1',
  'Vlanif1', 'core-switch', 'modem', 'router', '10.0.0.1', '192.168.0.1', '114.114.114.114', '223.5.5.5', 'www.baidu.com', '.edu.cn',
].join(' ');

/** The preset dictionary of COLS_ENCODING. */
export const COLUMNS_DICTIONARY: Buffer = Buffer.from(`${COLUMNS_VOCABULARY} ${JSON.stringify(toColumns([dictionaryReport()]))}`, 'utf8');

/** The request-body encodings an agent may send. */
export type BatchEncoding = 'identity' | 'gzip' | typeof DICT_ENCODING | typeof COLS_ENCODING;

/** Encodes a batch body for the wire. */
export function encodeBatch(reports: readonly Report[], encoding: BatchEncoding): Buffer {
  if (encoding === COLS_ENCODING) return deflateRawSync(JSON.stringify(toColumns(reports)), { level: 9, dictionary: COLUMNS_DICTIONARY });
  const json = Buffer.from(JSON.stringify({ reports }), 'utf8');
  if (encoding === DICT_ENCODING) return deflateRawSync(json, { level: 9, dictionary: WIRE_DICTIONARY });
  if (encoding === 'gzip') return gzipSync(json, { level: 9 });
  return json;
}

/** Why a body could not be decoded: `too-large` (413), `unsupported` encoding (415) or `invalid` data (400). */
export class WireError extends Error {
  constructor(
    readonly kind: 'too-large' | 'unsupported' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'WireError';
  }
}

/** One reused inflate context per dictionary encoding (raw-inflate.ts); bodies are decoded one at a time. */
const INFLATERS = { dict: new DictionaryInflater(WIRE_DICTIONARY), cols: new DictionaryInflater(COLUMNS_DICTIONARY) };

/** Whether the dictionary encodings inflate through reused zlib contexts on this node (else `inflateRawSync`). */
export const REUSED_INFLATE: boolean = INFLATERS.dict.reusing && INFLATERS.cols.reusing;

/** The body after its Content-Encoding: bytes, or the text itself where the inflater gives that. */
function inflate(body: Buffer, encoding: string, maxBytes: number): Buffer | string {
  const opts = { maxOutputLength: maxBytes };
  try {
    switch (encoding) {
      case '':
      case 'identity':
        return body;
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body, opts);
      case 'deflate':
        return inflateSync(body, opts);
      case 'br':
        return brotliDecompressSync(body, opts);
      case DICT_ENCODING:
        return INFLATERS.dict.inflateText(body, maxBytes);
      case COLS_ENCODING:
        return INFLATERS.cols.inflateText(body, maxBytes);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new WireError('too-large', `body exceeds ${maxBytes} bytes (after decompression)`);
    throw new WireError('invalid', `body is not valid ${encoding} data: ${(e as Error).message}`);
  }
  throw new WireError('unsupported', `unsupported Content-Encoding "${encoding}"; send identity, gzip, deflate, br, ${DICT_ENCODING} or ${COLS_ENCODING}`);
}

/**
 * Decodes a request body by its Content-Encoding into the JSON value of the batch (not yet validated).
 * `maxBytes` bounds the body after decompression and what a columnar body may expand into.
 */
export function decodeBatch(body: Buffer, contentEncoding: string | undefined, limits: { maxBytes: number }): unknown {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (body.length > limits.maxBytes) throw new WireError('too-large', `body exceeds ${limits.maxBytes} bytes`);
  const raw = inflate(body, encoding, limits.maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (e) {
    throw new WireError('invalid', `body is not valid JSON${encoding && encoding !== 'identity' ? ` (after ${encoding})` : ''}: ${(e as Error).message}`);
  }
  if (encoding !== COLS_ENCODING) return json;
  try {
    // The parsed body is ours alone: its shapes may become reports.
    return fromColumns(json, { maxReports: MAX_REPORTS_PER_BATCH, maxBytes: limits.maxBytes, consume: true });
  } catch (e) {
    if (e instanceof ColumnsError) throw new WireError('invalid', `body is not a valid ${COLS_ENCODING} batch: ${e.message}`);
    throw e;
  }
}
