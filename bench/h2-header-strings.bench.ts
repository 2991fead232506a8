/**
 * What a received HTTP/2 header costs the garbage collector (issue 11, session 10). Node's HTTP/2 binding hands
 * every header value outside HPACK's static table to JS as an external string over an nghttp2 buffer; V8 puts
 * external strings straight into the old generation, so no scavenge can reclaim one: each Mark-Compact finalizes,
 * inside its pause (`clear.external_string_table`), every one received since the one before.
 *
 * A child process (`--allow-natives-syntax --trace-gc-nvp`) serves `--uploads` POSTs on one HTTP/2 session with
 * `--headers` header values that are not in the static table (the agent sends 7: `:authority`, `:path`,
 * `authorization`, `content-type`, `content-length`, `content-encoding`, `user-agent`), keeps none of them, then
 * runs two scavenges and one Mark-Compact, `--rounds` times. Reported: whether a header value (and a copy of one
 * made with Buffer) is in the young generation, and the Mark-Compact's external-string-table phase in all and per
 * upload, for each header count, interleaved.
 *
 *   npx tsx bench/h2-header-strings.bench.ts [--uploads 20000] [--headers 7,4] [--rounds 3]
 */
import { execFileSync } from 'node:child_process';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] as string) : def;
}

/** `%InYoungGeneration(x)` where natives syntax is on (the child), undefined elsewhere. */
const inYoung = (() => {
  try {
    return new Function('x', 'return %InYoungGeneration(x)') as (x: unknown) => boolean;
  } catch {
    return undefined;
  }
})();

/** The child: serves the uploads, then collects; prints one JSON line. */
async function child(uploads: number, headers: number): Promise<void> {
  const gc = (globalThis as { gc?: (o?: { type: string }) => void }).gc as (o?: { type: string }) => void;
  let young: { value?: boolean; copy?: boolean } = {};
  const server = http2.createServer();
  server.on('stream', (s, h) => {
    if (young.value === undefined) {
      const v = h[':path'] as string;
      young = { value: inYoung?.(v), copy: inYoung?.(Buffer.from(v, 'latin1').toString('latin1')) };
    }
    s.respond({ ':status': 200 });
    s.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = http2.connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  gc();
  console.log('MARK');
  let done = 0;
  let sent = 0;
  await new Promise<void>((resolve) => {
    let inflight = 0;
    const pump = () => {
      while (inflight < 50 && sent < uploads) {
        sent++;
        inflight++;
        // Unique values, as an upload's are not all alike (content-length); ':path' and ':authority' count as two.
        const h: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': `/api/v1/reports?${sent}` };
        for (let k = 1; k <= headers - 2; k++) h[`x-h${k}`] = `value-${k}-${sent}`;
        const r = c.request(h);
        r.resume();
        r.on('close', () => {
          inflight--;
          if (++done === uploads) resolve();
          else pump();
        });
        r.end();
      }
    };
    pump();
  });
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  console.log('FULL');
  gc();
  console.log(`RESULT ${JSON.stringify(young)}`);
  c.close();
  server.close();
}

function field(line: string, k: string): number {
  return Number(new RegExp(` ${k.replace(/\./g, '\\.')}=([0-9.]+)`).exec(line)?.[1] ?? 0);
}

/** One child run: the forced Mark-Compact's pause and external-string phase, and the young-generation answers. */
function run(uploads: number, headers: number): { pauseMs: number; extMs: number; young: { value?: boolean; copy?: boolean } } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--expose-gc', '--allow-natives-syntax', '--trace-gc-nvp', HERE], {
    env: { ...process.env, H2_HEADERS_CHILD: `${uploads},${headers}` },
    encoding: 'latin1',
    maxBuffer: 256 * 2 ** 20,
  });
  const lines = out.split('\n');
  // Every Mark-Compact after MARK counts: V8 also starts some on its own while the uploads run.
  const from = lines.indexOf('MARK');
  const mcs = lines.slice(from).filter((l) => l.includes(' gc=mc '));
  const young = JSON.parse(lines.find((l) => l.startsWith('RESULT '))?.slice(7) ?? '{}');
  return { pauseMs: mcs.reduce((a, l) => a + field(l, 'pause'), 0), extMs: mcs.reduce((a, l) => a + field(l, 'clear.external_string_table'), 0), young };
}

function main(): void {
  const uploads = Number(arg('uploads', '20000'));
  const counts = arg('headers', '7,4').split(',').map(Number);
  const rounds = Number(arg('rounds', '3'));
  const ext = new Map<number, number[]>(counts.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of r % 2 ? [...counts].reverse() : counts) {
      const res = run(uploads, n);
      ext.get(n)?.push(res.extMs);
      console.log(`round ${r + 1}, ${n} header values an upload: Mark-Compacts after the uploads ${res.pauseMs.toFixed(1)} ms of pause, external string table ${res.extMs.toFixed(1)} ms (${((1000 * res.extMs) / uploads).toFixed(2)} µs an upload); a header value in the young generation: ${res.young.value}, its Buffer copy: ${res.young.copy}`);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const [n, xs] of ext) console.log(`${n} header values: median ${((1000 * med(xs)) / uploads).toFixed(2)} µs an upload in Mark-Compact's external-string phase (${xs.map((x) => ((1000 * x) / uploads).toFixed(2)).join(', ')}); load ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()}`);
}

if (process.env.H2_HEADERS_CHILD) {
  const [u, h] = process.env.H2_HEADERS_CHILD.split(',').map(Number);
  void child(u as number, h as number);
} else main();
