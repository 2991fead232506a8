/**
 * The real Prometheus and Alertmanager for tests (Debian packages `prometheus` and
 * `prometheus-alertmanager`): a temp dir, a config the test writes, a free loopback port, readiness
 * polled on `/-/ready`. Never skips: a missing binary fails saying which package to install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PromServer {
  url: string;
  dir: string;
  /** What the process wrote to stderr (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function requireBinary(bin: string, pkg: string): void {
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  if (r.error) throw new Error(`This test needs the real ${bin}, which was not found. Install the Debian package: apt-get install -y ${pkg}`);
}

async function start(bin: string, pkg: string, config: string, args: (dir: string, port: number, configFile: string) => string[]): Promise<PromServer> {
  requireBinary(bin, pkg);
  const dir = mkdtempSync(join(tmpdir(), `campuslink-${bin}-`));
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, config);
  const port = await freePort();
  const child: ChildProcess = spawn(bin, args(dir, port, configFile), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
  let exited = false;
  child.on('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 5000);
        child.on('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`${bin} exited before it was ready:\n${stderr}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${bin} not ready within 20 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, dir, log: () => stderr, stop };
}

/** Starts `prometheus-alertmanager` with `config` (YAML), clustering off. */
export function startAlertmanager(config: string): Promise<PromServer> {
  return start('prometheus-alertmanager', 'prometheus-alertmanager', config, (dir, port, file) => [
    `--config.file=${file}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
}

/** Starts `prometheus` with `config` (YAML). */
export function startPrometheus(config: string): Promise<PromServer> {
  return start('prometheus', 'prometheus', config, (dir, port, file) => [
    `--config.file=${file}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
}

/** A local HTTP server recording every POST's path, query and JSON body; `answer` picks the reply. */
export interface Recorder {
  url: string;
  posts: { path: string; query: URLSearchParams; body: unknown; raw: string }[];
  close(): Promise<void>;
}

export async function startRecorder(answer: (req: IncomingMessage, body: unknown, raw: string) => { status?: number; body: unknown } = () => ({ body: {} })): Promise<Recorder> {
  const posts: Recorder['posts'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const u = new URL(req.url ?? '/', 'http://x');
      posts.push({ path: u.pathname, query: u.searchParams, body, raw });
      const a = answer(req, body, raw);
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    posts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Waits until `cond()` holds, polling every 100 ms; throws `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
