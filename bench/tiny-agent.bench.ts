/**
 * The tiny agent's footprint (issue 15 part 2): installed size and resident memory while it runs.
 *
 * - Installed size: the files the OpenWrt package installs (agent/packaging/openwrt/tiny/Makefile: the script,
 *   its lib/, the procd init script, the UCI config), bytes on disk and as the gzip'd tar an .ipk carries.
 *   Peer in the same run: the full agent as packaged (`campuslink-agent.mjs` + `oui-index.bin`, built now).
 * - RSS: `campuslink-tiny run` under BusyBox (PATH of applet symlinks only) for CYCLES cycles of 2 s with
 *   5 ping targets on loopback (count 5, 0.2 s apart) and uploads (gzip, nc) to a collector stand-in on
 *   loopback; /proc is sampled every 10 ms: the agent's shell alone and the whole process tree (the shell and
 *   whatever it runs at that moment: ping, awk, nc, gzip), peak of the sum. Peer in the same run, interleaved:
 *   the full agent bundle's `once --print` (one cycle, the same ping targets, nothing sent), peak RSS.
 * Repeated REPEAT times; medians and ranges. Goals: ≤ 64 kB installed; ≤ 4 MB for the agent shell's RSS and
 * for the tree's PSS (its summed RSS counts the shared BusyBox and libc pages once per process, and is reported).
 *
 *   npx tsx bench/run.ts tiny-agent            (REPEAT=3 CYCLES=5 by default; env TINY_BENCH_REPEAT, TINY_BENCH_CYCLES)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildAgentBundle } from '../scripts/build-agent.js';
import type { BenchResult } from './snmp-poll.bench.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPEAT = Number(process.env.TINY_BENCH_REPEAT ?? 3);
const CYCLES = Number(process.env.TINY_BENCH_CYCLES ?? 5);

/** The files the OpenWrt package installs (keep in step with agent/packaging/openwrt/tiny/Makefile). */
export function installedFiles(): string[] {
  const lib = join(ROOT, 'agent/tiny/lib');
  return [
    join(ROOT, 'agent/tiny/campuslink-tiny'),
    ...readdirSync(lib).map((f) => join(lib, f)),
    join(ROOT, 'agent/packaging/openwrt/tiny/files/campuslink-tiny.init'),
    join(ROOT, 'agent/packaging/openwrt/tiny/files/campuslink-tiny.config'),
    join(ROOT, 'agent/packaging/openwrt/tiny/files/campuslink-tiny.keep'),
  ];
}

/** A tar-like concatenation gzip'd: about what an .ipk's data.tar.gz holds for these files. */
function gzipSize(files: string[]): number {
  return gzipSync(Buffer.concat(files.map((f) => readFileSync(f))), { level: 9 }).length;
}

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function kb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Pids of `root` and its descendants now. */
function tree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of parent) if (pp === out[i]) out.push(p);
  return out;
}

/** Samples a process (and its tree) every 10 ms until it exits or `untilMs`; peak kB of the root and of the tree. */
async function sample(pid: number, untilMs: number, done: () => boolean): Promise<Peak> {
  const peak: Peak = { rootKb: 0, treeKb: 0, treePssKb: 0, maxProcs: 0 };
  while (!done() && Date.now() < untilMs) {
    const pids = tree(pid);
    peak.rootKb = Math.max(peak.rootKb, kb(pid));
    peak.treeKb = Math.max(peak.treeKb, pids.reduce((s, p) => s + kb(p), 0));
    peak.treePssKb = Math.max(peak.treePssKb, pids.reduce((s, p) => s + pssKb(p), 0));
    peak.maxProcs = Math.max(peak.maxProcs, pids.length);
    await new Promise((r) => setTimeout(r, 10));
  }
  return peak;
}

