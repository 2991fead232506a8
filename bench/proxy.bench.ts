/**
 * County proxy at scale: one proxy (agent/proxy, in a child process) watches N schools (default 2,000) at
 * a 1-minute cycle, 5 ping targets each (loopback 127.x.y.1-5, every address of 127/8 answers) and a
 * 48-port gateway each (sim/fast-snmp.ts, one socket, in its own child process), uploading one batch per
 * school over HTTP/2 to a small acknowledging collector stand-in in this process. Peer, in the same run,
 * interleaved: `fping` pinging the same 10,000 targets in the same batches, plus `snmpbulkwalk` of the
 * same two tables (ifTable, ifXTable) of every gateway, 64 at a time; the peer's CPU is that of fping and
 * snmpbulkwalk only (its driver is not counted, which favours the peer).
 *
 *   npx tsx bench/proxy.bench.ts [--schools 2000] [--cycles 2] [--repetitions 3]
 *
 * The proxy child runs with the node flags of its systemd unit (PROXY_NODE_FLAGS), under tsx. It reports its
 * peak RSS with the heap/external split at that moment and the phase (cycle, flush, idle) it was in.
 * Profiling: BENCH_PROXY_NODE_ARGS (more node flags for the proxy child, e.g. "--cpu-prof --cpu-prof-dir=D"),
 * BENCH_PROXY_ALLOC_PROFILE=FILE (every allocation sampled, DevTools .heapprofile), BENCH_PROXY_SKIP_PEER=1.
 *
 * Figures: CPU of the proxy (its own + its fping children) per 60 s cycle as % of one core, its peak RSS,
 * the cycle time, and the ratio ours / peer CPU. Goals: CPU ≤ 50 % of a core, RSS ≤ 300 MB.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { BenchResult } from './snmp-poll.bench.js';

const SELF = new URL(import.meta.url).pathname;

/**
 * The node flags the proxy runs with, as agent/packaging/systemd/campuslink-proxy.service has them (a test keeps
 * them equal): the proxy child runs with them. BENCH_PROXY_NODE_ARGS adds more (profiling: --cpu-prof …).
 */
export const PROXY_NODE_FLAGS = ['--max-old-space-size=512', '--max-semi-space-size=8'];
const REGISTRY_HEADER = 'school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon,hub_school_id';

const schoolId = (k: number) => `16401${String(k).padStart(5, '0')}`;
const addr = (k: number, t: number) => `127.${10 + (k >> 8)}.${k & 255}.${t}`;

/** CPU ms of this process's reaped children (fping, snmpbulkwalk), from /proc/self/stat. */
function childrenCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[13]) + Number(f[14])) * 10;
}
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}`;

/**
 * With BENCH_PROXY_ALLOC_PROFILE=FILE: samples every allocation of the run, also what the GC collected
 * (a plain --heap-prof keeps only what is still alive at its end), into FILE (a .heapprofile for DevTools).
 */
async function startAllocationProfile(file: string | undefined): Promise<{ stop: () => Promise<void> } | undefined> {
  if (!file) return undefined;
  const { Session } = await import('node:inspector');
  const s = new Session();
  s.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) => s.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  await post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return {
    stop: async () => {
      const r = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(r.profile));
      s.disconnect();
    },
  };
}

/** Child: the proxy. Runs `cycles` cycles one minute apart, prints its CPU and RSS as JSON. */
async function proxyChild(configPath: string, cycles: number): Promise<void> {
  const { pino } = await import('pino');
  const { loadProxyConfig } = await import('../agent/config.js');
  const { ProxyRuntime } = await import('../agent/proxy/runtime.js');
  const config = loadProxyConfig(configPath, {});
  const rt = new ProxyRuntime({ config, log: pino({ level: 'warn' }) });
  let maxRss = 0;
  let atPeak: NodeJS.MemoryUsage | undefined;
  let phase = 'start';
  let peakPhase = phase;
  const rssTimer = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss <= maxRss) return;
    maxRss = m.rss;
    atPeak = m;
    peakPhase = phase;
  }, 200);
  let loopMaxMs = 0;
  let last = performance.now();
  const loopTimer = setInterval(() => {
    const now = performance.now();
    loopMaxMs = Math.max(loopMaxMs, now - last - 50);
    last = now;
  }, 50);
  const profile = await startAllocationProfile(process.env.BENCH_PROXY_ALLOC_PROFILE);
  const c0 = selfCpuMs() + childrenCpuMs();
  const t0 = Date.now();
  const durations: number[] = [];
  let acked = 0;
  let late = 0;
  for (let c = 0; c < cycles; c++) {
    const start = t0 + c * 60_000;
    if (Date.now() < start) await new Promise((r) => setTimeout(r, start - Date.now()));
    phase = `cycle ${c + 1}`;
    const s = await rt.cycle();
    durations.push(s.durationMs);
    late += s.late;
    phase = `flush ${c + 1}`;
    acked += (await rt.flush()).acked;
    phase = `idle ${c + 1}`;
  }
  const end = t0 + cycles * 60_000;
  if (Date.now() < end) await new Promise((r) => setTimeout(r, end - Date.now()));
  const cpuMs = selfCpuMs() + childrenCpuMs() - c0;
  await profile?.stop();
  clearInterval(rssTimer);
  clearInterval(loopTimer);
  await rt.close();
  process.stdout.write(`${JSON.stringify({ cpuMs, windowMs: Date.now() - t0, maxRss, atPeak, peakPhase, durations, acked, late, loopMaxMs })}\n`);
}

/** Child: the fast SNMP fleet; prints its port, runs until stdin ends. */
async function simChild(gateways: number): Promise<void> {
  const { startFastSnmpFleet } = await import('../sim/fast-snmp.js');
  const f = await startFastSnmpFleet({ gateways, ports: 48 });
  process.stdout.write(`${f.port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => f.stop().then(() => process.exit(0)));
}

