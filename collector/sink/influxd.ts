/**
 * The embedded InfluxDB: runs Debian's `influxd` (1.x) as a child process, with everything it
 * stores (meta, data, wal) and its generated config under one data directory, listening on
 * loopback only.
 *
 * Used by the collector when no `influx.url` is configured, and by tests. `influxd` 1.6 is what
 * `apt-get install influxdb` gives on Debian/Ubuntu; newer 1.x releases accept the same config.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ErrorCode } from '../../protocol/errors.js';
import { findExecutable } from '../executable.js';

/** A failure to find or start the embedded influxd; `code` is from the error catalogue. */
export class InfluxdError extends Error {
  constructor(
    readonly code: Extract<ErrorCode, 'COL_ERR_INFLUXD_MISSING' | 'COL_ERR_INFLUXD_START'>,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
    this.name = 'InfluxdError';
  }
}

export interface InfluxdOptions {
  /** Directory holding everything influxd writes: `meta/`, `data/`, `wal/` and `influxd.conf`. Created if missing. */
  dataDir: string;
  /** Address the HTTP API binds to. Default `127.0.0.1`. */
  host?: string;
  /** HTTP API port; 0 or absent: a free port on `host`, chosen at every start. The collector passes `influx.embeddedPort`. */
  port?: number;
  /** Series limit of the database (`max-series-per-database`). Default EMBEDDED_LIMITS.maxSeriesPerDatabase. */
  maxSeriesPerDatabase?: number;
  /** Distinct values one tag key may take in one measurement (`max-values-per-tag`). Default EMBEDDED_LIMITS.maxValuesPerTag. */
  maxValuesPerTag?: number;
  /** Cache size at which influxd writes it to a TSM file (`cache-snapshot-memory-size`), bytes. Default EMBEDDED_LIMITS.cacheSnapshotBytes. */
  cacheSnapshotBytes?: number;
  /**
   * Settings that replace or add to the generated config, keyed `section.key` (e.g.
   * `data.max-index-log-file-size`, `http.pprof-enabled`; a key before any section: `.key`), each value
   * TOML text (`"8m"`, `104857600`, `true`). For measuring alternatives (bench/fleet/influxd-cache.bench.ts);
   * checked by `influxdConfig`, which throws a TypeError on an unknown section or a malformed value.
   */
  settings?: Readonly<Record<string, string>>;
  /** Variables added to influxd's environment (e.g. Go's `GOGC`, over EMBEDDED_ENV); `INFLUXDB_*` ones are refused, as the config is the one source. */
  env?: Readonly<Record<string, string>>;
  /** How long to wait for `GET /ping` to answer 204. Default 20000 ms. */
  readyTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before sending SIGKILL. Default 5000 ms. */
  stopTimeoutMs?: number;
  /** Where influxd's own output goes (one log entry per line); discarded when absent. */
  log?: Logger;
  /** The influxd executable: a path, or a name looked up on PATH. Default `influxd`. */
  binary?: string;
}

export interface InfluxdHandle {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Port of the RPC (backup/restore) service, always on 127.0.0.1. */
  readonly rpcPort: number;
  readonly dataDir: string;
  /** Path of the generated config file. */
  readonly configPath: string;
  /** PID of the current (or last) influxd process. */
  readonly pid: number;
  /** Whether the influxd process is running. */
  readonly running: boolean;
  /** SIGTERM, wait for exit, SIGKILL after `stopTimeoutMs`. Idempotent. */
  stop(): Promise<void>;
  /** Stops it if running, then starts it again on the same ports and data, and waits until ready. */
  restart(): Promise<void>;
}

const INSTALL_HINT =
  'Install it with `apt-get install influxdb` (Debian/Ubuntu), or set CAMPUSLINK_INFLUX_URL ' +
  '(config key `influx.url`) to an existing InfluxDB 1.x, e.g. http://127.0.0.1:8086.';

/** A TCP port that was free on `host` a moment ago (the OS picks it). */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await findFreePorts(host, 1);
  return port as number;
}

