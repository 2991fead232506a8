/**
 * Collector CPU per HTTP/2 upload on the listener and ingest path alone (issue 11, session 7): a collector
 * process with this tree's `listen()` + `createIngest()` (per-token shares on, a sink that confirms at once, no
 * state database) against the same process built from the base commit's files (the peer), interleaved A/B
 * and repeated. A load process opens `--sessions` HTTP/2 sessions (one token each), each sending its uploads
 * one after another (agent bodies: x-campuslink-cols1, 1–2 reports) for `--seconds` after a warm-up. Reported:
 * µs of collector CPU (user + system, every thread) per answered upload, median and spread of the rounds,
 * and the ratio new ÷ base (lower is better).
 *
 *   npm run build && npx tsx bench/h2-upload.bench.ts [--sessions 200] [--rate 400] [--seconds 8] [--rounds 3] [--base <git ref>]
 *     [--hold-ms 0] [--gc]
 *
 * `--hold-ms`: the sink confirms each write this late (a busy InfluxDB), so uploads live across scavenges.
 * `--gc`: the collector runs with the soak's Node flags (COLLECTOR_NODE_FLAGS) and `--trace-gc-nvp`; each round reports its Mark-Compacts
 * and their external-string-table phase (where Node's HTTP/2 header strings are finalized) per answered upload.
 *
 * Both collectors run compiled code: this tree's dist/, and `git archive <base>` (default: the merge base with
 * main) compiled with tsc in a temporary directory (`--keep-base` keeps it, `--base-dir <dir>` reuses it).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { COLLECTOR_NODE_FLAGS } from './fleet/collector-process.js';

const HERE = fileURLToPath(import.meta.url);
const ROOT = resolve(HERE, '../..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] as string) : def;
}

/** CPU time of this process's main thread (Linux: /proc/self/task/<pid>/stat, 10 ms ticks), µs. */
function mainThreadCpuUs(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/** The collector side: listens, answers uploads, reports its CPU over IPC when asked. */
async function child(root: string): Promise<void> {
  const imp = (p: string) => import(pathToFileURL(join(root, p)).href);
  const { listen } = await imp('dist/collector/http/listener.js');
  const { createIngest } = await imp('dist/collector/http/ingest.js');
  const { TokenShares } = await imp('dist/collector/ingest/fairness.js');
  const { pino } = await import('pino');
  const sessions = Number(process.env.H2_UPLOAD_SESSIONS);
  const holdMs = Number(process.env.H2_UPLOAD_HOLD_MS ?? 0);
  const held = async (): Promise<undefined> => {
    if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
    return undefined;
  };
  const tokens = new Map<string, { id: string; school: string; sha256: string; issuedAt: string }>();
  for (let i = 0; i < sessions; i++) tokens.set(`tok${i}`, { id: `id${i}`, school: '1640104001', sha256: 'x', issuedAt: '' });
  const log = pino({ level: 'silent' });
  const opts = {
    // --hold-ms: the sink confirms after this long, as a busy InfluxDB does, so uploads stay in flight across scavenges.
    sink: { write: held, writeLines: held, ready: async () => true, close: async () => undefined },
    tokens: { verify: (t: string) => tokens.get(t) },
    schools: { tagsFor: (id: string) => ({ school: id, province: '640000', city: '640100', county: '640104', link: 'sat-geo' }) },
    log,
    maxBodyBytes: 1024 * 1024,
    retryAfterS: 10,
    shares: new TokenShares({ maxInflightRequestsPerToken: 4, maxInflightBodyBytesPerToken: 4 * 1024 * 1024, busyRetryAfterS: 10 }),
  };
  const listener = await listen({ host: '127.0.0.1', port: 0, app: (_req: unknown, res: { statusCode: number; end(): void }) => ((res.statusCode = 404), res.end()), ingest: createIngest(opts), log });
  let mark = process.cpuUsage();
  let mainMark = mainThreadCpuUs();
  process.on('message', (m: string) => {
    if (m === 'mark') {
      mark = process.cpuUsage();
      mainMark = mainThreadCpuUs();
    }
    if (m === 'cpu') {
      const d = process.cpuUsage(mark);
      process.send?.({ cpuUs: { all: d.user + d.system, main: mainThreadCpuUs() - mainMark } });
    }
    if (m === 'stop') void listener.close().then(() => process.exit(0));
  });
  process.send?.({ port: listener.port });
}

/** One session's uploads, one every gapMs, until `until` (performance.now()); counts the answers by status. */
async function uploader(port: number, i: number, bodies: Buffer[], gapMs: number, untilRef: { t: number; counting: boolean }, counts: Map<number, number>): Promise<void> {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  // Open loop: upload n of this session is due at start + n × gapMs (a spread start), so both trees do the same work per second.
  const start = performance.now() + Math.random() * gapMs;
  for (let n = 0; performance.now() < untilRef.t; n++) {
    const wait = start + n * gapMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const body = bodies[n % bodies.length] as Buffer;
    const status = await new Promise<number>((done) => {
      const r = s.request({ ':method': 'POST', ':path': '/api/v1/reports', authorization: `Bearer tok${i}`, 'content-type': 'application/json', 'content-encoding': 'x-campuslink-cols1', 'content-length': body.length });
      let st = 0;
      r.on('response', (h) => (st = Number(h[':status'])));
      r.on('error', () => done(0));
      r.on('close', () => done(st));
      r.resume();
      r.end(body);
    });
    if (untilRef.counting) counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  s.close();
}

function ask<T>(c: ChildProcess, m: string, key: string): Promise<T> {
  return new Promise((res) => {
    const on = (msg: Record<string, T>) => {
      if (key in msg) {
        c.off('message', on);
        res(msg[key] as T);
      }
    };
    c.on('message', on);
    if (m) c.send(m);
  });
}

/** One round on the tree at `root`: µs of collector CPU per answered upload, and the answers by status. */
async function round(root: string, o: RoundOptions, bodies: Buffer[]): Promise<{ us: number; mainUs: number; answers: Record<number, number>; gc?: GcFigures }> {
  const { sessions, seconds, rate } = o;
  const gcArgs = o.gc ? [...COLLECTOR_NODE_FLAGS, '--trace-gc-nvp'] : [];
  const c = fork(HERE, [], { execArgv: ['--import', 'tsx', ...gcArgs, ...(process.env.H2_UPLOAD_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.H2_UPLOAD_PROF}`] : [])], env: { ...process.env, H2_UPLOAD_CHILD: root, H2_UPLOAD_SESSIONS: String(sessions), H2_UPLOAD_HOLD_MS: String(o.holdMs) }, stdio: ['ignore', o.gc ? 'pipe' : 'inherit', 'inherit', 'ipc'] });
  const gcLines: string[] = [];
  const until = { t: Infinity, counting: false };
  if (o.gc) {
    let rest = '';
    c.stdout?.on('data', (d: Buffer) => {
      const parts = (rest + d.toString('latin1')).split('\n');
      rest = parts.pop() ?? '';
      if (until.counting) for (const l of parts) if (l.includes(' gc=mc ')) gcLines.push(l);
    });
  }
  const port = await ask<number>(c, '', 'port');
  until.t = performance.now() + 3000 + seconds * 1000;
  const counts = new Map<number, number>();
  const loops = Array.from({ length: sessions }, (_, i) => uploader(port, i, bodies, (1000 * sessions) / rate, until, counts));
  await new Promise((r) => setTimeout(r, 3000));
  c.send('mark');
  until.counting = true;
  await Promise.all(loops);
  const cpuUs = await ask<{ all: number; main: number }>(c, 'cpu', 'cpuUs');
  c.send('stop');
  await new Promise((r) => c.once('exit', r));
  const answered = [...counts.values()].reduce((a, b) => a + b, 0);
  return { us: cpuUs.all / Math.max(1, answered), mainUs: cpuUs.main / Math.max(1, answered), answers: Object.fromEntries(counts), ...(o.gc && { gc: gcFigures(gcLines, answered) }) };
}

interface RoundOptions {
  sessions: number;
  seconds: number;
  rate: number;
  /** How long the sink takes to confirm a write, ms. */
  holdMs: number;
  /** Trace the collector's GC (`--trace-gc-nvp`) and report its Mark-Compacts. */
  gc: boolean;
}

/** Mark-Compacts in the measured window: count, pause, and the external-string-table phase per answered upload. */
interface GcFigures {
  mc: number;
  pauseMaxMs: number;
  pauseTotalMs: number;
  extTotalMs: number;
  extUsPerUpload: number;
}

function gcFigures(lines: string[], answered: number): GcFigures {
  const field = (l: string, k: string) => Number(new RegExp(` ${k.replace(/\./g, '\\.')}=([0-9.]+)`).exec(l)?.[1] ?? 0);
  const pauses = lines.map((l) => field(l, 'pause'));
  const ext = lines.reduce((a, l) => a + field(l, 'clear.external_string_table'), 0);
  return { mc: lines.length, pauseMaxMs: Math.max(0, ...pauses), pauseTotalMs: pauses.reduce((a, b) => a + b, 0), extTotalMs: ext, extUsPerUpload: (1000 * ext) / Math.max(1, answered) };
}

/** The tree of `ref`, compiled, in a temporary directory that resolves this tree's node_modules. */
function baseTree(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cl-h2-upload-base-'));
  execFileSync('sh', ['-c', `git archive ${ref} | tar -x -C ${dir}`], { cwd: ROOT });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir, stdio: 'inherit' });
  return dir;
}

async function main(): Promise<void> {
  const sessions = Number(arg('sessions', '200'));
  const seconds = Number(arg('seconds', '8'));
  const rounds = Number(arg('rounds', '3'));
  const rate = Number(arg('rate', '400'));
  const roundOpts: RoundOptions = { sessions, seconds, rate, holdMs: Number(arg('hold-ms', '0')), gc: process.argv.includes('--gc') };
  const ref = arg('base', execFileSync('git', ['merge-base', 'HEAD', 'main'], { cwd: ROOT, encoding: 'utf8' }).trim());
  const { encodeBatch, COLS_ENCODING } = await import('../protocol/index.js');
  const { typicalReport } = await import('../test/helpers/reports.js');
  let seq = 1;
  const bodies = Array.from({ length: 16 }, (_, k) => encodeBatch(Array.from({ length: 1 + (k % 2) }, () => typicalReport({ seq: seq++ })), COLS_ENCODING));
  const keptBase = arg('base-dir', '');
  const base = keptBase || baseTree(ref);
  const us: Record<'base' | 'new', number[]> = { base: [], new: [] };
  const mainUs: Record<'base' | 'new', number[]> = { base: [], new: [] };
  const ext: Record<'base' | 'new', number[]> = { base: [], new: [] };
  const load = () => execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim();
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [name, root] of (r % 2 ? [['new', ROOT], ['base', base]] : [['base', base], ['new', ROOT]]) as [keyof typeof us, string][]) {
        const res = await round(root, roundOpts, bodies);
        us[name].push(res.us);
        if (res.gc) ext[name].push(res.gc.extUsPerUpload);
        mainUs[name].push(res.mainUs);
        console.log(`round ${r + 1} ${name} (${rate}/s offered): ${res.us.toFixed(1)} µs collector CPU per upload (main thread ${res.mainUs.toFixed(1)}), answers ${JSON.stringify(res.answers)}${res.gc ? `; Mark-Compacts ${res.gc.mc}, pause max ${res.gc.pauseMaxMs.toFixed(1)} ms, total ${res.gc.pauseTotalMs.toFixed(0)} ms, external string table ${res.gc.extTotalMs.toFixed(1)} ms (${res.gc.extUsPerUpload.toFixed(2)} µs an upload)` : ''}; load ${load()}`);
      }
    }
  } finally {
    if (!keptBase && !process.argv.includes('--keep-base')) rmSync(base, { recursive: true, force: true });
    else console.log(`base tree kept in ${base} (--base-dir ${base})`);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
  for (const [what, xs] of [['all threads', us], ['main thread', mainUs]] as const) {
    console.log(`${what}: base ${ref.slice(0, 7)} median ${med(xs.base).toFixed(1)} µs/upload (${spread(xs.base)}); new median ${med(xs.new).toFixed(1)} µs/upload (${spread(xs.new)}); ratio new/base ${(med(xs.new) / med(xs.base)).toFixed(3)}`);
  }
  if (roundOpts.gc) console.log(`Mark-Compact external-string-table phase: base median ${med(ext.base).toFixed(2)} µs/upload (${spread(ext.base)}); new median ${med(ext.new).toFixed(2)} µs/upload (${spread(ext.new)})`);
  writeFileSync(join(tmpdir(), 'h2-upload-last.json'), JSON.stringify({ ref, sessions, seconds, us, mainUs, ext }));
}

if (process.env.H2_UPLOAD_CHILD) void child(process.env.H2_UPLOAD_CHILD);
else void main();