/** Child: the peer doing one cycle's work; prints the CPU of its tools. */
async function peerChild(n: number, port: number): Promise<void> {
  const c0 = childrenCpuMs();
  const t0 = Date.now();
  const run = (cmd: string, args: string[], input?: string) =>
    new Promise<void>((resolve) => {
      const p = execFile(cmd, args, { env: { ...process.env, MIBS: '' }, maxBuffer: 64 * 1024 * 1024 }, () => resolve());
      if (input !== undefined) p.stdin?.end(input);
    });
  const targets = Array.from({ length: n }, (_, k) => [1, 2, 3, 4, 5].map((t) => addr(k, t))).flat();
  const batches: string[][] = [];
  for (let i = 0; i < targets.length; i += 512) batches.push(targets.slice(i, i + 512));
  const pool = async <T>(items: T[], limit: number, fn: (x: T) => Promise<void>) => {
    let next = 0;
    await Promise.all(Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }));
  };
  await Promise.all([
    pool(batches, 8, (b) => run('fping', ['-4', '-q', '-C', '5', '-p', '1000', '-t', '2000', '-i', '1'], b.join('\n') + '\n')),
    pool(Array.from({ length: n }, (_, k) => k), 64, async (k) => {
      for (const table of ['.1.3.6.1.2.1.2.2', '.1.3.6.1.2.1.31.1.1']) await run('snmpbulkwalk', ['-v2c', '-c', `gw${k}`, '-Cr25', '-On', '-Oq', `127.0.0.1:${port}`, table]);
    }),
  ]);
  process.stdout.write(`${JSON.stringify({ cpuMs: childrenCpuMs() - c0, wallMs: Date.now() - t0 })}\n`);
}

