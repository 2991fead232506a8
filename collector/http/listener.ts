/**
 * One TCP port, two HTTP versions: HTTP/1.1 for everything (ingest, views, console) and cleartext
 * HTTP/2 with prior knowledge (RFC 9113 §3.3) for ingest. A connection is told apart by its first
 * bytes: HTTP/2 starts with the preface `PRI * HTTP/2.0`, no HTTP/1.1 method starts with `PRI `.
 *
 * Why HTTP/2 for agents: a satellite school uploads every few minutes over a metered link, and
 * HTTP/1.1 repeats about 450 bytes of headers with every batch. Over one long-lived HTTP/2 connection
 * HPACK sends the same headers in about 30 bytes (measured in bench/bandwidth.bench.ts).
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Logger } from 'pino';
import { errorAnswer } from './errors.js';
import type { IngestRequest, IngestResponse } from './ingest.js';

const PREFACE_START = Buffer.from('PRI ');

export interface ListenOptions {
  host: string;
  port: number;
  /** The HTTP/1.1 application (the express app). */
  app: http.RequestListener;
  /** The ingest handler HTTP/2 streams to `POST /api/v1/reports` go to. */
  ingest: (req: IngestRequest, res: IngestResponse) => void;
  log: Logger;
  /** An HTTP/2 connection without any stream for this long is closed, in ms. Longer than any upload interval. */
  h2IdleMs?: number;
  /** A connection that sends nothing for this long after connecting is closed, in ms. */
  firstByteTimeoutMs?: number;
}

/** The listening collector port. */
export interface Listener {
  readonly port: number;
  /** Connections taken so far, by HTTP version. */
  readonly connections: { http1: number; http2: number };
  /** Stops accepting, closes every connection of both versions. */
  close(): Promise<void>;
}

/** Listens on host:port and serves both HTTP versions; rejects when the port cannot be bound. */
export async function listen(opts: ListenOptions): Promise<Listener> {
  const h1 = http.createServer(opts.app);
  const h2 = http2.createServer({}, (req, res) => {
    if (req.method === 'POST' && req.url === '/api/v1/reports') return opts.ingest(req as unknown as IngestRequest, res as unknown as IngestResponse);
    const { status, body } = errorAnswer('COL_ERR_NOT_FOUND', 'over HTTP/2 this collector serves only POST /api/v1/reports; use HTTP/1.1 for the rest');
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  const idleMs = opts.h2IdleMs ?? 15 * 60_000;
  h2.on('session', (s) => {
    sessions.add(s);
    s.setTimeout(idleMs, () => s.close());
    s.on('close', () => sessions.delete(s));
    s.on('error', (e) => opts.log.debug({ err: e.message }, 'HTTP/2 session error'));
  });
  h2.on('sessionError', (e) => opts.log.debug({ err: e.message }, 'HTTP/2 session error'));

  const firstByteMs = opts.firstByteTimeoutMs ?? 60_000;
  const sockets = new Set<net.Socket>();
  const connections = { http1: 0, http2: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let head = Buffer.alloc(0);
    const ignore = () => {};
    socket.on('error', ignore);
    socket.setTimeout(firstByteMs, () => socket.destroy());
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < PREFACE_START.length && PREFACE_START.subarray(0, head.length).equals(head)) return;
      socket.removeListener('data', onData);
      socket.setTimeout(0);
      socket.pause();
      if (head.subarray(0, PREFACE_START.length).equals(PREFACE_START)) {
        // The HTTP/2 session takes over what is buffered in the socket.
        connections.http2++;
        socket.unshift(head);
        h2.emit('connection', socket);
      } else {
        // The HTTP/1.1 parser reads the socket's handle directly; what was read already is handed over as data.
        connections.http1++;
        h1.emit('connection', socket);
        socket.emit('data', head);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  // Starts the HTTP/1.1 server's own connection tracking (headers and request timeouts), as listening would.
  h1.emit('listening');
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : opts.port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        h1.close();
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
      }),
  };
}