/** `count` distinct free ports, held open together while chosen so they cannot coincide. */
async function findFreePorts(host: string, count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port: 0, exclusive: true }, () => resolve());
      });
      ports.push((server.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/**
 * Resolves the influxd executable: `binary` itself when it contains a slash, else the first
 * match on `pathEnv`. Throws COL_ERR_INFLUXD_MISSING with the install hint when not found.
 */
export function findInfluxd(binary = 'influxd', pathEnv = process.env.PATH ?? ''): string {
  const found = findExecutable(binary, pathEnv);
  if (found) return found;
  if (binary.includes('/')) throw new InfluxdError('COL_ERR_INFLUXD_MISSING', `${binary} does not exist or is not executable. ${INSTALL_HINT}`);
  throw new InfluxdError('COL_ERR_INFLUXD_MISSING', `\`${binary}\` was not found on PATH. ${INSTALL_HINT}`);
}

/**
 * Limits of the embedded influxd, sized for a province (docs/deployment.md has the arithmetic): a school writes
 * ~22 series with one agent (docs/schema.md: 5 ping targets, 4 interfaces, sys, 10 inventory classes, modem,
 * agent, report), up to ~40 with every gap cause, inventory_poll, more devices and an agent upgrade (each
 * `version` is a new series). 60,000 schools × 40 = 2.4M series; the limit leaves 4× headroom. Per tag:
 * `school` takes 60,000 values, `agent` (host names by default) one or two per school, `target` up to a few
 * per school; 1M values leaves room for gateway replacements over years.
 */
export const EMBEDDED_LIMITS = Object.freeze({ maxSeriesPerDatabase: 10_000_000, maxValuesPerTag: 1_000_000, cacheSnapshotBytes: 26_214_400, cacheMaxBytes: 268_435_456 });

/**
 * Environment of the embedded influxd (under what the caller's `env` sets; an operator's own `GOGC` wins).
 * GOGC=200: Go's GC was 20–29 % of influxd's CPU at 60,000 schools (it scans the cache and index); 200 halved
 * that share and measured 0.89× and 0.58× influxd CPU per point in two A/B pairs, for +14 % and +31 % RSS
 * (bench/fleet/influxd-cache.bench.ts, docs/benchmarks.md session 6). CPU is what a province on 2 cores lacks.
 */
export const EMBEDDED_ENV: Readonly<Record<string, string>> = Object.freeze({ GOGC: '200' });

function tomlString(s: string): string {
  return JSON.stringify(s); // a JSON string of printable text is a valid TOML basic string
}

/**
 * The influxd 1.x config (keys checked against `influxd config` of 1.6; influxd ignores keys it
 * does not know, so a typo here fails silently — keep it in sync with that output).
 */
export function influxdConfig(o: { dataDir: string; host: string; port: number; rpcPort: number; maxSeriesPerDatabase?: number; maxValuesPerTag?: number; cacheSnapshotBytes?: number; settings?: Readonly<Record<string, string>> }): string {
  const dir = (sub: string) => tomlString(path.join(o.dataDir, sub));
  const hostPort = (h: string, p: number) => tomlString(`${h.includes(':') ? `[${h}]` : h}:${p}`);
  const lines = [
    '# Generated by campuslink for the embedded InfluxDB; rewritten at every start.',
    'reporting-enabled = false',
    `bind-address = ${hostPort('127.0.0.1', o.rpcPort)}`,
    '',
    '[meta]',
    `  dir = ${dir('meta')}`,
    '  retention-autocreate = true',
    '  logging-enabled = false',
    '',
    '[data]',
    `  dir = ${dir('data')}`,
    `  wal-dir = ${dir('wal')}`,
    // TSI keeps the series index on disk (page cache), so 60,000 schools' millions of series do not need RAM;
    // shards created under inmem stay inmem (convert with `influx_inspect buildtsi`, docs/deployment.md).
    '  index-version = "tsi1"',
    `  max-series-per-database = ${o.maxSeriesPerDatabase ?? EMBEDDED_LIMITS.maxSeriesPerDatabase}`,
    `  max-values-per-tag = ${o.maxValuesPerTag ?? EMBEDDED_LIMITS.maxValuesPerTag}`,
    // An acknowledged write is on disk: the collector acknowledges agents only after InfluxDB confirmed.
    '  wal-fsync-delay = "0s"',
    // 2 cores: one compaction at a time leaves the other core to the collector.
    '  max-concurrent-compactions = 1',
    // What influxd holds before it refuses writes (500, which the sink answers as a retryable 503) until a
    // snapshot frees room. At 60,000 schools the snapshots fall behind the writes on 2 cores, so the cache runs
    // up to this bound, and a SIGKILL replays what of it is not yet in TSM files. With influxd's 1 GiB the bench's
    // influxd reached 7.8 GiB RSS and took 85.6 s to be ready after a SIGKILL; with 256 MiB 5.7 GiB and 9.5 s,
    // refusing 75 of ~800 writes meanwhile (bench/fleet/influxd-cache.bench.ts, docs/benchmarks.md session 6: one
    // pair each on a loaded box; the first's WAL size was not recorded). 10× the snapshot size is headroom for a
    // snapshot in progress; refusals come only when influxd is behind, and then they are the backpressure.
    `  cache-max-memory-size = ${EMBEDDED_LIMITS.cacheMaxBytes}`,
    // influxd's default. A TSM key is series + field: ~6.1 M keys at 60,000 schools, ~390 B each when new, so any
    // snapshot size that fits the restart goal holds ~one value per key and every value pays a key sort, an index
    // entry and a block of its own: 100 MiB measured 1.05× the CPU per point of 25 MiB at 60,000 schools, and 3×
    // the restart (session 5's 0.42× at 10,000 schools was a window in which the big cache never snapshotted).
    `  cache-snapshot-memory-size = ${o.cacheSnapshotBytes ?? EMBEDDED_LIMITS.cacheSnapshotBytes}`,
    '  query-log-enabled = false',
    '  trace-logging-enabled = false',
    '',
    '[monitor]',
    '  store-enabled = false',
    '',
    '[http]',
    '  enabled = true',
    `  bind-address = ${hostPort(o.host, o.port)}`,
    '  auth-enabled = false',
    '  log-enabled = false',
    '  suppress-write-log = true',
    '  pprof-enabled = false',
    '',
    '[continuous_queries]',
    '  log-enabled = false',
    '',
    '[logging]',
    '  format = "logfmt"',
    '  level = "warn"',
    '  suppress-logo = true',
    '',
  ];
  return applySettings(lines, o.settings ?? {}).join('\n');
}

/** A TOML value as influxd's config takes them: a basic string without escapes, an integer, a boolean. */
const TOML_VALUE = /^(?:"[^"\\\n]*"|-?\d+|true|false)$/;

/** Replaces `section.key` lines of a generated config, or adds them at the end of their section. */
function applySettings(lines: string[], settings: Readonly<Record<string, string>>): string[] {
  const out = [...lines];
  for (const [name, value] of Object.entries(settings)) {
    const dot = name.lastIndexOf('.');
    const section = name.slice(0, dot);
    const key = name.slice(dot + 1);
    if (dot < 0 || !/^[a-z][a-z0-9-]*$/.test(key)) throw new TypeError(`influxd setting ${JSON.stringify(name)}: expected section.key, e.g. data.max-index-log-file-size`);
    if (!TOML_VALUE.test(value)) throw new TypeError(`influxd setting ${name} = ${JSON.stringify(value)}: expected a TOML string ("8m"), an integer or true/false`);
    // The section's lines: from its header (or the file's start) to the next header.
    const start = section === '' ? 0 : out.indexOf(`[${section}]`) + 1;
    if (start === 0 && section !== '') throw new TypeError(`influxd setting ${name}: the generated config has no [${section}] section`);
    let end = out.findIndex((l, i) => i >= start && /^\[/.test(l));
    if (end < 0) end = out.length;
    while (end > start && out[end - 1] === '') end--;
    const indent = section === '' ? '' : '  ';
    const at = out.findIndex((l, i) => i >= start && i < end && l.trimStart().startsWith(`${key} =`));
    if (at >= 0) out[at] = `${indent}${key} = ${value}`;
    else out.splice(end, 0, `${indent}${key} = ${value}`);
  }
  return out;
}

/** Live children, killed if this process exits without stopping them. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of liveChildren) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
  liveChildren.add(child);
}

/**
 * Whether the influxd answering at `url` is the one started with `configPath`: its
 * `/debug/vars` lists its command line. Another server that already held the port would
 * otherwise pass for ours. Undecidable (endpoint missing, odd answer) counts as ours.
 */
function servedBy(url: string, configPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/debug/vars`, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          const cmdline = (JSON.parse(body) as { cmdline?: unknown }).cmdline;
          resolve(!Array.isArray(cmdline) || cmdline.includes(configPath));
        } catch {
          resolve(true);
        }
      });
      res.on('error', () => resolve(true));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(true));
  });
}

/** One GET /ping; true on 204. */
function ping(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/ping`, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 204);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const TAIL_LINES = 40;

/**
 * Starts influxd and resolves once `GET /ping` answers 204.
 * Throws InfluxdError COL_ERR_INFLUXD_MISSING (not installed) or COL_ERR_INFLUXD_START
 * (exited or not ready in time; the message ends with the tail of its output).
 */
export async function startInfluxd(options: InfluxdOptions): Promise<InfluxdHandle> {
  const binary = findInfluxd(options.binary ?? 'influxd');
  const host = options.host ?? '127.0.0.1';
  const dataDir = path.resolve(options.dataDir);
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
  const log = options.log?.child({ component: 'influxd' });
  const configPath = path.join(dataDir, 'influxd.conf');
  const extraEnv = { ...options.env };
  const leaking = Object.keys(extraEnv).find((k) => k.startsWith('INFLUXDB_'));
  if (leaking) throw new TypeError(`startInfluxd env: ${leaking} would override the generated config; set it in settings instead`);

  const fixedPort = options.port !== undefined && options.port !== 0;
  let port = options.port ?? 0;
  let rpcPort = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let pid = 0;
  /** True while stop() is running, so its exit is not reported as unexpected. */
  let stopping = false;

  const pickPorts = async () => {
    if (!fixedPort) {
      const ports = await findFreePorts(host, host === '127.0.0.1' ? 2 : 1);
      port = ports[0] as number;
      rpcPort = ports[1] ?? (await findFreePort('127.0.0.1'));
    } else {
      rpcPort = await findFreePort('127.0.0.1');
    }
  };

  const urlOf = () => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  /** Spawns influxd with the current ports; resolves when ready, throws COL_ERR_INFLUXD_START otherwise. */
  const launch = async (): Promise<void> => {
    for (const sub of ['meta', 'data', 'wal']) mkdirSync(path.join(dataDir, sub), { recursive: true });
    writeFileSync(configPath, influxdConfig({ dataDir, host, port, rpcPort, maxSeriesPerDatabase: options.maxSeriesPerDatabase, maxValuesPerTag: options.maxValuesPerTag, cacheSnapshotBytes: options.cacheSnapshotBytes, settings: options.settings }));
    // INFLUXDB_* variables override the config file in influxd 1.x; keep them from leaking in.
    const env = { ...EMBEDDED_ENV, ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('INFLUXDB_'))), ...extraEnv };
    const started = Date.now();
    const proc = spawn(binary, ['run', '-config', configPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const tail: string[] = [];
    let exitInfo: string | undefined;
    let spawnFailure: Error | undefined;
    exited = new Promise<void>((resolve) => {
      const done = () => {
        if (child === proc) child = undefined;
        liveChildren.delete(proc);
        resolve();
      };
      proc.once('exit', (code, signal) => {
        exitInfo = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        done();
      });
      // Spawn failures (e.g. EACCES) emit 'error' and no 'exit'.
      proc.once('error', (e) => {
        if (proc.pid === undefined) {
          spawnFailure = e;
          done();
        }
      });
    });
    trackChild(proc);
    if (proc.pid !== undefined) pid = proc.pid;
    for (const [stream, name] of [
      [proc.stdout, 'stdout'],
      [proc.stderr, 'stderr'],
    ] as const) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.trim()) continue;
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          if (log) {
            // logfmt lines carry lvl=; anything else is a fatal message from influxd's main.
            const lvl = /\blvl=(\w+)/.exec(line)?.[1];
            const level = lvl === undefined || lvl === 'error' || lvl === 'fatal' ? 'error' : lvl === 'warn' ? 'warn' : 'info';
            log[level]({ stream: name, influxdPid: proc.pid }, line);
          }
        }
      });
    }
    const fail = (why: string, cause?: unknown): InfluxdError => {
      const out = tail.length ? `\n--- last output of influxd ---\n${tail.join('\n')}` : ' (it printed nothing)';
      return new InfluxdError('COL_ERR_INFLUXD_START', `influxd (${binary} run -config ${configPath}) ${why}${out}`, { cause });
    };

    const deadline = started + readyTimeoutMs;
    for (;;) {
      if (spawnFailure) throw fail(`could not be started: ${spawnFailure.message}`, spawnFailure);
      if (exitInfo) throw fail(`${exitInfo} before it was ready`);
      if ((await ping(urlOf(), 1000)) && (await servedBy(urlOf(), configPath, 2000))) break;
      if (Date.now() >= deadline) {
        await killAndWait(proc);
        throw fail(`did not answer GET ${urlOf()}/ping within ${readyTimeoutMs} ms`);
      }
      await sleep(50);
    }
    log?.debug({ url: urlOf(), influxdPid: proc.pid, dataDir, ms: Date.now() - started }, 'embedded influxd ready');
    proc.once('exit', (code, signal) => {
      if (!stopping) log?.error({ code, signal, influxdPid: proc.pid }, 'embedded influxd exited unexpectedly');
    });
  };

  const killAndWait = async (proc: ChildProcess): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), stopTimeoutMs);
    await gone;
    clearTimeout(timer);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc) return exited;
    stopping = true;
    try {
      await killAndWait(proc);
      await exited;
    } finally {
      stopping = false;
    }
  };

  await pickPorts();
  // A port chosen by us may be taken by someone else before influxd binds it: try a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (e) {
      const inUse = e instanceof InfluxdError && /address already in use/i.test(e.message);
      if (inUse && fixedPort) {
        throw new InfluxdError(
          'COL_ERR_INFLUXD_START',
          `port ${port} on ${host} is in use by another process; set influx.embeddedPort (CAMPUSLINK_INFLUX_EMBEDDED_PORT) to a free port, or 0 to pick one at every start. ${(e as Error).message}`,
          { cause: e },
        );
      }
      if (!(inUse && !fixedPort && attempt < 3)) throw e;
      await pickPorts();
    }
  }

  return {
    get url() {
      return urlOf();
    },
    host,
    get port() {
      return port;
    },
    get rpcPort() {
      return rpcPort;
    },
    dataDir,
    configPath,
    get pid() {
      return pid;
    },
    get running() {
      return child !== undefined;
    },
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}
