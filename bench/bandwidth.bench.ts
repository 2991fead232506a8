/**
 * Bytes on the wire per school per day at a 1-minute cycle, for a typical school's 21 measurements
 * (5 ping targets, 4 interfaces, sys, 9 inventory classes, modem, agent). Every byte is counted by the
 * link emulator (sim/link): HTTP requests and answers, headers included.
 *
 * campuslink: the real uploader into the real collector app (dedupe on, in-memory sink), with the
 * upload interval of each link type. Peer, in the same run: the same measurements as InfluxDB line
 * protocol (global tags host + school, ns timestamps, every number a float — Telegraf would add an
 * `i` to integer fields, one byte more each), sent as Telegraf's outputs.influxdb does it
 * (its request headers) into a real influxd (its answer headers), one flush per minute, raw and gzip.
 * A day is sent back to back (no waiting); the bytes do not depend on the pauses.
 *
 * Over TLS (the collector's own HTTPS, HTTP/2 by ALPN) the handshakes cross the same link and are counted: one
 * connection all day, the link cutting every connection every 4 hours or every hour (the agent reconnects and
 * resumes its TLS session with the ticket it kept), the hourly case without resumption, and HTTP/1.1 over TLS.
 *
 * Goal: ≤ 300 KB per school per day with live data ≤ 5 minutes behind (the GEO satellite policy), cleartext and
 * over TLS with a drop every 4 hours.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { CollectorPool } from '../agent/transport/pool.js';
import { UPLOAD_INTERVAL_MS } from '../agent/transport/policy.js';
import { createApp, type AppOptions } from '../collector/http/app.js';
import { createIngest } from '../collector/http/ingest.js';
import { listen } from '../collector/http/listener.js';
import { DedupeStore } from '../collector/ingest/dedupe.js';
import { openStateDb } from '../collector/state/db.js';
import { startInfluxd } from '../collector/sink/influxd.js';
import type { Point, Sink } from '../collector/sink/sink.js';
import type { Measurement, Report } from '../protocol/index.js';
import { LinkEmulator } from '../sim/link/emulator.js';
import { makeTestCerts, type TestCerts } from '../test/helpers/certs.js';
import { typicalReport } from '../test/helpers/reports.js';
import type { BenchResult } from './snmp-poll.bench.js';

const DAY_REPORTS = 1440;
const SCHOOL = '1640104001';
const TOKEN = `clk1_${'x'.repeat(43)}`;
const GOAL_BYTES = 300 * 1024;

function report(seq: number): Report {
  // The agent measurement as a running agent writes it: its spool is empty in steady state.
  return typicalReport({ seq, school: SCHOOL });
}

/** Line protocol as Telegraf writes it: measurement,tags fields timestamp(ns). */
function lineProtocol(r: Report): string {
  const esc = (s: string) => s.replace(/[ ,=]/g, (c) => `\\${c}`);
  return r.measurements
    .map((m: Measurement) => {
      const tags = Object.entries({ ...m.tags, host: r.agent, school: r.school }).sort(([a], [b]) => a.localeCompare(b));
      const fields = Object.entries(m.fields as Record<string, number | string>).map(([k, v]) => `${k}=${typeof v === 'number' ? String(v) : JSON.stringify(v)}`);
      return `${m.name},${tags.map(([k, v]) => `${esc(k)}=${esc(String(v))}`).join(',')} ${fields.join(',')} ${r.collectedAt}000000`;
    })
    .join('\n');
}

async function through<T>(target: { host: string; port: number }, fn: (url: string, link: LinkEmulator) => Promise<T>): Promise<{ up: number; down: number; connections: number; result: T }> {
  const link = new LinkEmulator({ target });
  const { url } = await link.start();
  try {
    const result = await fn(url, link);
    return { up: link.counters.upBytes, down: link.counters.downBytes, connections: link.counters.connections, result };
  } finally {
    await link.stop();
  }
}

/** Over TLS: the certificates, how often the link drops every connection (in uploads; 0 never), and whether tickets are kept. */
interface TlsDay {
  certs: TestCerts;
  dropEveryUploads: number;
  resume: boolean;
}

interface DayBytes {
  up: number;
  down: number;
  uploads: number;
  connections: number;
  /** TLS handshakes of the HTTP/2 connection, and how many resumed a session. */
  handshakes?: { handshakes: number; resumed: number };
}

