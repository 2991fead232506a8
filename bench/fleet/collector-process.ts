/**
 * The real collector process (`node dist/collector/cli.js serve --config …`) for the soak: started,
 * waited for until it listens, its embedded influxd found among its children, stopped by signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { childPids, cmdline } from './procstat.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The built CLI; `npm run build` makes it. */
export const COLLECTOR_CLI = `${ROOT}dist/collector/cli.js`;

/**
 * The node flags docs/deployment.md (and the Dockerfile) give the collector: a 64 MiB semi-space, so the
 * short-lived garbage of every upload dies young (ingest bench: 12.7 → 9.7 µs of CPU per point).
 */
export const COLLECTOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

/**
 * The soak's collector config: log level warn (at info the collector logs every gap it finds; the soak
 * measures ingest, not log volume), and a free port for the embedded influxd on collectors whose
 * default is a fixed one (other collectors run on this box too).
 */
export function collectorConfigYaml(opts: { port: number; stateDir: string; registry: string; front?: 'haproxy'; tls?: { certFile: string; keyFile: string } }): string {
  const config = COLLECTOR_CLI.replace(/cli\.js$/, 'config.js');
  const source = existsSync(config) ? readFileSync(config, 'utf8') : '';
  const embeddedPort = /embeddedPort/.test(source) ? '  embeddedPort: 0\n' : '';
  // The fleet's counties are made up: check the code structure only.
  const codes = /registryCodes/.test(source) ? 'registryCodes: none\n' : '';
  const front = opts.front ? `front:\n  kind: ${opts.front}\n` : '';
  const tls = opts.tls ? `tls:\n  certFile: ${opts.tls.certFile}\n  keyFile: ${opts.tls.keyFile}\n` : '';
  return `listen: 127.0.0.1:${opts.port}\nstateDir: ${opts.stateDir}\nregistry: ${opts.registry}\n${codes}logLevel: warn\ninflux:\n  startTimeoutMs: 120000\n${embeddedPort}${front}${tls}`;
}

export interface CollectorProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  /** The embedded influxd's pid, when one runs. */
  influxdPid?: number;
  /** From spawn to the "listening on" line, ms. */
  startMs: number;
  /** Wall-clock time of the spawn, ms since the epoch (a CPU profile's or GC trace's times count from about here). */
  spawnedAtMs: number;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** The last 4 kB of stderr. */
  stderrTail(): string;
}

export interface StartCollectorProcessOptions {
  configPath: string;
  /** Where stdout and stderr go (appended). */
  logPath: string;
  timeoutMs?: number;
  /** Node flags for this process only (after COLLECTOR_NODE_FLAGS and SOAK_COLLECTOR_NODE_ARGS), e.g. the soak's profiling flags. */
  nodeArgs?: readonly string[];
}

/** Finds the embedded influxd below a collector pid. */
export function findInfluxd(pid: number): number | undefined {
  return childPids(pid).find((c) => /influxd/.test(cmdline(c)));
}

/** Finds the front (HAProxy) a collector started (`front.kind: haproxy`). */
export function findFront(pid: number): number | undefined {
  return childPids(pid).find((c) => /haproxy/.test(cmdline(c)));
}

/** Starts the collector and waits until it listens. Rejects (with its stderr) when it exits or times out first. */
export function startCollectorProcess(opts: StartCollectorProcessOptions): Promise<CollectorProcess> {
  if (!existsSync(COLLECTOR_CLI)) throw new Error(`${COLLECTOR_CLI} is missing: run \`npm run build\` first`);
  const t0 = performance.now();
  const spawnedAtMs = Date.now();
  // SOAK_COLLECTOR_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the collector under load.
  const nodeArgs = (process.env.SOAK_COLLECTOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...COLLECTOR_NODE_FLAGS, ...nodeArgs, ...(opts.nodeArgs ?? []), COLLECTOR_CLI, 'serve', '--config', opts.configPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(opts.logPath, { flags: 'a' });
  let tail = '';
  let out = '';
  child.stderr.on('data', (d: Buffer) => {
    log.write(d);
    tail = (tail + d.toString('utf8')).slice(-4096);
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`collector did not listen within ${opts.timeoutMs ?? 300_000} ms; stderr: ${tail}`));
    }, opts.timeoutMs ?? 300_000);
    child.stdout.on('data', (d: Buffer) => {
      log.write(d);
      out += d.toString('utf8');
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (!m || !child.pid) return;
      clearTimeout(timer);
      out = '';
      const pid = child.pid;
      const influxdPid = findInfluxd(pid);
      resolve({ child, pid, url: m[1] as string, ...(influxdPid && { influxdPid }), startMs: performance.now() - t0, spawnedAtMs, exited, stderrTail: () => tail });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited (${code}) before listening; stderr: ${tail}`));
    });
  });
}
