/**
 * A stand-in collector for measuring the load generator alone (bench/generator-cost.bench.ts): an h2c
 * server that decodes each upload with the protocol's own decodeBatch() and acknowledges every report
 * as the collector does (`accepted`: the sequences). Like the collector's listener it closes a session
 * that had no request answered within `unauthenticatedTimeoutMs` and one idle for `sessionIdleTimeoutMs`,
 * so a generator that opens sessions long before it uses them pays for reopening them, as it does
 * against the real collector. Run as a child process: prints `{"port":N}` on stdout when listening, and
 * on SIGTERM `{"requests":N,"reports":N,"sessions":N,"closedUnused":N}` before it exits.
 *
 *   npx tsx bench/fleet/ack-server.ts [unauthenticatedTimeoutMs] [sessionIdleTimeoutMs]
 */
import http2 from 'node:http2';
import { pathToFileURL } from 'node:url';
import { COLS_ENCODING, decodeBatch } from '../../protocol/index.js';

/** What the server counted. */
export interface AckServerCounts {
  requests: number;
  reports: number;
  sessions: number;
  /** Sessions closed because no request came within the unauthenticated timeout. */
  closedUnused: number;
}

function answer(stream: http2.ServerHttp2Stream, status: number, body: string): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': status, 'content-type': 'application/json' });
  stream.end(body);
}

/** Starts the server on 127.0.0.1 (port 0: any); resolves with it and its counts. */
export function startAckServer(opts: { port?: number; unauthenticatedTimeoutMs?: number; sessionIdleTimeoutMs?: number } = {}): Promise<{ server: http2.Http2Server; port: number; counts: AckServerCounts }> {
  const counts: AckServerCounts = { requests: 0, reports: 0, sessions: 0, closedUnused: 0 };
  const server = http2.createServer({ settings: { maxConcurrentStreams: 16 } });
  server.on('session', (s) => {
    counts.sessions++;
    let used = false;
    s.once('stream', () => (used = true));
    const timer = setTimeout(() => {
      if (used || s.destroyed) return;
      counts.closedUnused++;
      s.destroy();
    }, opts.unauthenticatedTimeoutMs ?? 60_000).unref();
    s.once('close', () => clearTimeout(timer));
    s.setTimeout(opts.sessionIdleTimeoutMs ?? 15 * 60_000, () => s.close());
    s.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      counts.requests++;
      try {
        const batch = decodeBatch(Buffer.concat(chunks), headers['content-encoding'] as string | undefined, { maxBytes: 1 << 20 }) as { reports: { seq: number }[] };
        const accepted = batch.reports.map((r) => r.seq);
        counts.reports += accepted.length;
        const body = JSON.stringify({ v: 1, accepted, duplicates: [], heldThrough: accepted.at(-1), serverTime: Date.now() });
        answer(stream, 200, body);
      } catch (e) {
        answer(stream, 400, JSON.stringify({ error: { code: 'BAD', message: `${COLS_ENCODING}: ${(e as Error).message}` } }));
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, counts }));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const num = (s: string | undefined) => (s ? Number(s) : undefined);
  const unauth = num(process.argv[2]);
  const idle = num(process.argv[3]);
  startAckServer({ ...(unauth !== undefined && { unauthenticatedTimeoutMs: unauth }), ...(idle !== undefined && { sessionIdleTimeoutMs: idle }) }).then(
    ({ port, counts }) => {
      process.stdout.write(`${JSON.stringify({ port })}\n`);
      process.once('SIGTERM', () => {
        process.stdout.write(`${JSON.stringify(counts)}\n`);
        process.exit(0);
      });
    },
    (e: Error) => {
      console.error(e);
      process.exit(1);
    },
  );
}