function child(args: string[], opts: { stdin?: 'pipe'; nodeArgs?: string[] } = {}): { out: Promise<string>; firstLine: Promise<string>; end: () => void; pid: number } {
  const p = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', SELF, ...args], { stdio: [opts.stdin ?? 'ignore', 'pipe', 'inherit'] });
  let out = '';
  let gotLine: (l: string) => void = () => undefined;
  const firstLine = new Promise<string>((r) => (gotLine = r));
  p.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
    if (out.includes('\n')) gotLine(out.split('\n')[0] as string);
  });
  const done = new Promise<string>((resolve, reject) => p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args[0]} child exited with ${code}`)))));
  return { out: done, firstLine, end: () => p.stdin?.end(), pid: p.pid ?? -1 };
}

/** A collector stand-in: acknowledges every batch (gzip JSON), counts reports and schools. */
async function startAckServer(): Promise<{ url: string; reports: () => number; close: () => Promise<void> }> {
  let reports = 0;
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      try {
        const raw = Buffer.concat(chunks);
        const body = JSON.parse((headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString()) as { reports: { seq: number }[] };
        reports += body.reports.length;
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ v: 1, accepted: body.reports.map((r) => r.seq), serverTime: Date.now() }));
      } catch (e) {
        stream.respond({ ':status': 400 });
        stream.end(String(e));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, reports: () => reports, close: () => new Promise((r) => server.close(() => r())) };
}

/** Runs the benchmark. */
export async function run(options: { schools?: number; cycles?: number; repetitions?: number } = {}): Promise<BenchResult> {
  const n = options.schools ?? 2000;
  const cycles = options.cycles ?? 2;
  const reps = options.repetitions ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'cl-proxy-bench-'));
  const sim = child(['--sim', String(n)], { stdin: 'pipe' });
  const simPort = Number(await sim.firstLine);
  const ack = await startAckServer();
  const ours: { cpuPct: number; rssMb: number; cycleS: number; loopMaxMs: number; acked: number; late: number }[] = [];
  const peer: { cpuPct: number; wallS: number }[] = [];
  try {
    const registry = [REGISTRY_HEADER, ...Array.from({ length: n }, (_, k) => `${schoolId(k)},S${k},primary,640000,宁夏,640100,银川市,640104,兴庆区,fiber,100,500,12,38.4,106.2,`)].join('\n') + '\n';
    const gateways = ['school_id,gateway,snmp,community,targets', ...Array.from({ length: n }, (_, k) => `${schoolId(k)},${addr(k, 1)},127.0.0.1:${simPort},gw${k},isp:${addr(k, 2)};platform:${addr(k, 3)};internet:${addr(k, 4)};peer:${addr(k, 5)}`)].join('\n') + '\n';
    writeFileSync(join(dir, 'registry.csv'), registry);
    writeFileSync(join(dir, 'gateways.csv'), gateways);
    for (let r = 0; r < reps; r++) {
      const rdir = join(dir, `run${r}`);
      const yaml = join(dir, `proxy${r}.yaml`);
      writeFileSync(yaml, [
        'mode: proxy',
        'agentId: proxy-bench',
        `collector: { url: "${ack.url}", token: "bench", dictionary: false }`,
        `stateDir: "${rdir}/state"`,
        `spool: { dir: "${rdir}/spool", maxSpoolBytes: 1073741824 }`,
        'logLevel: warn',
        'proxy:',
        `  registry: "${join(dir, 'registry.csv')}"`,
        '  region: "640104"',
        `  gatewaysFile: "${join(dir, 'gateways.csv')}"`,
        '  snmp: { timeoutMs: 3000 }',
      ].join('\n') + '\n');
      const line = (await child(['--proxy', yaml, String(cycles)], { nodeArgs: [...PROXY_NODE_FLAGS, ...(process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean)] }).out).trim().split('\n').pop() as string;
      process.stderr.write(`proxy run ${r + 1}: ${line}\n`);
      const o = JSON.parse(line) as { cpuMs: number; windowMs: number; maxRss: number; durations: number[]; acked: number; late: number; loopMaxMs: number };
      ours.push({ cpuPct: (100 * o.cpuMs) / o.windowMs, rssMb: o.maxRss / 1048576, cycleS: median(o.durations) / 1000, loopMaxMs: o.loopMaxMs, acked: o.acked, late: o.late });
      // Profiling runs (BENCH_PROXY_SKIP_PEER=1) leave the peer out; their ratio is then not a figure.
      if (process.env.BENCH_PROXY_SKIP_PEER === '1') continue;
      const p = JSON.parse((await child(['--peer', String(n), String(simPort)]).out).trim()) as { cpuMs: number; wallMs: number };
      peer.push({ cpuPct: (100 * p.cpuMs) / 60_000, wallS: p.wallMs / 1000 });
    }
  } finally {
    sim.end();
    await sim.out.catch(() => undefined);
    await ack.close();
  }
  const cpu = median(ours.map((o) => o.cpuPct));
  const rss = Math.max(...ours.map((o) => o.rssMb));
  const peerCpu = median(peer.map((p) => p.cpuPct));
  return {
    name: `proxy (${n} schools × 5 ping targets + 48-port gateway, 1-min cycle)`,
    figures: {
      repetitions: reps,
      cycles_per_run: cycles,
      ours_cpu_pct_of_core_median: Number(cpu.toFixed(1)),
      ours_cpu_pct_spread: spread(ours.map((o) => o.cpuPct)),
      ours_rss_mb_max: Number(rss.toFixed(0)),
      ours_cycle_s_median: Number(median(ours.map((o) => o.cycleS)).toFixed(1)),
      ours_event_loop_max_block_ms: Number(Math.max(...ours.map((o) => o.loopMaxMs)).toFixed(0)),
      ours_reports_acked_per_run: ours.map((o) => o.acked).join(','),
      ours_schools_cut_by_deadline: ours.map((o) => o.late).join(','),
      peer_cpu_pct_of_core_median: Number(peerCpu.toFixed(1)),
      peer_cpu_pct_spread: spread(peer.map((p) => p.cpuPct)),
      peer_wall_s_median: Number(median(peer.map((p) => p.wallS)).toFixed(1)),
      ratio_ours_over_peer: Number((cpu / peerCpu).toFixed(2)),
      load_at_end: (await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' '),
    },
    ratio: Math.max(cpu / 50, rss / 300),
    goal: 'CPU ≤ 50 % of a core and RSS ≤ 300 MB (ratio = the worse of cpu/50, rss/300)',
    pass: cpu <= 50 && rss <= 300,
  };
}

const argv = process.argv.slice(2);
if (argv[0] === '--proxy') await proxyChild(argv[1] as string, Number(argv[2]));
else if (argv[0] === '--sim') await simChild(Number(argv[1]));
else if (argv[0] === '--peer') await peerChild(Number(argv[1]), Number(argv[2]));
else if (process.argv[1] === SELF) {
  const opt = (k: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const r = await run({ schools: opt('schools'), cycles: opt('cycles'), repetitions: opt('repetitions') });
  console.log(JSON.stringify(r, null, 2));
}
