/**
 * A contract server for the InfluxDB v2 write API (`POST /api/v2/write`), for tests: no InfluxDB 1.8+,
 * 2.x or 3.x can be installed on the build machines, so the sink is tested against this server, which
 * follows the documented API:
 *   https://docs.influxdata.com/influxdb/v2/api/#operation/PostWrite
 *   https://docs.influxdata.com/influxdb/v2/write-data/troubleshoot/ (status codes)
 *
 * - `Authorization: Token <token>` required, else 401 `{"code":"unauthorized","message":"unauthorized access"}`;
 * - `org` and `bucket` query parameters required (400 `invalid`), unknown org/bucket → 404 `not found`;
 * - `precision` one of ns, us, ms, s (default ns), else 400;
 * - `Content-Encoding: gzip` or identity; a broken gzip body → 400;
 * - a body over `maxBodyBytes` (after decompression) → 413 `request too large`;
 * - every line is checked (measurement, fields, integer timestamp); the first malformed one → 400
 *   `invalid` with `unable to parse '<line>': …`, and nothing of the request is stored;
 * - 204 with an empty body once every line is stored.
 * Tests script 429/503 answers (with or without Retry-After) with `failNext()`. Loopback only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One request the server received, after decoding. */
export interface ReceivedWrite {
  org: string | null;
  bucket: string | null;
  precision: string | null;
  authorization: string | undefined;
  contentEncoding: string | undefined;
  /** Raw body size on the wire, bytes. */
  wireBytes: number;
  lines: string[];
  status: number;
}

/** A scripted failure answered instead of processing the next write. */
export interface ScriptedFailure {
  status: 429 | 500 | 503;
  /** Sent as Retry-After when set (a number of seconds, or an HTTP date string). */
  retryAfter?: string;
  /** Error message in the JSON body. */
  message?: string;
}

export interface Influx2ContractServer {
  url: string;
  /** Every write request, in order, whatever its answer. */
  requests: ReceivedWrite[];
  /** Lines stored per bucket (only from requests answered 204). */
  stored: Map<string, string[]>;
  /** Answers the next write requests with these failures, one each, before working normally again. */
  failNext(...failures: ScriptedFailure[]): void;
  /** Treats every line of this measurement as malformed (the way a real server refuses a bad line). */
  refuseMeasurement(name: string): void;
  /** Delays every answer by this many ms (to test timeouts). */
  setDelayMs(ms: number): void;
  close(): Promise<void>;
}

export interface Influx2ContractServerOptions {
  token: string;
  org: string;
  /** Buckets that exist in the org. */
  buckets: string[];
  /** Largest accepted body after decompression, bytes. Default 1 MiB. */
  maxBodyBytes?: number;
}

const PRECISIONS = new Set(['ns', 'us', 'ms', 's']);

