/**
 * What the tiny agent's tests share: a network namespace joined to the host by a veth pair (the router's
 * side and the county's side), a PATH of BusyBox applet symlinks only (no Node, no coreutils), the agent
 * run inside the namespace under `busybox sh`, and a scripted collector stand-in that records what it got.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { repoPath } from '../../helpers/cli.js';

export const TINY = repoPath('agent/tiny/campuslink-tiny');
const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });

/** A namespace `ns` with address `nsIp`, reaching the host at `hostIp` over a veth pair. */
export interface TinyNet {
  ns: string;
  hostIp: string;
  nsIp: string;
  close(): void;
}

/** Makes the namespace and the veth pair (needs root). `tag` keeps parallel test files apart. */
export function makeNet(tag: number): TinyNet {
  if (process.getuid?.() !== 0) throw new Error('needs root (a network namespace)');
  const id = (process.pid * 7 + tag) % 100000;
  const ns = `clt-tiny-${id}`;
  const hostIf = `ctn${id}a`;
  const nsIf = `ctn${id}b`;
  const net = `10.216.${(process.pid + tag * 37) % 250}`;
  ip('netns', 'del', ns);
  ip('link', 'del', hostIf);
  const steps: string[][] = [
    ['netns', 'add', ns],
    ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf],
    ['link', 'set', nsIf, 'netns', ns],
    ['addr', 'add', `${net}.1/30`, 'dev', hostIf],
    ['link', 'set', hostIf, 'up'],
    ['netns', 'exec', ns, 'ip', 'addr', 'add', `${net}.2/30`, 'dev', nsIf],
    ['netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up'],
    ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'],
  ];
  for (const s of steps) {
    const r = ip(...s);
    expect(r.status, `ip ${s.join(' ')}: ${r.stderr}`).to.equal(0);
  }
  return {
    ns,
    hostIp: `${net}.1`,
    nsIp: `${net}.2`,
    close() {
      for (const pid of ip('netns', 'pids', ns).stdout.split('\n').filter(Boolean)) spawnSync('kill', ['-9', pid]);
      ip('link', 'del', hostIf);
      ip('netns', 'del', ns);
    },
  };
}

/** A directory of symlinks to Debian's busybox, one per applet: the only PATH the agent gets. */
export function busyboxPath(): string {
  const bin = mkdtempSync(join(tmpdir(), 'clt-tiny-bin-'));
  const list = spawnSync('busybox', ['--list'], { encoding: 'utf8' });
  expect(list.status, 'Debian busybox is installed (apt-get install busybox)').to.equal(0);
  const bb = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
  for (const applet of ['busybox', ...list.stdout.split('\n').filter(Boolean)]) symlinkSync(bb, join(bin, applet));
  return bin;
}

/** A config file for the agent (KEY=value lines). */
export function writeConf(dir: string, values: Record<string, string | number>): string {
  const file = join(dir, 'tiny.conf');
  const body = Object.entries(values)
    .map(([k, v]) => `${k}='${String(v)}'`)
    .join('\n');
  writeFileSync(file, `${body}\n`);
  return file;
}

/** Runs `campuslink-tiny cmd -c conf` inside the namespace with only BusyBox on PATH. */
export function startTiny(net: TinyNet, bin: string, cmd: string, conf: string): ChildProcess & { output(): string } {
  const child = spawn('ip', ['netns', 'exec', net.ns, `${bin}/env`, '-i', `PATH=${bin}`, `${bin}/sh`, TINY, cmd, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return Object.assign(child, { output: () => out });
}

/** Runs a command of the agent to completion; resolves with its exit code and output. */
export function runTiny(net: TinyNet, bin: string, cmd: string, conf: string, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  const child = startTiny(net, bin, cmd, conf);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`campuslink-tiny ${cmd} timed out\n${child.output()}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: child.output() });
    });
  });
}

/** SIGKILL, then waits for the exit. */
export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** The sequence numbers of the reports the agent still holds in its spool (above its acked mark). */
export function spooled(stateDir: string): number[] {
  const dir = join(stateDir, 'spool');
  let acked = 0;
  try {
    acked = Number(readFileSync(join(stateDir, 'acked'), 'utf8').trim()) || 0;
  } catch {
    /* nothing acked yet */
  }
  const seqs: number[] = [];
  for (const f of readdirSync(dir).sort((a, b) => Number(a) - Number(b))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const m = /^\{.*"seq":(\d+),.*\}$/.exec(line);
      if (m && Number(m[1]) > acked) seqs.push(Number(m[1]));
    }
  }
  return seqs;
}

/** One request the scripted collector got. */
export interface Got {
  atMs: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The decoded JSON body. */
  body: any;
}

/** An answer the scripted collector gives: status, headers, JSON body (a function of the request). */
export type Answer = { status: number; headers?: Record<string, string>; body?: unknown } | ((got: Got) => { status: number; headers?: Record<string, string>; body?: unknown });

/** A collector stand-in on the host side: answers from `script` in order (then `fallback`), records requests. */
export async function scriptedCollector(host: string, fallback: Answer = ok()): Promise<{ url: string; got: Got[]; script: Answer[]; close(): Promise<void> }> {
  const got: Got[] = [];
  const script: Answer[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const g: Got = { atMs: Date.now(), path: req.url ?? '', headers: req.headers, body: raw.length ? JSON.parse(raw.toString()) : undefined };
      got.push(g);
      const a = script.shift() ?? fallback;
      const ans = typeof a === 'function' ? a(g) : a;
      res.writeHead(ans.status, { 'content-type': 'application/json', ...ans.headers }).end(JSON.stringify(ans.body ?? {}));
    });
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    got,
    script,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A 200 ack accepting every report of the batch. */
export function ok(extra: Record<string, unknown> = {}): Answer {
  return (g: Got) => ({ status: 200, body: { v: 1, accepted: (g.body?.reports ?? []).map((r: { seq: number }) => r.seq), serverTime: Date.now(), ...extra } });
}

/** An error answer in the collector's shape. */
export function refuse(status: number, code: string, headers: Record<string, string> = {}): Answer {
  return { status, headers, body: { error: { code, message: `${code} (scripted)` } } };
}

/** Waits until `check()` holds. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A temp dir. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `clt-tiny-${prefix}-`));
  mkdirSync(join(d, 'run'));
  return d;
}