/** campuslink: one day with uploads every `everyReports` cycles, over HTTP/2 (the default) or HTTP/1.1, cleartext or TLS. */
async function campuslinkDay(everyReports: number, opts: { dictionary?: boolean; http2?: boolean; tls?: TlsDay } = {}): Promise<DayBytes> {
  const { dictionary = true, http2 = true, tls } = opts;
  const points: Point[] = [];
  const sink: Sink = { write: async (p) => void points.push(...p), ready: async () => true, close: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'cl-bench-bw-'));
  const state = openStateDb({ stateDir: dir });
  const dedupe = new DedupeStore({ state });
  const appOptions: AppOptions = {
    sink,
    dedupe,
    tokens: { verify: (t) => (t === TOKEN ? { id: 'bench', school: SCHOOL, sha256: '', issuedAt: '' } : undefined) },
    schools: { tagsFor: () => ({ school: SCHOOL, province: '640000', city: '640100', county: '640104', link: 'sat-geo' }) },
    log: pino({ level: 'silent' }),
    maxBodyBytes: 8 << 20,
    retryAfterS: 10,
  };
  // The collector's own listener: HTTP/1.1 and HTTP/2 on one port.
  const tlsSection = tls && { certFile: tls.certs.serverCert, keyFile: tls.certs.serverKey, clientCerts: 'off' as const, minVersion: 'TLSv1.2' as const, sessionTimeoutS: 86_400 };
  const server = await listen({ host: '127.0.0.1', port: 0, app: createApp(appOptions), ingest: createIngest(appOptions), log: appOptions.log, ...(tlsSection && { tls: tlsSection }) });
  try {
    const { up, down, connections, result } = await through({ host: '127.0.0.1', port: server.port }, async (plainUrl, link) => {
      const url = tls ? plainUrl.replace(/^http:/, 'https:') : plainUrl;
      const tlsConfig = tls && { caFile: tls.certs.caCert, systemCa: false, resumeSessions: tls.resume };
      const pool = new CollectorPool({ urls: [url], token: TOKEN, timeoutMs: 30_000, gzip: true, dictionary, http2, ...(tlsConfig && { tls: tlsConfig }), version: '0.1.0', now: Date.now });
      let uploads = 0;
      for (let seq = 1; seq <= DAY_REPORTS; seq += everyReports) {
        if (tls?.dropEveryUploads && uploads > 0 && uploads % tls.dropEveryUploads === 0) await dropConnections(link);
        const batch = Array.from({ length: Math.min(everyReports, DAY_REPORTS - seq + 1) }, (_, i) => report(seq + i));
        const r = await pool.send(batch);
        if (r.ack.accepted.length !== batch.length) throw new Error('not acknowledged');
        uploads++;
      }
      const handshakes = pool.tlsStats;
      pool.close();
      return { uploads, handshakes };
    });
    if (points.filter((p) => p.measurement === 'report').length !== DAY_REPORTS) throw new Error('the collector did not get the whole day');
    return { up, down, connections, uploads: result.uploads, ...(tls && { handshakes: result.handshakes }) };
  } finally {
    await server.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The link cuts every connection (a NAT timeout, a satellite handover), as a bad link does; the agent reconnects on its next upload. */
async function dropConnections(link: LinkEmulator): Promise<void> {
  link.setDown(true);
  link.setDown(false);
  // Let the agent see its connection close before the next upload, as it would in the minutes between uploads.
  await new Promise((r) => setTimeout(r, 20));
}

/** Telegraf: one /write per minute into a real influxd, raw or gzip, with Telegraf's request headers. */
async function telegrafDay(influxPort: number, gzip: boolean): Promise<{ up: number; down: number }> {
  const { up, down } = await through({ host: '127.0.0.1', port: influxPort }, async (url) => {
    const agent = new http.Agent({ keepAlive: true });
    const u = new URL('/write?db=telegraf', url);
    for (let seq = 1; seq <= DAY_REPORTS; seq++) {
      const raw = Buffer.from(`${lineProtocol(report(seq))}\n`);
      const body = gzip ? gzipSync(raw) : raw;
      const headers: http.OutgoingHttpHeaders = { 'User-Agent': 'Telegraf/1.30.0 Go/1.22.1', 'Content-Length': body.length, 'Content-Type': 'text/plain; charset=utf-8', 'Accept-Encoding': 'gzip' };
      if (gzip) headers['Content-Encoding'] = 'gzip';
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(u, { method: 'POST', headers, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
      if (status !== 204) throw new Error(`influxd answered ${status}`);
    }
    agent.destroy();
  });
  return { up, down };
}

const kb = (n: number) => Number((n / 1024).toFixed(1));

/** Runs the benchmark. */
export async function run(): Promise<BenchResult> {
  const geoEvery = UPLOAD_INTERVAL_MS['sat-geo'] / 60_000;
  const perCycle = await campuslinkDay(1);
  const geo = await campuslinkDay(geoEvery);
  const geoH1 = await campuslinkDay(geoEvery, { http2: false });
  const geoGzipH1 = await campuslinkDay(geoEvery, { dictionary: false, http2: false });
  const certs = makeTestCerts();
  let geoTls: DayBytes;
  let geoTls4h: DayBytes;
  let geoTlsHourly: DayBytes;
  let geoTlsHourlyNoResume: DayBytes;
  let geoTlsH1: DayBytes;
  try {
    geoTls = await campuslinkDay(geoEvery, { tls: { certs, dropEveryUploads: 0, resume: true } });
    geoTls4h = await campuslinkDay(geoEvery, { tls: { certs, dropEveryUploads: 240 / geoEvery, resume: true } });
    geoTlsHourly = await campuslinkDay(geoEvery, { tls: { certs, dropEveryUploads: 60 / geoEvery, resume: true } });
    geoTlsHourlyNoResume = await campuslinkDay(geoEvery, { tls: { certs, dropEveryUploads: 60 / geoEvery, resume: false } });
    geoTlsH1 = await campuslinkDay(geoEvery, { http2: false, tls: { certs, dropEveryUploads: 0, resume: true } });
  } finally {
    certs.remove();
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'cl-bench-influxd-'));
  const influxd = await startInfluxd({ dataDir });
  let tRaw: { up: number; down: number };
  let tGzip: { up: number; down: number };
  try {
    await fetch(`${influxd.url}/query?q=${encodeURIComponent('CREATE DATABASE telegraf')}`, { method: 'POST' });
    tRaw = await telegrafDay(influxd.port, false);
    tGzip = await telegrafDay(influxd.port, true);
  } finally {
    await influxd.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const total = (x: { up: number; down: number }) => x.up + x.down;
  // The goal holds for the worse of cleartext and TLS with the link dropping the connection every 4 hours
  // (every handshake counted: one full, five resumed). Hourly drops are reported beside it.
  const ratio = Math.max(total(geo), total(geoTls4h)) / GOAL_BYTES;
  return {
    name: `bandwidth per school per day, 1-minute cycle, ${report(1).measurements.length} measurements`,
    figures: {
      campuslink_upload_every_cycle_kb_day: kb(total(perCycle)),
      campuslink_upload_every_cycle_up_down_kb: `${kb(perCycle.up)} / ${kb(perCycle.down)}`,
      [`campuslink_geo_every_${geoEvery}_cycles_kb_day`]: kb(total(geo)),
      campuslink_geo_up_down_kb: `${kb(geo.up)} / ${kb(geo.down)}`,
      campuslink_geo_http1_kb_day: kb(total(geoH1)),
      campuslink_geo_http1_plain_gzip_kb_day: kb(total(geoGzipH1)),
      campuslink_geo_tls_h2_one_connection_kb_day: kb(total(geoTls)),
      campuslink_geo_tls_h2_reconnect_every_4h_resumed_kb_day: kb(total(geoTls4h)),
      campuslink_geo_tls_h2_4h_up_down_kb: `${kb(geoTls4h.up)} / ${kb(geoTls4h.down)}`,
      campuslink_geo_tls_h2_4h_handshakes_resumed: `${geoTls4h.handshakes?.handshakes} / ${geoTls4h.handshakes?.resumed}`,
      campuslink_geo_tls_h2_hourly_reconnect_resumed_kb_day: kb(total(geoTlsHourly)),
      campuslink_geo_tls_h2_hourly_up_down_kb: `${kb(geoTlsHourly.up)} / ${kb(geoTlsHourly.down)}`,
      campuslink_geo_tls_h2_hourly_handshakes_resumed: `${geoTlsHourly.handshakes?.handshakes} / ${geoTlsHourly.handshakes?.resumed}`,
      campuslink_geo_tls_h2_hourly_reconnect_no_resumption_kb_day: kb(total(geoTlsHourlyNoResume)),
      campuslink_geo_tls_http1_kb_day: kb(total(geoTlsH1)),
      telegraf_line_protocol_raw_1min_flush_kb_day: kb(total(tRaw)),
      telegraf_line_protocol_gzip_1min_flush_kb_day: kb(total(tGzip)),
      geo_vs_telegraf_gzip: Number((total(geo) / total(tGzip)).toFixed(3)),
    },
    ratio,
    goal: 'GEO policy bytes/day (h2c, and h2 over TLS with the link dropping it every 4 h) ÷ 300 KB ≤ 1',
    pass: ratio <= 1,
  };
}