/** Peaks of one run: the root process's RSS, the tree's summed RSS (shared pages counted once per process) and PSS. */
interface Peak {
  rootKb: number;
  treeKb: number;
  treePssKb: number;
  maxProcs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
const range = (xs: number[]) => `${Math.min(...xs)}–${Math.max(...xs)}`;

async function tinyRun(bin: string, url: string): Promise<Peak> {
  const dir = mkdtempSync(join(tmpdir(), 'tiny-bench-'));
  const conf = join(dir, 'tiny.conf');
  writeFileSync(
    conf,
    [
      `COLLECTOR_URL='${url}'`,
      "SCHOOL='1640104001'",
      "AGENT_ID='gw-tiny'",
      "TOKEN='t-bench'",
      `STATE_DIR='${dir}/state'`,
      `RUN_DIR='${dir}/run'`,
      "PING_TARGETS='gateway:127.0.0.1 isp:127.0.0.2 platform:127.0.0.3 peer:127.0.0.4 internet:127.0.0.5'",
      'PING_COUNT=5',
      'PING_INTERVAL_S=0.2',
      'CYCLE_S=2',
      '',
    ].join('\n'),
  );
  const child = spawn('env', ['-i', `PATH=${bin}`, `${bin}/sh`, join(ROOT, 'agent/tiny/campuslink-tiny'), 'run', '-c', conf], { stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => (exited = true));
  const r = await sample(child.pid as number, Date.now() + CYCLES * 2000, () => exited);
  child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  return r;
}

async function fullOnce(bundle: string): Promise<Peak> {
  const dir = mkdtempSync(join(tmpdir(), 'tiny-bench-full-'));
  const conf = join(dir, 'agent.yaml');
  writeFileSync(
    conf,
    `school: "1640104001"\ncollector: {url: "http://127.0.0.1:1", token: t-bench}\nstateDir: "${dir}"\nspool: {dir: "${dir}/spool"}\nlogLevel: silent\n` +
      'ping:\n  count: 5\n  targets:\n' +
      ['gateway', 'isp', 'platform', 'peer', 'internet'].map((role, i) => `    - {host: 127.0.0.${i + 1}, role: ${role}}\n`).join(''),
  );
  const child = spawn('node', ['--lite-mode', '--no-expose-wasm', '--max-semi-space-size=1', bundle, 'once', '--print', '--config', conf], {
    stdio: 'ignore',
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '32768' },
  });
  let exited = false;
  child.on('exit', () => (exited = true));
  const r = await sample(child.pid as number, Date.now() + 60_000, () => exited);
  rmSync(dir, { recursive: true, force: true });
  return r;
}

export async function run(): Promise<BenchResult> {
  const files = installedFiles();
  const installed = files.reduce((s, f) => s + statSync(f).size, 0);
  const bundleDir = mkdtempSync(join(tmpdir(), 'tiny-bench-bundle-'));
  const bundle = await buildAgentBundle({ outDir: bundleDir });
  const fullFiles = readdirSync(bundleDir).map((f) => join(bundleDir, f));
  const fullInstalled = fullFiles.reduce((s, f) => s + statSync(f).size, 0);

  const bin = mkdtempSync(join(tmpdir(), 'tiny-bench-bin-'));
  const bb = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
  for (const a of ['busybox', ...spawnSync(bb, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)]) symlinkSync(bb, join(bin, a));
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ v: 1, accepted: [], serverTime: Date.now() })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const tiny: Peak[] = [];
  const full: Peak[] = [];
  try {
    for (let i = 0; i < REPEAT; i++) {
      tiny.push(await tinyRun(bin, url));
      full.push(await fullOnce(bundle.file));
    }
  } finally {
    server.close();
    rmSync(bin, { recursive: true, force: true });
    rmSync(bundleDir, { recursive: true, force: true });
  }
  const treeKb = tiny.map((t) => t.treeKb);
  const rootKb = tiny.map((t) => t.rootKb);
  const fullKb = full.map((t) => t.rootKb);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return {
    name: 'tiny-agent',
    figures: {
      installed_bytes: installed,
      installed_gzip_bytes: gzipSize(files),
      installed_files: files.length,
      full_agent_installed_bytes: fullInstalled,
      size_ratio_vs_full: Number((installed / fullInstalled).toFixed(4)),
      tiny_tree_peak_rss_kb_median: median(treeKb),
      tiny_tree_peak_rss_kb_range: range(treeKb),
      tiny_tree_peak_pss_kb_median: median(tiny.map((t) => t.treePssKb)),
      tiny_tree_peak_pss_kb_range: range(tiny.map((t) => t.treePssKb)),
      tiny_tree_max_processes: Math.max(...tiny.map((t) => t.maxProcs)),
      tiny_shell_peak_rss_kb_median: median(rootKb),
      tiny_shell_peak_rss_kb_range: range(rootKb),
      full_agent_once_peak_rss_kb_median: median(fullKb),
      full_agent_once_peak_rss_kb_range: range(fullKb),
      rss_ratio_vs_full: Number((median(treeKb) / median(fullKb)).toFixed(4)),
      repeats: REPEAT,
      cycles_per_run: CYCLES,
      loadavg: load,
    },
    // The goal is on memory the agent costs the router: its shell's RSS, and the tree's PSS (the summed RSS
    // counts BusyBox's and libc's shared pages once per process: 5 parallel pings make 7 processes).
    ratio: Math.max(installed / 65536, median(tiny.map((t) => t.treePssKb)) / 4096, median(rootKb) / 4096),
    goal: 'installed ≤ 64 kB; the agent shell RSS ≤ 4 MB and the process tree PSS ≤ 4 MB (ratio: the largest against its goal)',
    pass: installed <= 65536 && median(tiny.map((t) => t.treePssKb)) <= 4096 && median(rootKb) <= 4096,
  };
}