/** A light line-protocol check: measurement[,tag=v…] field=v[,…] [timestamp]; returns the problem or undefined. */
function lineProblem(line: string): string | undefined {
  // Split on unescaped spaces outside quoted strings.
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '\\' && i + 1 < line.length) {
      cur += c + line[i + 1];
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ' ' && !quoted) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  if (quoted) return 'unterminated string';
  if (parts.length < 2 || parts.length > 3) return 'missing fields';
  const [head, fields, ts] = parts as [string, string, string | undefined];
  if (!head || head.startsWith(',')) return 'missing measurement';
  for (const tag of head.split(/(?<!\\),/).slice(1)) if (!/^[^=]+=.+$/.test(tag)) return `invalid tag ${tag}`;
  for (const f of fields.split(/(?<!\\),(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const m = /^(.+?)(?<!\\)=(.*)$/.exec(f);
    if (!m) return `invalid field format`;
    const v = m[2] as string;
    if (!/^(-?\d+(\.\d+)?([eE][-+]?\d+)?[iu]?|"(.|\n)*"|t|T|true|True|TRUE|f|F|false|False|FALSE)$/.test(v)) return `invalid field value ${v}`;
  }
  if (ts !== undefined && !/^-?\d+$/.test(ts)) return 'bad timestamp';
  return undefined;
}

/** Starts the server on a free loopback port. */
export async function startInflux2ContractServer(options: Influx2ContractServerOptions): Promise<Influx2ContractServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const requests: ReceivedWrite[] = [];
  const stored = new Map<string, string[]>();
  const failures: ScriptedFailure[] = [];
  let delayMs = 0;
  let refused: string | undefined;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, body?: { code: string; message: string }, headers: Record<string, string> = {}) => {
        const send = () => {
          if (body) res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
          else res.writeHead(status, headers).end();
        };
        if (delayMs > 0) setTimeout(send, delayMs);
        else send();
      };
      const u = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'GET' && (u.pathname === '/ping' || u.pathname === '/health')) {
        return u.pathname === '/ping'
          ? answer(204, undefined, { 'x-influxdb-version': 'contract' })
          : answer(200, { code: 'pass', message: 'ready for queries and writes' });
      }
      if (u.pathname !== '/api/v2/write') return answer(404, { code: 'not found', message: 'path not found' });
      if (req.method !== 'POST') return answer(405, { code: 'method not allowed', message: 'method not allowed' });
      const raw = Buffer.concat(chunks);
      const rec: ReceivedWrite = {
        org: u.searchParams.get('org'),
        bucket: u.searchParams.get('bucket'),
        precision: u.searchParams.get('precision'),
        authorization: req.headers.authorization,
        contentEncoding: req.headers['content-encoding'],
        wireBytes: raw.length,
        lines: [],
        status: 0,
      };
      requests.push(rec);
      const reply = (status: number, body?: { code: string; message: string }, headers?: Record<string, string>) => {
        rec.status = status;
        answer(status, body, headers);
      };
      if (req.headers.authorization !== `Token ${options.token}`) return reply(401, { code: 'unauthorized', message: 'unauthorized access' });
      const failure = failures.shift();
      if (failure) {
        return reply(failure.status, { code: failure.status === 429 ? 'too many requests' : 'unavailable', message: failure.message ?? 'service unavailable' }, failure.retryAfter !== undefined ? { 'retry-after': failure.retryAfter } : {});
      }
      if (!rec.org) return reply(400, { code: 'invalid', message: 'Please provide either orgID or org' });
      if (!rec.bucket) return reply(400, { code: 'invalid', message: 'Please provide bucket' });
      if (rec.org !== options.org) return reply(404, { code: 'not found', message: `organization name "${rec.org}" not found` });
      if (!options.buckets.includes(rec.bucket)) return reply(404, { code: 'not found', message: `bucket "${rec.bucket}" not found` });
      if (rec.precision !== null && !PRECISIONS.has(rec.precision)) return reply(400, { code: 'invalid', message: `invalid precision "${rec.precision}"` });
      let body: Buffer;
      const enc = req.headers['content-encoding'];
      if (enc === 'gzip') {
        try {
          body = gunzipSync(raw, { maxOutputLength: maxBodyBytes + 1 });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return reply(413, { code: 'request too large', message: 'unable to read data: request too large' });
          return reply(400, { code: 'invalid', message: 'failed to decompress gzip body' });
        }
      } else if (enc === undefined || enc === 'identity') {
        body = raw;
      } else {
        return reply(415, { code: 'unsupported media type', message: `unsupported content encoding ${enc}` });
      }
      if (body.length > maxBodyBytes) return reply(413, { code: 'request too large', message: 'unable to read data: request too large' });
      const lines = body.toString('utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
      for (const line of lines) {
        const problem = refused !== undefined && line.split(/[ ,]/)[0] === refused ? 'refused by the test' : lineProblem(line);
        if (problem) return reply(400, { code: 'invalid', message: `unable to parse '${line}': ${problem}` });
      }
      rec.lines = lines;
      const list = stored.get(rec.bucket) ?? [];
      list.push(...lines);
      stored.set(rec.bucket, list);
      reply(204);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stored,
    failNext: (...f) => failures.push(...f),
    setDelayMs: (ms) => (delayMs = ms),
    refuseMeasurement: (name) => (refused = name),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
