/**
 * What the fault tests share: a real influxd, the collector as a child process on a fixed loopback port
 * (so it can be SIGKILLed and restarted at the same address), tokens, in-process agents with honest
 * deterministic probes, and the exactly-once check against InfluxDB.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { agentConfigSchema, type AgentConfig } from '../../agent/config.js';
import type { Probe } from '../../agent/probes/probe.js';
import { AgentRuntime } from '../../agent/runtime.js';
import { issueToken } from '../../collector/auth/tokens.js';
import { loadRegistry } from '../../collector/registry/load.js';
import type { Measurement } from '../../protocol/index.js';
import { repoPath, startCli, type CliProcess } from '../helpers/cli.js';
import type { TestInfluxd } from '../helpers/influxd.js';
import { typicalMeasurements } from '../helpers/reports.js';

export const REGISTRY = repoPath('config/schools.example.csv');
export const SCHOOLS = [...loadRegistry(REGISTRY).schools.keys()];

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cl-fault-${prefix}-`));
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The collector CLI as a child process, restartable at the same address. */
export class CollectorChild {
  proc?: CliProcess;
  port = 0;

  constructor(
    private readonly influx: TestInfluxd,
    private readonly extraEnv: Record<string, string> = {},
    readonly stateDir: string = tempDir('collector'),
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.proc = await startCli('collector', ['serve'], {
      env: {
        CAMPUSLINK_STATE_DIR: this.stateDir,
        CAMPUSLINK_REGISTRY: REGISTRY,
        CAMPUSLINK_INFLUX_URL: this.influx.url,
        CAMPUSLINK_INFLUX_DB: 'campuslink',
        CAMPUSLINK_LISTEN: `127.0.0.1:${this.port}`,
        CAMPUSLINK_LOG_LEVEL: 'warn',
        CAMPUSLINK_INGEST_RETRY_AFTER_S: '1',
        CAMPUSLINK_INFLUX_TIMEOUT_MS: '2000',
        ...this.extraEnv,
      },
      ready: /listening on (http\S+)/,
    });
  }

  token(school: string): string {
    return issueToken({ stateDir: this.stateDir, school }).token;
  }

  /** SIGKILL: no clean stop, nothing flushed. */
  async kill(): Promise<void> {
    const child = this.proc?.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

/** A probe with honest, deterministic values: the typical school's 20 measurements (the agent adds its own). */
export class TypicalProbe implements Probe {
  readonly name = 'typical';
  private calls = 0;
  async collect(): Promise<Measurement[]> {
    return typicalMeasurements(++this.calls).filter((m) => m.name !== 'agent');
  }
}

export interface AgentSetup {
  school: string;
  agentId?: string;
  url: string;
  token: string;
  dir?: string;
  collector?: Record<string, unknown>;
  spool?: Record<string, unknown>;
  linkType?: AgentConfig['linkType'];
}

/** An agent config for a fault test: fast backoff, upload after every cycle unless told otherwise. */
export function agentConfig(s: AgentSetup): AgentConfig {
  const dir = s.dir ?? tempDir('agent');
  return agentConfigSchema.parse({
    school: s.school,
    agentId: s.agentId ?? 'gw-01',
    linkType: s.linkType ?? 'fiber',
    collector: { url: s.url, token: s.token, timeoutMs: 5000, backoffBaseMs: 100, backoffMaxMs: 1000, uploadIntervalMs: 0, ...s.collector },
    spool: { dir: join(dir, 'spool'), ...s.spool },
    stateDir: dir,
    // FAULT_LOG=debug shows the agents' logs when a fault test needs looking into.
    logLevel: process.env.FAULT_LOG ?? 'silent',
  });
}

/** An in-process agent with the typical probe. */
export function startAgent(s: AgentSetup & { cycleEveryMs?: number; now?: () => number }): AgentRuntime {
  const config = agentConfig(s);
  return new AgentRuntime({ config, log: pino({ level: config.logLevel }), probes: [new TypicalProbe()], cycleEveryMs: s.cycleEveryMs, now: s.now });
}

/** Waits until `check()` is true, polling. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sequences of one agent's `report` points, ascending (a duplicate point shows as a repeated seq). */
export async function seqsInInflux(influx: TestInfluxd, school: string, agent: string): Promise<number[]> {
  const dbs = await influx.query('SHOW DATABASES');
  if (!dbs.some((r) => r.name === 'campuslink')) return [];
  const rows = await influx.query(`SELECT "seq" FROM "report" WHERE "school" = '${school}' AND "agent" = '${agent}'`);
  return rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
}

/** Points of one measurement for one agent. */
export async function countPoints(influx: TestInfluxd, measurement: string, school: string, agent: string): Promise<number> {
  const rows = await influx.query(`SELECT count(*) FROM "${measurement}" WHERE "school" = '${school}' AND "agent" = '${agent}'`);
  const row = rows[0] ?? {};
  return Math.max(0, ...Object.entries(row).filter(([k]) => k.startsWith('count_')).map(([, v]) => Number(v)));
}

/**
 * The exactly-once check: the collected sequences minus `missing` are in InfluxDB, each once; every one of
 * them has its 5 ping points (no duplicate and no partial report).
 */
export async function expectExactlyOnce(influx: TestInfluxd, o: { school: string; agent: string; collected: number; missing?: readonly number[] }): Promise<void> {
  const missing = new Set(o.missing ?? []);
  const expected = Array.from({ length: o.collected }, (_, i) => i + 1).filter((s) => !missing.has(s));
  const seqs = await seqsInInflux(influx, o.school, o.agent);
  expect(seqs, `${o.school}/${o.agent}: sequences in InfluxDB`).to.deep.equal(expected);
  expect(await countPoints(influx, 'ping', o.school, o.agent), `${o.school}/${o.agent}: ping points`).to.equal(expected.length * 5);
}

/** Everything a child process writes to stdout and stderr from now on (pino's JSON lines, influxd's lines). */
export function captureOutput(child: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null }): () => string {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return () => out;
}

/** Descriptors a process has open now (Linux /proc). */
export async function openFds(pid: number): Promise<number> {
  const { readdirSync } = await import('node:fs');
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Sets a running process's RLIMIT_NOFILE (soft and hard) with util-linux `prlimit`. */
export async function setFdLimit(pid: number, limit: number): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${limit}:${limit}`]);
}

/** GET `url`/healthz once; the status, or the error code when no answer came. */
export async function healthz(url: string, timeoutMs = 2000): Promise<number | string> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch (e) {
    return (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
  }
}
